"""Workspace metrics over HTTP: the numbers `crm-agents metrics` prints, and who may read
them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from runtime.metrics.book import totals
from runtime.metrics.service import workspace_frame
from tests.api.conftest import GraphQL, Tenants, error_codes
from tests.api.read_rows import ActivityRow, add_activities, add_agent, add_meeting, add_proposal

COUNTERS = """
  runs runsFailed fieldsProposed autoApplied sentToReview approved rejected writesOk
  writesFailed meanConfidence
"""
METRICS = f"""
query($ws: ID!, $window: String!) {{
  workspaceMetrics(workspaceId: $ws, window: $window) {{
    window windowS since until
    totals {{ {COUNTERS} }}
    minutes {{ minute }}
    active: minutes(activeOnly: true) {{ minute {COUNTERS} }}
  }}
}}
"""


async def _add_run(
    pool: asyncpg.Pool, workspace_id: UUID, agent: UUID, meeting: UUID, at: datetime
) -> None:
    """An agent run ten minutes ago: its activity, three proposals (two for review, one
    auto-applied), one approved, one rejected, and the auto-applied one written."""
    run_id = await pool.fetchval(
        "INSERT INTO agent_runs (workspace_id, agent_config_id, meeting_id, status, created_at)"
        " VALUES ($1, $2, $3, 'done', $4) RETURNING id",
        workspace_id,
        agent,
        meeting,
        at,
    )
    [activity] = await add_activities(
        pool, workspace_id, [ActivityRow(created_at=at, agent_config_id=agent, status="pending")]
    )
    await pool.execute("UPDATE activity_logs SET agent_run_id = $1 WHERE id = $2", run_id, activity)
    [item] = await pool.fetch(
        "INSERT INTO inbox_items (workspace_id, user_id, activity_log_id, item_type, title)"
        " SELECT $1, created_by, $2, 'approval', 'Review' FROM agent_configs WHERE id = $3"
        " RETURNING id, user_id",
        workspace_id,
        activity,
        agent,
    )
    approved = await add_proposal(pool, workspace_id, activity, "amount", item_id=item["id"])
    rejected = await add_proposal(pool, workspace_id, activity, "dealstage", item_id=item["id"])
    written = await add_proposal(pool, workspace_id, activity, "closedate", status="written")
    await pool.execute(
        "UPDATE proposals SET created_at = $1::timestamptz,"
        " decided_at = CASE WHEN id = $3 THEN NULL ELSE $1::timestamptz + interval '1 minute' END,"
        " decided_by = CASE WHEN id = $3 THEN NULL ELSE $4::uuid END,"
        " status = CASE WHEN id = $2 THEN 'queued' WHEN id = $5 THEN 'rejected' ELSE status END"
        " WHERE activity_log_id = $6",
        at,
        approved,
        written,
        item["user_id"],
        rejected,
        activity,
    )
    await pool.execute(
        "INSERT INTO write_outbox (workspace_id, proposal_id, operation, crm_record_type,"
        " crm_record_id, property, value, status, done_at)"
        " VALUES ($1, $2, 'update', 'deal', '301', 'closedate', '2026-04-30', 'done', $3)",
        workspace_id,
        written,
        at + timedelta(minutes=2),
    )


@pytest.fixture(scope="module")
async def recorded(pool: asyncpg.Pool, tenants: Tenants) -> datetime:
    home = tenants.home
    agent = await add_agent(pool, home.workspace_id, home.admin_id, "alpha")
    meeting = await add_meeting(pool, home.workspace_id, "Discovery with Acme")
    at = datetime.now(UTC) - timedelta(minutes=10)
    await _add_run(pool, home.workspace_id, agent, meeting, at)
    return at


async def test_the_numbers_of_the_cli_for_any_member(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool, recorded: datetime
) -> None:
    home = tenants.home
    body = gql.data(
        METRICS, {"ws": str(home.workspace_id), "window": "1h"}, token=home.member_token
    )["workspaceMetrics"]
    frame = await workspace_frame(pool, home.workspace_id, 3600, now=datetime.now(UTC))
    cli = totals(frame).model_dump()
    served = body["totals"]
    assert {_snake(k): v for k, v in served.items()} == cli
    assert (served["runs"], served["fieldsProposed"], served["autoApplied"]) == (1, 3, 1)
    assert (served["sentToReview"], served["approved"], served["rejected"]) == (2, 1, 1)
    assert served["writesOk"] == 1
    assert served["meanConfidence"] == pytest.approx(0.55)
    assert (body["window"], body["windowS"], len(body["minutes"])) == ("1h", 3600, 60)
    since = datetime.fromisoformat(body["since"])
    assert datetime.fromisoformat(body["until"]) - since == timedelta(hours=1)
    assert since <= recorded < since + timedelta(hours=1)
    # The minutes where something happened: the run's (three proposals), the decisions'
    # and the write's.
    active = {datetime.fromisoformat(m["minute"]): m for m in body["active"]}
    run_minute = recorded.replace(second=0, microsecond=0)
    assert active[run_minute]["runs"] == 1
    assert active[run_minute]["fieldsProposed"] == 3
    assert active[run_minute + timedelta(minutes=1)]["approved"] == 1
    assert active[run_minute + timedelta(minutes=2)]["writesOk"] == 1
    assert sum(m["fieldsProposed"] for m in body["active"]) == 3


async def test_an_empty_workspace_has_zeros(gql: GraphQL, tenants: Tenants) -> None:
    other = tenants.other
    body = gql.data(
        METRICS, {"ws": str(other.workspace_id), "window": "15m"}, token=other.admin_token
    )["workspaceMetrics"]
    assert body["totals"]["runs"] == 0
    assert body["totals"]["meanConfidence"] is None
    assert (len(body["minutes"]), body["active"]) == (15, [])


@pytest.mark.parametrize("window", ["2w", "0m", "8d", "soon", ""])
async def test_a_bad_window_is_bad_input(gql: GraphQL, tenants: Tenants, window: str) -> None:
    body = gql.query(
        METRICS,
        {"ws": str(tenants.home.workspace_id), "window": window},
        token=tenants.home.member_token,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "window"


async def test_another_workspace_is_forbidden(gql: GraphQL, tenants: Tenants) -> None:
    variables = {"ws": str(tenants.other.workspace_id), "window": "1h"}
    body = gql.query(METRICS, variables, token=tenants.home.admin_token)
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None
    assert error_codes(gql.query(METRICS, variables)) == ["UNAUTHENTICATED"]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
