"""Stored HubSpot OAuth connections past their access token's expiry, against the emulator.

The emulator's OAuth app issues access tokens that live 30 minutes on its FakeClock, which
the clients read too: advancing it expires a token without waiting. Grants come from the
emulator's real authorize and token endpoints and are stored as the OAuth callback stores
them (``save_oauth_tokens``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from runtime.connections import grants
from runtime.connections.cipher import KeyRing
from runtime.connections.discovery import deal_pipelines
from runtime.connections.repo import CrmConnectionRepo
from runtime.connections.service import crm_client, load_credentials, save_oauth_tokens
from runtime.crm.errors import CrmAuthError
from runtime.crm.hubspot.auth import OAuthApp, OAuthTokens
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.errors import ConflictError
from runtime.runs.crm_source import ConnectedCrms
from runtime.settings import HubSpotSettings
from runtime.users.models import UserCreate
from runtime.users.repo import UserRepo
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.hubspot_emulator import NO_LATENCY, RunningEmulator, running_emulator

KEYS = KeyRing([("k1", os.urandom(32))])
APP = EmulatorConfig().oauth
PAST_EXPIRY_S = APP.access_token_ttl_s + 60
RECONNECT = "reconnect HubSpot"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture(scope="module")
def settings(emulator: RunningEmulator) -> HubSpotSettings:
    return HubSpotSettings(
        base_url=emulator.url,
        authorize_url=f"{emulator.url}/oauth/authorize",
        client_id=APP.client_id,
        client_secret=SecretStr(APP.client_secret),
        redirect_uri="http://127.0.0.1/oauth/hubspot/callback",
        max_retries=0,
        timeout_s=10,
    )


async def _connected(
    pool: asyncpg.Pool, emulator: RunningEmulator, settings: HubSpotSettings
) -> tuple[uuid.UUID, OAuthTokens]:
    """A new workspace connected with a fresh grant, stored as the OAuth callback does."""
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))
    tokens = await _grant(emulator, settings)
    await save_oauth_tokens(
        pool, KEYS, workspace.id, tokens, base_url=emulator.url, hub_id="42", scopes=["oauth"]
    )
    return workspace.id, tokens


async def _grant(emulator: RunningEmulator, settings: HubSpotSettings) -> OAuthTokens:
    async with httpx.AsyncClient() as http:
        app = OAuthApp.from_settings(settings, http=http, clock=emulator.clock)
        consent = await http.get(app.authorize_url(state="s"))
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        return await app.exchange_code(code)


def _counting_http(token_requests: list[str]) -> httpx.AsyncClient:
    """An httpx client that notes each request it sends to the token endpoint."""

    async def count(request: httpx.Request) -> None:
        if request.url.path == "/oauth/v1/token":
            token_requests.append(request.method)

    return httpx.AsyncClient(timeout=10, event_hooks={"request": [count]})


async def _audited(pool: asyncpg.Pool, workspace: uuid.UUID, action: str) -> list[str]:
    """The details of the workspace's audit entries with this action, as JSON text."""
    rows = await pool.fetch(
        "SELECT details::text FROM audit_log WHERE workspace_id = $1 AND action = $2",
        workspace,
        action,
    )
    return [row[0] for row in rows]


