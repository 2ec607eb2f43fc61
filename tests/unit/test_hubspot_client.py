"""HubSpotClient operations: what each sends (path, query, body, token) and what it returns.

HubSpot is played by ``httpx.MockTransport`` handlers answering in the shapes of
reference/hubspot.md; the behaviour against a full HubSpot is proven with the emulator.
"""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime

import httpx
import pytest

from runtime.clock import FakeClock
from runtime.crm.errors import CrmNotFoundError, CrmServerError
from runtime.crm.hubspot import (
    NO_RETRIES,
    HubSpotClient,
    PrivateAppToken,
    RateLimitHeaders,
)
from runtime.crm.port import (
    CrmPort,
    Filter,
    FilterGroup,
    SearchRequest,
    Sort,
)
from runtime.settings import HubSpotSettings
from tests.hubspot_fakes import TOKEN, Recorder, record


def test_the_client_implements_every_port_method_with_its_signature() -> None:
    client: type[CrmPort] = HubSpotClient  # mypy checks the protocol; this checks at runtime too
    methods = [
        n for n, v in vars(CrmPort).items() if inspect.isfunction(v) and not n.startswith("_")
    ]
    assert "batch_update" in methods
    for name in methods:
        assert inspect.signature(getattr(client, name)) == inspect.signature(getattr(CrmPort, name))


async def test_get_asks_for_properties_and_associations_and_parses_the_record(connect):
    answer = record("101", dealname="Acme renewal", amount="1500.00", closedate=None)
    answer["associations"] = {
        "contacts": {
            "results": [
                {"id": "201", "type": "deal_to_contact"},
                {"id": "201", "type": "deal_to_contact_primary"},
                {"id": "202", "type": "deal_to_contact"},
            ]
        },
        "companies": {"results": [{"id": "301", "type": "deal_to_company"}]},
    }
    hubspot = Recorder(lambda _: httpx.Response(200, json=answer))
    client = connect(hubspot)

    deal = await client.get(
        "deals",
        "101",
        properties=["dealname", "amount", "closedate"],
        associations=["contacts", "companies"],
    )

    request = hubspot.requests[0]
    assert request.method == "GET"
    assert request.url.path == "/crm/v3/objects/deals/101"
    assert request.url.params["properties"] == "dealname,amount,closedate"
    assert request.url.params["associations"] == "contacts,companies"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert deal.id == "101"
    assert deal.object_type == "deals"
    assert deal.properties["amount"] == "1500.00"
    assert deal.properties["closedate"] is None
    assert deal.created_at == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert deal.associations == {"contacts": ("201", "202"), "companies": ("301",)}


async def test_get_of_an_unknown_id_is_not_found(connect):
    body = {
        "status": "error",
        "message": "Object not found.  objectId are usually numeric.",
        "correlationId": "c-404",
        "category": "OBJECT_NOT_FOUND",
    }
    client = connect(lambda _: httpx.Response(404, json=body))
    with pytest.raises(CrmNotFoundError) as caught:
        await client.get("contacts", "999")
    assert caught.value.category == "OBJECT_NOT_FOUND"
    assert caught.value.correlation_id == "c-404"
    assert "GET /crm/v3/objects/contacts/999" in str(caught.value)


async def test_list_pages_follows_the_cursor_to_the_last_page(connect):
    def answer(request: httpx.Request) -> httpx.Response:
        if "after" not in request.url.params:
            return httpx.Response(
                200,
                json={
                    "results": [record("1"), record("2")],
                    "paging": {"next": {"after": "3", "link": "?after=3"}},
                },
            )
        return httpx.Response(200, json={"results": [record("3")]})

    hubspot = Recorder(answer)
    client = connect(hubspot)

    pages = [p async for p in client.list_pages("companies", properties=["name"], page_size=2)]

    assert [[r.id for r in p.results] for p in pages] == [["1", "2"], ["3"]]
    assert [p.next_after for p in pages] == ["3", None]
    first, second = hubspot.requests
    assert first.url.path == "/crm/v3/objects/companies"
    assert dict(first.url.params) == {"limit": "2", "properties": "name"}
    assert dict(second.url.params) == {"limit": "2", "properties": "name", "after": "3"}


async def test_list_page_refuses_a_limit_hubspot_would_refuse(connect):
    client = connect(lambda _: httpx.Response(200, json={"results": []}))
    with pytest.raises(ValueError, match="limit"):
        await client.list_page("deals", limit=101)


