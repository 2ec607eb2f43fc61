"""Connecting a workspace to HubSpot with OAuth: the authorize URL, then HubSpot's callback.

``start_oauth`` gives an admin an authorize URL carrying a random ``state``, stored only as
its SHA-256 digest, bound to the workspace and the admin, usable once and for
``oauth_state_ttl_s``. HubSpot sends the browser back to the callback with that state and a
code; ``complete_oauth`` consumes the state (a conditional update, committed before anything
else happens, so it is spent whatever follows), trades the code for a grant and stores it
sealed (``save_oauth_tokens``, audited in the admin's name). The state is the callback's only
credential: it carries no bearer token.

Every end of the callback is an ``OAuthOutcome`` whose message is safe to show in a browser:
no token, code or client secret is ever part of it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote
from uuid import UUID

import asyncpg
import httpx
from pydantic import SecretStr

from runtime.connections.cipher import KeyRing
from runtime.connections.models import CrmConnection, OAuthAttempt
from runtime.connections.repo import OAuthStateRepo
from runtime.connections.service import save_oauth_tokens
from runtime.crm.errors import CrmAuthError, CrmError
from runtime.crm.hubspot.auth import OAuthApp
from runtime.db import Executor
from runtime.errors import ConflictError
from runtime.settings import HubSpotSettings
from runtime.users.repo import UserRepo

__all__ = ["OAuthOutcome", "OAuthStart", "OutcomeKind", "complete_oauth", "start_oauth"]

logger = logging.getLogger(__name__)

STATE_BYTES = 32
_METADATA_PATH = "/oauth/v1/access-tokens/"
_MAX_SHOWN_CHARS = 300  # of what HubSpot put in the redirect: it is not ours to trust

OutcomeKind = Literal[
    "connected",  # the grant is stored
    "denied",  # the person declined in HubSpot
    "refused",  # HubSpot refused the code, or redirected back with another error
    "unavailable",  # HubSpot did not answer, or failed
    "invalid_state",  # no state, or one unknown, used or expired: nothing happened
    "not_allowed",  # the admin who started it is no longer an admin of the workspace
    "not_configured",  # the OAuth app settings are missing
]


@dataclass(frozen=True)
class OAuthStart:
    authorize_url: str
    expires_at: datetime


@dataclass(frozen=True)
class OAuthOutcome:
    """How a callback ended; ``message`` says it in words a browser may show."""

    kind: OutcomeKind
    message: str
    connection: CrmConnection | None = field(default=None)

    @property
    def connected(self) -> bool:
        return self.kind == "connected"


async def start_oauth(
    conn: Executor,
    hubspot: HubSpotSettings,
    workspace_id: UUID,
    *,
    started_by: UUID,
    now: datetime,
) -> OAuthStart:
    """A single-use authorize URL for ``started_by`` (an admin) to connect the workspace.

    Raises:
        ConflictError: field ``oauth_settings``: the OAuth app is not configured (the
            message names the settings to set); nothing is stored.
    """
    async with _oauth_app(hubspot) as app:
        state = secrets.token_urlsafe(STATE_BYTES)
        url = app.oauth.authorize_url(state=state)
    expires_at = now + timedelta(seconds=hubspot.oauth_state_ttl_s)
    repo = OAuthStateRepo(conn)
    await repo.forget_expired(workspace_id, now)
    await repo.insert(
        _digest(state),
        workspace_id,
        crm_type="hubspot",
        started_by=started_by,
        created_at=now,
        expires_at=expires_at,
    )
    return OAuthStart(authorize_url=url, expires_at=expires_at)


async def complete_oauth(
    pool: asyncpg.Pool,
    keyring: KeyRing,
    hubspot: HubSpotSettings,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    error_description: str | None,
    now: datetime,
) -> OAuthOutcome:
    """Finish the connect HubSpot redirected back from (the callback's query parameters).

    The state is consumed first, in its own transaction: a state works once, whether the rest
    succeeds or not. Only a successful exchange replaces the workspace's connection.
    """
    if not state:
        return OAuthOutcome("invalid_state", "the request carries no state: start connecting again")
    digest = _digest(state)
    attempts = OAuthStateRepo(pool)
    attempt = await attempts.consume(digest, now)
    if attempt is None:
        return OAuthOutcome("invalid_state", _why_unusable(await attempts.get(digest)))
    membership = await UserRepo(pool).get_membership(attempt.workspace_id, attempt.started_by)
    if membership is None or membership.role != "admin":
        return OAuthOutcome(
            "not_allowed",
            "the person who started connecting is no longer an admin of the workspace:"
            " nothing was connected",
        )
    if error:
        if error == "access_denied":
            return OAuthOutcome(
                "denied", "access was not granted in HubSpot: nothing was connected"
            )
        detail = f": {_shown(error_description)}" if error_description else ""
        return OAuthOutcome(
            "refused", f"HubSpot answered {_shown(error)}{detail}; nothing was connected"
        )
    if not code:
        return OAuthOutcome("refused", "HubSpot sent no authorization code: nothing was connected")
    try:
        async with _oauth_app(hubspot) as app:
            return await _exchange(
                pool,
                keyring,
                hubspot,
                app,
                attempt.workspace_id,
                started_by=attempt.started_by,
                code=SecretStr(code),
            )
    except _NotConfiguredError as exc:
        return OAuthOutcome("not_configured", f"{exc.reason}; nothing was connected")


async def _exchange(
    pool: asyncpg.Pool,
    keyring: KeyRing,
    hubspot: HubSpotSettings,
    app: _App,
    workspace_id: UUID,
    *,
    started_by: UUID,
    code: SecretStr,
) -> OAuthOutcome:
    try:
        tokens = await app.oauth.exchange_code(code)
    except CrmAuthError as exc:
        return OAuthOutcome(
            "refused",
            f"HubSpot refused the authorization code ({exc}): start connecting again;"
            " the existing connection, if any, is unchanged",
        )
    except CrmError as exc:
        return OAuthOutcome(
            "unavailable",
            f"HubSpot could not finish the connection ({exc}): start connecting again;"
            " the existing connection, if any, is unchanged",
        )
    hub_id, scopes = await _token_metadata(app.http, hubspot.base_url, tokens.access_token)
    async with pool.acquire() as conn, conn.transaction():
        connection = await save_oauth_tokens(
            conn,
            keyring,
            workspace_id,
            tokens,
            base_url=hubspot.base_url,
            hub_id=hub_id,
            scopes=scopes,
            created_by=started_by,
        )
    account = f" (account {hub_id})" if hub_id else ""
    return OAuthOutcome("connected", f"HubSpot is connected{account}", connection)


class _NotConfiguredError(ConflictError):
    """The OAuth app's settings are missing."""


@dataclass(frozen=True)
class _App:
    oauth: OAuthApp
    http: httpx.AsyncClient


@asynccontextmanager
async def _oauth_app(hubspot: HubSpotSettings) -> AsyncIterator[_App]:
    """The OAuth app of the settings, and the httpx client it (and the metadata read) send with.

    Raises:
        ConflictError: field ``oauth_settings``: the settings lack the app's client id, client
            secret or redirect URI (the message names the variables to set).
    """
    async with httpx.AsyncClient(timeout=hubspot.timeout_s) as http:
        try:
            oauth = OAuthApp.from_settings(hubspot, http=http)
        except ValueError as exc:
            raise _NotConfiguredError(
                "oauth_settings",
                f"HubSpot OAuth is not configured on this server ({exc}); or connect with a"
                " private app token",
            ) from exc
        yield _App(oauth, http)


async def _token_metadata(
    http: httpx.AsyncClient, base_url: str, access_token: SecretStr
) -> tuple[str | None, list[str]]:
    """The account (hub id) and the scopes granted, from HubSpot's token metadata endpoint.

    The grant works without them: when the endpoint fails they are stored as unknown.
    """
    raw = access_token.get_secret_value()
    # The token is in the path; OAuthApp masks such paths in httpx's request log.
    url = f"{base_url.rstrip('/')}{_METADATA_PATH}{quote(raw, safe='')}"
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
        body = response.json() if response.is_success else None
    except (httpx.HTTPError, ValueError):
        body = None
    if not isinstance(body, dict):
        logger.warning("HubSpot's token metadata did not answer: the hub id and scopes are unknown")
        return None, []
    hub_id = body.get("hub_id")
    scopes = body.get("scopes")
    return (
        None if hub_id is None else str(hub_id),
        [str(s) for s in scopes] if isinstance(scopes, list) else [],
    )


def _why_unusable(attempt: OAuthAttempt | None) -> str:
    if attempt is None:
        return "this connect link is unknown: start connecting again"
    if attempt.consumed_at is not None:
        return "this connect link was already used: start connecting again"
    return "this connect link has expired: start connecting again"


def _digest(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def _shown(text: str | None) -> str:
    value = " ".join((text or "").split())
    return value if len(value) <= _MAX_SHOWN_CHARS else value[: _MAX_SHOWN_CHARS - 3] + "..."
