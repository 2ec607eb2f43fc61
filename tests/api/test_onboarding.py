"""Onboarding over real HTTP: connect HubSpot (OAuth against the emulator, or a private app
token), see the connection, discover deal properties and pipelines, configure and preview an
agent on a stored meeting, activate it. One API server and one emulator for the module."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from runtime.api.http import build_api_app
from runtime.connections.oauth import start_oauth
from runtime.connections.service import connect_private_token, load_credentials
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.errors import ConflictError
from runtime.settings import HubSpotSettings
from tests.api.conftest import GraphQL, ModuleKeys, Tenants, api_settings, error_codes
from tests.http_server import serve_asgi
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator
from tests.meetings import example_meeting, transcript
from tests.pipeline_setup import PRICE_AGREED

KEYS = ModuleKeys()
OAUTH_APP = EmulatorConfig().oauth
RETURN_URL = "https://app.example/settings/crm"
CALLBACK = "/oauth/hubspot/callback"
PROPOSABLE = {"dealstage", "amount", "closedate", "hs_next_step"}

START = """
mutation($ws: ID!) { startCrmOAuth(workspaceId: $ws) { authorizeUrl expiresAt } }
"""
STATUS = """
query($ws: ID!) {
  crmConnection(workspaceId: $ws) {
    connected state authKind baseUrlHost hubId scopes connectedAt accessTokenExpiresAt
  }
}
"""
CONNECT = """
mutation($ws: ID!, $token: String!, $url: String) {
  connectCrmPrivateToken(workspaceId: $ws, token: $token, baseUrl: $url) { connected authKind }
}
"""
DISCONNECT = "mutation($ws: ID!) { disconnectCrm(workspaceId: $ws) { connected state } }"
PROPERTIES = """
query($ws: ID!) {
  crmDealProperties(workspaceId: $ws) {
    name label type fieldType readOnly proposable options { value label displayOrder }
  }
}
"""
PIPELINES = """
query($ws: ID!) {
  crmDealPipelines(workspaceId: $ws) {
    id label stages { id label displayOrder probability isClosed isWon }
  }
}
"""
TEMPLATES = '{ agentTemplates(callType: "discovery") { templateKey config } }'
CREATE = """
mutation($in: CreateAgentConfigInput!) { createAgentConfig(input: $in) { id status } }
"""
UPDATE = """
mutation($id: ID!, $in: UpdateAgentConfigInput!) {
  updateAgentConfig(id: $id, input: $in) { config }
}
"""
INGEST = """
mutation($ws: ID!, $in: JSON!) { ingestMeeting(workspaceId: $ws, input: $in) { meeting { id } } }
"""
PREVIEW = """
mutation($agent: ID!, $meeting: ID!) {
  previewAgentRun(agentConfigId: $agent, meetingId: $meeting) {
    matchedRecord { id objectType } fieldsToUpdate { fieldName newValue confidence }
  }
}
"""
ACTIVATE = "mutation($id: ID!) { activateAgent(id: $id) { id status } }"
SAID = transcript(*PRICE_AGREED)


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    """Only TOKEN is a valid private app token; OAuth grants come from its OAuth app."""
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture(scope="module")
def api_url(database_dsn: str, emulator: RunningEmulator) -> Iterator[str]:
    """The API with the emulator's OAuth app and a key ring of its own."""
    hubspot = HubSpotSettings(
        base_url=emulator.url,
        authorize_url=f"{emulator.url}/oauth/authorize",
        client_id=OAUTH_APP.client_id,
        client_secret=SecretStr(OAUTH_APP.client_secret),
        redirect_uri="http://127.0.0.1/unknown-until-the-server-listens",
        oauth_return_url=RETURN_URL,
        max_retries=0,
    )
    settings = KEYS.settings(api_settings(database_dsn)).model_copy(update={"hubspot": hubspot})
    with serve_asgi(build_api_app(settings)) as url:
        # The callback's URL is known once the server listens; the app reads the OAuth
        # settings per request, and no request has been made yet.
        hubspot.redirect_uri = f"{url}{CALLBACK}"
        yield url


