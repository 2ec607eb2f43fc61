"""The bearer tokens of a stored OAuth connection: refreshed ahead of expiry, or refused for good.

``refreshing_client`` gives an OAuth connection a HubSpot client whose ``StoredGrant`` wraps
``OAuthTokenSource`` (one refresh for concurrent callers, ahead of expiry by the clock) over an
``OAuthApp`` on the connection's base URL, and hands what happens to the caller's functions,
which store it (``runtime.connections.service``): each new grant, with the refresh token it
was refreshed from, and a refresh HubSpot refuses with ``invalid_grant`` (the grant was
revoked or the app uninstalled). After a refusal every call fails at once with a
``CrmAuthError`` saying to reconnect HubSpot, without asking the token endpoint again;
``RefusedGrant`` is what a connection already marked so gets. Storing failures are logged,
not raised: the refreshed token works in this process all the same.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from pydantic import SecretStr

from runtime.clock import Clock
from runtime.connections.models import CrmConnection, CrmCredentials
from runtime.crm.errors import CrmAuthError
from runtime.crm.hubspot.auth import OAuthApp, OAuthTokens, OAuthTokenSource, TokenSource
from runtime.crm.hubspot.client import HubSpotClient
from runtime.crm.hubspot.retry import RetryPolicy
from runtime.crm.hubspot.session import RateLimitCallback
from runtime.errors import StorageError
from runtime.settings import HubSpotSettings

__all__ = [
    "REFUSED_CATEGORY",
    "ConnectionClient",
    "MarkRefused",
    "RefreshedCallback",
    "RefusedCallback",
    "RefusedGrant",
    "StoreRefreshed",
    "StoredGrant",
    "reconnect_error",
    "refreshing_client",
]

logger = logging.getLogger(__name__)

REFUSED_CATEGORY = "invalid_grant"
"""The token endpoint's ``error`` for a refresh token that is revoked, expired or unknown."""

RefreshedCallback = Callable[[OAuthTokens, SecretStr], Awaitable[None]]
"""Told each new grant and the refresh token it was refreshed from; must not raise."""
RefusedCallback = Callable[[SecretStr], Awaitable[None]]
"""Told the refresh token HubSpot refused for good; must not raise."""
StoreRefreshed = Callable[[OAuthTokens, SecretStr], Awaitable[CrmConnection | None]]
"""Stores a new grant refreshed from the given refresh token; None if the row moved on."""
MarkRefused = Callable[[SecretStr], Awaitable[CrmConnection | None]]
"""Marks the connection refused if it still holds this refresh token; None if it moved on."""

