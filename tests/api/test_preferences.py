"""Notification preferences over HTTP: the full matrix, partial upserts, whose they are."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg

from runtime.tokens.service import issue_token
from runtime.users.models import UserCreate
from runtime.users.repo import UserRepo
from runtime.users.service import add_user_to_workspace
from tests.api.conftest import GraphQL, Tenant, Tenants, error_codes, make_tenant

FIELDS = "id channel notificationType isEnabled frequency isDefault user { id }"
LIST = f"query($user: ID!) {{ notificationPreferences(userId: $user) {{ {FIELDS} }} }}"
UPDATE = f"""mutation($input: UpdateNotificationPreferenceInput!) {{
  updateNotificationPreference(input: $input) {{ {FIELDS} }}
}}"""

CHANNELS = ["SLACK", "DESKTOP", "EMAIL", "IN_APP"]
TYPES = ["HITL_APPROVAL", "AGENT_COMPLETE", "ERROR", "ANOMALY"]


async def fresh_tenant(pool: asyncpg.Pool) -> Tenant:
    return await make_tenant(pool, f"preferences-{uuid.uuid4().hex[:10]}")


async def stored_rows(pool: asyncpg.Pool, user_id: UUID) -> list[tuple[str, str, bool, str]]:
    rows = await pool.fetch(
        "SELECT channel, notification_type, is_enabled, frequency"
        " FROM notification_preferences WHERE user_id = $1 ORDER BY channel, notification_type",
        user_id,
    )
    return [
        (row["channel"], row["notification_type"], row["is_enabled"], row["frequency"])
        for row in rows
    ]


def matrix(gql: GraphQL, user_id: UUID, token: str) -> dict[tuple[str, str], dict[str, Any]]:
    listed = gql.data(LIST, {"user": str(user_id)}, token=token)["notificationPreferences"]
    return {(p["channel"], p["notificationType"]): p for p in listed}


async def test_a_user_without_rows_sees_every_pair_as_its_default(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    listed = gql.data(LIST, {"user": str(home.member_id)}, token=home.member_token)
    pairs = [(p["channel"], p["notificationType"]) for p in listed["notificationPreferences"]]
    assert pairs == [(channel, kind) for channel in CHANNELS for kind in TYPES]
    for preference in listed["notificationPreferences"]:
        assert preference["id"] is None
        assert preference["isDefault"] is True
        assert (preference["isEnabled"], preference["frequency"]) == (True, "IMMEDIATE")
        assert preference["user"] == {"id": str(home.member_id)}
    assert await stored_rows(pool, home.member_id) == []


async def test_updates_upsert_one_pair_and_keep_what_they_do_not_name(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    digest = gql.data(
        UPDATE,
        {"input": {"channel": "EMAIL", "notificationType": "ANOMALY", "frequency": "DIGEST"}},
        token=home.member_token,
    )["updateNotificationPreference"]
    assert digest["id"] is not None
    assert (digest["isEnabled"], digest["frequency"], digest["isDefault"]) == (
        True,
        "DIGEST",
        False,
    )
    disabled = gql.data(
        UPDATE,
        {"input": {"channel": "EMAIL", "notificationType": "ANOMALY", "isEnabled": False}},
        token=home.member_token,
    )["updateNotificationPreference"]
    assert disabled["id"] == digest["id"]
    assert (disabled["isEnabled"], disabled["frequency"]) == (False, "DIGEST")
    assert await stored_rows(pool, home.member_id) == [("email", "anomaly", False, "digest")]

    seen = matrix(gql, home.member_id, home.member_token)
    assert len(seen) == 16
    assert seen[("EMAIL", "ANOMALY")]["id"] == digest["id"]
    assert seen[("EMAIL", "ANOMALY")]["isEnabled"] is False
    assert seen[("SLACK", "ANOMALY")]["isDefault"] is True


async def test_an_update_that_changes_nothing_is_bad_input_and_stores_nothing(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    home = await fresh_tenant(pool)
    body = gql.query(
        UPDATE,
        {"input": {"channel": "SLACK", "notificationType": "ERROR"}},
        token=home.member_token,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "input.isEnabled"
    unknown = gql.query(
        "mutation { updateNotificationPreference(input:"
        " {channel: PAGER, notificationType: ERROR, isEnabled: false}) { id } }",
        token=home.member_token,
    )
    assert error_codes(unknown) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "PAGER" in unknown["errors"][0]["message"]
    assert await stored_rows(pool, home.member_id) == []


async def test_a_member_keeps_to_their_own_and_an_admin_may_set_a_members(
    gql: GraphQL, pool: asyncpg.Pool, tenants: Tenants
) -> None:
    home = await fresh_tenant(pool)
    change = {"channel": "SLACK", "notificationType": "HITL_APPROVAL", "frequency": "OFF"}

    refused = gql.query(
        UPDATE, {"input": {**change, "userId": str(home.admin_id)}}, token=home.member_token
    )
    assert error_codes(refused) == ["FORBIDDEN"]
    assert refused["errors"][0]["extensions"]["field"] == "input.userId"
    read = gql.query(LIST, {"user": str(home.admin_id)}, token=home.member_token)
    assert error_codes(read) == ["FORBIDDEN"]
    assert read["errors"][0]["extensions"]["field"] == "userId"
    assert await stored_rows(pool, home.admin_id) == []

    set_by_admin = gql.data(
        UPDATE, {"input": {**change, "userId": str(home.member_id)}}, token=home.admin_token
    )["updateNotificationPreference"]
    assert set_by_admin["user"] == {"id": str(home.member_id)}
    assert (
        matrix(gql, home.member_id, home.admin_token)[("SLACK", "HITL_APPROVAL")]["frequency"]
        == "OFF"
    )
    assert await stored_rows(pool, home.admin_id) == []

    for query, variables in (
        (LIST, {"user": str(tenants.other.member_id)}),
        (UPDATE, {"input": {**change, "userId": str(tenants.other.member_id)}}),
    ):
        outsider = gql.query(query, variables, token=home.admin_token)
        assert error_codes(outsider) == ["FORBIDDEN"]
    assert await stored_rows(pool, tenants.other.member_id) == []


async def test_preferences_follow_the_user_into_every_workspace(
    gql: GraphQL, pool: asyncpg.Pool, tenants: Tenants
) -> None:
    home = await fresh_tenant(pool)
    member = await UserRepo(pool).get(home.member_id)
    async with pool.acquire() as conn:
        await add_user_to_workspace(
            conn, tenants.other.workspace_id, UserCreate(email=member.email), role="member"
        )
        elsewhere = await issue_token(conn, tenants.other.workspace_id, home.member_id)
    gql.data(
        UPDATE,
        {"input": {"channel": "DESKTOP", "notificationType": "AGENT_COMPLETE", "isEnabled": False}},
        token=elsewhere.secret,
    )
    seen_at_home = matrix(gql, home.member_id, home.member_token)
    assert seen_at_home[("DESKTOP", "AGENT_COMPLETE")]["isEnabled"] is False


async def test_every_operation_needs_a_token_and_a_real_id(gql: GraphQL, tenants: Tenants) -> None:
    home = tenants.home
    assert error_codes(gql.query(LIST, {"user": str(home.member_id)})) == ["UNAUTHENTICATED"]
    anonymous = gql.query(
        UPDATE, {"input": {"channel": "SLACK", "notificationType": "ERROR", "isEnabled": False}}
    )
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    bad = gql.query(LIST, {"user": "nope"}, token=home.member_token)
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "userId"
