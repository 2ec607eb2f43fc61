"""InMemoryCrm answers like HubSpotClient on the emulator serving the same snapshot.

Each test runs the same port calls on both and compares the port models they return (or
the errors they raise), so the offline agent sees what it would see on HubSpot's wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from runtime.crm.errors import CrmError
from runtime.crm.hubspot import NO_RETRIES, HubSpotClient, PrivateAppToken
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import (
    AssociationInput,
    CrmPort,
    Filter,
    FilterGroup,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
    Sort,
)
from runtime.crm.snapshot import load_snapshot
from tests.hubspot_emulator import TEST_SNAPSHOT, TOKEN, running_emulator

Calls = Callable[[CrmPort], Awaitable[Any]]


@asynccontextmanager
async def both() -> AsyncIterator[tuple[HubSpotClient, InMemoryCrm]]:
    """A fresh emulator with its client, and an in-memory CRM on the same snapshot and clock."""
    with running_emulator() as running:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            HubSpotClient(
                PrivateAppToken(TOKEN),
                base_url=running.url,
                http=http,
                clock=running.clock,
                retry=NO_RETRIES,
            ) as client,
        ):
            yield client, InMemoryCrm(load_snapshot(TEST_SNAPSHOT), clock=running.clock)


async def outcome(crm: CrmPort, calls: Calls) -> Any:
    """What the calls return, or the error they raise (type, message, status, category, codes)."""
    try:
        return await calls(crm)
    except CrmError as exc:
        problems = getattr(exc, "problems", ())
        return type(exc).__name__, str(exc), exc.status, exc.category, [p.code for p in problems]


def search(*filters: Filter, **options: Any) -> SearchRequest:
    return SearchRequest(filter_groups=(FilterGroup(filters=filters),), **options)


async def reads(crm: CrmPort) -> list[Any]:
    return [
        await crm.get("deals", "303", associations=["contacts", "companies"]),
        await crm.get("contacts", "201", properties=["email", "jobtitle", "phone"]),
        await crm.list_page("contacts", limit=2, after="203"),
        await crm.batch_read("deals", ["305", "9", "301"], properties=["amount", "dealstage"]),
        await crm.associated_ids("companies", "101", "contacts"),
        await crm.associated_ids("deals", "999", "contacts"),
        await crm.property_definitions("deals"),
        await crm.property_definitions("companies"),
        await crm.pipelines("deals"),
    ]


async def searches(crm: CrmPort) -> list[Any]:
    return [
        await crm.search(
            "contacts",
            search(Filter(property_name="email", operator="EQ", value="LEE.PARK@acme.example")),
        ),
        await crm.search(
            "deals",
            search(
                Filter(property_name="associations.company", operator="IN", values=("101", "102")),
                Filter(property_name="amount", operator="GTE", value="10000"),
                sorts=(Sort(property_name="amount", direction="DESCENDING"),),
                properties=("dealname", "amount"),
                limit=2,
            ),
        ),
        await crm.search("companies", SearchRequest(query="glob")),
        await crm.search(
            "deals",
            search(
                Filter(
                    property_name="closedate",
                    operator="BETWEEN",
                    value="2026-04-01",
                    high_value="2026-07-01",
                )
            ),
        ),
    ]


async def writes(crm: CrmPort) -> list[Any]:
    created = await crm.batch_create(
        "deals",
        [
            RecordCreate(
                properties={
                    "dealname": "Acme Pilot",
                    "dealstage": "qualifiedtobuy",
                    "amount": "5000",
                },
                associations=(
                    AssociationInput(
                        to_object_type="companies", to_id="101", association_type_id=341
                    ),
                ),
                trace_id="t1",
            ),
            RecordCreate(
                properties={"dealname": "Bad", "closedate": "2026-04-30T10:00:00Z"}, trace_id="t2"
            ),
        ],
    )
    updated = await crm.batch_update(
        "deals",
        [
            RecordUpdate(id="301", properties={"amount": "60000", "hs_next_step": "Send the MSA"}),
            RecordUpdate(id="404", properties={"amount": "1"}),
        ],
    )
    return [created, updated, await crm.associated_ids("companies", "101", "deals")]


def refused_write(crm: CrmPort) -> Awaitable[Any]:
    return crm.batch_update(
        "deals", [RecordUpdate(id="301", properties={"dealstage": "nope", "zzz": "1"})]
    )


def conflict(crm: CrmPort) -> Awaitable[Any]:
    return crm.batch_create("contacts", [RecordCreate(properties={"email": "Hank@globex.example"})])


def not_found(crm: CrmPort) -> Awaitable[Any]:
    return crm.get("companies", "999")


def bad_search(crm: CrmPort) -> Awaitable[Any]:
    groups = tuple(
        FilterGroup(filters=(Filter(property_name="dealname", operator="HAS_PROPERTY"),))
        for _ in range(6)
    )
    return crm.search("deals", SearchRequest(filter_groups=groups))


@pytest.mark.parametrize(
    "calls", [reads, searches, writes, refused_write, conflict, not_found, bad_search]
)
async def test_in_memory_answers_as_hubspot_on_the_emulator(calls: Calls) -> None:
    async with both() as (client, in_memory):
        assert await outcome(in_memory, calls) == await outcome(client, calls)
