"""bench.api's GraphQL operations, and their latency executed in process.

Three operations, as the frontend sends them: the first page (20 items) of a user's pending
inbox with each item's activity; the first page of the workspace's activity dashboard with
each row's agent, user and meeting, under each of twelve filters in turn; a user's
``inboxCount`` (the badge). Pages ask for ``pageInfo``, not ``totalCount`` (a count of every
matching row is its own, optional, field).

``in_process_latency`` runs them through the schema with no HTTP in between
(``schema.execute`` with the context a request would get), one at a time, so each figure is
the resolvers and their database statements alone.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry

from bench.api_data import DataSet, Member
from bench.report import BenchError
from runtime.api.context import ApiContext, Services

__all__ = [
    "INBOX_USERS",
    "KINDS",
    "Call",
    "activity_calls",
    "call_mix",
    "in_process_latency",
    "inbox_calls",
    "latency_figures",
]

PAGE_SIZE = 20
INBOX_USERS = 3  # the big tenant's busiest inboxes, taken in turn, each by its own token
KINDS = ("inbox_items", "activity_logs", "inbox_count")

INBOX_ITEMS = """
query Inbox($userId: ID!, $first: Int!) {
  inboxItems(userId: $userId, status: PENDING, pagination: {first: $first}) {
    edges {
      cursor
      node {
        id itemType title description context confidence status createdAt
        activityLog { id crmRecordType crmRecordId actionType overallConfidence }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ACTIVITY_LOGS = """
query Activity($workspaceId: ID!, $filters: ActivityLogFilters, $first: Int!) {
  activityLogs(workspaceId: $workspaceId, filters: $filters, pagination: {first: $first}) {
    edges {
      cursor
      node {
        id actionType status crmRecordType crmRecordId fieldsUpdated overallConfidence
        errorMessage createdAt
        agentConfig { id name }
        user { id email }
        meeting { id title startedAt }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

INBOX_COUNT = """
query Count($userId: ID!) {
  inboxCount(userId: $userId)
}
"""


def _filters(data: DataSet, now: datetime) -> dict[str, dict[str, Any]]:
    """The dashboard's filters, by label: each alone, then combinations (an admin of the big
    tenant asks; agents and users are the tenant's)."""
    agents = data.big.agent_ids
    members = data.big.members

    def day(days_ago: float) -> str:
        return (now - timedelta(days=days_ago)).isoformat()

    return {
        "none": {},
        "status=FAILED": {"status": "FAILED"},
        "status=PENDING": {"status": "PENDING"},
        "agent": {"agentConfigId": str(agents[1])},
        "user": {"userId": str(members[2].user_id)},
        "actionType=CREATE": {"actionType": "CREATE"},
        "crmRecordType=company": {"crmRecordType": "company"},
        "last 7 days": {"createdAfter": day(7)},
        "a week a month ago": {"createdAfter": day(30), "createdBefore": day(23)},
        "agent+SUCCESS+30 days": {
            "agentConfigId": str(agents[2]),
            "status": "SUCCESS",
            "createdAfter": day(30),
        },
        "user+deal+UPDATE": {
            "userId": str(members[1].user_id),
            "crmRecordType": "deal",
            "actionType": "UPDATE",
        },
        "REJECTED+contact+14 days": {
            "status": "REJECTED",
            "crmRecordType": "contact",
            "createdAfter": day(14),
        },
    }


@dataclass(frozen=True)
class Call:
    """One operation as a client sends it: who asks, the document, its variables."""

    kind: str  # one of KINDS
    label: str  # the filter's label for activity_logs, else the kind
    member: Member
    query: str
    variables: dict[str, Any]


def inbox_calls(data: DataSet) -> list[Call]:
    """``inboxItems`` and ``inboxCount`` for each of the busiest inboxes, asked by their
    owners (a workspace's first members own most of its meetings, so most of its items)."""
    calls = []
    for member in data.big.members[:INBOX_USERS]:
        user = {"userId": str(member.user_id)}
        calls.append(
            Call("inbox_items", "inbox_items", member, INBOX_ITEMS, {**user, "first": PAGE_SIZE})
        )
        calls.append(Call("inbox_count", "inbox_count", member, INBOX_COUNT, user))
    return calls


def activity_calls(data: DataSet, *, now: datetime | None = None) -> list[Call]:
    """``activityLogs`` of the big tenant under each filter, asked by its admin."""
    admin = data.big.members[0]
    filters = _filters(data, now or datetime.now(UTC))
    return [
        Call(
            "activity_logs",
            label,
            admin,
            ACTIVITY_LOGS,
            {"workspaceId": str(data.big.id), "filters": wanted, "first": PAGE_SIZE},
        )
        for label, wanted in filters.items()
    ]


def call_mix(data: DataSet) -> list[Call]:
    """The three kinds interleaved (an inbox page, a dashboard page, a count, ...), each
    kind's calls in turn: the HTTP load's round robin."""
    inbox = [c for c in inbox_calls(data) if c.kind == "inbox_items"]
    counts = [c for c in inbox_calls(data) if c.kind == "inbox_count"]
    activity = activity_calls(data)
    length = max(len(inbox), len(counts), len(activity))
    mixed: list[Call] = []
    for index in range(length):
        mixed.extend(
            (
                inbox[index % len(inbox)],
                activity[index % len(activity)],
                counts[index % len(counts)],
            )
        )
    return mixed


async def in_process_latency(
    schema: strawberry.Schema,
    services: Services,
    data: DataSet,
    *,
    iterations: int,
    warmup: int,
) -> dict[str, Any]:
    """Per kind, ``iterations`` calls timed one after another after ``warmup`` untimed
    ones, each kind's calls in turn; activity pages also by filter; and the CPU time of
    this process per call.

    Raises:
        BenchError: an operation answered with errors (the figures would mean nothing).
    """
    by_kind: dict[str, list[Call]] = {kind: [] for kind in KINDS}
    for call in [*inbox_calls(data), *activity_calls(data)]:
        by_kind[call.kind].append(call)
    result: dict[str, Any] = {}
    for kind, calls in by_kind.items():
        run = _executor(schema, services)
        for index in range(warmup):
            await run(calls[index % len(calls)])
        timings: list[float] = []
        cpu: list[float] = []
        by_label: dict[str, list[float]] = {}
        for index in range(iterations):
            call = calls[index % len(calls)]
            elapsed_ms, cpu_ms = await run(call)
            timings.append(elapsed_ms)
            cpu.append(cpu_ms)
            by_label.setdefault(call.label, []).append(elapsed_ms)
        result[kind] = latency_figures(timings)
        # This process's CPU time per call (schema, resolvers, driver): the rest of a call's
        # time is PostgreSQL's, or waiting for a core the machine's other work holds.
        result[kind]["cpu"] = latency_figures(cpu)
        if kind == "activity_logs":
            result[kind]["by_filter"] = {
                label: latency_figures(values) for label, values in by_label.items()
            }
    return result


def _executor(
    schema: strawberry.Schema, services: Services
) -> Callable[[Call], Awaitable[tuple[float, float]]]:
    async def run(call: Call) -> tuple[float, float]:
        """The call's wall time and this process's CPU time over it, in ms."""
        context = ApiContext(services, call.member.principal)  # a request's: fresh loaders
        cpu_started, started = time.process_time(), time.perf_counter()
        executed = await schema.execute(
            call.query, variable_values=call.variables, context_value=context
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - cpu_started) * 1000
        if executed.errors or not executed.data:
            raise BenchError(f"{call.kind} ({call.label}) answered {executed.errors}")
        return elapsed_ms, cpu_ms

    return run


def latency_figures(values_ms: Sequence[float]) -> dict[str, Any]:
    """count, p50, p99, max and mean of ``values_ms``, in ms (None when there are none)."""
    ordered = sorted(values_ms)
    if not ordered:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    return {
        "count": len(ordered),
        "p50_ms": round(_quantile(ordered, 0.50), 2),
        "p99_ms": round(_quantile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(sum(ordered) / len(ordered), 2),
    }


def _quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]
