"""AuditedCrm: one audit entry per CRM call, what it touched and how it went, no values."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from runtime.clock import FakeClock
from runtime.crm.audited import MAX_LOGGED_IDS, AuditedCrm
from runtime.crm.errors import CrmNotFoundError, CrmValidationError
from runtime.crm.memory import InMemoryCrm
from runtime.crm.port import (
    AssociationInput,
    BatchResult,
    CrmPort,
    Filter,
    FilterGroup,
    ObjectType,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
    Sort,
)
from tests.crm_builders import company, contact, deal, snapshot

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
WORKSPACE = uuid.UUID("00000000-0000-4000-8000-000000000001")
USER = uuid.UUID("00000000-0000-4000-8000-000000000002")


def audited(*, actor_user_id: uuid.UUID | None = None) -> tuple[AuditedCrm, FakeClock]:
    clock = FakeClock(START)
    crm = InMemoryCrm.from_snapshot(
        snapshot(
            companies=[company("101", "Acme Corp", "acme.example")],
            contacts=[contact("201", "dana@acme.example", "Dana Ruiz", companies=["101"])],
            deals=[
                deal("301", "Acme Expansion", companies=["101"], contacts=["201"], amount="20000"),
                deal("302", "Acme Renewal", "contractsent", companies=["101"]),
            ],
        ),
        clock=clock,
    )
    port = AuditedCrm(crm, workspace_id=WORKSPACE, clock=clock, actor_user_id=actor_user_id)
    return port, clock


Call = Callable[[AuditedCrm], Awaitable[Any]]

SEARCH = SearchRequest(
    filter_groups=(
        FilterGroup(
            filters=(
                Filter(property_name="email", operator="EQ", value="dana@acme.example"),
                Filter(property_name="lastname", operator="HAS_PROPERTY"),
            )
        ),
        FilterGroup(filters=(Filter(property_name="email", operator="EQ", value="x@y.example"),)),
    ),
    sorts=(Sort(property_name="lastname"),),
    query="Dana Ruiz",
    properties=("firstname",),
)

# Per port method: a call, then the action, target and details its entry must carry.
CASES: dict[str, tuple[Call, str, str, str | None, dict[str, Any]]] = {
    "get": (
        lambda c: c.get("deals", "301", properties=["amount"], associations=["contacts"]),
        "crm.read",
        "deals",
        "301",
        {"properties": ["amount"], "associations": ["contacts"], "outcome": "ok"},
    ),
    "list_page": (
        lambda c: c.list_page("deals", properties=["dealname"], limit=1),
        "crm.list",
        "deals",
        None,
        {"properties": ["dealname"], "limit": 1, "results": 1, "outcome": "ok"},
    ),
    "search": (
        lambda c: c.search("contacts", SEARCH),
        "crm.search",
        "contacts",
        None,
        {
            "filter_properties": ["email", "lastname"],
            "sort_properties": ["lastname"],
            "properties": ["firstname"],
            "limit": 10,
            "results": 1,
            "total": 1,
            "outcome": "ok",
        },
    ),
    "batch_read": (
        lambda c: c.batch_read("deals", ["301", "999"], properties=["amount"]),
        "crm.batch_read",
        "deals",
        None,
        {
            "ids_count": 2,
            "ids": ["301", "999"],
            "properties": ["amount"],
            "results": 1,
            "errors": 1,
            "error_categories": ["OBJECT_NOT_FOUND"],
            "failed_ids": ["999"],
            "outcome": "partial",
        },
    ),
    "batch_create": (
        lambda c: c.batch_create(
            "deals",
            [
                RecordCreate(
                    properties={"dealname": "Acme Pilot", "dealstage": "qualifiedtobuy"},
                    associations=(
                        AssociationInput(
                            to_object_type="companies", to_id="101", association_type_id=341
                        ),
                    ),
                )
            ],
        ),
        "crm.create",
        "deals",
        None,
        {
            "inputs": 1,
            "property_names": ["dealname", "dealstage"],
            "associated": ["companies:101"],
            "results": 1,
            "errors": 0,
            "outcome": "ok",
        },
    ),
    "batch_update": (
        lambda c: c.batch_update(
            "deals",
            [RecordUpdate(id="302", properties={"amount": "5000", "closedate": "2026-05-01"})],
        ),
        "crm.update",
        "deals",
        None,
        {
            "ids_count": 1,
            "ids": ["302"],
            "property_names": ["amount", "closedate"],
            "results": 1,
            "errors": 0,
            "outcome": "ok",
        },
    ),
    "associated_ids": (
        lambda c: c.associated_ids("companies", "101", "deals"),
        "crm.associations",
        "companies",
        "101",
        {"to_type": "deals", "results": 2, "outcome": "ok"},
    ),
    "property_definitions": (
        lambda c: c.property_definitions("contacts"),
        "crm.definitions",
        "contacts",
        None,
        {"outcome": "ok"},
    ),
    "pipelines": (
        lambda c: c.pipelines("deals"),
        "crm.pipelines",
        "deals",
        None,
        {"results": 1, "outcome": "ok"},
    ),
}


def test_it_is_a_crm_port_and_every_port_method_is_covered_here() -> None:
    port: CrmPort = audited()[0]
    assert isinstance(port, AuditedCrm)
    methods = {name for name, _ in inspect.getmembers(CrmPort, inspect.isfunction)}
    assert set(CASES) == {name for name in methods if not name.startswith("_")}


@pytest.mark.parametrize("method", sorted(CASES))
async def test_every_call_is_noted_with_its_action_and_target(method: str) -> None:
    call, action, target_type, target_id, expected = CASES[method]
    port, _ = audited(actor_user_id=USER)
    answer = await call(port)
    (entry,) = port.drain()
    assert (entry.action, entry.target_type, entry.target_id) == (action, target_type, target_id)
    assert (entry.workspace_id, entry.actor_user_id, entry.created_at) == (WORKSPACE, USER, START)
    assert {k: entry.details.get(k) for k in expected} == expected
    if method == "property_definitions":
        assert entry.details["results"] == len(answer) > 3
    if method == "batch_create":
        (created,) = answer.results
        assert entry.details["created_ids"] == [created.id]


async def test_a_search_logs_property_names_but_no_values_or_query_text() -> None:
    port, _ = audited()
    await port.search("contacts", SEARCH)
    (entry,) = port.drain()
    logged = json.dumps(entry.details)
    for secret in ("dana@acme.example", "x@y.example", "Dana Ruiz", "EQ"):
        assert secret not in logged


async def test_writes_log_property_names_but_no_values() -> None:
    port, _ = audited()
    await CASES["batch_update"][0](port)
    await CASES["batch_create"][0](port)
    logged = json.dumps([e.details for e in port.drain()])
    for value in ("5000", "2026-05-01", "Acme Pilot", "qualifiedtobuy"):
        assert value not in logged


async def test_a_failing_call_is_noted_as_an_error_and_re_raised() -> None:
    port, _ = audited()
    with pytest.raises(CrmNotFoundError):
        await port.get("deals", "999", properties=["amount"])
    with pytest.raises(CrmValidationError):
        await port.batch_update("deals", [RecordUpdate(id="301", properties={"amount": "lots"})])
    read, update = port.drain()
    assert (read.action, read.target_id) == ("crm.read", "999")
    assert read.details == {
        "properties": ["amount"],
        "associations": [],
        "outcome": "error",
        "error": "CrmNotFoundError",
    }
    assert update.details["outcome"] == "error"
    assert update.details["error"] == "CrmValidationError"
    assert update.details["ids"] == ["301"]
    assert "lots" not in json.dumps(update.details)


async def test_per_input_failures_make_a_partial_outcome_naming_the_failed_ids() -> None:
    port, _ = audited()
    await port.batch_update(
        "deals",
        [
            RecordUpdate(id="301", properties={"amount": "1"}),
            RecordUpdate(id="998", properties={"amount": "2"}),
        ],
    )
    (entry,) = port.drain()
    assert entry.details["outcome"] == "partial"
    assert entry.details["failed_ids"] == ["998"]
    assert (entry.details["results"], entry.details["errors"]) == (1, 1)


class _NeverAnswers(InMemoryCrm):
    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_cancelled_call_is_noted_as_cancelled() -> None:
    clock = FakeClock(START)
    port = AuditedCrm(_NeverAnswers(), workspace_id=WORKSPACE, clock=clock)
    task = asyncio.create_task(port.batch_update("deals", [RecordUpdate(id="301", properties={})]))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (entry,) = port.drain()
    assert entry.action == "crm.update"
    assert (entry.details["outcome"], entry.details["error"]) == ("cancelled", "CancelledError")


async def test_batches_log_the_id_count_and_the_first_ids() -> None:
    port, _ = audited()
    ids = [str(n) for n in range(1000, 1250)]
    await port.batch_read("deals", ids)
    (entry,) = port.drain()
    assert entry.details["ids_count"] == 250
    assert entry.details["ids"] == ids[:MAX_LOGGED_IDS]
    assert entry.details["ids_truncated"] is True


async def test_drain_returns_entries_in_call_order_once() -> None:
    port, clock = audited()
    await port.get("deals", "301")
    clock.advance(5)
    with pytest.raises(CrmNotFoundError):
        await port.pipelines("contacts")
    entries = port.drain()
    assert [(e.action, e.created_at) for e in entries] == [
        ("crm.read", START),
        ("crm.pipelines", clock.now()),
    ]
    assert entries[0].actor_user_id is None  # the agent acted
    assert port.drain() == []
    await port.get("deals", "302")
    assert [e.target_id for e in port.drain()] == ["302"]
