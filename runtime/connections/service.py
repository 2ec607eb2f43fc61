"""Connecting a workspace to its CRM: seal the credentials, store, load, rotate the keys.

Credentials are sealed with associated data naming their row (workspace and CRM type), so a
sealed blob copied into another workspace's row does not open there.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import httpx
from pydantic import JsonValue, SecretStr, ValidationError

from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock, SystemClock
from runtime.connections.cipher import KeyRing
from runtime.connections.grants import RefusedGrant, refreshing_client
from runtime.connections.models import AuthKind, CrmConnection, CrmCredentials, CrmType
from runtime.connections.repo import CrmConnectionRepo, SealedConnection, SealedSecret
from runtime.connections.verify import verify_private_token
from runtime.crm.hubspot.auth import OAuthTokens, PrivateAppToken, TokenSource
from runtime.crm.hubspot.client import HubSpotClient
from runtime.crm.hubspot.retry import RetryPolicy
from runtime.crm.hubspot.session import RateLimitCallback
from runtime.db import Executor
from runtime.errors import IntegrationError, InvalidInputError, NotFoundError, StorageError
from runtime.settings import HubSpotSettings

__all__ = [
    "connect_private_token",
    "connect_verified_private_token",
    "crm_client",
    "disconnect",
    "load_credentials",
    "mark_grant_refused",
    "rotate_keys",
    "save_oauth_tokens",
    "save_refreshed_tokens",
]


async def connect_private_token(
    conn: Executor,
    keyring: KeyRing,
    workspace_id: UUID,
    *,
    token: str | SecretStr,
    base_url: str,
    created_by: UUID | None = None,
) -> CrmConnection:
    """Store a HubSpot private app token, sealed, as the workspace's HubSpot connection.

    An existing HubSpot connection of the workspace (private token or OAuth) is replaced.

    Raises:
        InvalidInputError: the token is empty or not one printable word; the base URL is not
            http(s).
        NotFoundError: no such workspace (or ``created_by`` user).
    """
    secret = token if isinstance(token, SecretStr) else SecretStr(token)
    _check_token(secret)
    credentials = CrmCredentials(access_token=secret)
    return await _store(
        conn,
        keyring,
        workspace_id,
        credentials,
        auth_kind="private_token",
        base_url=base_url,
        hub_id=None,
        scopes=(),
        created_by=created_by,
    )


async def connect_verified_private_token(
    pool: asyncpg.Pool,
    keyring: KeyRing,
    workspace_id: UUID,
    *,
    token: str | SecretStr,
    base_url: str,
    hubspot: HubSpotSettings,
    created_by: UUID | None = None,
) -> CrmConnection:
    """``connect_private_token`` once the CRM has accepted the token (``verify_private_token``).

    The token is checked before a database connection is taken (no transaction waits on the
    CRM); a refused token, or a CRM that does not answer, leaves the workspace's existing
    connection as it was. The connection and its audit entry are stored in one transaction.

    Raises:
        InvalidInputError: a malformed token or base URL, or a token the CRM refuses (field
            ``token``).
        runtime.connections.verify.CrmCheckError: the CRM at the base URL did not answer or
            failed.
        NotFoundError: no such workspace (or ``created_by`` user).
    """
    secret = token if isinstance(token, SecretStr) else SecretStr(token)
    _check_token(secret)
    url = _checked_base_url(base_url)
    await verify_private_token(secret, url, hubspot)
    async with pool.acquire() as conn, conn.transaction():
        return await connect_private_token(
            conn, keyring, workspace_id, token=secret, base_url=url, created_by=created_by
        )


async def save_oauth_tokens(
    conn: Executor,
    keyring: KeyRing,
    workspace_id: UUID,
    tokens: OAuthTokens,
    *,
    base_url: str,
    hub_id: str | None,
    scopes: Sequence[str],
    created_by: UUID | None = None,
) -> CrmConnection:
    """Store an OAuth grant, sealed, as the workspace's HubSpot connection.

    Used when the OAuth callback receives a grant; it replaces the workspace's HubSpot
    connection, whatever its kind. A refreshed grant goes to ``save_refreshed_tokens``.
    """
    credentials = CrmCredentials(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
    )
    return await _store(
        conn,
        keyring,
        workspace_id,
        credentials,
        auth_kind="oauth",
        base_url=base_url,
        hub_id=hub_id,
        scopes=scopes,
        created_by=created_by,
    )


async def load_credentials(
    conn: Executor, keyring: KeyRing, workspace_id: UUID, crm_type: CrmType = "hubspot"
) -> tuple[CrmConnection, CrmCredentials] | None:
    """The workspace's connection and its opened credentials; None if absent or revoked.

    Raises:
        StorageError: the credentials do not open with these keys (the message says why).
    """
    sealed = await CrmConnectionRepo(conn).get_sealed(workspace_id, crm_type)
    if sealed is None or sealed.connection.status == "revoked":
        return None
    return sealed.connection, _open(keyring, sealed)


async def disconnect(
    conn: Executor,
    workspace_id: UUID,
    crm_type: CrmType = "hubspot",
    *,
    actor: UUID | None = None,
) -> CrmConnection:
    """Mark the workspace's connection revoked; its credentials are no longer loaded.

    The token stays valid in the CRM itself: a private app token must be rotated there.
    ``actor`` is the user the audit entry names (None from the CLI).

    Raises:
        NotFoundError: the workspace has no such connection.
    """
    connection = await CrmConnectionRepo(conn).set_status(workspace_id, crm_type, "revoked")
    if connection is None:
        raise NotFoundError(f"{crm_type} connection in workspace", str(workspace_id), "workspace")
    await _audit(conn, connection, "crm.disconnect", actor=actor)
    return connection


async def rotate_keys(conn: asyncpg.Connection, keyring: KeyRing) -> int:
    """Re-seal every connection not under the current key; how many were re-sealed.

    One transaction: if any connection does not open (its key is missing from the ring),
    nothing changes. Revoked connections are re-sealed too, so that the old key can go.
    """
    async with conn.transaction():
        repo = CrmConnectionRepo(conn)
        stale = await repo.lock_sealed_not_under_key(keyring.current_key_id)
        resealed: list[SealedSecret] = []
        for sealed in stale:
            connection = sealed.connection
            aad = _associated_data(connection.workspace_id, connection.crm_type)
            secret, key_id = keyring.encrypt(_open_plaintext(keyring, sealed), aad)
            resealed.append(SealedSecret(connection.workspace_id, connection.id, secret, key_id))
        await repo.update_secrets(resealed)
        for sealed in stale:
            rekeyed = sealed.connection.model_copy(update={"key_id": keyring.current_key_id})
            await _audit(conn, rekeyed, "crm.rekey", actor=None)
    return len(resealed)


def crm_client(
    connection: CrmConnection,
    credentials: CrmCredentials,
    hubspot_settings: HubSpotSettings,
    *,
    pool: asyncpg.Pool | None = None,
    keyring: KeyRing | None = None,
    clock: Clock | None = None,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
    on_rate_limit_headers: RateLimitCallback | None = None,
) -> HubSpotClient:
    """A HubSpot client on the connection's base URL, authorized by its stored credentials.

    A private app token is sent as is. An OAuth connection's access token is refreshed
    ``token_refresh_margin_s`` before it expires (by ``clock``), at the token endpoint of the
    connection's base URL with the OAuth app of the settings, once for concurrent calls; each
    new grant is stored sealed through ``pool`` and ``keyring`` (``save_refreshed_tokens``),
    so the next process to load the connection starts from it. A refresh HubSpot refuses
    (``invalid_grant``: revoked in HubSpot, app uninstalled) marks the connection ``error``
    (``mark_grant_refused``) and fails the call with a ``CrmAuthError`` saying to reconnect
    HubSpot, as every call of a connection marked so does. Without the app's client id and
    secret in the settings, the stored access token is used as is until it expires (logged
    once per process, naming the settings to set).

    Raises:
        IntegrationError: the connection is not to HubSpot (no other CRM has a client yet).
        ValueError: an OAuth connection was given no ``pool`` or ``keyring``.
    """
    if connection.crm_type != "hubspot":
        raise IntegrationError(f"no client for {connection.crm_type} connections yet")
    clock = clock or SystemClock()
    retry = retry or RetryPolicy.from_settings(hubspot_settings)
    tokens: TokenSource
    if connection.status == "error":
        tokens = RefusedGrant()
    elif connection.auth_kind == "oauth":
        if pool is None or keyring is None:
            raise ValueError("an OAuth connection's client needs a pool and a key ring")
        found = refreshing_client(
            connection,
            credentials,
            hubspot_settings,
            store=lambda fresh, previous: save_refreshed_tokens(
                pool, keyring, connection, fresh, refreshed_from=previous
            ),
            mark_refused=lambda refused: mark_grant_refused(
                pool, keyring, connection, refresh_token=refused
            ),
            clock=clock,
            http=http,
            retry=retry,
            on_rate_limit_headers=on_rate_limit_headers,
        )
        if found is not None:
            return found
        tokens = PrivateAppToken(credentials.access_token)
    else:
        tokens = PrivateAppToken(credentials.access_token)
    return HubSpotClient(
        tokens,
        base_url=connection.base_url,
        http=http,
        timeout_s=hubspot_settings.timeout_s,
        clock=clock,
        retry=retry,
        on_rate_limit_headers=on_rate_limit_headers,
    )


async def save_refreshed_tokens(
    pool: asyncpg.Pool,
    keyring: KeyRing,
    connection: CrmConnection,
    tokens: OAuthTokens,
    *,
    refreshed_from: SecretStr,
) -> CrmConnection | None:
    """Store a refreshed OAuth grant, sealed, in place of the grant it was refreshed from.

    Only the sealed grant and its expiry change: hub id, scopes, creator, status and
    ``updated_at`` stay. Audited as ``crm.token_refresh``, without any token. Nothing is
    stored (None) when the connection no longer holds the grant with ``refreshed_from``
    (reconnected or disconnected meanwhile): a late refresh never undoes a reconnect.

    Raises:
        StorageError: the stored credentials do not open with these keys.
    """
    async with pool.acquire() as conn, conn.transaction():
        repo = CrmConnectionRepo(conn)
        sealed = await repo.lock_sealed(connection.workspace_id, connection.crm_type)
        if not _holds_grant(keyring, sealed, connection, refreshed_from):
            return None
        credentials = CrmCredentials(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
        )
        secret, key_id = keyring.encrypt(
            credentials.revealed_json(),
            _associated_data(connection.workspace_id, connection.crm_type),
        )
        updated = await repo.update_oauth_grant(
            connection.workspace_id,
            connection.id,
            secret=secret,
            key_id=key_id,
            access_expires_at=tokens.expires_at,
        )
        if updated is not None:
            await _audit(
                conn,
                updated,
                "crm.token_refresh",
                actor=None,
                extra={"access_expires_at": tokens.expires_at.isoformat()},
            )
    return updated


async def mark_grant_refused(
    pool: asyncpg.Pool,
    keyring: KeyRing,
    connection: CrmConnection,
    *,
    refresh_token: SecretStr,
) -> CrmConnection | None:
    """Mark the connection ``error`` (reconnect HubSpot): its refresh token was refused.

    Audited as ``crm.refresh_refused``. Nothing changes (None) when the connection no longer
    holds that grant: a reconnect made meanwhile stays active.

    Raises:
        StorageError: the stored credentials do not open with these keys.
    """
    async with pool.acquire() as conn, conn.transaction():
        repo = CrmConnectionRepo(conn)
        sealed = await repo.lock_sealed(connection.workspace_id, connection.crm_type)
        if not _holds_grant(keyring, sealed, connection, refresh_token):
            return None
        marked = await repo.set_status(connection.workspace_id, connection.crm_type, "error")
        if marked is not None:
            await _audit(conn, marked, "crm.refresh_refused", actor=None)
    return marked


def _holds_grant(
    keyring: KeyRing,
    sealed: SealedConnection | None,
    connection: CrmConnection,
    refresh_token: SecretStr,
) -> bool:
    """Whether the stored row is still the active OAuth connection with this refresh token."""
    if sealed is None:
        return False
    stored = sealed.connection
    if stored.id != connection.id or stored.auth_kind != "oauth" or stored.status != "active":
        return False
    current = _open(keyring, sealed).refresh_token
    return current is not None and hmac.compare_digest(
        current.get_secret_value().encode(), refresh_token.get_secret_value().encode()
    )


async def _store(
    conn: Executor,
    keyring: KeyRing,
    workspace_id: UUID,
    credentials: CrmCredentials,
    *,
    auth_kind: AuthKind,
    base_url: str,
    hub_id: str | None,
    scopes: Sequence[str],
    created_by: UUID | None,
) -> CrmConnection:
    crm_type: CrmType = "hubspot"
    url = _checked_base_url(base_url)
    secret, key_id = keyring.encrypt(
        credentials.revealed_json(), _associated_data(workspace_id, crm_type)
    )
    connection = await CrmConnectionRepo(conn).upsert(
        workspace_id,
        crm_type=crm_type,
        auth_kind=auth_kind,
        base_url=url,
        secret=secret,
        key_id=key_id,
        access_expires_at=credentials.expires_at,
        hub_id=hub_id,
        scopes=scopes,
        created_by=created_by,
    )
    await _audit(conn, connection, "crm.connect", actor=created_by)
    return connection


async def _audit(
    conn: Executor,
    connection: CrmConnection,
    action: str,
    *,
    actor: UUID | None,
    extra: dict[str, JsonValue] | None = None,
) -> None:
    """Connection changes join the audit log: what changed, never the credentials."""
    details: dict[str, JsonValue] = {
        "crm_type": connection.crm_type,
        "auth_kind": connection.auth_kind,
        "base_url": connection.base_url,
        "key_id": connection.key_id,
        "status": connection.status,
        **(extra or {}),
    }
    entry = AuditEntry(
        workspace_id=connection.workspace_id,
        actor_user_id=actor,
        action=action,
        target_type="crm_connection",
        target_id=str(connection.id),
        details=details,
        created_at=datetime.now(UTC),
    )
    await AuditRepo(conn).insert_many([entry])


def _associated_data(workspace_id: UUID, crm_type: str) -> bytes:
    # The label keeps these blobs apart from other secrets sealed with the same keys; the
    # UUID's 16 bytes are fixed-size, so the parts cannot run into each other.
    return b"crm_connections:" + workspace_id.bytes + crm_type.encode("ascii")


def _open(keyring: KeyRing, sealed: SealedConnection) -> CrmCredentials:
    plaintext = _open_plaintext(keyring, sealed)
    try:
        return CrmCredentials.model_validate_json(plaintext)
    except ValidationError:
        # "from None": the validation error would carry the plaintext, tokens included.
        raise StorageError(
            f"the {_describe(sealed)} opens, but its credentials are unreadable"
        ) from None


def _open_plaintext(keyring: KeyRing, sealed: SealedConnection) -> bytes:
    connection = sealed.connection
    try:
        return keyring.decrypt(
            sealed.secret, _associated_data(connection.workspace_id, connection.crm_type)
        )
    except StorageError as exc:
        raise StorageError(f"the {_describe(sealed)}: {exc}") from exc


def _describe(sealed: SealedConnection) -> str:
    connection = sealed.connection
    return f"{connection.crm_type} connection of workspace {connection.workspace_id}"


def _check_token(token: SecretStr) -> None:
    raw = token.get_secret_value()
    if not raw:
        raise InvalidInputError.one("token", "must not be empty")
    # It travels in an HTTP header: whitespace or control characters would break it.
    if not raw.isascii() or not raw.isprintable() or any(c.isspace() for c in raw):
        raise InvalidInputError.one("token", "must be one word of printable ASCII characters")


def _checked_base_url(base_url: str) -> str:
    url = base_url.strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInputError.one("base_url", "must be an http:// or https:// URL")
    return url