async def _visit(url: str, **params: str) -> httpx.Response:
    """What the admin's browser does: GET, following HubSpot's redirect to the callback."""
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as browser:
        return await browser.get(url, params=params or None)


def _state_of(authorize_url: str) -> str:
    return parse_qs(urlsplit(authorize_url).query)["state"][0]


def _start(gql: GraphQL, token: str, workspace_id: UUID) -> dict[str, Any]:
    started: dict[str, Any] = gql.data(START, {"ws": str(workspace_id)}, token=token)[
        "startCrmOAuth"
    ]
    return started


async def _stored(pool: asyncpg.Pool, workspace_id: UUID) -> dict[str, Any] | None:
    """The workspace's connection row as stored, sealed secret included."""
    row = await pool.fetchrow(
        "SELECT id, auth_kind, status, secret, key_id, hub_id, scopes, updated_at"
        " FROM crm_connections WHERE workspace_id = $1",
        workspace_id,
    )
    return None if row is None else dict(row)


async def _audit(pool: asyncpg.Pool, workspace_id: UUID, action: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT actor_user_id, details::text AS details FROM audit_log"
        " WHERE workspace_id = $1 AND action = $2 ORDER BY created_at",
        workspace_id,
        action,
    )
    return rows


def _error(body: dict[str, Any]) -> tuple[str, str | None, str]:
    error = body["errors"][0]
    return error["extensions"]["code"], error["extensions"].get("field"), error["message"]