async def test_an_expired_grant_is_refreshed_once_stored_sealed_and_loaded_by_the_next_process(
    pool: asyncpg.Pool, emulator: RunningEmulator, settings: HubSpotSettings
) -> None:
    workspace, first = await _connected(pool, emulator, settings)
    before = await CrmConnectionRepo(pool).get(workspace, "hubspot")
    assert before is not None

    crms = ConnectedCrms(pool, KEYS, settings, clock=emulator.clock)
    try:
        crm = await crms.for_workspace(workspace)
        assert (await crm.audit.get("deals", "301")).id == "301"
        assert await _audited(pool, workspace, "crm.token_refresh") == []

        emulator.clock.advance(PAST_EXPIRY_S)
        # Concurrent calls, all finding the token expired, share one refresh.
        deals = await asyncio.gather(
            *(crm.audit.get("deals", deal_id) for deal_id in ["301", "302", "303"] * 4)
        )
        assert {deal.id for deal in deals} == {"301", "302", "303"}
        (refresh,) = await _audited(pool, workspace, "crm.token_refresh")
        # The refresh left updated_at alone: the same client (and its cache) is kept.
        assert await crms.for_workspace(workspace) is crm
    finally:
        await crms.aclose()

    after = await CrmConnectionRepo(pool).get(workspace, "hubspot")
    assert after is not None
    assert after.access_expires_at == emulator.clock.now() + timedelta(
        seconds=APP.access_token_ttl_s
    )
    unchanged = ("id", "hub_id", "scopes", "created_by", "status", "created_at", "updated_at")
    assert {k: getattr(after, k) for k in unchanged} == {k: getattr(before, k) for k in unchanged}
    loaded = await load_credentials(pool, KEYS, workspace)
    assert loaded is not None
    refreshed = loaded[1]
    assert refreshed.access_token != first.access_token
    assert refreshed.refresh_token == first.refresh_token  # HubSpot keeps it across refreshes
    assert refreshed.expires_at == after.access_expires_at

    row = await pool.fetchval(
        "SELECT row_to_json(c)::text FROM crm_connections c WHERE workspace_id = $1", workspace
    )
    secret = await pool.fetchval(
        "SELECT secret FROM crm_connections WHERE workspace_id = $1", workspace
    )
    for token in (refreshed.access_token, first.refresh_token):
        raw = token.get_secret_value()
        assert raw not in row
        assert raw.encode().hex() not in row  # bytea is rendered as hex in JSON
        assert raw.encode() not in secret
        assert raw not in refresh

    # Another process loads the refreshed grant: it reads without refreshing again.
    later = ConnectedCrms(pool, KEYS, settings, clock=emulator.clock)
    try:
        pipelines = await (await later.for_workspace(workspace)).audit.pipelines("deals")
        assert pipelines[0].id == "default"
    finally:
        await later.aclose()
    assert len(await _audited(pool, workspace, "crm.token_refresh")) == 1


