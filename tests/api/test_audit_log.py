"""The audit log over HTTP: admins page and filter it; members and other workspaces may not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from tests.api.conftest import GraphQL, Tenants, error_codes

LOG = """
query($ws: ID!, $filters: AuditLogFilters, $pagination: PaginationInput) {
  auditLog(workspaceId: $ws, filters: $filters, pagination: $pagination) {
    edges { node { id action targetType targetId details createdAt actor { email } } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""
BASE = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
async def entries(pool: asyncpg.Pool, tenants: Tenants) -> list[AuditEntry]:
    """Eighteen entries of the home workspace, in pairs logged at one instant (oldest
    first), and two of the other workspace."""
    home, other = tenants.home, tenants.other
    actions = ["crm.read", "crm.update", "decision.approve"]
    mine = [
        AuditEntry(
            workspace_id=home.workspace_id,
            actor_user_id=home.member_id if i % 3 == 2 else None,
            action=actions[i % 3],
            target_type="deals" if i % 3 != 2 else "inbox_item",
            target_id=f"30{i % 4}",
            details={"outcome": "ok", "n": i},
            created_at=BASE + timedelta(minutes=i // 2),
        )
        for i in range(18)
    ]
    theirs = [
        AuditEntry(workspace_id=other.workspace_id, action="crm.read", created_at=BASE)
        for _ in range(2)
    ]
    assert await AuditRepo(pool).insert_many([*mine, *theirs]) == 20
    return mine


def page_through(
    gql: GraphQL, token: str, ws: UUID, size: int, filters: dict[str, Any] | None = None
) -> tuple[list[int], int]:
    """Each entry's ``details.n`` over every page, and the total count."""
    seen: list[int] = []
    after = None
    while True:
        body = gql.data(
            LOG,
            {"ws": str(ws), "filters": filters, "pagination": {"first": size, "after": after}},
            token=token,
        )["auditLog"]
        seen += [edge["node"]["details"].get("n", -1) for edge in body["edges"]]
        if not body["pageInfo"]["hasNextPage"]:
            return seen, body["totalCount"]
        after = body["pageInfo"]["endCursor"]


def newest_first(entries: list[AuditEntry], keep: Any = lambda _: True) -> list[int]:
    """``details.n`` of the kept entries, newest first; a pair logged at one instant in
    either order (the id decides)."""
    return [
        int(str(e.details["n"]))
        for e in sorted(entries, key=lambda e: e.created_at, reverse=True)
        if keep(e)
    ]


def _same_order_but_ties(seen: list[int], expected: list[int], entries: list[AuditEntry]) -> None:
    moments = {int(str(e.details["n"])): e.created_at for e in entries}
    assert sorted(seen) == sorted(expected)
    assert [moments[n] for n in seen] == [moments[n] for n in expected]


async def test_an_admin_pages_through_the_log_newest_first(
    gql: GraphQL, tenants: Tenants, entries: list[AuditEntry]
) -> None:
    home = tenants.home
    seen, total = page_through(gql, home.admin_token, home.workspace_id, 5)
    _same_order_but_ties(seen, newest_first(entries), entries)
    assert total == 18
    first = gql.data(
        LOG, {"ws": str(home.workspace_id), "pagination": {"first": 1}}, token=home.admin_token
    )["auditLog"]["edges"][0]["node"]
    assert first["createdAt"] == (BASE + timedelta(minutes=8)).isoformat()
    n = first["details"]["n"]
    assert first["actor"] == ({"email": "member@home.example"} if n % 3 == 2 else None)


async def test_each_filter_selects_its_entries(
    gql: GraphQL, tenants: Tenants, entries: list[AuditEntry]
) -> None:
    home = tenants.home
    cut = BASE + timedelta(minutes=3)
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"action": "crm.update"}, lambda e: e.action == "crm.update"),
        ({"action": "crm.delete"}, lambda e: False),
        ({"actorUserId": str(home.member_id)}, lambda e: e.actor_user_id == home.member_id),
        (
            {"targetType": "deals", "targetId": "301"},
            lambda e: (e.target_type, e.target_id) == ("deals", "301"),
        ),
        ({"createdAfter": cut.isoformat()}, lambda e: e.created_at >= cut),
        (
            {"createdBefore": cut.isoformat(), "action": "decision.approve"},
            lambda e: e.created_at < cut and e.action == "decision.approve",
        ),
    ]
    for filters, keep in cases:
        expected = newest_first(entries, keep)
        seen, total = page_through(gql, home.admin_token, home.workspace_id, 2, filters)
        _same_order_but_ties(seen, expected, entries)
        assert total == len(expected), filters


async def test_members_and_other_workspaces_may_not_read_it(
    gql: GraphQL, tenants: Tenants, entries: list[AuditEntry]
) -> None:
    home, other = tenants.home, tenants.other
    for token, ws in (
        (home.member_token, home.workspace_id),  # a member of the workspace
        (other.admin_token, home.workspace_id),  # an admin of another
    ):
        body = gql.query(LOG, {"ws": str(ws)}, token=token)
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["data"] is None
    assert error_codes(gql.query(LOG, {"ws": str(home.workspace_id)})) == ["UNAUTHENTICATED"]
    assert page_through(gql, other.admin_token, other.workspace_id, 10)[1] == 2


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"filters": {"actorUserId": "nope"}}, "filters.actorUserId"),
        ({"filters": {"action": " "}}, "filters.action"),
        ({"filters": {"targetId": "x" * 256}}, "filters.targetId"),
        ({"filters": {"createdBefore": "2025-03-01T12:00:00"}}, "filters.createdBefore"),
        ({"pagination": {"after": "bm9wZQ"}}, "pagination.after"),
        ({"pagination": {"first": 1000}}, "pagination.first"),
    ],
)
async def test_bad_input_names_its_field(
    gql: GraphQL, tenants: Tenants, variables: dict[str, Any], field: str
) -> None:
    body = gql.query(
        LOG, {"ws": str(tenants.home.workspace_id), **variables}, token=tenants.home.admin_token
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
