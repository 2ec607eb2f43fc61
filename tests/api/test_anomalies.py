"""Anomalies over HTTP: any member lists and acknowledges, admins resolve, each step once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import asyncpg

from runtime.anomalies.models import AnomalyCreate
from runtime.anomalies.repo import AnomalyRepo
from runtime.users.repo import UserRepo
from tests.api.conftest import GraphQL, Tenant, Tenants, error_codes, make_tenant

FIELDS = """
  id anomalyType severity title description data status createdAt
  acknowledgedBy { id email } acknowledgedAt resolvedBy { email } resolvedAt
"""
LIST = f"""query($ws: ID!, $status: AnomalyStatus, $limit: Int) {{
  anomalies(workspaceId: $ws, status: $status, limit: $limit) {{ {FIELDS} }}
}}"""
ACKNOWLEDGE = f"mutation($id: ID!) {{ acknowledgeAnomaly(id: $id) {{ {FIELDS} }} }}"
RESOLVE = f"mutation($id: ID!) {{ resolveAnomaly(id: $id) {{ {FIELDS} }} }}"


async def fresh_tenant(pool: asyncpg.Pool) -> Tenant:
    """A workspace of its own, so that a test's anomalies are the only ones listed."""
    return await make_tenant(pool, f"anomalies-{uuid.uuid4().hex[:10]}")


async def add_anomaly(
    pool: asyncpg.Pool, workspace_id: UUID, title: str, *, severity: str = "warning"
) -> UUID:
    new = AnomalyCreate.model_validate(
        {
            "anomaly_type": "high_failure_rate",
            "severity": severity,
            "title": title,
            "description": f"{title}, in detail",
            "data": {"failure_rate": 0.4, "window_minutes": 60},
        }
    )
    return (await AnomalyRepo(pool).insert(workspace_id, new)).id


async def stored(pool: asyncpg.Pool, anomaly_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT status, acknowledged_by, resolved_by FROM anomalies WHERE id = $1", anomaly_id
    )
    return dict(row)


async def audited(pool: asyncpg.Pool, anomaly_id: UUID) -> list[tuple[UUID, str]]:
    rows = await pool.fetch(
        "SELECT actor_user_id, action FROM audit_log WHERE target_id = $1 ORDER BY created_at",
        str(anomaly_id),
    )
    return [(row["actor_user_id"], row["action"]) for row in rows]


async def test_a_member_lists_the_workspaces_anomalies_newest_first_and_by_status(
    gql: GraphQL, pool: asyncpg.Pool, tenants: Tenants
) -> None:
    home = await fresh_tenant(pool)
    first = await add_anomaly(pool, home.workspace_id, "Failures on Demo", severity="error")
    second = await add_anomaly(pool, home.workspace_id, "Odd volume")
    await add_anomaly(pool, tenants.other.workspace_id, "Someone else's")
    gql.data(ACKNOWLEDGE, {"id": str(first)}, token=home.member_token)

    listed = gql.data(LIST, {"ws": str(home.workspace_id)}, token=home.member_token)
    assert [a["id"] for a in listed["anomalies"]] == [str(second), str(first)]
    newest = listed["anomalies"][0]
    assert newest["anomalyType"] == "high_failure_rate"
    assert newest["severity"] == "WARNING"
    assert newest["status"] == "ACTIVE"
    assert newest["data"] == {"failure_rate": 0.4, "window_minutes": 60}
    assert newest["acknowledgedBy"] is None

    active = gql.data(
        LIST, {"ws": str(home.workspace_id), "status": "ACTIVE"}, token=home.member_token
    )
    assert [a["id"] for a in active["anomalies"]] == [str(second)]
    acknowledged = gql.data(
        LIST, {"ws": str(home.workspace_id), "status": "ACKNOWLEDGED"}, token=home.admin_token
    )
    assert [a["severity"] for a in acknowledged["anomalies"]] == ["ERROR"]
    limited = gql.data(LIST, {"ws": str(home.workspace_id), "limit": 1}, token=home.member_token)
    assert [a["id"] for a in limited["anomalies"]] == [str(second)]