async def test_search_sends_filter_groups_sorts_query_and_paging(connect):
    hubspot = Recorder(
        lambda _: httpx.Response(
            200,
            json={"total": 31, "results": [record("7")], "paging": {"next": {"after": "10"}}},
        )
    )
    client = connect(hubspot)
    request = SearchRequest(
        filter_groups=(
            FilterGroup(
                filters=(
                    Filter(property_name="dealstage", operator="EQ", value="closedwon"),
                    Filter(property_name="amount", operator="BETWEEN", value="1", high_value="9"),
                )
            ),
            FilterGroup(filters=(Filter(property_name="x", operator="IN", values=("a", "b")),)),
        ),
        sorts=(Sort(property_name="createdate", direction="DESCENDING"),),
        query="acme",
        properties=("dealname",),
        limit=10,
        after="20",
    )

    page = await client.search("deals", request)

    assert hubspot.requests[0].method == "POST"
    assert hubspot.requests[0].url.path == "/crm/v3/objects/deals/search"
    assert hubspot.bodies[0] == {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"},
                    {
                        "propertyName": "amount",
                        "operator": "BETWEEN",
                        "value": "1",
                        "highValue": "9",
                    },
                ]
            },
            {"filters": [{"propertyName": "x", "operator": "IN", "values": ["a", "b"]}]},
        ],
        "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
        "query": "acme",
        "properties": ["dealname"],
        "limit": 10,
        "after": "20",
    }
    assert (page.total, page.next_after, [r.id for r in page.results]) == (31, "10", ["7"])


async def test_search_pages_carries_the_offset_forward(connect):
    def answer(request: httpx.Request) -> httpx.Response:
        after = json.loads(request.content).get("after")
        if after is None:
            return httpx.Response(
                200,
                json={
                    "total": 3,
                    "results": [record("1"), record("2")],
                    "paging": {"next": {"after": "2"}},
                },
            )
        return httpx.Response(200, json={"total": 3, "results": [record("3")]})

    hubspot = Recorder(answer)
    client = connect(hubspot)

    pages = [p async for p in client.search_pages("contacts", SearchRequest(limit=2))]

    assert [r.id for p in pages for r in p.results] == ["1", "2", "3"]
    assert [b.get("after") for b in hubspot.bodies] == [None, "2"]


async def test_paging_stops_with_an_error_when_the_cursor_does_not_move(connect):
    looping = {"results": [record("1")], "paging": {"next": {"after": "5"}}}
    client = connect(lambda _: httpx.Response(200, json=looping))
    with pytest.raises(CrmServerError, match="did not advance"):
        async for _ in client.search_pages("deals", SearchRequest(after="5")):
            pass


async def test_associated_ids_reads_every_page_and_returns_strings(connect):
    def answer(request: httpx.Request) -> httpx.Response:
        if "after" not in request.url.params:
            return httpx.Response(
                200,
                json={
                    "results": [
                        {
                            "toObjectId": 201,
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}
                            ],
                        },
                        {"toObjectId": 202, "associationTypes": []},
                    ],
                    "paging": {"next": {"after": "MjAz"}},
                },
            )
        return httpx.Response(200, json={"results": [{"toObjectId": 203, "associationTypes": []}]})

    hubspot = Recorder(answer)
    client = connect(hubspot)

    ids = await client.associated_ids("deals", "101", "contacts")

    assert ids == ["201", "202", "203"]
    assert hubspot.requests[0].url.path == "/crm/v4/objects/deals/101/associations/contacts"
    assert hubspot.requests[1].url.params["after"] == "MjAz"


async def test_property_definitions_carry_options_and_the_read_only_flag(connect):
    answer = {
        "results": [
            {
                "name": "dealstage",
                "label": "Deal Stage",
                "type": "enumeration",
                "fieldType": "radio",
                "description": "The stage",
                "options": [
                    {
                        "label": "Closed Won",
                        "value": "closedwon",
                        "displayOrder": 5,
                        "hidden": False,
                    },
                    {"label": "Old", "value": "old", "displayOrder": 9, "hidden": True},
                ],
                "hasUniqueValue": False,
                "modificationMetadata": {
                    "archivable": True,
                    "readOnlyValue": False,
                    "readOnlyDefinition": True,
                },
            },
            {
                "name": "hs_object_id",
                "label": "Record ID",
                "type": "number",
                "fieldType": "number",
                "options": [],
                "hasUniqueValue": True,
                "modificationMetadata": {"readOnlyValue": True},
            },
            {"name": "hs_geo", "label": "Geo", "type": "object_coordinates", "fieldType": "text"},
        ]
    }
    hubspot = Recorder(lambda _: httpx.Response(200, json=answer))
    client = connect(hubspot)

    definitions = await client.property_definitions("deals")

    assert hubspot.requests[0].url.path == "/crm/v3/properties/deals"
    stage, object_id = definitions  # the internal object_coordinates type is left out
    assert [(o.value, o.display_order, o.hidden) for o in stage.options] == [
        ("closedwon", 5, False),
        ("old", 9, True),
    ]
    assert (stage.type, stage.field_type, stage.read_only) == ("enumeration", "radio", False)
    assert (object_id.read_only, object_id.has_unique_value) == (True, True)


