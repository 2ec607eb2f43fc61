"""The subscription fan-out (``runtime.api.fanout``): which selections of the API's own
schema are shared by every subscriber of an event, and how a shared payload is computed
once per (selection, event)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from functools import partial

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from runtime.api.fanout import SharedPayloads, viewer_independent
from runtime.api.schema import build_schema

SCHEMA = build_schema()

ACTIVITY = "activityLogCreated(workspaceId: $ws)"

SHARED = [
    f"subscription($ws: ID!) {{ {ACTIVITY} {{ id createdAt status details }} }}",
    f"subscription($ws: ID!) {{ a: {ACTIVITY} {{ __typename key: id }} }}",
    f"subscription($ws: ID!) {{ {ACTIVITY} {{ ...Row }} }} fragment Row on ActivityLog {{ id }}",
    f"subscription($ws: ID!, $more: Boolean!) {{ {ACTIVITY} {{ id"
    " ... on ActivityLog @include(if: $more) { crmRecordId } } }",
    "subscription($u: ID!) { inboxItemCreated(userId: $u) { id title itemType } }",
    "subscription($ws: ID!) { anomalyDetected(workspaceId: $ws) { id title severity } }",
]

PER_VIEWER = [
    # A field with a resolver could consult who is asking.
    f"subscription($ws: ID!) {{ {ACTIVITY} {{ id user {{ email }} }} }}",
    f"subscription($ws: ID!) {{ {ACTIVITY} {{ id proposals {{ __typename }} }} }}",
    "subscription($u: ID!) { inboxItemCreated(userId: $u) { id user { id } } }",
    # Also when hidden in a fragment.
    f"subscription($ws: ID!) {{ {ACTIVITY} {{ ...Row }} }}"
    " fragment Row on ActivityLog { id user { email } }",
    # A directive other than @include/@skip could do anything.
    f"subscription($ws: ID!) {{ {ACTIVITY} {{ id @live }} }}",
    # Not a subscription at all.
    "query { __typename }",
]


def _judged(query: str) -> bool:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return viewer_independent(SCHEMA._schema, operation, fragments)


@pytest.mark.parametrize("query", SHARED)
def test_a_selection_of_the_events_own_fields_is_shared(query: str) -> None:
    assert _judged(query) is True
    assert SharedPayloads().plan(SCHEMA, query, None).selection is not None


@pytest.mark.parametrize("query", PER_VIEWER)
def test_a_selection_that_could_depend_on_the_viewer_is_not(query: str) -> None:
    assert _judged(query) is False
    assert SharedPayloads().plan(SCHEMA, query, None).selection is None


def test_a_documents_plan_is_made_once() -> None:
    payloads = SharedPayloads()
    first = payloads.plan(SCHEMA, SHARED[0], None)
    assert payloads.plan(SCHEMA, SHARED[0], None) is first
    # Another operation of the same text is another plan.
    assert payloads.plan(SCHEMA, SHARED[0], "Other").selection is None  # no such operation


@dataclass
class _Row:
    id: int


def test_a_payload_is_computed_once_per_selection_and_event_object() -> None:
    payloads = SharedPayloads()
    computed: list[str] = []

    def compute(text: str) -> str:
        computed.append(text)
        return text

    row, same_but_another = _Row(1), _Row(1)
    assert payloads.payload("s", row, lambda: compute("first")) == "first"
    assert payloads.payload("s", row, lambda: compute("again")) == "first"  # shared
    assert payloads.payload("t", row, lambda: compute("other selection")) == "other selection"
    # Events are matched by identity: an equal object is another event.
    assert payloads.payload("s", same_but_another, lambda: compute("another")) == "another"
    assert computed == ["first", "other selection", "another"]
    assert payloads.executions == 3


def test_only_recent_payloads_are_kept() -> None:
    payloads = SharedPayloads(kept=2)
    rows = [_Row(n) for n in range(3)]
    for row in rows:
        payloads.payload("s", row, partial(str, row.id))
    assert len(payloads) == 2
    assert payloads.payload("s", rows[0], lambda: "computed again") == "computed again"
    with pytest.raises(ValueError, match="kept"):
        SharedPayloads(kept=0)


async def test_subscribers_waiting_on_one_payload_share_it_and_one_leaving_stops_nothing() -> None:
    payloads = SharedPayloads()
    release = asyncio.Event()
    runs = 0

    async def compute() -> str:
        nonlocal runs
        runs += 1
        await release.wait()
        return '{"data":1}'

    row = _Row(1)
    leaving = asyncio.ensure_future(_awaited(payloads.payload("s", row, compute)))
    staying = asyncio.ensure_future(_awaited(payloads.payload("s", row, compute)))
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    assert await staying == '{"data":1}'
    assert leaving.cancelled()
    # Asked again once computed: the same payload, not computed again.
    assert await _awaited(payloads.payload("s", row, compute)) == '{"data":1}'
    assert runs == 1


async def test_a_failed_payload_is_not_remembered() -> None:
    payloads = SharedPayloads()
    attempts = 0

    async def compute() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("the first try fails")
        return "ok"

    row = _Row(1)
    with pytest.raises(RuntimeError, match="first try"):
        await _awaited(payloads.payload("s", row, compute))
    assert await _awaited(payloads.payload("s", row, compute)) == "ok"
    assert attempts == 2


async def _awaited(payload: str | Awaitable[str]) -> str:
    return payload if isinstance(payload, str) else await payload
