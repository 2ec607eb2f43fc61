"""CRM connections in PostgreSQL: tokens never in clear, bound to their row, keys rotate."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr

from runtime.connections.cipher import KeyRing
from runtime.connections.service import (
    connect_private_token,
    crm_client,
    disconnect,
    load_credentials,
    rotate_keys,
    save_oauth_tokens,
)
from runtime.crm.hubspot.auth import OAuthTokens
from runtime.errors import InvalidInputError, NotFoundError, StorageError
from runtime.settings import HubSpotSettings
from runtime.workspaces.models import Workspace, WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.hubspot_emulator import TOKEN, running_emulator

KEYS = {name: os.urandom(32) for name in ("a", "b", "c")}
BASE_URL = "https://api.hubapi.com"


def _ring(*key_ids: str) -> KeyRing:
    return KeyRing([(key_id, KEYS[key_id]) for key_id in key_ids])


@pytest.fixture(autouse=True)
async def _no_connections(pool: asyncpg.Pool) -> None:
    # Rotation covers every row of the table: each test starts from an empty one.
    await pool.execute("DELETE FROM crm_connections")


async def _workspace(pool: asyncpg.Pool) -> Workspace:
    return await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))


@pytest.fixture
async def workspace(pool: asyncpg.Pool) -> Workspace:
    return await _workspace(pool)


async def test_the_token_is_nowhere_in_the_stored_row(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    token = f"pat-na1-{uuid.uuid4()}"
    await connect_private_token(pool, _ring("a"), workspace.id, token=token, base_url=BASE_URL)
    secret = await pool.fetchval(
        "SELECT secret FROM crm_connections WHERE workspace_id = $1", workspace.id
    )
    assert token.encode() not in secret
    row = await pool.fetchval(
        "SELECT row_to_json(c)::text FROM crm_connections c WHERE workspace_id = $1",
        workspace.id,
    )
    assert token not in row
    assert token.encode().hex() not in row  # bytea is rendered as hex in JSON
    assert '"key_id":"a"' in row


async def test_stored_credentials_load_as_they_were_given(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    stored = await connect_private_token(
        pool, _ring("a"), workspace.id, token="pat-na1-load", base_url=BASE_URL + "/"
    )
    loaded = await load_credentials(pool, _ring("a"), workspace.id)
    assert loaded is not None
    connection, credentials = loaded
    assert connection == stored
    assert (connection.auth_kind, connection.base_url, connection.key_id) == (
        "private_token",
        BASE_URL,
        "a",
    )
    assert credentials.access_token.get_secret_value() == "pat-na1-load"
    assert credentials.refresh_token is None


async def test_an_oauth_grant_round_trips_with_its_account_and_scopes(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    expires_at = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    tokens = OAuthTokens(
        access_token=SecretStr("oauth-access"),
        refresh_token=SecretStr("oauth-refresh"),
        expires_at=expires_at,
    )
    await save_oauth_tokens(
        pool,
        _ring("a"),
        workspace.id,
        tokens,
        base_url=BASE_URL,
        hub_id="4455",
        scopes=["crm.objects.deals.read", "oauth"],
    )
    loaded = await load_credentials(pool, _ring("a"), workspace.id)
    assert loaded is not None
    connection, credentials = loaded
    assert connection.auth_kind == "oauth"
    assert (connection.hub_id, connection.scopes) == ("4455", ["crm.objects.deals.read", "oauth"])
    assert connection.access_expires_at == expires_at
    assert credentials.refresh_token is not None
    assert credentials.refresh_token.get_secret_value() == "oauth-refresh"
    assert credentials.expires_at == expires_at
    assert "oauth-refresh" not in connection.model_dump_json()


async def test_connecting_again_replaces_the_token_in_the_same_row(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    first = await connect_private_token(
        pool, _ring("a"), workspace.id, token="pat-na1-first", base_url=BASE_URL
    )
    await disconnect(pool, workspace.id)
    second = await connect_private_token(
        pool, _ring("a"), workspace.id, token="pat-na1-second", base_url=BASE_URL
    )
    assert second.id == first.id
    assert second.status == "active"
    loaded = await load_credentials(pool, _ring("a"), workspace.id)
    assert loaded is not None
    assert loaded[1].access_token.get_secret_value() == "pat-na1-second"
    count = await pool.fetchval(
        "SELECT count(*) FROM crm_connections WHERE workspace_id = $1", workspace.id
    )
    assert count == 1


async def test_a_secret_copied_to_another_workspace_does_not_open(pool: asyncpg.Pool) -> None:
    victim, thief = await _workspace(pool), await _workspace(pool)
    ring = _ring("a")
    await connect_private_token(pool, ring, victim.id, token="pat-na1-victim", base_url=BASE_URL)
    await connect_private_token(pool, ring, thief.id, token="pat-na1-thief", base_url=BASE_URL)
    await pool.execute(
        "UPDATE crm_connections SET secret = (SELECT secret FROM crm_connections"
        " WHERE workspace_id = $1) WHERE workspace_id = $2",
        victim.id,
        thief.id,
    )
    with pytest.raises(StorageError, match="fails authentication") as caught:
        await load_credentials(pool, ring, thief.id)
    assert str(thief.id) in str(caught.value)
    assert "pat-na1-victim" not in str(caught.value)


async def test_rotation_moves_every_secret_to_the_current_key(pool: asyncpg.Pool) -> None:
    workspaces = [await _workspace(pool) for _ in range(3)]
    for number, workspace in enumerate(workspaces):
        await connect_private_token(
            pool, _ring("a"), workspace.id, token=f"pat-na1-{number}", base_url=BASE_URL
        )
    await disconnect(pool, workspaces[2].id)  # revoked rows must not pin the old key

    async with pool.acquire() as conn:
        assert await rotate_keys(conn, _ring("b", "a")) == 3
        assert await rotate_keys(conn, _ring("b", "a")) == 0
    key_ids = await pool.fetch("SELECT DISTINCT key_id FROM crm_connections")
    assert [row["key_id"] for row in key_ids] == ["b"]

    for number, workspace in enumerate(workspaces[:2]):
        loaded = await load_credentials(pool, _ring("b"), workspace.id)
        assert loaded is not None
        assert loaded[0].key_id == "b"
        assert loaded[1].access_token.get_secret_value() == f"pat-na1-{number}"
        with pytest.raises(StorageError, match="sealed with key 'b', which is not configured"):
            await load_credentials(pool, _ring("a"), workspace.id)


async def test_rotation_changes_nothing_when_one_secret_does_not_open(
    pool: asyncpg.Pool,
) -> None:
    under_a = [await _workspace(pool) for _ in range(2)]
    for workspace in under_a:
        await connect_private_token(
            pool, _ring("a"), workspace.id, token="pat-na1-a", base_url=BASE_URL
        )
    orphan = await _workspace(pool)
    await connect_private_token(pool, _ring("c"), orphan.id, token="pat-na1-c", base_url=BASE_URL)
    before = await pool.fetch("SELECT id, key_id, secret FROM crm_connections ORDER BY id")

    async with pool.acquire() as conn:
        with pytest.raises(StorageError, match=f"workspace {orphan.id}.*'c'"):
            await rotate_keys(conn, _ring("b", "a"))
    assert await pool.fetch("SELECT id, key_id, secret FROM crm_connections ORDER BY id") == before


async def test_a_revoked_connection_is_not_loaded(pool: asyncpg.Pool, workspace: Workspace) -> None:
    await connect_private_token(
        pool, _ring("a"), workspace.id, token="pat-na1-gone", base_url=BASE_URL
    )
    revoked = await disconnect(pool, workspace.id)
    assert revoked.status == "revoked"
    assert await load_credentials(pool, _ring("a"), workspace.id) is None
    assert await load_credentials(pool, _ring("a"), uuid.uuid4()) is None


async def test_disconnecting_without_a_connection_is_not_found(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await disconnect(pool, workspace.id)
    assert caught.value.field == "workspace"


async def test_connecting_an_unknown_workspace_is_not_found(pool: asyncpg.Pool) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as caught:
        await connect_private_token(pool, _ring("a"), missing, token="pat-na1-x", base_url=BASE_URL)
    assert (caught.value.field, caught.value.key) == ("workspace", str(missing))


@pytest.mark.parametrize(
    ("token", "base_url", "field"),
    [
        ("", BASE_URL, "token"),
        ("pat-na1 with spaces", BASE_URL, "token"),
        ("pat-na1-ok", "ftp://example.com", "base_url"),
        ("pat-na1-ok", "not a url", "base_url"),
    ],
)
async def test_bad_input_stores_nothing(
    pool: asyncpg.Pool, workspace: Workspace, token: str, base_url: str, field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await connect_private_token(pool, _ring("a"), workspace.id, token=token, base_url=base_url)
    assert caught.value.field == field
    assert await pool.fetchval("SELECT count(*) FROM crm_connections") == 0


async def test_the_client_of_a_stored_connection_reads_the_crm(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    with running_emulator() as emulator:
        await connect_private_token(
            pool, _ring("a"), workspace.id, token=TOKEN, base_url=emulator.url
        )
        loaded = await load_credentials(pool, _ring("a"), workspace.id)
        assert loaded is not None
        async with crm_client(*loaded, HubSpotSettings(timeout_s=10)) as client:
            names = {definition.name for definition in await client.property_definitions("deals")}
    assert "dealstage" in names


async def test_an_expired_oauth_grant_is_stored_as_is(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    # A grant stored already expired is kept as given: the client refreshes it on first use.
    expired = datetime.now(UTC) - timedelta(hours=1)
    tokens = OAuthTokens(
        access_token=SecretStr("old"), refresh_token=SecretStr("r"), expires_at=expired
    )
    connection = await save_oauth_tokens(
        pool, _ring("a"), workspace.id, tokens, base_url=BASE_URL, hub_id=None, scopes=[]
    )
    assert connection.access_expires_at == expired


async def test_connecting_disconnecting_and_rekeying_are_audited_without_the_token(
    pool: asyncpg.Pool, workspace: Workspace
) -> None:
    token = f"pat-na1-{uuid.uuid4()}"
    connection = await connect_private_token(
        pool, _ring("a"), workspace.id, token=token, base_url=BASE_URL
    )
    async with pool.acquire() as conn:
        assert await rotate_keys(conn, _ring("b", "a")) == 1
    await disconnect(pool, workspace.id)
    rows = await pool.fetch(
        "SELECT action, target_type, target_id, details::text AS details FROM audit_log"
        " WHERE workspace_id = $1 ORDER BY created_at, action",
        workspace.id,
    )
    assert [(r["action"], r["target_type"], r["target_id"]) for r in rows] == [
        ("crm.connect", "crm_connection", str(connection.id)),
        ("crm.rekey", "crm_connection", str(connection.id)),
        ("crm.disconnect", "crm_connection", str(connection.id)),
    ]
    assert all(token not in r["details"] for r in rows)
    assert '"key_id": "b"' in rows[1]["details"]