async def test_pipelines_carry_stage_probability_and_closed_flag(connect):
    answer = {
        "results": [
            {
                "id": "default",
                "label": "Sales Pipeline",
                "displayOrder": 0,
                "stages": [
                    {
                        "id": "closedwon",
                        "label": "Closed won",
                        "displayOrder": 5,
                        "metadata": {"isClosed": "true", "probability": "1.0"},
                    },
                    {
                        "id": "appointmentscheduled",
                        "label": "Appointment",
                        "displayOrder": 0,
                        "metadata": {"isClosed": "false", "probability": "0.2"},
                    },
                ],
            }
        ]
    }
    hubspot = Recorder(lambda _: httpx.Response(200, json=answer))
    client = connect(hubspot)

    (pipeline,) = await client.pipelines()

    assert hubspot.requests[0].url.path == "/crm/v3/pipelines/deals"
    assert [(s.id, s.probability, s.is_closed) for s in pipeline.stages] == [
        ("appointmentscheduled", 0.2, False),
        ("closedwon", 1.0, True),
    ]


async def test_an_answer_of_the_wrong_shape_is_a_server_error(connect):
    client = connect(lambda _: httpx.Response(200, json={"results": [{"no": "id"}]}))
    with pytest.raises(CrmServerError, match="unreadable"):
        await client.list_page("deals")


async def test_a_2xx_that_is_not_json_is_a_server_error_and_not_retried(connect):
    hubspot = Recorder(lambda _: httpx.Response(200, text="<html>maintenance</html>"))
    client = connect(hubspot)
    with pytest.raises(CrmServerError, match="unreadable"):
        await client.get("deals", "1")
    assert len(hubspot.requests) == 1


async def test_rate_limit_headers_of_every_answer_are_exposed(connect):
    headers = {
        "X-HubSpot-RateLimit-Daily": "250000",
        "X-HubSpot-RateLimit-Daily-Remaining": "249990",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "97",
    }
    seen: list[RateLimitHeaders] = []
    client = connect(
        lambda _: httpx.Response(200, json=record("1"), headers=headers),
        on_rate_limit_headers=seen.append,
    )
    assert client.last_rate_limit is None

    await client.get("deals", "1")

    expected = RateLimitHeaders(
        daily=250000,
        daily_remaining=249990,
        interval_ms=10000,
        interval_max=100,
        interval_remaining=97,
    )
    assert [h.model_copy(update={"round_trip_s": None}) for h in seen] == [expected]
    # Not a header: the budget needs it to read Remaining (runtime.writes.budget).
    assert seen[0].round_trip_s is not None
    assert seen[0].round_trip_s >= 0
    assert client.last_rate_limit == seen[0]


async def test_a_failing_rate_limit_observer_does_not_fail_the_call(connect, caplog):
    def broken(_: RateLimitHeaders) -> None:
        raise RuntimeError("budget bug")

    client = connect(
        lambda _: httpx.Response(
            200, json=record("1"), headers={"X-HubSpot-RateLimit-Remaining": "5"}
        ),
        on_rate_limit_headers=broken,
    )
    assert (await client.get("deals", "1")).id == "1"
    assert "rate-limit observer failed" in caplog.text


async def test_from_settings_points_at_the_base_url_and_uses_the_retry_settings():
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(503, json={"status": "error", "message": "down"})

    settings = HubSpotSettings(base_url="http://127.0.0.1:9/prefix/", max_retries=2)
    clock = FakeClock()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http,
        HubSpotClient.from_settings(
            settings, PrivateAppToken(TOKEN), clock=clock, http=http
        ) as client,
    ):
        with pytest.raises(CrmServerError):
            await client.get("deals", "1")
    assert str(requests[0].url) == "http://127.0.0.1:9/prefix/crm/v3/objects/deals/1"
    assert len(requests) == 3


async def test_the_client_closes_only_the_http_client_it_made():
    async with httpx.AsyncClient() as http:
        async with HubSpotClient(PrivateAppToken(TOKEN), http=http, retry=NO_RETRIES):
            pass
        assert not http.is_closed
    owner = HubSpotClient(PrivateAppToken(TOKEN))
    await owner.aclose()
    assert owner._http.is_closed