# What storing a refreshed (or refused) grant may fail with: the database, or the keys.
_STORE_FAILURES = (StorageError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def refreshing_client(
    connection: CrmConnection,
    credentials: CrmCredentials,
    hubspot: HubSpotSettings,
    *,
    store: StoreRefreshed,
    mark_refused: MarkRefused,
    clock: Clock,
    http: httpx.AsyncClient | None,
    retry: RetryPolicy,
    on_rate_limit_headers: RateLimitCallback | None,
) -> HubSpotClient | None:
    """A client of the OAuth connection that refreshes its grant; None when this process
    cannot refresh it (the log says why: the missing settings once per process)."""
    refresh_token = credentials.refresh_token
    if refresh_token is None:
        logger.warning(
            "the HubSpot OAuth connection of workspace %s has no refresh token: its access"
            " token is used until it expires; reconnect HubSpot",
            connection.workspace_id,
        )
        return None
    client_id, client_secret = hubspot.client_id, hubspot.client_secret
    if client_id is None or client_secret is None:
        _warn_refresh_impossible(
            tuple(
                f"CRM_AGENTS_HUBSPOT__{name.upper()}"
                for name in ("client_id", "client_secret")
                if getattr(hubspot, name) is None
            )
        )
        return None
    # The token endpoint and the API share one connection pool (and the client closes it).
    shared = http or httpx.AsyncClient(timeout=hubspot.timeout_s)
    app = OAuthApp(
        client_id=client_id,
        client_secret=client_secret,
        # A refresh sends no redirect URI: only the authorization code exchange does.
        redirect_uri=hubspot.redirect_uri or "",
        base_url=connection.base_url,
        http=shared,
        timeout_s=hubspot.timeout_s,
        clock=clock,
    )
    tokens = OAuthTokens(
        access_token=credentials.access_token,
        refresh_token=refresh_token,
        # Unknown expiry: refresh before the first call.
        expires_at=credentials.expires_at or clock.now(),
    )
    workspace = connection.workspace_id

    async def stored(fresh: OAuthTokens, refreshed_from: SecretStr) -> None:
        try:
            kept = await store(fresh, refreshed_from)
        except _STORE_FAILURES:
            # The new grant works in this process; another process refreshes for itself.
            logger.warning(
                "workspace %s: the refreshed HubSpot grant could not be stored",
                workspace,
                exc_info=True,
            )
            return
        if kept is None:
            logger.info(
                "workspace %s: HubSpot was reconnected or disconnected meanwhile; the"
                " refreshed grant of the old connection is not stored",
                workspace,
            )

    async def refused(refresh_token: SecretStr) -> None:
        try:
            marked = await mark_refused(refresh_token)
        except _STORE_FAILURES:
            logger.warning(
                "workspace %s: the refused HubSpot grant could not be marked",
                workspace,
                exc_info=True,
            )
            return
        if marked is not None:
            logger.warning(
                "workspace %s: HubSpot refused to refresh the OAuth grant; the connection is"
                " marked error until an admin reconnects HubSpot",
                workspace,
            )

    grant = StoredGrant(
        app,
        tokens,
        refresh_margin_s=hubspot.token_refresh_margin_s,
        clock=clock,
        on_refreshed=stored,
        on_refused=refused,
    )
    return ConnectionClient(
        grant,
        base_url=connection.base_url,
        http=shared,
        owns_http=http is None,
        timeout_s=hubspot.timeout_s,
        clock=clock,
        retry=retry,
        on_rate_limit_headers=on_rate_limit_headers,
    )


@functools.cache
def _warn_refresh_impossible(missing: tuple[str, ...]) -> None:
    # Once per process, like the httpx log filter of runtime.crm.hubspot.auth: each client
    # of each OAuth connection would say it again.
    logger.warning(
        "HubSpot OAuth access tokens cannot be refreshed by this process: set %s (the OAuth"
        " app's). Until then OAuth connections send their stored access token as is, and"
        " HubSpot refuses it once it expires",
        " and ".join(missing),
    )


def reconnect_error(reason: str) -> CrmAuthError:
    """The error every call of a refused grant fails with: what happened, and the fix."""
    return CrmAuthError(
        f"HubSpot no longer accepts this workspace's OAuth connection ({reason}): an admin"
        " must reconnect HubSpot",
        400,
        REFUSED_CATEGORY,
    )


class StoredGrant:
    """A ``TokenSource`` over a stored OAuth grant (see the module docstring)."""

    def __init__(
        self,
        app: OAuthApp,
        tokens: OAuthTokens,
        *,
        refresh_margin_s: float,
        clock: Clock,
        on_refreshed: RefreshedCallback,
        on_refused: RefusedCallback,
    ) -> None:
        self._source = OAuthTokenSource(
            app, tokens, refresh_margin_s=refresh_margin_s, clock=clock, on_refresh=self._refreshed
        )
        self._refresh_token = tokens.refresh_token
        self._on_refreshed = on_refreshed
        self._on_refused = on_refused
        self._refused: str | None = None
        # Callers that find the token due queue here: after a refusal, the ones behind the
        # first fail without asking the token endpoint again. Uncontended, it never waits.
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> OAuthTokens:
        """The current grant (after any refresh)."""
        return self._source.tokens

    async def access_token(self) -> SecretStr:
        async with self._lock:
            if self._refused is not None:
                raise reconnect_error(self._refused)
            try:
                return await self._source.access_token()
            except CrmAuthError as exc:
                if exc.category != REFUSED_CATEGORY:
                    raise  # e.g. invalid_client: the app's settings are wrong, not the grant
                self._refused = f"refreshing its access token was refused: {exc}"
                await self._on_refused(self._source.tokens.refresh_token)
                raise reconnect_error(self._refused) from exc

    def __repr__(self) -> str:
        return f"StoredGrant(expires_at={self._source.tokens.expires_at!r})"

    async def _refreshed(self, fresh: OAuthTokens) -> None:
        previous, self._refresh_token = self._refresh_token, fresh.refresh_token
        await self._on_refreshed(fresh, previous)


class RefusedGrant:
    """A ``TokenSource`` for a connection whose grant HubSpot refused before: every call fails."""

    async def access_token(self) -> SecretStr:
        raise reconnect_error("a refresh of its access token was refused")

    def __repr__(self) -> str:
        return "RefusedGrant()"


class ConnectionClient(HubSpotClient):
    """A HubSpot client that also closes the httpx client its OAuth app shares with it."""

    def __init__(
        self,
        tokens: TokenSource,
        *,
        base_url: str,
        http: httpx.AsyncClient,
        owns_http: bool,
        timeout_s: float,
        clock: Clock,
        retry: RetryPolicy,
        on_rate_limit_headers: RateLimitCallback | None,
    ) -> None:
        super().__init__(
            tokens,
            base_url=base_url,
            http=http,
            timeout_s=timeout_s,
            clock=clock,
            retry=retry,
            on_rate_limit_headers=on_rate_limit_headers,
        )
        self._shared_http = http if owns_http else None

    async def aclose(self) -> None:
        await super().aclose()
        if self._shared_http is not None:
            await self._shared_http.aclose()