async def test_a_revoked_grant_marks_the_connection_and_every_read_says_to_reconnect(
    pool: asyncpg.Pool, emulator: RunningEmulator, settings: HubSpotSettings
) -> None:
    workspace, tokens = await _connected(pool, emulator, settings)
    admin = await UserRepo(pool).create(UserCreate(email=f"{uuid.uuid4().hex[:8]}@example.com"))
    async with httpx.AsyncClient() as http:
        # What uninstalling the app in HubSpot does to the grant.
        await OAuthApp.from_settings(settings, http=http).revoke(tokens.refresh_token)
    emulator.clock.advance(PAST_EXPIRY_S)

    crms = ConnectedCrms(pool, KEYS, settings, clock=emulator.clock)
    try:
        crm = await crms.for_workspace(workspace)
        failures = await asyncio.gather(
            *(crm.audit.get("deals", "301") for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(f, CrmAuthError) and RECONNECT in str(f) for f in failures)
        marked = await CrmConnectionRepo(pool).get(workspace, "hubspot")
        assert marked is not None
        assert marked.status == "error"
        assert len(await _audited(pool, workspace, "crm.refresh_refused")) == 1

        # Marking moved updated_at: the rebuilt client fails, saying the same.
        rebuilt = await crms.for_workspace(workspace)
        assert rebuilt is not crm
        with pytest.raises(CrmAuthError, match=RECONNECT):
            await rebuilt.audit.pipelines("deals")
    finally:
        await crms.aclose()
    # A connection marked so fails at once: HubSpot is not asked to refresh it again.
    loaded = await load_credentials(pool, KEYS, workspace)
    assert loaded is not None
    token_requests: list[str] = []
    async with (
        _counting_http(token_requests) as http,
        crm_client(
            *loaded, settings, pool=pool, keyring=KEYS, clock=emulator.clock, http=http
        ) as client,
    ):
        with pytest.raises(CrmAuthError, match=RECONNECT):
            await client.get("deals", "301")
    assert token_requests == []
    with pytest.raises(ConflictError, match=RECONNECT) as caught:
        await deal_pipelines(
            pool,
            workspace,
            requested_by=admin.id,
            keyring=KEYS,
            hubspot=settings,
            clock=emulator.clock,
        )
    assert caught.value.field == "crm_connection"

    # Reconnecting makes the connection active and usable again.
    fresh = await _grant(emulator, settings)
    await save_oauth_tokens(
        pool, KEYS, workspace, fresh, base_url=emulator.url, hub_id="42", scopes=[]
    )
    pipelines = await deal_pipelines(
        pool, workspace, requested_by=admin.id, keyring=KEYS, hubspot=settings, clock=emulator.clock
    )
    assert pipelines[0].id == "default"


async def test_a_client_of_a_replaced_grant_neither_stores_nor_marks_over_the_reconnect(
    pool: asyncpg.Pool, emulator: RunningEmulator, settings: HubSpotSettings
) -> None:
    workspace, first = await _connected(pool, emulator, settings)
    loaded = await load_credentials(pool, KEYS, workspace)
    assert loaded is not None
    token_requests: list[str] = []
    async with (
        _counting_http(token_requests) as http,
        crm_client(
            *loaded, settings, pool=pool, keyring=KEYS, clock=emulator.clock, http=http
        ) as old_client,
    ):
        reconnected = await _grant(emulator, settings)
        await save_oauth_tokens(
            pool, KEYS, workspace, reconnected, base_url=emulator.url, hub_id="42", scopes=[]
        )

        emulator.clock.advance(PAST_EXPIRY_S)
        assert (await old_client.get("deals", "301")).id == "301"  # refreshed the old grant
        await OAuthApp.from_settings(settings, http=http).revoke(first.refresh_token)
        emulator.clock.advance(PAST_EXPIRY_S)
        failures = await asyncio.gather(
            *(old_client.get("deals", "301") for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(f, CrmAuthError) and RECONNECT in str(f) for f in failures)
        # One refresh, then one refused: the calls queued behind it did not ask again.
        assert token_requests == ["POST", "POST"]

    stored = await load_credentials(pool, KEYS, workspace)
    assert stored is not None
    assert stored[0].status == "active"
    assert stored[1].refresh_token == reconnected.refresh_token
    assert stored[1].access_token == reconnected.access_token
    assert await _audited(pool, workspace, "crm.token_refresh") == []
    assert await _audited(pool, workspace, "crm.refresh_refused") == []


async def test_without_the_oauth_app_settings_the_stored_token_is_used_as_is(
    pool: asyncpg.Pool,
    emulator: RunningEmulator,
    settings: HubSpotSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    workspace, _ = await _connected(pool, emulator, settings)
    unconfigured = HubSpotSettings(base_url=emulator.url, max_retries=0, timeout_s=10)
    grants._warn_refresh_impossible.cache_clear()  # once per process: start this one afresh
    loaded = await load_credentials(pool, KEYS, workspace)
    assert loaded is not None

    with caplog.at_level(logging.WARNING, logger=grants.__name__):
        for _ in range(2):
            async with crm_client(
                *loaded, unconfigured, pool=pool, keyring=KEYS, clock=emulator.clock
            ) as client:
                assert (await client.get("deals", "301")).id == "301"
    (warning,) = [r.getMessage() for r in caplog.records if r.name == grants.__name__]
    assert "CRM_AGENTS_HUBSPOT__CLIENT_ID and CRM_AGENTS_HUBSPOT__CLIENT_SECRET" in warning

    emulator.clock.advance(PAST_EXPIRY_S)
    async with crm_client(
        *loaded, unconfigured, pool=pool, keyring=KEYS, clock=emulator.clock
    ) as client:
        with pytest.raises(CrmAuthError) as caught:
            await client.get("deals", "301")
    assert caught.value.category == "EXPIRED_AUTHENTICATION"
    assert await _audited(pool, workspace, "crm.token_refresh") == []
