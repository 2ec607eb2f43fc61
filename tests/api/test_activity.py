"""The activity dashboard over HTTP: paging, filters, who may filter by whom, the related
objects in one query per kind, and the agents' recentActivity and successRate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from tests.api.conftest import GraphQL, Tenants, error_codes
from tests.api.read_rows import (
    ActivityRow,
    StatementLog,
    add_activities,
    add_agent,
    add_meeting,
    add_proposal,
)

PAGE = """
query($ws: ID!, $filters: ActivityLogFilters, $pagination: PaginationInput) {
  activityLogs(workspaceId: $ws, filters: $filters, pagination: $pagination) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
COUNT = """
query($ws: ID!, $filters: ActivityLogFilters) {
  activityLogs(workspaceId: $ws, filters: $filters, pagination: {first: 0}) { totalCount }
}
"""
NESTED = """
query($ws: ID!, $first: Int) {
  activityLogs(workspaceId: $ws, pagination: {first: $first}) {
    edges { node {
      id actionType status crmRecordType crmRecordId overallConfidence fieldsUpdated createdAt
      agentConfig { name } user { email } meeting { title }
      proposals { field before proposed status confidence evidence }
    } }
  }
}
"""
AGENTS = """
query($ws: ID!, $limit: Int!, $days: Int!) {
  agentConfigs(workspaceId: $ws) {
    name
    recentActivity(limit: $limit) { id status }
    successRate(days: $days)
  }
}
"""


@dataclass(frozen=True)
class Dataset:
    """The home workspace's activity: 30 rows two days ago, one 40 days ago."""

    alpha: UUID
    beta: UUID
    gamma: UUID  # no activity at all
    meeting: UUID
    rows: dict[UUID, ActivityRow]  # every home row, by id
    old: UUID  # alpha's failed row of 40 days ago
    first: UUID  # the oldest recent row, with two proposals

    def newest_first(self, keep: Callable[[ActivityRow], bool] = lambda _: True) -> list[str]:
        chosen = [(row.created_at, i) for i, row in self.rows.items() if keep(row)]
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
async def data(pool: asyncpg.Pool, tenants: Tenants) -> Dataset:
    home, other = tenants.home, tenants.other
    alpha = await add_agent(pool, home.workspace_id, home.admin_id, "alpha")
    beta = await add_agent(pool, home.workspace_id, home.admin_id, "beta")
    gamma = await add_agent(pool, home.workspace_id, home.admin_id, "gamma")
    meeting = await add_meeting(pool, home.workspace_id, "Discovery with Acme")
    base = datetime.now(UTC) - timedelta(days=2)
    users = [home.member_id, home.admin_id, None]
    statuses = ["success", "failed", "rejected", "pending", "success"]
    actions = ["update", "update", "skip", "create"]
    recent = [
        ActivityRow(
            # Rows come in pairs of one created_at: the id breaks the tie.
            created_at=base + timedelta(minutes=i // 2),
            agent_config_id=alpha if i % 2 == 0 else beta,
            user_id=users[i % 3],
            meeting_id=meeting if i % 4 == 0 else None,
            status=statuses[i % 5],
            action_type=actions[i % 4],
            crm_record_type="contact" if i % 7 == 0 else "deal",
        )
        for i in range(30)
    ]
    old = ActivityRow(created_at=base - timedelta(days=38), agent_config_id=alpha, status="failed")
    ids = await add_activities(pool, home.workspace_id, [*recent, old])
    await add_activities(
        pool,
        other.workspace_id,
        [ActivityRow(created_at=base + timedelta(minutes=m)) for m in range(3)],
    )
    for field_name in ("closedate", "amount"):
        await add_proposal(pool, home.workspace_id, ids[0], field_name, before="1000")
    return Dataset(
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        meeting=meeting,
        rows=dict(zip(ids, [*recent, old], strict=True)),
        old=ids[-1],
        first=ids[0],
    )


def page_through(gql: GraphQL, token: str, ws: UUID, size: int, **filters: Any) -> list[str]:
    """Every id, following endCursor page by page; checks each page's pageInfo."""
    seen: list[str] = []
    after = None
    while True:
        body = gql.data(
            PAGE,
            {
                "ws": str(ws),
                "filters": filters or None,
                "pagination": {"first": size, "after": after},
            },
            token=token,
        )["activityLogs"]
        edges = body["edges"]
        info = body["pageInfo"]
        assert len(edges) <= size
        assert info["hasPreviousPage"] is (after is not None)
        assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
        seen += [edge["node"]["id"] for edge in edges]
        if not info["hasNextPage"]:
            return seen
        assert len(edges) == size
        after = info["endCursor"]


async def test_paging_lists_every_row_once_newest_first(
    gql: GraphQL, tenants: Tenants, data: Dataset
) -> None:
    home = tenants.home
    expected = data.newest_first()
    assert page_through(gql, home.member_token, home.workspace_id, 7) == expected
    assert page_through(gql, home.member_token, home.workspace_id, 100) == expected
    total = gql.data(COUNT, {"ws": str(home.workspace_id)}, token=home.member_token)
    assert total["activityLogs"]["totalCount"] == len(expected) == 31


def _filter_cases(data: Dataset, tenants: Tenants) -> list[tuple[dict[str, Any], Any]]:
    home = tenants.home
    week_ago = datetime.now(UTC) - timedelta(days=7)
    base = min(r.created_at for r in data.rows.values() if r.created_at > week_ago)
    cut = base + timedelta(minutes=5)
    return [
        ({"agentConfigId": str(data.beta)}, lambda r: r.agent_config_id == data.beta),
        ({"userId": str(home.member_id)}, lambda r: r.user_id == home.member_id),
        ({"status": "REJECTED"}, lambda r: r.status == "rejected"),
        ({"actionType": "CREATE"}, lambda r: r.action_type == "create"),
        ({"crmRecordType": "contact"}, lambda r: r.crm_record_type == "contact"),
        ({"crmRecordType": "company"}, lambda r: False),
        ({"createdAfter": cut.isoformat()}, lambda r: r.created_at >= cut),
        ({"createdBefore": cut.isoformat()}, lambda r: r.created_at < cut),
        (
            {"createdAfter": week_ago.isoformat(), "createdBefore": cut.isoformat()},
            lambda r: week_ago <= r.created_at < cut,
        ),
        (
            {"agentConfigId": str(data.alpha), "status": "SUCCESS", "actionType": "UPDATE"},
            lambda r: (
                (r.agent_config_id, r.status, r.action_type) == (data.alpha, "success", "update")
            ),
        ),
        (
            {"userId": str(home.admin_id), "status": "FAILED", "crmRecordType": "deal"},
            lambda r: (r.user_id, r.status, r.crm_record_type) == (home.admin_id, "failed", "deal"),
        ),
    ]


async def test_each_filter_and_combination_selects_its_rows(
    gql: GraphQL, tenants: Tenants, data: Dataset
) -> None:
    home = tenants.home
    for filters, keep in _filter_cases(data, tenants):
        expected = data.newest_first(keep)
        assert page_through(gql, home.admin_token, home.workspace_id, 4, **filters) == expected, (
            filters
        )
        total = gql.data(
            COUNT, {"ws": str(home.workspace_id), "filters": filters}, token=home.admin_token
        )
        assert total["activityLogs"]["totalCount"] == len(expected), filters
    assert data.newest_first(lambda r: r.crm_record_type == "contact"), "a filter case selects"


async def test_a_member_filters_by_their_own_user_only(
    gql: GraphQL, tenants: Tenants, data: Dataset
) -> None:
    home, other = tenants.home, tenants.other
    own = page_through(gql, home.member_token, home.workspace_id, 50, userId=str(home.member_id))
    assert own == data.newest_first(lambda r: r.user_id == home.member_id)
    for token, user in (
        (home.member_token, home.admin_id),  # a member naming someone else
        (home.admin_token, other.member_id),  # an admin naming a non-member
    ):
        body = gql.query(
            PAGE,
            {"ws": str(home.workspace_id), "filters": {"userId": str(user)}},
            token=token,
        )
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["errors"][0]["extensions"]["field"] == "filters.userId"
        assert body["data"] is None


async def test_another_workspace_is_forbidden_and_no_token_unauthenticated(
    gql: GraphQL, tenants: Tenants, data: Dataset
) -> None:
    body = gql.query(PAGE, {"ws": str(tenants.other.workspace_id)}, token=tenants.home.admin_token)
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None
    body = gql.query(PAGE, {"ws": str(tenants.home.workspace_id)})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    # The other workspace sees only its own three rows.
    theirs = page_through(gql, tenants.other.member_token, tenants.other.workspace_id, 10)
    assert len(theirs) == 3
    assert not set(theirs) & {str(i) for i in data.rows}


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"pagination": {"after": "not-a-cursor"}}, "pagination.after"),
        ({"pagination": {"after": "WyJub3BlIl0"}}, "pagination.after"),  # base64 of ["nope"]
        ({"pagination": {"first": 101}}, "pagination.first"),
        ({"pagination": {"first": -1}}, "pagination.first"),
        ({"filters": {"agentConfigId": "nope"}}, "filters.agentConfigId"),
        ({"filters": {"userId": "nope"}}, "filters.userId"),
        ({"filters": {"crmRecordType": "  "}}, "filters.crmRecordType"),
        ({"filters": {"createdAfter": "2025-01-01T00:00:00"}}, "filters.createdAfter"),
        (
            {
                "filters": {
                    "createdAfter": "2025-01-02T00:00:00Z",
                    "createdBefore": "2025-01-01T00:00:00Z",
                }
            },
            "filters.createdBefore",
        ),
    ],
)
async def test_bad_input_names_its_field(
    gql: GraphQL, tenants: Tenants, data: Dataset, variables: dict[str, Any], field: str
) -> None:
    body = gql.query(
        PAGE, {"ws": str(tenants.home.workspace_id), **variables}, token=tenants.home.admin_token
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    assert body["data"] is None


async def test_rows_show_their_agent_user_meeting_and_proposals(
    gql: GraphQL, tenants: Tenants, data: Dataset
) -> None:
    home = tenants.home
    edges = gql.data(NESTED, {"ws": str(home.workspace_id), "first": 100}, token=home.member_token)[
        "activityLogs"
    ]["edges"]
    nodes = {edge["node"]["id"]: edge["node"] for edge in edges}
    first = nodes[str(data.first)]
    assert first["agentConfig"] == {"name": "alpha"}
    assert first["user"] == {"email": "member@home.example"}
    assert first["meeting"] == {"title": "Discovery with Acme"}
    assert (first["actionType"], first["status"], first["crmRecordType"]) == (
        "UPDATE",
        "SUCCESS",
        "contact",
    )
    assert first["overallConfidence"] == 0.9
    assert first["fieldsUpdated"]["amount"]["after"] == "2000"
    assert [(p["field"], p["before"], p["proposed"], p["status"]) for p in first["proposals"]] == [
        ("amount", "1000", "2000", "PENDING"),
        ("closedate", "1000", "2000", "PENDING"),
    ]
    assert first["proposals"][0]["evidence"] == [{"quote": "we agreed on 2000", "line": 4}]
    second = nodes[str(list(data.rows)[1])]  # i = 1: beta, the admin, no meeting
    assert (second["agentConfig"], second["user"], second["meeting"], second["proposals"]) == (
        {"name": "beta"},
        {"email": "admin@home.example"},
        None,
        [],
    )


def _by_table(statements: list[str]) -> dict[str, int]:
    """How many statements read each table the page's fields come from."""
    tables = ("activity_logs", "agent_configs", "users", "meetings", "proposals")
    return {t: sum(f"FROM {t}" in s or f"JOIN {t}" in s for s in statements) for t in tables}


async def test_a_page_costs_one_query_per_kind_of_object(
    gql: GraphQL, tenants: Tenants, data: Dataset, statement_log: StatementLog
) -> None:
    home = tenants.home
    variables = {"ws": str(home.workspace_id), "first": 20}
    gql.data(NESTED, variables, token=home.member_token)  # the token is cached from now on
    with statement_log.recording() as twenty:
        page = gql.data(NESTED, variables, token=home.member_token)
    assert len(page["activityLogs"]["edges"]) == 20
    with statement_log.recording() as every:
        page = gql.data(NESTED, {**variables, "first": 100}, token=home.member_token)
    assert len(page["activityLogs"]["edges"]) == 31
    expected = {"activity_logs": 1, "agent_configs": 1, "users": 1, "meetings": 1, "proposals": 1}
    assert _by_table(twenty) == _by_table(every) == expected, twenty
    assert len(twenty) == len(every) == 5, twenty


FRAGMENTS = """
fragment Who on ActivityLog { who: user { email } }
query($ws: ID!) {
  activityLogs(workspaceId: $ws, pagination: {first: 100}) {
    edges { node {
      id ...Who
      ... on ActivityLog { agent: agentConfig { name } }
      meeting { title }
    } }
  }
}
"""


async def test_related_objects_asked_through_fragments_and_aliases_cost_the_same(
    gql: GraphQL, tenants: Tenants, data: Dataset, statement_log: StatementLog
) -> None:
    home = tenants.home
    variables = {"ws": str(home.workspace_id)}
    plain = gql.data(NESTED, {**variables, "first": 100}, token=home.member_token)
    with statement_log.recording() as statements:
        spelled = gql.data(FRAGMENTS, variables, token=home.member_token)
    expected = {"activity_logs": 1, "agent_configs": 1, "users": 1, "meetings": 1, "proposals": 0}
    assert _by_table(statements) == expected, statements
    assert [
        (n["id"], n["agent"], n["who"], n["meeting"])
        for n in (e["node"] for e in spelled["activityLogs"]["edges"])
    ] == [
        (n["id"], n["agentConfig"], n["user"], n["meeting"])
        for n in (e["node"] for e in plain["activityLogs"]["edges"])
    ]


async def test_recent_activity_and_success_rate_of_each_agent(
    gql: GraphQL, tenants: Tenants, data: Dataset, statement_log: StatementLog
) -> None:
    home = tenants.home
    variables = {"ws": str(home.workspace_id), "limit": 3, "days": 30}
    with statement_log.recording() as statements:
        agents = gql.data(AGENTS, variables, token=home.member_token)["agentConfigs"]
    by_name = {a["name"]: a for a in agents}
    for name, agent_id in (("alpha", data.alpha), ("beta", data.beta)):
        mine = [i for i in data.newest_first() if data.rows[UUID(i)].agent_config_id == agent_id]
        assert [a["id"] for a in by_name[name]["recentActivity"]] == mine[:3]
        month_ago = datetime.now(UTC) - timedelta(days=30)
        recent = [
            r
            for r in data.rows.values()
            if r.agent_config_id == agent_id and r.created_at > month_ago
        ]
        finished = [r for r in recent if r.status != "pending"]
        rate = sum(r.status == "success" for r in finished) / len(finished)
        assert by_name[name]["successRate"] == pytest.approx(rate)
    assert (by_name["gamma"]["recentActivity"], by_name["gamma"]["successRate"]) == ([], None)
    # Three agents, one query each for the agents, their recent activity and their outcomes.
    reads = [s for s in statements if "activity_logs" in s or "agent_configs" in s]
    assert len(reads) == 3, reads

    # The window: alpha's failure of 40 days ago counts over 60 days, not over 30.
    alpha = [r for r in data.rows.values() if r.agent_config_id == data.alpha]
    finished = [r for r in alpha if r.status != "pending"]
    over_60 = gql.data(AGENTS, {**variables, "days": 60}, token=home.member_token)
    rate_60 = {a["name"]: a["successRate"] for a in over_60["agentConfigs"]}["alpha"]
    assert rate_60 == pytest.approx(sum(r.status == "success" for r in finished) / len(finished))
    assert rate_60 < by_name["alpha"]["successRate"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
    ],
)
async def test_agent_field_arguments_are_checked(
    gql: GraphQL, tenants: Tenants, data: Dataset, variables: dict[str, int], field: str
) -> None:
    body = gql.query(
        AGENTS,
        {"ws": str(tenants.home.workspace_id), "limit": 3, "days": 30, **variables},
        token=tenants.home.member_token,
    )
    assert error_codes(body)[0] == "BAD_USER_INPUT"
    assert {e["extensions"]["field"] for e in body["errors"]} == {field}
