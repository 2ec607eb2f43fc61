"""The HubSpot client against the emulator, over real HTTP on loopback.

Both share one FakeClock: the client's retry waits advance it, the emulator's rate windows
read it, so the waits are checked by counting requests and elapsed fake time, not by
sleeping.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from runtime.crm.errors import (
    CrmAuthError,
    CrmConnectionError,
    CrmNotFoundError,
    CrmRateLimitedError,
    CrmServerError,
    CrmValidationError,
)
from runtime.crm.hubspot import (
    NO_RETRIES,
    HubSpotClient,
    OAuthApp,
    OAuthTokenSource,
    PrivateAppToken,
    RetryPolicy,
)
from runtime.crm.hubspot.emulator import EmulatorConfig, FaultShares
from runtime.crm.port import (
    AssociationInput,
    Filter,
    FilterGroup,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
    Sort,
)
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator

RETRYING = RetryPolicy(max_retries=3, base_delay_s=0.5, max_delay_s=30.0, rng=random.Random(7))


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator() as running:
        yield running


class RequestCounter:
    """Counts the HTTP requests a client really sends (retries included)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.sent.append(f"{request.method} {request.url.path}")


@asynccontextmanager
async def hubspot(
    running: RunningEmulator,
    *,
    token: str = TOKEN,
    retry: RetryPolicy = NO_RETRIES,
    counter: RequestCounter | None = None,
) -> AsyncIterator[HubSpotClient]:
    hooks: dict[str, list[Any]] = {"request": [counter]} if counter else {}
    async with (
        httpx.AsyncClient(timeout=10, event_hooks=hooks) as http,
        HubSpotClient(
            PrivateAppToken(token),
            base_url=running.url,
            http=http,
            clock=running.clock,
            retry=retry,
        ) as client,
    ):
        yield client


# --- reads ---------------------------------------------------------------------------


