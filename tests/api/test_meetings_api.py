"""Meetings and the CRM connection over HTTP: ingesting, finding, connection status."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from pydantic import SecretStr

from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token, disconnect, save_oauth_tokens
from runtime.crm.hubspot.auth import OAuthTokens
from tests.api.conftest import GraphQL, Tenants, error_codes, make_tenant
from tests.meetings import example_meeting, with_transcript_line
from tests.pipeline_setup import auto_apply_config, insert_agent

INGEST = """
mutation($ws: ID!, $in: JSON!) {
  ingestMeeting(workspaceId: $ws, input: $in) {
    created
    meeting { id externalId title callType startedAt ownerEmail attendees }
    runs { id status agentConfig { id } }
  }
}
"""
MEETING = "query($id: ID!) { meeting(id: $id) { id externalId title } }"
MEETINGS = """
query($ws: ID!, $page: PaginationInput) {
  meetings(workspaceId: $ws, pagination: $page) {
    edges { cursor node { id externalId startedAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    totalCount
  }
}
"""
CONNECTION = """
query($ws: ID!) {
  crmConnection(workspaceId: $ws) {
    connected crmType state authKind baseUrlHost hubId scopes connectedAt updatedAt
    accessTokenExpiresAt
  }
}
"""
PRIVATE_TOKEN = "pat-na1-11111111-secret"
ACCESS_TOKEN = "oauth-access-22222222-secret"
REFRESH_TOKEN = "oauth-refresh-33333333-secret"
KEYRING = KeyRing([("k1", os.urandom(32))])


def _meeting(**changes: Any) -> dict[str, Any]:
    return example_meeting(external_id=f"zoom-{uuid.uuid4().hex[:10]}", **changes)


def _ingest(gql: GraphQL, token: str, workspace_id: UUID, meeting: dict[str, Any]) -> Any:
    return gql.query(INGEST, {"ws": str(workspace_id), "in": meeting}, token=token)


async def _count(pool: asyncpg.Pool, table: str, workspace_id: UUID) -> int:
    found: int = await pool.fetchval(
        f"SELECT count(*) FROM {table} WHERE workspace_id = $1", workspace_id
    )
    return found


@pytest.fixture(scope="module")
async def active_agent(pool: asyncpg.Pool, tenants: Tenants) -> UUID:
    """An active agent of the home workspace that runs on discovery calls."""
    return await insert_agent(
        pool, tenants.home.workspace_id, tenants.home.admin_id, auto_apply_config()
    )


async def test_a_member_ingests_a_meeting_and_its_runs_are_queued(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool, active_agent: UUID
) -> None:
    home = tenants.home
    meeting = _meeting()
    body = _ingest(gql, home.member_token, home.workspace_id, meeting)
    assert "errors" not in body, body
    result = body["data"]["ingestMeeting"]
    assert result["created"] is True
    stored = result["meeting"]
    assert (stored["externalId"], stored["title"], stored["callType"]) == (
        meeting["external_id"],
        meeting["title"],
        "discovery",
    )
    assert stored["ownerEmail"] == "sam@ourco.example"
    assert stored["attendees"][1]["email"] == "dana@acme.example"
    assert [(r["status"], r["agentConfig"]["id"]) for r in result["runs"]] == [
        ("PENDING", str(active_agent))
    ]
    runs = await pool.fetch(
        "SELECT id, agent_config_id FROM agent_runs WHERE meeting_id = $1", UUID(stored["id"])
    )
    assert [(str(r["id"]), r["agent_config_id"]) for r in runs] == [
        (result["runs"][0]["id"], active_agent)
    ]


async def test_ingesting_again_is_idempotent_and_changed_content_conflicts(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool, active_agent: UUID
) -> None:
    home = tenants.home
    meeting = _meeting()
    first = _ingest(gql, home.admin_token, home.workspace_id, meeting)["data"]["ingestMeeting"]
    meetings_before = await _count(pool, "meetings", home.workspace_id)
    runs_before = await _count(pool, "agent_runs", home.workspace_id)

    again = _ingest(gql, home.member_token, home.workspace_id, meeting)["data"]["ingestMeeting"]
    assert (again["created"], again["runs"]) == (False, [])
    assert again["meeting"]["id"] == first["meeting"]["id"]

    changed = _ingest(gql, home.member_token, home.workspace_id, {**meeting, "title": "Other"})
    assert error_codes(changed) == ["CONFLICT"]
    assert changed["errors"][0]["extensions"]["field"] == "input.external_id"
    assert "different content" in changed["errors"][0]["message"]
    assert await _count(pool, "meetings", home.workspace_id) == meetings_before
    assert await _count(pool, "agent_runs", home.workspace_id) == runs_before


BAD_MEETINGS: list[tuple[str, Any, str, str]] = [
    ("missing started_at", _meeting(started_at=None), "input.started_at", "required"),
    (
        "date without zone",
        _meeting(started_at="2026-03-02T15:00:00"),
        "input.started_at",
        "timezone",
    ),
    (
        "empty speaker",
        {**with_transcript_line(1, speaker="  "), "external_id": "zoom-bad-1"},
        "input.transcript.1.speaker",
        "must not be empty",
    ),
    ("unknown key", _meeting(priority="high"), "input.priority", "not a known field"),
    (
        "internal as text",
        _meeting(attendees=[{"name": "A", "internal": "yes"}]),
        "input.attendees.0.internal",
        "boolean",
    ),
    ("not an object", [1, 2], "input", "JSON object"),
]


@pytest.mark.parametrize(
    ("meeting", "path", "words"),
    [case[1:] for case in BAD_MEETINGS],
    ids=[case[0] for case in BAD_MEETINGS],
)
async def test_a_bad_meeting_names_its_path_and_stores_nothing(
    gql: GraphQL,
    tenants: Tenants,
    pool: asyncpg.Pool,
    meeting: Any,
    path: str,
    words: str,
) -> None:
    home = tenants.home
    before = await _count(pool, "meetings", home.workspace_id)
    body = _ingest(gql, home.member_token, home.workspace_id, meeting)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == path
    assert words in body["errors"][0]["message"]
    assert await _count(pool, "meetings", home.workspace_id) == before


async def test_ingesting_needs_a_token_for_the_workspace(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    before = await _count(pool, "meetings", tenants.other.workspace_id)
    forbidden = _ingest(gql, tenants.home.admin_token, tenants.other.workspace_id, _meeting())
    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert forbidden["errors"][0]["extensions"]["field"] == "workspaceId"
    anonymous = gql.query(INGEST, {"ws": str(tenants.other.workspace_id), "in": _meeting()})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert await _count(pool, "meetings", tenants.other.workspace_id) == before


def test_a_meeting_is_found_by_id_in_its_workspace_only(gql: GraphQL, tenants: Tenants) -> None:
    body = _ingest(gql, tenants.other.member_token, tenants.other.workspace_id, _meeting())
    theirs = body["data"]["ingestMeeting"]["meeting"]
    found = gql.data(MEETING, {"id": theirs["id"]}, token=tenants.other.member_token)
    assert found["meeting"] == {
        "id": theirs["id"],
        "externalId": theirs["externalId"],
        "title": theirs["title"],
    }
    elsewhere = gql.data(MEETING, {"id": theirs["id"]}, token=tenants.home.admin_token)
    assert elsewhere["meeting"] is None
    bad = gql.query(MEETING, {"id": "nope"}, token=tenants.home.admin_token)
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "id"
    assert error_codes(gql.query(MEETING, {"id": theirs["id"]})) == ["UNAUTHENTICATED"]


async def test_meetings_are_paged_latest_start_first(gql: GraphQL, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(pool, f"paging-{uuid.uuid4().hex[:6]}")
    start = datetime(2026, 3, 2, 15, tzinfo=UTC)
    ingested = []
    for hours in (3, 1, 4, 2, 0):
        meeting = _meeting(started_at=(start + timedelta(hours=hours)).isoformat())
        ingested.append(_ingest(gql, tenant.member_token, tenant.workspace_id, meeting))
    assert all("errors" not in body for body in ingested)

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = gql.data(
            MEETINGS,
            {"ws": str(tenant.workspace_id), "page": {"first": 2, "after": after}},
            token=tenant.member_token,
        )["meetings"]
        pages += 1
        assert page["totalCount"] == 5
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen.extend(edge["node"]["startedAt"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    expected = [(start + timedelta(hours=h)) for h in (4, 3, 2, 1, 0)]
    assert [datetime.fromisoformat(s) for s in seen] == expected

    too_big = gql.query(
        MEETINGS,
        {"ws": str(tenant.workspace_id), "page": {"first": 1000}},
        token=tenant.member_token,
    )
    assert error_codes(too_big) == ["BAD_USER_INPUT"]
    assert too_big["errors"][0]["extensions"]["field"] == "pagination.first"
    other = await make_tenant(pool, f"paging-other-{uuid.uuid4().hex[:6]}")
    forbidden = gql.query(MEETINGS, {"ws": str(tenant.workspace_id)}, token=other.admin_token)
    assert error_codes(forbidden) == ["FORBIDDEN"]


async def test_a_workspace_without_a_connection_says_so(gql: GraphQL, pool: asyncpg.Pool) -> None:
    tenant = await make_tenant(pool, f"unconnected-{uuid.uuid4().hex[:6]}")
    status = gql.data(CONNECTION, {"ws": str(tenant.workspace_id)}, token=tenant.member_token)[
        "crmConnection"
    ]
    assert status["connected"] is False
    assert (status["state"], status["authKind"], status["baseUrlHost"]) == (None, None, None)


async def test_a_private_token_connection_shows_its_status_and_no_secret(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(pool, f"private-{uuid.uuid4().hex[:6]}")
    await connect_private_token(
        pool,
        KEYRING,
        tenant.workspace_id,
        token=PRIVATE_TOKEN,
        base_url="https://api.hubapi.example:8443/",
        created_by=tenant.admin_id,
    )
    response = gql.post(CONNECTION, {"ws": str(tenant.workspace_id)}, token=tenant.member_token)
    assert response.status_code == 200
    assert PRIVATE_TOKEN not in response.text
    assert "secret" not in response.text
    status = response.json()["data"]["crmConnection"]
    assert (status["connected"], status["crmType"], status["state"]) == (True, "HUBSPOT", "ACTIVE")
    assert (status["authKind"], status["baseUrlHost"]) == ("PRIVATE_TOKEN", "api.hubapi.example")
    assert status["accessTokenExpiresAt"] is None
    assert status["connectedAt"] is not None

    await disconnect(pool, tenant.workspace_id)
    revoked = gql.data(CONNECTION, {"ws": str(tenant.workspace_id)}, token=tenant.admin_token)[
        "crmConnection"
    ]
    assert (revoked["connected"], revoked["state"]) == (False, "REVOKED")

    other = await make_tenant(pool, f"private-other-{uuid.uuid4().hex[:6]}")
    forbidden = gql.query(CONNECTION, {"ws": str(tenant.workspace_id)}, token=other.admin_token)
    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert error_codes(gql.query(CONNECTION, {"ws": str(tenant.workspace_id)})) == [
        "UNAUTHENTICATED"
    ]


async def test_an_oauth_connection_shows_its_expiry_and_scopes_and_no_token(
    gql: GraphQL, pool: asyncpg.Pool
) -> None:
    tenant = await make_tenant(pool, f"oauth-{uuid.uuid4().hex[:6]}")
    expires_at = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
    await save_oauth_tokens(
        pool,
        KEYRING,
        tenant.workspace_id,
        OAuthTokens(
            access_token=SecretStr(ACCESS_TOKEN),
            refresh_token=SecretStr(REFRESH_TOKEN),
            expires_at=expires_at,
        ),
        base_url="https://api.hubapi.com",
        hub_id="4242",
        scopes=["crm.objects.deals.read", "crm.objects.deals.write"],
        created_by=tenant.admin_id,
    )
    response = gql.post(CONNECTION, {"ws": str(tenant.workspace_id)}, token=tenant.member_token)
    assert response.status_code == 200
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, base64.b64encode(ACCESS_TOKEN.encode()).decode()):
        assert secret not in response.text
    status = response.json()["data"]["crmConnection"]
    assert (status["connected"], status["authKind"], status["hubId"]) == (True, "OAUTH", "4242")
    assert status["baseUrlHost"] == "api.hubapi.com"
    assert status["scopes"] == ["crm.objects.deals.read", "crm.objects.deals.write"]
    assert datetime.fromisoformat(status["accessTokenExpiresAt"]) == expires_at
