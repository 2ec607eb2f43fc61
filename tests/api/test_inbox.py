"""Reading inboxes over HTTP: paging, the status filter, the pending count, whose inbox
each token may read, and the related objects in one query per kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from tests.api.conftest import GraphQL, Tenants, error_codes
from tests.api.read_rows import (
    ActivityRow,
    ItemRow,
    StatementLog,
    add_activities,
    add_agent,
    add_items,
    add_proposal,
)

PAGE = """
query($user: ID!, $status: InboxStatus, $pagination: PaginationInput) {
  inboxItems(userId: $user, status: $status, pagination: $pagination) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    totalCount
  }
}
"""
COUNT = "query($user: ID!) { inboxCount(userId: $user) }"
NESTED = """
query($user: ID!) {
  inboxItems(userId: $user, pagination: {first: 50}) {
    edges { node {
      id itemType title description context confidence status resolvedAt createdAt
      user { email } resolvedBy { email }
      activityLog { status agentConfig { name } }
      proposals { field before proposed status confidence reason decidedBy { email } }
    } }
  }
}
"""
STATUSES = ["pending", "approved", "rejected", "expired"]


@dataclass(frozen=True)
class Inboxes:
    member: dict[UUID, ItemRow]  # the home member's items, by id
    admin: dict[UUID, ItemRow]
    other: dict[UUID, ItemRow]  # the other workspace's member's
    with_proposals: UUID  # a member's item about an activity, holding two proposals
    resolved: UUID  # a member's item the admin approved

    @staticmethod
    def newest_first(items: dict[UUID, ItemRow], status: str | None = None) -> list[str]:
        chosen = [(r.created_at, i) for i, r in items.items() if status in (None, r.status)]
        return [str(i) for _, i in sorted(chosen, reverse=True)]


@pytest.fixture(scope="module")
def statement_log() -> StatementLog:
    return StatementLog()


@pytest.fixture(scope="module")
def api_url(database_dsn: str, statement_log: StatementLog) -> Iterator[str]:
    """The app with a pool that reports its statements (to count queries per request)."""
    with statement_log.serving(database_dsn) as url:
        yield url


@pytest.fixture(scope="module")
async def inboxes(pool: asyncpg.Pool, tenants: Tenants) -> Inboxes:
    home, other = tenants.home, tenants.other
    base = datetime.now(UTC) - timedelta(hours=3)
    agent = await add_agent(pool, home.workspace_id, home.admin_id, "alpha")
    [activity] = await add_activities(
        pool,
        home.workspace_id,
        [
            ActivityRow(
                created_at=base, agent_config_id=agent, user_id=home.member_id, status="pending"
            )
        ],
    )
    member_rows = [
        ItemRow(
            user_id=home.member_id,
            # Items come in pairs of one created_at: the id breaks the tie.
            created_at=base + timedelta(minutes=i // 2),
            status=STATUSES[i % 4],
            item_type="question" if i % 5 == 0 else "approval",
            activity_log_id=activity if i == 0 else None,
            resolved_by=home.admin_id if i == 1 else None,
        )
        for i in range(12)
    ]
    member_ids = await add_items(pool, home.workspace_id, member_rows)
    for field_name in ("amount", "closedate"):
        await add_proposal(
            pool, home.workspace_id, activity, field_name, item_id=member_ids[0], before="1000"
        )
    admin_rows = [
        ItemRow(user_id=home.admin_id, created_at=base + timedelta(minutes=i), status=s)
        for i, s in enumerate(["pending", "pending", "approved"])
    ]
    other_rows = [
        ItemRow(user_id=other.member_id, created_at=base + timedelta(minutes=i)) for i in range(2)
    ]
    return Inboxes(
        member=dict(zip(member_ids, member_rows, strict=True)),
        admin=dict(
            zip(await add_items(pool, home.workspace_id, admin_rows), admin_rows, strict=True)
        ),
        other=dict(
            zip(await add_items(pool, other.workspace_id, other_rows), other_rows, strict=True)
        ),
        with_proposals=member_ids[0],
        resolved=member_ids[1],
    )


def page_through(
    gql: GraphQL, token: str, user: UUID, size: int, status: str | None = None
) -> tuple[list[str], int]:
    """Every id following endCursor, and the totalCount every page reported."""
    seen: list[str] = []
    totals = set()
    after = None
    while True:
        body = gql.data(
            PAGE,
            {"user": str(user), "status": status, "pagination": {"first": size, "after": after}},
            token=token,
        )["inboxItems"]
        info = body["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        totals.add(body["totalCount"])
        seen += [edge["node"]["id"] for edge in body["edges"]]
        if not info["hasNextPage"]:
            assert len(totals) == 1
            return seen, totals.pop()
        assert len(body["edges"]) == size
        after = info["endCursor"]


async def test_a_member_pages_through_their_inbox_newest_first(
    gql: GraphQL, tenants: Tenants, inboxes: Inboxes
) -> None:
    home = tenants.home
    expected = Inboxes.newest_first(inboxes.member)
    assert page_through(gql, home.member_token, home.member_id, 5) == (expected, 12)
    assert page_through(gql, home.member_token, home.member_id, 12) == (expected, 12)


@pytest.mark.parametrize("status", STATUSES)
async def test_the_status_filter_and_the_pending_count(
    gql: GraphQL, tenants: Tenants, inboxes: Inboxes, status: str
) -> None:
    home = tenants.home
    expected = Inboxes.newest_first(inboxes.member, status)
    assert expected
    found = page_through(gql, home.member_token, home.member_id, 2, status=status.upper())
    assert found == (expected, len(expected))
    if status == "pending":
        count = gql.data(COUNT, {"user": str(home.member_id)}, token=home.member_token)
        assert count["inboxCount"] == len(expected) == 3


async def test_an_admin_reads_any_members_inbox_a_member_only_their_own(
    gql: GraphQL, tenants: Tenants, inboxes: Inboxes
) -> None:
    home, other = tenants.home, tenants.other
    member_inbox = page_through(gql, home.admin_token, home.member_id, 50)
    assert member_inbox == (Inboxes.newest_first(inboxes.member), 12)
    assert page_through(gql, home.admin_token, home.admin_id, 50) == (
        Inboxes.newest_first(inboxes.admin),
        3,
    )
    assert gql.data(COUNT, {"user": str(home.member_id)}, token=home.admin_token) == {
        "inboxCount": 3
    }
    assert gql.data(COUNT, {"user": str(home.admin_id)}, token=home.admin_token) == {
        "inboxCount": 2
    }
    # The other workspace's inbox holds only its own items.
    theirs = page_through(gql, other.member_token, other.member_id, 50)
    assert theirs == (Inboxes.newest_first(inboxes.other), 2)
    for query in (PAGE, COUNT):
        for token, user in (
            (home.member_token, home.admin_id),  # a member naming someone else
            (home.admin_token, other.member_id),  # an admin naming another workspace's user
        ):
            body = gql.query(query, {"user": str(user)}, token=token)
            assert error_codes(body) == ["FORBIDDEN"], query
            assert body["errors"][0]["extensions"]["field"] == "userId"
            assert body["data"] is None
        assert error_codes(gql.query(query, {"user": str(home.member_id)})) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"user": "nope"}, "userId"),
        ({"pagination": {"after": "%%%"}}, "pagination.after"),
        ({"pagination": {"after": "WyIyMDI1LTAxLTAxIiwibm9wZSJd"}}, "pagination.after"),
        ({"pagination": {"first": 101}}, "pagination.first"),
    ],
)
async def test_bad_input_names_its_field(
    gql: GraphQL, tenants: Tenants, inboxes: Inboxes, variables: dict[str, Any], field: str
) -> None:
    body = gql.query(
        PAGE, {"user": str(tenants.home.member_id), **variables}, token=tenants.home.member_token
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    assert body["data"] is None


async def test_items_show_their_user_activity_decider_and_proposals_in_one_query_each(
    gql: GraphQL, tenants: Tenants, inboxes: Inboxes, statement_log: StatementLog
) -> None:
    home = tenants.home
    gql.data(COUNT, {"user": str(home.member_id)}, token=home.member_token)  # caches the token
    with statement_log.recording() as statements:
        edges = gql.data(NESTED, {"user": str(home.member_id)}, token=home.member_token)[
            "inboxItems"
        ]["edges"]
    nodes = {edge["node"]["id"]: edge["node"] for edge in edges}
    first = nodes[str(inboxes.with_proposals)]
    assert (first["itemType"], first["status"], first["confidence"]) == ("QUESTION", "PENDING", 0.6)
    assert first["user"] == {"email": "member@home.example"}
    assert first["resolvedBy"] is None
    assert first["context"] == {"deal": {"id": "301"}}
    assert first["activityLog"] == {"status": "PENDING", "agentConfig": {"name": "alpha"}}
    assert [(p["field"], p["before"], p["proposed"], p["status"]) for p in first["proposals"]] == [
        ("amount", "1000", "2000", "PENDING"),
        ("closedate", "1000", "2000", "PENDING"),
    ]
    resolved = nodes[str(inboxes.resolved)]
    assert (resolved["status"], resolved["resolvedBy"], resolved["activityLog"]) == (
        "APPROVED",
        {"email": "admin@home.example"},
        None,
    )
    assert resolved["resolvedAt"] is not None
    # Twelve items: one query each for the items, their users (recipient and decider),
    # activities, the activities' agents and the proposals.
    tables = ("inbox_items", "users", "activity_logs", "agent_configs", "proposals")
    assert {t: sum(f"FROM {t}" in s for s in statements) for t in tables} == dict.fromkeys(
        tables, 1
    ), statements
    assert len(statements) == 5, "\n----\n".join(s[:300] for s in statements)