async def test_onboarding_end_to_end(
    gql: GraphQL,
    tenants: Tenants,
    pool: asyncpg.Pool,
    emulator: RunningEmulator,
) -> None:
    home = tenants.home
    ws = str(home.workspace_id)
    assert (
        gql.data(STATUS, {"ws": ws}, token=home.admin_token)["crmConnection"]["connected"] is False
    )

    # 1. The admin starts; their browser goes to HubSpot, which redirects to the callback.
    started = _start(gql, home.admin_token, home.workspace_id)
    assert started["authorizeUrl"].startswith(f"{emulator.url}/oauth/authorize?")
    query = parse_qs(urlsplit(started["authorizeUrl"]).query)
    assert query["client_id"] == [OAUTH_APP.client_id]
    assert query["redirect_uri"] == [f"{gql.url}{CALLBACK}"]
    lifetime_s = (datetime.fromisoformat(started["expiresAt"]) - datetime.now(UTC)).total_seconds()
    assert 500 < lifetime_s <= 600
    page = await _visit(started["authorizeUrl"])
    assert page.status_code == 200, page.text
    assert page.url.path == CALLBACK
    assert "HubSpot connected" in page.text
    assert "account 9990001" in page.text
    assert f"{RETURN_URL}?oauth=connected" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"

    # 2. The connection: OAuth, its account and scopes, sealed at rest, audited as the admin.
    status = gql.data(STATUS, {"ws": ws}, token=home.member_token)["crmConnection"]
    assert status["connected"] is True
    assert (status["state"], status["authKind"], status["hubId"]) == ("ACTIVE", "OAUTH", "9990001")
    assert status["scopes"] == HubSpotSettings().scopes
    assert status["baseUrlHost"] == "127.0.0.1"
    assert status["connectedAt"]
    assert status["accessTokenExpiresAt"]
    stored = await _stored(pool, home.workspace_id)
    assert stored is not None
    found = await load_credentials(pool, KEYS.keyring, home.workspace_id)
    assert found is not None
    credentials = found[1]
    assert credentials.refresh_token is not None
    access = credentials.access_token.get_secret_value()
    refresh = credentials.refresh_token.get_secret_value()
    for secret in (access, refresh):
        assert secret.encode() not in stored["secret"]
        assert secret not in page.text
    (connect,) = await _audit(pool, home.workspace_id, "crm.connect")
    assert connect["actor_user_id"] == home.admin_id
    assert access not in connect["details"]
    assert refresh not in connect["details"]

    # 3. The callback again (a reload, a replay): the state is spent, nothing changes.
    again = await _visit(str(page.url))
    assert again.status_code == 400
    assert "already used" in again.text
    assert await _stored(pool, home.workspace_id) == stored

    # 4. Discovery, read through the OAuth connection and audited under the admin's name.
    properties = {
        p["name"]: p
        for p in gql.data(PROPERTIES, {"ws": ws}, token=home.admin_token)["crmDealProperties"]
    }
    assert {name for name, p in properties.items() if p["proposable"]} == PROPOSABLE
    stage = properties["dealstage"]
    assert (stage["type"], stage["readOnly"], len(stage["options"])) == ("enumeration", False, 7)
    assert stage["options"][0] == {
        "value": "appointmentscheduled",
        "label": "Appointment Scheduled",
        "displayOrder": 0,
    }
    assert properties["createdate"]["readOnly"] is True
    assert properties["createdate"]["proposable"] is False
    assert properties["dealname"]["proposable"] is False
    (pipeline,) = gql.data(PIPELINES, {"ws": ws}, token=home.admin_token)["crmDealPipelines"]
    assert (pipeline["id"], pipeline["label"]) == ("default", "Sales Pipeline")
    stages = {s["id"]: s for s in pipeline["stages"]}
    assert [s["displayOrder"] for s in pipeline["stages"]] == list(range(7))
    assert (stages["closedwon"]["isClosed"], stages["closedwon"]["isWon"]) == (True, True)
    assert (stages["closedlost"]["isClosed"], stages["closedlost"]["isWon"]) == (True, False)
    assert stages["qualifiedtobuy"] == {
        "id": "qualifiedtobuy",
        "label": "Qualified To Buy",
        "displayOrder": 1,
        "probability": 0.4,
        "isClosed": False,
        "isWon": False,
    }
    for action in ("crm.definitions", "crm.pipelines"):
        assert [r["actor_user_id"] for r in await _audit(pool, home.workspace_id, action)] == [
            home.admin_id
        ]

    # 5. An agent from a template, managing the discovered fields the agents can propose.
    (template,) = gql.data(TEMPLATES, token=home.admin_token)["agentTemplates"]
    chosen = [name for name, p in properties.items() if p["proposable"] and not p["readOnly"]]
    config = {
        **template["config"],
        "fields": {name: template["config"]["fields"][name] for name in chosen},
    }
    agent = gql.data(
        CREATE, {"in": {"workspaceId": ws, "templateKey": "discovery"}}, token=home.admin_token
    )["createAgentConfig"]
    assert agent["status"] == "DRAFT"
    updated = gql.data(
        UPDATE, {"id": agent["id"], "in": {"config": config}}, token=home.admin_token
    )
    assert set(updated["updateAgentConfig"]["config"]["fields"]) == PROPOSABLE

    # 6. A stored meeting, previewed through the OAuth connection, then the agent goes live.
    meeting = example_meeting(external_id=f"zoom-{uuid.uuid4().hex[:10]}", transcript=SAID)
    ingested = gql.data(INGEST, {"ws": ws, "in": meeting}, token=home.member_token)
    meeting_id = ingested["ingestMeeting"]["meeting"]["id"]
    preview = gql.data(
        PREVIEW, {"agent": agent["id"], "meeting": meeting_id}, token=home.admin_token
    )["previewAgentRun"]
    assert preview["matchedRecord"] == {"id": "301", "objectType": "deals"}
    proposed = {u["fieldName"]: u["newValue"] for u in preview["fieldsToUpdate"]}
    assert proposed["amount"] == "60000"
    assert set(proposed) <= PROPOSABLE
    assert emulator.write_log() == []
    activated = gql.data(ACTIVATE, {"id": agent["id"]}, token=home.admin_token)["activateAgent"]
    assert activated == {"id": agent["id"], "status": "ACTIVE"}