async def test_a_row_without_status_or_severity_reads_as_the_seeds_defaults(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    anomaly_id = await pool.fetchval(
        "INSERT INTO anomalies (workspace_id, anomaly_type, title, status, severity)"
        " VALUES ($1, 'unusual_pattern', 'Bare', NULL, NULL) RETURNING id",
        home.workspace_id,
    )
    listed = gql.data(
        LIST, {"ws": str(home.workspace_id), "status": "ACTIVE"}, token=home.member_token
    )
    assert [(a["id"], a["severity"]) for a in listed["anomalies"]] == [(str(anomaly_id), "WARNING")]
    acknowledged = gql.data(ACKNOWLEDGE, {"id": str(anomaly_id)}, token=home.member_token)
    assert acknowledged["acknowledgeAnomaly"]["status"] == "ACKNOWLEDGED"


async def test_listing_needs_a_token_of_the_workspace_and_a_sane_limit(
    gql: GraphQL, tenants: Tenants
) -> None:
    home, other = tenants.home, tenants.other
    assert error_codes(gql.query(LIST, {"ws": str(home.workspace_id)})) == ["UNAUTHENTICATED"]
    forbidden = gql.query(LIST, {"ws": str(other.workspace_id)}, token=home.admin_token)
    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert forbidden["errors"][0]["extensions"]["field"] == "workspaceId"
    for limit in (0, 501):
        body = gql.query(
            LIST, {"ws": str(home.workspace_id), "limit": limit}, token=home.admin_token
        )
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["field"] == "limit"


async def test_a_member_acknowledges_once_and_a_second_acknowledge_is_a_conflict(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    anomaly_id = await add_anomaly(pool, home.workspace_id, "Failures")

    done = gql.data(ACKNOWLEDGE, {"id": str(anomaly_id)}, token=home.member_token)
    anomaly = done["acknowledgeAnomaly"]
    assert anomaly["status"] == "ACKNOWLEDGED"
    member = await UserRepo(pool).get(home.member_id)
    assert anomaly["acknowledgedBy"] == {"id": str(home.member_id), "email": member.email}
    assert anomaly["acknowledgedAt"] is not None

    again = gql.query(ACKNOWLEDGE, {"id": str(anomaly_id)}, token=home.admin_token)
    assert error_codes(again) == ["CONFLICT"]
    assert again["errors"][0]["extensions"]["field"] == "id"
    assert "already acknowledged" in again["errors"][0]["message"]
    assert again["data"] is None
    assert (await stored(pool, anomaly_id))["acknowledged_by"] == home.member_id
    assert await audited(pool, anomaly_id) == [(home.member_id, "anomaly.acknowledge")]


async def test_racing_acknowledgements_let_exactly_one_through(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    anomaly_id = await add_anomaly(pool, home.workspace_id, "Race")
    tokens = [home.member_token, home.admin_token] * 4
    with ThreadPoolExecutor(max_workers=len(tokens)) as threads:
        bodies = list(
            threads.map(lambda t: gql.query(ACKNOWLEDGE, {"id": str(anomaly_id)}, token=t), tokens)
        )
    outcomes = sorted(tuple(error_codes(body)) for body in bodies)
    assert outcomes == [()] + [("CONFLICT",)] * (len(tokens) - 1)
    assert len(await audited(pool, anomaly_id)) == 1


async def test_only_an_admin_resolves_and_only_once(gql: GraphQL, pool: asyncpg.Pool) -> None:
    home = await fresh_tenant(pool)
    acknowledged = await add_anomaly(pool, home.workspace_id, "Looked at")
    untouched = await add_anomaly(pool, home.workspace_id, "Fixed straight away")
    gql.data(ACKNOWLEDGE, {"id": str(acknowledged)}, token=home.member_token)

    refused = gql.query(RESOLVE, {"id": str(acknowledged)}, token=home.member_token)
    assert error_codes(refused) == ["FORBIDDEN"]
    assert (await stored(pool, acknowledged))["status"] == "acknowledged"

    for anomaly_id in (acknowledged, untouched):
        resolved = gql.data(RESOLVE, {"id": str(anomaly_id)}, token=home.admin_token)
        assert resolved["resolveAnomaly"]["status"] == "RESOLVED"
        assert resolved["resolveAnomaly"]["resolvedBy"]["email"].startswith("admin@")
        assert resolved["resolveAnomaly"]["resolvedAt"] is not None
    # Resolving keeps who acknowledged it.
    assert (await stored(pool, acknowledged))["acknowledged_by"] == home.member_id
    assert (await stored(pool, untouched))["acknowledged_by"] is None

    for mutation in (RESOLVE, ACKNOWLEDGE):
        late = gql.query(mutation, {"id": str(untouched)}, token=home.admin_token)
        assert error_codes(late) == ["CONFLICT"]
        assert "already resolved" in late["errors"][0]["message"]
    assert await audited(pool, untouched) == [(home.admin_id, "anomaly.resolve")]


async def test_another_workspaces_anomaly_is_not_found_and_stays_as_it_was(
    gql: GraphQL, pool: asyncpg.Pool, tenants: Tenants
) -> None:
    theirs = await add_anomaly(pool, tenants.other.workspace_id, "Not yours")
    for mutation in (ACKNOWLEDGE, RESOLVE):
        body = gql.query(mutation, {"id": str(theirs)}, token=tenants.home.admin_token)
        assert error_codes(body) == ["NOT_FOUND"]
        assert body["errors"][0]["extensions"]["field"] == "id"
        unauthenticated = gql.query(mutation, {"id": str(theirs)})
        assert error_codes(unauthenticated) == ["UNAUTHENTICATED"]
    assert await stored(pool, theirs) == {
        "status": "active",
        "acknowledged_by": None,
        "resolved_by": None,
    }
    bad = gql.query(ACKNOWLEDGE, {"id": "nope"}, token=tenants.home.member_token)
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "id"
