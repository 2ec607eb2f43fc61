"""The HubSpot emulator's CRM API over real HTTP: objects, batches, search, associations,
properties and pipelines, in HubSpot's shapes (reference §2 to §5)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.hubspot_emulator import RunningEmulator, running_emulator

DEAL_NOT_FOUND = (
    "Could not get some DEAL objects, they may be deleted or not exist. Check that ids are valid."
)


@pytest.fixture
def hub() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def api(hub: RunningEmulator) -> Iterator[httpx.Client]:
    with hub.client() as client:
        yield client


def _is_uuid(value: Any) -> bool:
    return bool(str(uuid.UUID(str(value))) == value)


# Single objects ----------------------------------------------------------------------------


def test_a_record_comes_with_hubspots_default_properties(api: httpx.Client) -> None:
    answer = api.get("/crm/v3/objects/deals/301")
    assert answer.status_code == 200
    record = answer.json()
    assert record["id"] == "301"
    assert record["archived"] is False
    assert set(record["properties"]) == {
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    }
    assert record["properties"]["amount"] == "20000"
    assert record["properties"]["closedate"] == "2026-06-30T00:00:00.000Z"
    assert record["createdAt"] == "2025-09-05T09:00:00.000Z"


def test_asked_properties_come_back_with_null_for_empty_ones(api: httpx.Client) -> None:
    record = api.get(
        "/crm/v3/objects/deals/301", params={"properties": "hs_next_step,dealtype,nonsense"}
    ).json()
    assert record["properties"] == {
        "hs_next_step": None,
        "dealtype": None,
        "createdate": "2025-09-05T09:00:00.000Z",
        "hs_lastmodifieddate": "2025-09-05T09:00:00.000Z",
        "hs_object_id": "301",
    }


def test_type_names_may_be_plural_singular_or_type_ids(api: httpx.Client) -> None:
    for name in ("deals", "deal", "0-3"):
        assert api.get(f"/crm/v3/objects/{name}/301").json()["id"] == "301"
    unknown = api.get("/crm/v3/objects/tickets/1")
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "Unable to infer object type from: tickets"


def test_associations_can_be_read_with_a_record(api: httpx.Client) -> None:
    record = api.get(
        "/crm/v3/objects/companies/101", params={"associations": "deals,contacts"}
    ).json()
    deals = [row["id"] for row in record["associations"]["deals"]["results"]]
    assert deals == ["301", "302"]  # a company with two open deals
    assert record["associations"]["contacts"]["results"][0] == {
        "id": "201",
        "type": "company_to_contact",
    }


def test_an_unknown_id_is_404_object_not_found(api: httpx.Client) -> None:
    for answer in (
        api.get("/crm/v3/objects/deals/999"),
        api.patch("/crm/v3/objects/deals/999", json={"properties": {"amount": "1"}}),
    ):
        assert answer.status_code == 404
        body = answer.json()
        assert (body["status"], body["category"]) == ("error", "OBJECT_NOT_FOUND")
        assert _is_uuid(body["correlationId"])


def test_listing_pages_with_an_after_cursor(api: httpx.Client) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = api.get("/crm/v3/objects/deals", params=params).json()
        seen += [record["id"] for record in page["results"]]
        if "paging" not in page:
            break
        params["after"] = page["paging"]["next"]["after"]
    assert seen == ["301", "302", "303", "304", "305"]
    assert api.get("/crm/v3/objects/deals", params={"limit": 101}).status_code == 400


def test_create_answers_201_with_the_new_record(hub: RunningEmulator, api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "sam@new.example", "firstname": "Sam"}},
    )
    assert answer.status_code == 201
    record = answer.json()
    assert record["properties"]["hs_object_id"] == record["id"]
    assert record["properties"]["lastmodifieddate"] == record["updatedAt"]
    again = api.get(f"/crm/v3/objects/contacts/{record['id']}").json()
    assert again["properties"]["email"] == "sam@new.example"


def test_a_deal_created_without_pipeline_lands_in_default(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "New", "dealstage": "qualifiedtobuy"}},
    )
    assert answer.status_code == 201
    assert answer.json()["properties"]["pipeline"] == "default"


def test_create_with_associations_links_both_ways(api: httpx.Client) -> None:
    deal = api.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "Acme Upsell", "dealstage": "qualifiedtobuy"},
            "associations": [
                {
                    "to": {"id": "101"},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
                },
                {
                    "to": {"id": "201"},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                },
            ],
        },
    ).json()
    from_company = api.get("/crm/v4/objects/companies/101/associations/deals").json()
    row = next(r for r in from_company["results"] if r["toObjectId"] == int(deal["id"]))
    assert row["associationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 6, "label": "Primary"},
        {"category": "HUBSPOT_DEFINED", "typeId": 342, "label": None},
    ]
    contacts = api.get(f"/crm/v4/objects/deals/{deal['id']}/associations/contacts").json()
    assert [r["toObjectId"] for r in contacts["results"]] == [201]


def test_an_association_type_from_the_wrong_object_is_refused(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {"dealname": "X", "dealstage": "qualifiedtobuy"},
            "associations": [
                {"to": {"id": "101"}, "types": [{"associationTypeId": 279}]}  # contact→company
            ],
        },
    )
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_patch_updates_and_moves_the_modification_time(
    hub: RunningEmulator, api: httpx.Client
) -> None:
    hub.clock.advance(60)
    answer = api.patch(
        "/crm/v3/objects/deals/301",
        json={"properties": {"dealstage": "decisionmakerboughtin", "hs_next_step": ""}},
    )
    assert answer.status_code == 200
    properties = answer.json()["properties"]
    assert properties["dealstage"] == "decisionmakerboughtin"
    assert "hs_next_step" not in properties
    assert properties["hs_lastmodifieddate"] == "2026-01-01T00:01:00.000Z"


def test_patch_by_a_unique_property(api: httpx.Client) -> None:
    answer = api.patch(
        "/crm/v3/objects/contacts/dana@acme.example",
        params={"idProperty": "email"},
        json={"properties": {"jobtitle": "COO"}},
    )
    assert answer.status_code == 200
    assert answer.json()["id"] == "201"


def test_a_taken_email_is_a_409_conflict(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "DANA@acme.example"}}
    )
    assert answer.status_code == 409
    assert answer.json()["message"] == "Contact already exists. Existing ID: 201"


def test_an_email_is_free_again_once_its_contact_changes_or_is_archived(
    api: httpx.Client,
) -> None:
    moved = api.patch(
        "/crm/v3/objects/contacts/201", json={"properties": {"email": "dana@new.example"}}
    )
    assert moved.status_code == 200
    taken = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "dana@new.example"}})
    assert taken.status_code == 409
    freed = api.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "dana@acme.example"}}
    )
    assert freed.status_code == 201
    assert api.delete("/crm/v3/objects/contacts/202").status_code == 204
    reused = api.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "lee.park@acme.example"}}
    )
    assert reused.status_code == 201


def test_delete_archives(api: httpx.Client) -> None:
    assert api.delete("/crm/v3/objects/deals/304").status_code == 204
    assert api.get("/crm/v3/objects/deals/304").status_code == 404
    archived = api.get("/crm/v3/objects/deals/304", params={"archived": "true"}).json()
    assert archived["archived"] is True
    assert "archivedAt" in archived
    listed = api.get("/crm/v3/objects/deals", params={"archived": "true"}).json()
    assert [r["id"] for r in listed["results"]] == ["304"]


def test_a_refused_write_has_hubspots_validation_body(api: httpx.Client) -> None:
    answer = api.patch(
        "/crm/v3/objects/deals/301",
        json={"properties": {"amount": "60k", "closedate": "end of April"}},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error"
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: [")
    assert _is_uuid(body["correlationId"])
    assert {(e["code"], e["context"]["propertyName"][0]) for e in body["errors"]} == {
        ("INVALID_INTEGER", "amount"),
        ("INVALID_DATE", "closedate"),
    }
    assert api.get("/crm/v3/objects/deals/301").json()["properties"]["amount"] == "20000"


def test_invalid_json_is_a_400_naming_the_position(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/deals",
        content=b'{"properties": {',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Invalid input JSON on line 1, column 17")


# Batches ----------------------------------------------------------------------------------


def test_batch_read_answers_207_listing_the_missing_ids(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/read",
        json={"properties": ["amount"], "inputs": [{"id": "301"}, {"id": "998"}, {"id": "999"}]},
    )
    assert answer.status_code == 207
    body = answer.json()
    assert [r["id"] for r in body["results"]] == ["301"]
    assert body["results"][0]["properties"]["amount"] == "20000"
    assert body["numErrors"] == 1
    assert body["errors"] == [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": DEAL_NOT_FOUND,
            "context": {"ids": ["998", "999"]},
        }
    ]
    assert body["status"] == "COMPLETE"
    ok = api.post("/crm/v3/objects/deals/batch/read", json={"inputs": [{"id": "301"}]})
    assert ok.status_code == 200
    assert "errors" not in ok.json()


@pytest.mark.parametrize("operation", ["read", "create", "update", "archive"])
def test_batches_over_100_inputs_are_refused(api: httpx.Client, operation: str) -> None:
    item: dict[str, Any] = {"id": "301", "properties": {"dealname": "x"}}
    answer = api.post(f"/crm/v3/objects/deals/batch/{operation}", json={"inputs": [item] * 101})
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def _new_deal(name: str, trace: str | None = None, **properties: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "properties": {"dealname": name, "dealstage": "qualifiedtobuy", **properties}
    }
    if trace is not None:
        row["objectWriteTraceId"] = trace
    return row


def test_batch_create_with_trace_ids_fails_only_the_bad_input(
    hub: RunningEmulator, api: httpx.Client
) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/create",
        json={"inputs": [_new_deal("Good", "t-1"), _new_deal("Bad", "t-2", amount="lots")]},
    )
    assert answer.status_code == 207
    body = answer.json()
    assert [r["properties"]["dealname"] for r in body["results"]] == ["Good"]
    (error,) = body["errors"]
    assert error["category"] == "VALIDATION_ERROR"
    assert error["context"]["objectWriteTraceId"] == ["t-2"]
    assert error["errors"][0]["code"] == "INVALID_INTEGER"
    assert [e["objectWriteTraceId"] for e in hub.write_log()] == ["t-1"]


def test_batch_create_without_trace_ids_fails_whole(
    hub: RunningEmulator, api: httpx.Client
) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/create",
        json={"inputs": [_new_deal("Good"), _new_deal("Bad", amount="lots")]},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "INVALID_INTEGER"
    assert hub.write_log() == []


def test_batch_create_with_repeated_trace_ids_fails_whole(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/create",
        json={"inputs": [_new_deal("Good", "same"), _new_deal("Bad", "same", amount="x")]},
    )
    assert answer.status_code == 400


def test_batch_create_all_good_is_201(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/create",
        json={"inputs": [_new_deal("One"), _new_deal("Two")]},
    )
    assert answer.status_code == 201
    body = answer.json()
    assert len({r["id"] for r in body["results"]}) == 2
    assert {"startedAt", "completedAt"} <= set(body)


def test_batch_update_reports_missing_ids_and_bad_inputs_per_input(
    hub: RunningEmulator, api: httpx.Client
) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/update",
        json={
            "inputs": [
                {"id": "301", "properties": {"amount": "60000"}, "objectWriteTraceId": "a"},
                {"id": "302", "properties": {"dealstage": "won"}, "objectWriteTraceId": "b"},
                {"id": "999", "properties": {"amount": "1"}, "objectWriteTraceId": "c"},
            ]
        },
    )
    assert answer.status_code == 207
    body = answer.json()
    assert [r["id"] for r in body["results"]] == ["301"]
    by_category = {e["category"]: e for e in body["errors"]}
    assert by_category["VALIDATION_ERROR"]["context"] == {
        "objectWriteTraceId": ["b"],
        "ids": ["302"],
    }
    assert by_category["OBJECT_NOT_FOUND"]["context"] == {"ids": ["999"]}
    assert by_category["OBJECT_NOT_FOUND"]["message"] == DEAL_NOT_FOUND
    assert [(e["id"], e["properties"]) for e in hub.write_log()] == [("301", {"amount": "60000"})]


def test_batch_update_without_trace_ids_fails_whole(
    hub: RunningEmulator, api: httpx.Client
) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/update",
        json={
            "inputs": [
                {"id": "301", "properties": {"amount": "60000"}},
                {"id": "302", "properties": {"hs_priority": "urgent"}},
            ]
        },
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "INVALID_OPTION"
    assert hub.write_log() == []


def test_batch_update_refuses_repeated_ids(api: httpx.Client) -> None:
    row = {"id": "301", "properties": {"amount": "1"}}
    answer = api.post("/crm/v3/objects/deals/batch/update", json={"inputs": [row, row]})
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Duplicate IDs found in batch input: [301]")


def test_batch_archive_is_204_and_hides_the_records(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v3/objects/deals/batch/archive", json={"inputs": [{"id": "304"}, {"id": "999"}]}
    )
    assert answer.status_code == 204
    assert api.get("/crm/v3/objects/deals/304").status_code == 404


# Search -----------------------------------------------------------------------------------


def test_search_filters_sorts_and_pages(api: httpx.Client) -> None:
    body: dict[str, Any] = {
        "filterGroups": [
            {"filters": [{"propertyName": "amount", "operator": "GTE", "value": 8000}]}
        ],
        "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}],
        "properties": ["dealname", "amount"],
        "limit": 2,
    }
    first = api.post("/crm/v3/objects/deals/search", json=body).json()
    assert first["total"] == 4
    assert [r["id"] for r in first["results"]] == ["303", "301"]
    assert first["paging"] == {"next": {"after": "2"}}
    assert first["results"][0]["properties"]["dealname"] == "Globex Platform"
    second = api.post("/crm/v3/objects/deals/search", json={**body, "after": "2"}).json()
    assert [r["id"] for r in second["results"]] == ["305", "302"]
    assert "paging" not in second


def test_search_never_returns_archived_records(api: httpx.Client) -> None:
    api.delete("/crm/v3/objects/deals/301")
    found = api.post("/crm/v3/objects/deals/search", json={"query": "acme"}).json()
    assert [r["id"] for r in found["results"]] == ["302"]


def test_search_by_association(api: httpx.Client) -> None:
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "associations.company", "operator": "EQ", "value": "102"}
                ]
            }
        ]
    }
    found = api.post("/crm/v3/objects/deals/search", json=body).json()
    assert [r["id"] for r in found["results"]] == ["303", "305"]


def test_search_answers_carry_no_rate_limit_headers(api: httpx.Client) -> None:
    answer = api.post("/crm/v3/objects/deals/search", json={})
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.lower().startswith("x-hubspot-ratelimit")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"query": "x" * 3001}, "characters; searches allow 3000"),
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}]}
                ]
                * 6
            },
            "Too many filter groups",
        ),
        ({"sorts": [{"propertyName": "amount"}, {"propertyName": "dealname"}]}, "Too many sorts"),
        ({"limit": 201}, "over the maximum of 200"),
        ({"after": "10000"}, "results a search can reach"),
        (
            {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "ABOUT"}]}]},
            "operator",
        ),
    ],
)
def test_search_limits_are_400_validation_errors(
    api: httpx.Client, body: dict[str, Any], reason: str
) -> None:
    answer = api.post("/crm/v3/objects/deals/search", json=body)
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert reason in answer.json()["message"]


# Associations, properties, pipelines ---------------------------------------------------------


def test_v4_association_reads_page_with_after(api: httpx.Client) -> None:
    first = api.get("/crm/v4/objects/deal/303/associations/contact", params={"limit": 1}).json()
    assert first["results"] == [
        {
            "toObjectId": 203,
            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}],
        }
    ]
    after = first["paging"]["next"]["after"]
    second = api.get(
        "/crm/v4/objects/0-3/303/associations/0-1", params={"limit": 1, "after": after}
    ).json()
    assert [r["toObjectId"] for r in second["results"]] == [204]
    assert "paging" not in second


def test_snapshot_associations_are_stored_both_ways(api: httpx.Client) -> None:
    from_contact = api.get("/crm/v4/objects/contacts/201/associations/companies").json()
    assert from_contact["results"][0]["associationTypes"][0]["typeId"] == 279
    from_company = api.get("/crm/v4/objects/companies/101/associations/contacts").json()
    assert [r["toObjectId"] for r in from_company["results"]] == [201, 202]
    assert from_company["results"][0]["associationTypes"][0]["typeId"] == 280


def test_v4_batch_association_read(api: httpx.Client) -> None:
    answer = api.post(
        "/crm/v4/associations/deals/companies/batch/read",
        json={"inputs": [{"id": "301"}, {"id": "302"}, {"id": "999"}]},
    )
    assert answer.status_code == 207
    body = answer.json()
    assert [(r["from"]["id"], [t["toObjectId"] for t in r["to"]]) for r in body["results"]] == [
        ("301", [101]),
        ("302", [101]),
    ]
    assert body["errors"][0]["context"] == {"fromObjectId": ["999"]}
    too_many = api.post(
        "/crm/v4/associations/deals/companies/batch/read",
        json={"inputs": [{"id": "301"}] * 1001},
    )
    assert too_many.status_code == 400


def test_property_definitions(api: httpx.Client) -> None:
    listed = api.get("/crm/v3/properties/deals").json()["results"]
    by_name = {p["name"]: p for p in listed}
    assert by_name["closedate"]["type"] == "datetime"
    assert by_name["closedate"]["fieldType"] == "date"
    assert by_name["createdate"]["modificationMetadata"]["readOnlyValue"] is True
    priority = api.get("/crm/v3/properties/deals/hs_priority").json()
    assert [o["value"] for o in priority["options"]] == ["low", "medium", "high"]
    email = api.get("/crm/v3/properties/contacts/email").json()
    assert email["hasUniqueValue"] is True
    assert api.get("/crm/v3/properties/deals/nonsense").status_code == 404


def test_deal_pipelines(api: httpx.Client) -> None:
    (pipeline,) = api.get("/crm/v3/pipelines/deals").json()["results"]
    assert pipeline["id"] == "default"
    stages = {s["id"]: s for s in pipeline["stages"]}
    assert stages["closedwon"]["metadata"] == {"isClosed": "true", "probability": "1.0"}
    assert stages["contractsent"]["metadata"] == {"isClosed": "false", "probability": "0.9"}
    assert api.get("/crm/v3/pipelines/deals/default").json()["label"] == "Sales Pipeline"