async def test_get_a_deal_with_its_associations(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        deal = await client.get(
            "deals", "303", properties=["dealname", "amount"], associations=["contacts"]
        )
    assert deal.properties["dealname"] == "Globex Platform"
    assert deal.properties["amount"] == "120000"
    assert sorted(deal.associations["contacts"]) == ["203", "204"]


async def test_list_pages_walk_every_record(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        ids = [
            r.id async for page in client.list_pages("contacts", page_size=2) for r in page.results
        ]
    assert sorted(ids) == ["201", "202", "203", "204", "205"]


async def test_batch_read_reports_missing_ids_per_input(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        result = await client.batch_read("deals", ["301", "999"], properties=["dealname"])
    assert [r.id for r in result.results] == ["301"]
    assert [(e.category, e.ids) for e in result.errors] == [("OBJECT_NOT_FOUND", ("999",))]


async def test_associations_v4_in_both_directions(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        assert sorted(await client.associated_ids("companies", "101", "deals")) == ["301", "302"]
        assert await client.associated_ids("contacts", "201", "companies") == ["101"]


async def test_property_definitions_and_pipelines(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        definitions = {d.name: d for d in await client.property_definitions("deals")}
        pipelines = await client.pipelines("deals")
    assert definitions["amount"].type == "number"
    assert "closedwon" in {o.value for o in definitions["dealstage"].options}
    assert definitions["hs_object_id"].read_only
    stages = {s.id: s for s in pipelines[0].stages}
    assert stages["closedwon"].is_closed
    assert stages["decisionmakerboughtin"].probability == pytest.approx(0.8)


async def test_an_unknown_record_is_not_found(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        with pytest.raises(CrmNotFoundError) as caught:
            await client.get("deals", "999999")
    assert caught.value.category == "OBJECT_NOT_FOUND"


# --- search: every operator ----------------------------------------------------------


def _where(*filters: Filter, **request: Any) -> SearchRequest:
    return SearchRequest(filter_groups=(FilterGroup(filters=filters),), **request)


SEARCHES = [
    ("EQ", _where(Filter(property_name="dealstage", operator="EQ", value="closedwon")), {"305"}),
    (
        "NEQ",
        _where(Filter(property_name="dealstage", operator="NEQ", value="closedlost")),
        {"301", "302", "303", "305"},
    ),
    ("GT", _where(Filter(property_name="amount", operator="GT", value="15000")), {"301", "303"}),
    (
        "GTE",
        _where(Filter(property_name="amount", operator="GTE", value="15000")),
        {"301", "303", "305"},
    ),
    ("LT", _where(Filter(property_name="amount", operator="LT", value="8000")), {"304"}),
    ("LTE", _where(Filter(property_name="amount", operator="LTE", value="8000")), {"302", "304"}),
    (
        "BETWEEN",
        _where(
            Filter(
                property_name="closedate",
                operator="BETWEEN",
                value="2026-04-01",
                high_value="2026-07-01",
            )
        ),
        {"301", "302"},
    ),
    (
        "IN",
        _where(
            Filter(property_name="dealstage", operator="IN", values=("closedwon", "closedlost"))
        ),
        {"304", "305"},
    ),
    (
        "NOT_IN",
        _where(
            Filter(
                property_name="dealstage",
                operator="NOT_IN",
                values=("closedwon", "closedlost", "contractsent"),
            )
        ),
        {"301", "303"},
    ),
    (
        "HAS_PROPERTY",
        _where(Filter(property_name="dealtype", operator="HAS_PROPERTY")),
        {"303", "305"},
    ),
    (
        "NOT_HAS_PROPERTY",
        _where(Filter(property_name="dealtype", operator="NOT_HAS_PROPERTY")),
        {"301", "302", "304"},
    ),
    (
        "CONTAINS_TOKEN",
        _where(Filter(property_name="dealname", operator="CONTAINS_TOKEN", value="acme")),
        {"301", "302"},
    ),
    (
        "CONTAINS_TOKEN wildcard",
        _where(Filter(property_name="dealname", operator="CONTAINS_TOKEN", value="glob*")),
        {"303", "305"},
    ),
    (
        "NOT_CONTAINS_TOKEN",
        _where(Filter(property_name="dealname", operator="NOT_CONTAINS_TOKEN", value="acme")),
        {"303", "304", "305"},
    ),
    (
        "associations",
        _where(Filter(property_name="associations.company", operator="EQ", value="102")),
        {"303", "305"},
    ),
    (
        "OR of groups",
        SearchRequest(
            filter_groups=(
                FilterGroup(
                    filters=(Filter(property_name="dealstage", operator="EQ", value="closedwon"),)
                ),
                FilterGroup(
                    filters=(Filter(property_name="dealstage", operator="EQ", value="closedlost"),)
                ),
            )
        ),
        {"304", "305"},
    ),
]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [pytest.param(r, e, id=name) for name, r, e in SEARCHES],
)
async def test_search_operator(
    emulator: RunningEmulator, request_: SearchRequest, expected: set[str]
) -> None:
    emulator.clock.advance(1)  # stay under search's per-second limit
    async with hubspot(emulator) as client:
        page = await client.search("deals", request_.model_copy(update={"limit": 100}))
    assert {r.id for r in page.results} == expected
    assert page.total == len(expected)


async def test_search_sorts_and_pages(emulator: RunningEmulator) -> None:
    emulator.clock.advance(1)
    request = SearchRequest(
        sorts=(Sort(property_name="amount", direction="DESCENDING"),),
        properties=("amount",),
        limit=2,
    )
    async with hubspot(emulator, retry=RETRYING) as client:
        pages = [page async for page in client.search_pages("deals", request)]
    amounts = [float(r.properties["amount"] or 0) for page in pages for r in page.results]
    assert len(pages) == 3
    assert amounts == sorted(amounts, reverse=True)


async def test_search_limits_are_validation_errors(emulator: RunningEmulator) -> None:
    emulator.clock.advance(1)
    too_many = _where(
        *(Filter(property_name="amount", operator="GT", value=str(i)) for i in range(7))
    )
    async with hubspot(emulator) as client:
        with pytest.raises(CrmValidationError):
            await client.search("deals", too_many)


# --- writes --------------------------------------------------------------------------


async def test_batch_create_with_associations_then_update(emulator: RunningEmulator) -> None:
    new_deal = RecordCreate(
        properties={"dealname": "Acme Phase 2", "dealstage": "qualifiedtobuy", "amount": "1"},
        associations=(
            AssociationInput(to_object_type="companies", to_id="101", association_type_id=341),
        ),
        trace_id="create-1",
    )
    async with hubspot(emulator) as client:
        created = await client.batch_create("deals", [new_deal])
        deal_id = created.results[0].id
        assert await client.associated_ids("deals", deal_id, "companies") == ["101"]
        assert deal_id in await client.associated_ids("companies", "101", "deals")
        updated = await client.batch_update(
            "deals", [RecordUpdate(id=deal_id, properties={"amount": "60000"}, trace_id="u-1")]
        )
        assert updated.errors == ()
        assert (await client.get("deals", deal_id)).properties["amount"] == "60000"
    entries = [e for e in emulator.write_log() if e.get("objectWriteTraceId") == "u-1"]
    assert len(entries) == 1


async def test_a_207_fails_only_the_bad_input(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        result = await client.batch_update(
            "deals",
            [
                RecordUpdate(id="302", properties={"hs_next_step": "Call Lee"}, trace_id="ok-1"),
                RecordUpdate(id="301", properties={"dealstage": "nonsense"}, trace_id="bad-1"),
            ],
        )
        assert [r.id for r in result.results] == ["302"]
        [error] = result.errors
        assert error.code == "INVALID_OPTION"
        assert error.trace_ids == ("bad-1",)
        assert (await client.get("deals", "301")).properties["dealstage"] == "appointmentscheduled"


async def test_an_unknown_property_refuses_the_request(emulator: RunningEmulator) -> None:
    async with hubspot(emulator) as client:
        with pytest.raises(CrmValidationError) as caught:
            await client.batch_create(
                "deals",
                [
                    RecordCreate(
                        properties={"dealname": "X", "dealstage": "qualifiedtobuy", "nope": "1"}
                    )
                ],
            )
    assert "nope" in {name for p in caught.value.problems for name in p.property_names}


async def test_large_updates_go_out_in_batches_of_100(emulator: RunningEmulator) -> None:
    counter = RequestCounter()
    async with hubspot(emulator, counter=counter) as client:
        created = await client.batch_create(
            "companies",
            [
                RecordCreate(properties={"name": f"Bulk {i}"}, trace_id=f"bulk-{i}")
                for i in range(100)
            ],
        )
        ids = [r.id for r in created.results] + ["101", "102", "103"]
        result = await client.batch_update(
            "companies", [RecordUpdate(id=i, properties={"city": "Lyon"}) for i in ids]
        )
    assert len(result.results) == 103
    assert counter.sent.count("POST /crm/v3/objects/companies/batch/update") == 2


# --- auth ----------------------------------------------------------------------------


def _oauth_app(running: RunningEmulator, http: httpx.AsyncClient) -> OAuthApp:
    """The emulator's OAuth app, asking only to read deals."""
    config = EmulatorConfig().oauth
    return OAuthApp(
        client_id=config.client_id,
        client_secret=SecretStr(config.client_secret),
        redirect_uri="http://127.0.0.1/callback",
        scopes=("oauth", "crm.objects.deals.read"),
        base_url=running.url,
        authorize_endpoint=f"{running.url}/oauth/authorize",
        http=http,
        clock=running.clock,
    )


async def test_a_token_that_is_not_a_private_app_token_is_refused(
    emulator: RunningEmulator,
) -> None:
    async with hubspot(emulator, token="not-a-token") as client:
        with pytest.raises(CrmAuthError) as caught:
            await client.get("deals", "301")
    assert caught.value.category == "INVALID_AUTHENTICATION"


async def test_oauth_connect_refresh_ahead_of_expiry_and_revoke() -> None:
    with running_emulator() as running:
        async with httpx.AsyncClient() as http:
            app = _oauth_app(running, http)
            consent = await http.get(app.authorize_url(state="s-1"))
            assert consent.status_code == 302
            query = parse_qs(urlsplit(consent.headers["location"]).query)
            assert query["state"] == ["s-1"]
            tokens = await app.exchange_code(query["code"][0])
            with pytest.raises(CrmAuthError):  # a code is single-use
                await app.exchange_code(query["code"][0])

            refreshed: list[Any] = []

            async def remember(fresh: Any) -> None:
                refreshed.append(fresh)

            source = OAuthTokenSource(app, tokens, refresh_margin_s=300, on_refresh=remember)
            async with HubSpotClient(
                source, base_url=running.url, http=http, clock=running.clock, retry=NO_RETRIES
            ) as client:
                await client.get("deals", "301")
                assert refreshed == []
                running.clock.advance(1800 - 200)  # inside the refresh margin, not expired
                await client.get("deals", "301")
                assert len(refreshed) == 1

                # The first access token, used past its expiry, is refused with HubSpot's
                # category; the refreshed one still works.
                running.clock.advance(300)
                await client.get("deals", "301")
                stale = HubSpotClient(
                    PrivateAppToken(tokens.access_token),
                    base_url=running.url,
                    http=http,
                    clock=running.clock,
                    retry=NO_RETRIES,
                )
                with pytest.raises(CrmAuthError) as caught:
                    await stale.get("deals", "301")
                assert caught.value.category == "EXPIRED_AUTHENTICATION"

            await app.revoke(source.tokens.refresh_token)
            with pytest.raises(CrmAuthError) as revoked:
                await app.refresh(source.tokens.refresh_token)
            assert revoked.value.category == "invalid_grant"


async def test_an_oauth_token_without_the_write_scope_may_read_but_not_write() -> None:
    with running_emulator() as running:
        async with httpx.AsyncClient() as http:
            app = _oauth_app(running, http)
            consent = await http.get(app.authorize_url(state="s-2"))
            code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
            source = OAuthTokenSource(app, await app.exchange_code(code))
            async with HubSpotClient(
                source, base_url=running.url, http=http, clock=running.clock, retry=NO_RETRIES
            ) as client:
                assert (await client.get("deals", "301")).id == "301"
                with pytest.raises(CrmAuthError) as caught:
                    await client.batch_update(
                        "deals", [RecordUpdate(id="301", properties={"amount": "1"})]
                    )
            assert caught.value.status == 403
            assert caught.value.category == "MISSING_SCOPES"
            token = (await source.access_token()).get_secret_value()
            raw = await http.get(
                f"{running.url}/crm/v3/properties/deals",
                headers={"Authorization": f"Bearer {token}"},
            )
    assert raw.status_code == 403
    context = raw.json()["errors"][0]["context"]
    assert context["requiredGranularScopes"] == ["crm.schemas.deals.read"]


# --- rate limits, faults and retries -------------------------------------------------


async def test_a_burst_is_limited_then_the_window_frees_it() -> None:
    config = EmulatorConfig(latency=NO_LATENCY, ten_second_limit=3)
    with running_emulator(config) as running:
        async with hubspot(running) as client:
            for _ in range(3):
                await client.get("deals", "301")
            assert client.last_rate_limit is not None
            assert client.last_rate_limit.interval_remaining == 0
            with pytest.raises(CrmRateLimitedError) as caught:
                await client.get("deals", "301")
            assert caught.value.policy == "TEN_SECONDLY_ROLLING"
            running.clock.advance(10)
            await client.get("deals", "301")


async def test_the_client_waits_out_the_window_once_without_a_storm() -> None:
    config = EmulatorConfig(latency=NO_LATENCY, ten_second_limit=3)
    with running_emulator(config) as running:
        counter = RequestCounter()
        async with hubspot(running, retry=RETRYING, counter=counter) as client:
            start = running.clock.monotonic_s()
            for _ in range(4):
                await client.get("deals", "301")
        assert len(counter.sent) == 5  # four calls, one retry
        assert running.clock.monotonic_s() - start == pytest.approx(10.0)


async def test_the_daily_limit_is_not_retried() -> None:
    config = EmulatorConfig(latency=NO_LATENCY, daily_limit=2)
    with running_emulator(config) as running:
        counter = RequestCounter()
        async with hubspot(running, retry=RETRYING, counter=counter) as client:
            await client.get("deals", "301")
            await client.get("deals", "302")
            with pytest.raises(CrmRateLimitedError) as caught:
                await client.get("deals", "303")
        assert caught.value.policy == "DAILY"
        assert len(counter.sent) == 3


async def test_search_is_limited_per_second_and_retried_after_one() -> None:
    config = EmulatorConfig(latency=NO_LATENCY, search_per_second=1)
    with running_emulator(config) as running:
        counter = RequestCounter()
        async with hubspot(running, retry=RETRYING, counter=counter) as client:
            start = running.clock.monotonic_s()
            await client.search("deals", SearchRequest())
            await client.search("deals", SearchRequest())
        assert len(counter.sent) == 3
        assert running.clock.monotonic_s() - start == pytest.approx(1.0)
        running.clock.advance(1)
        async with hubspot(running) as client:
            await client.search("deals", SearchRequest())
            with pytest.raises(CrmRateLimitedError) as caught:
                await client.search("deals", SearchRequest())
        assert caught.value.policy == "SECONDLY"


async def test_server_errors_are_retried_with_backoff_then_raised() -> None:
    config = EmulatorConfig(latency=NO_LATENCY, faults=FaultShares(server_error=1.0), seed=1)
    with running_emulator(config) as running:
        counter = RequestCounter()
        async with hubspot(running, retry=RETRYING, counter=counter) as client:
            start = running.clock.monotonic_s()
            with pytest.raises(CrmServerError):
                await client.get("deals", "301")
        assert len(counter.sent) == 1 + RETRYING.max_retries
        waited_s = running.clock.monotonic_s() - start
        assert 0 < waited_s <= 0.5 + 1.0 + 2.0


async def test_a_dropped_connection_is_a_connection_error_and_creates_are_not_replayed() -> None:
    config = EmulatorConfig(latency=NO_LATENCY, faults=FaultShares(dropped=1.0), seed=1)
    with running_emulator(config) as running:
        counter = RequestCounter()
        async with hubspot(running, retry=RETRYING, counter=counter) as client:
            with pytest.raises(CrmConnectionError):
                await client.batch_create(
                    "deals",
                    [
                        RecordCreate(
                            properties={"dealname": "Dropped", "dealstage": "qualifiedtobuy"},
                            trace_id="dropped-1",
                        )
                    ],
                )
        assert counter.sent == ["POST /crm/v3/objects/deals/batch/create"]
        # The emulator applied the write and lost the answer: a blind retry would duplicate.
        applied = [e for e in running.write_log() if e.get("objectWriteTraceId") == "dropped-1"]
        assert len(applied) == 1


async def test_reads_are_retried_after_a_dropped_connection() -> None:
    config = EmulatorConfig(latency=NO_LATENCY, faults=FaultShares(dropped=1.0), seed=1)
    with running_emulator(config) as running:
        counter = RequestCounter()
        async with hubspot(running, retry=RETRYING, counter=counter) as client:
            with pytest.raises(CrmConnectionError):
                await client.get("deals", "301")
        assert len(counter.sent) == 1 + RETRYING.max_retries