async def test_a_state_works_once_and_only_before_it_expires(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    other = tenants.other
    before = await _stored(pool, other.workspace_id)

    unknown = await _visit(f"{gql.url}{CALLBACK}", code="x", state="made-up")
    assert unknown.status_code == 400
    assert "unknown" in unknown.text
    missing = await _visit(f"{gql.url}{CALLBACK}", code="x")
    assert missing.status_code == 400
    assert "no state" in missing.text

    started = _start(gql, other.admin_token, other.workspace_id)
    digest = hashlib.sha256(_state_of(started["authorizeUrl"]).encode()).digest()
    # Only the digest is stored, never the state itself.
    assert (
        await pool.fetchval("SELECT count(*) FROM crm_oauth_states WHERE state_digest = $1", digest)
        == 1
    )
    await pool.execute(
        "UPDATE crm_oauth_states SET expires_at = now() - interval '1 second'"
        " WHERE state_digest = $1",
        digest,
    )
    expired = await _visit(started["authorizeUrl"])
    assert expired.url.path == CALLBACK
    assert expired.status_code == 400
    assert "expired" in expired.text
    assert await _stored(pool, other.workspace_id) == before

    # Two callbacks racing with one state and code: one connects, the other changes nothing.
    started = _start(gql, other.admin_token, other.workspace_id)
    async with httpx.AsyncClient(timeout=30) as browser:
        redirect = await browser.get(started["authorizeUrl"])
    assert redirect.status_code == 302
    callback = redirect.headers["location"]
    connects = len(await _audit(pool, other.workspace_id, "crm.connect"))
    answers = await asyncio.gather(_visit(callback), _visit(callback))
    assert sorted(a.status_code for a in answers) == [200, 400]
    # Refused by the state, not by HubSpot's single-use code: the exchange ran once.
    assert "already used" in max(answers, key=lambda a: a.status_code).text
    assert len(await _audit(pool, other.workspace_id, "crm.connect")) == connects + 1


async def test_declining_in_hubspot_connects_nothing_and_spends_the_state(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    other = tenants.other
    before = await _stored(pool, other.workspace_id)
    state = _state_of(_start(gql, other.admin_token, other.workspace_id)["authorizeUrl"])
    declined = await _visit(
        f"{gql.url}{CALLBACK}",
        error="access_denied",
        error_description="The user declined",
        state=state,
    )
    assert declined.status_code == 200
    assert "HubSpot not connected" in declined.text
    assert "access was not granted" in declined.text
    assert f"{RETURN_URL}?oauth=denied" in declined.text
    used = await _visit(f"{gql.url}{CALLBACK}", code="x", state=state)
    assert used.status_code == 400
    assert "already used" in used.text
    assert await _stored(pool, other.workspace_id) == before


async def test_a_private_token_is_checked_before_it_replaces_the_connection(
    gql: GraphQL,
    tenants: Tenants,
    pool: asyncpg.Pool,
    emulator: RunningEmulator,
) -> None:
    other = tenants.other
    ws = str(other.workspace_id)
    before = await _stored(pool, other.workspace_id)

    wrong = "pat-na1-wrong-token"
    refused = gql.query(
        CONNECT, {"ws": ws, "token": wrong, "url": emulator.url}, token=other.admin_token
    )
    code, field, message = _error(refused)
    assert (code, field) == ("BAD_USER_INPUT", "token")
    assert "refused it" in message
    assert wrong not in message
    unreachable = gql.query(
        CONNECT, {"ws": ws, "token": TOKEN, "url": "http://127.0.0.1:1"}, token=other.admin_token
    )
    code, field, message = _error(unreachable)
    assert (code, field) == ("BAD_USER_INPUT", "baseUrl")
    assert "cannot reach http://127.0.0.1:1" in message
    assert await _stored(pool, other.workspace_id) == before

    connected = gql.data(
        CONNECT, {"ws": ws, "token": TOKEN, "url": emulator.url}, token=other.admin_token
    )
    assert connected["connectCrmPrivateToken"] == {"connected": True, "authKind": "PRIVATE_TOKEN"}
    stored = await _stored(pool, other.workspace_id)
    assert stored is not None
    assert TOKEN.encode() not in stored["secret"]
    assert (await _audit(pool, other.workspace_id, "crm.connect"))[-1]["actor_user_id"] == (
        other.admin_id
    )

    # A reconnect with OAuth whose code HubSpot refuses keeps the working connection.
    state = _state_of(_start(gql, other.admin_token, other.workspace_id)["authorizeUrl"])
    bad_code = await _visit(f"{gql.url}{CALLBACK}", code="not-a-code", state=state)
    assert bad_code.status_code == 400
    assert "HubSpot refused the authorization code" in bad_code.text
    assert "missing or invalid auth code" in bad_code.text
    assert "not-a-code" not in bad_code.text
    assert await _stored(pool, other.workspace_id) == stored

    revoked = gql.data(DISCONNECT, {"ws": ws}, token=other.admin_token)["disconnectCrm"]
    assert revoked == {"connected": False, "state": "REVOKED"}
    assert [
        r["actor_user_id"] for r in await _audit(pool, other.workspace_id, "crm.disconnect")
    ] == [other.admin_id]
    gone = gql.query(PROPERTIES, {"ws": ws}, token=other.admin_token)
    code, field, message = _error(gone)
    assert (code, field) == ("CONFLICT", "crmConnection")
    assert "no active hubspot connection" in message


async def test_discovery_with_a_refused_token_says_to_reconnect(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool, emulator: RunningEmulator
) -> None:
    other = tenants.other
    # Stored without the check (as `crm connect --no-verify` does); HubSpot refuses it.
    await connect_private_token(
        pool, KEYS.keyring, other.workspace_id, token="pat-na1-revoked", base_url=emulator.url
    )
    body = gql.query(PIPELINES, {"ws": str(other.workspace_id)}, token=other.admin_token)
    code, field, message = _error(body)
    assert (code, field) == ("CONFLICT", "crmConnection")
    assert "reconnect" in message
    assert "pat-na1-revoked" not in message


async def test_members_may_not_connect_or_discover(
    gql: GraphQL, tenants: Tenants, pool: asyncpg.Pool, emulator: RunningEmulator
) -> None:
    home = tenants.home
    ws = str(home.workspace_id)
    states = await pool.fetchval("SELECT count(*) FROM crm_oauth_states")
    before = await _stored(pool, home.workspace_id)
    for document, variables in (
        (START, {"ws": ws}),
        (CONNECT, {"ws": ws, "token": TOKEN, "url": emulator.url}),
        (DISCONNECT, {"ws": ws}),
        (PROPERTIES, {"ws": ws}),
        (PIPELINES, {"ws": ws}),
    ):
        assert error_codes(gql.query(document, variables, token=home.member_token)) == ["FORBIDDEN"]
    assert await pool.fetchval("SELECT count(*) FROM crm_oauth_states") == states
    assert await _stored(pool, home.workspace_id) == before


async def test_oauth_without_the_app_settings_names_them_and_stores_nothing(
    pool: asyncpg.Pool, tenants: Tenants
) -> None:
    home = tenants.home
    states = await pool.fetchval("SELECT count(*) FROM crm_oauth_states")
    with pytest.raises(ConflictError) as refused:
        await start_oauth(
            pool,
            HubSpotSettings(client_id="only-the-id"),
            home.workspace_id,
            started_by=home.admin_id,
            now=datetime.now(UTC),
        )
    assert refused.value.field == "oauth_settings"
    assert "CRM_AGENTS_HUBSPOT__CLIENT_SECRET" in refused.value.reason
    assert "CRM_AGENTS_HUBSPOT__REDIRECT_URI" in refused.value.reason
    assert "CRM_AGENTS_HUBSPOT__CLIENT_ID" not in refused.value.reason
    assert await pool.fetchval("SELECT count(*) FROM crm_oauth_states") == states
