"""Where the client's bearer token comes from: a private app token or an OAuth 2.0 grant.

The client asks its ``TokenSource`` for a token before every request. An OAuth source
refreshes ahead of expiry by the clock, not on a 401: HubSpot says a 401 is no signal to
refresh and clients must track ``expires_in`` (reference/hubspot.md §1). Tokens, codes and the
client secret stay in ``SecretStr`` and out of reprs, logs and exception messages.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from runtime.clock import Clock, SystemClock
from runtime.crm.errors import CrmAuthError, CrmError, CrmServerError
from runtime.crm.hubspot.failures import (
    error_from_response,
    error_from_transport,
    json_object,
    mask,
)
from runtime.crm.hubspot.http_owner import HttpClientOwner
from runtime.settings import HubSpotSettings

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_BASE_URL",
    "OAuthApp",
    "OAuthTokenSource",
    "OAuthTokens",
    "PrivateAppToken",
    "TokenSource",
    "TokensCallback",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
_TOKEN_PATH = "/oauth/v1/token"
_REVOKE_PATH = "/oauth/v1/refresh-tokens/"
# HubSpot puts tokens in these paths; httpx logs every request URL at INFO.
_TOKEN_IN_PATH = re.compile(r"(/oauth/v1/(?:refresh|access)-tokens/)[^\s\"'?#]+")


class TokenSource(Protocol):
    """Gives the bearer token for the next request."""

    async def access_token(self) -> SecretStr: ...


class PrivateAppToken:
    """A private app (or service key) token: static ``pat-...``, rotated by hand in HubSpot."""

    def __init__(self, token: str | SecretStr) -> None:
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        if not self._token.get_secret_value():
            raise ValueError("the private app token is empty")

    async def access_token(self) -> SecretStr:
        return self._token

    def __repr__(self) -> str:
        return "PrivateAppToken(token=SecretStr('**********'))"


class OAuthTokens(BaseModel):
    """One OAuth grant: what to persist (encrypted) and hand back to ``OAuthTokenSource``."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: datetime

    def expires_within(self, now: datetime, margin_s: float) -> bool:
        return self.expires_at - now <= timedelta(seconds=margin_s)


TokensCallback = Callable[[OAuthTokens], Awaitable[None]]
"""Told each newly refreshed grant, so the caller can persist it."""


class OAuthApp(HttpClientOwner):
    """A HubSpot OAuth app: the authorize URL, and the token endpoint's grants and revocation."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        redirect_uri: str,
        scopes: Sequence[str] = (),
        base_url: str = DEFAULT_BASE_URL,
        authorize_endpoint: str = DEFAULT_AUTHORIZE_URL,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes)
        self._base_url = base_url.rstrip("/")
        self._authorize_endpoint = authorize_endpoint
        super().__init__(http, timeout_s=timeout_s)
        self.clock: Clock = clock or SystemClock()
        _redact_token_paths_in_httpx_logs()

    @classmethod
    def from_settings(
        cls,
        settings: HubSpotSettings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
    ) -> OAuthApp:
        client_id, client_secret = settings.client_id, settings.client_secret
        redirect_uri = settings.redirect_uri
        if client_id is None or client_secret is None or redirect_uri is None:
            missing = [
                f"CRM_AGENTS_HUBSPOT__{name.upper()}"
                for name in ("client_id", "client_secret", "redirect_uri")
                if getattr(settings, name) is None
            ]
            raise ValueError(f"OAuth needs these settings: {', '.join(missing)}")
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            scopes=settings.scopes,
            base_url=settings.base_url,
            authorize_endpoint=settings.authorize_url,
            http=http,
            timeout_s=settings.timeout_s,
            clock=clock,
        )

    def authorize_url(self, *, state: str, optional_scopes: Sequence[str] = ()) -> str:
        """Where to send the browser; HubSpot redirects back with ``?code=..&state=..``.

        ``state`` must be unguessable and checked on the way back (it stops login CSRF).
        """
        query = {
            "client_id": self.client_id,
            "scope": " ".join(self.scopes),
            "redirect_uri": self.redirect_uri,
            "state": state,
        }
        if optional_scopes:
            query["optional_scope"] = " ".join(optional_scopes)
        # quote, not quote_plus: HubSpot documents scopes separated by %20.
        return f"{self._authorize_endpoint}?{urlencode(query, quote_via=quote)}"

    async def exchange_code(self, code: str | SecretStr) -> OAuthTokens:
        """Trade the single-use authorization code for the first grant."""
        secret_code = code.get_secret_value() if isinstance(code, SecretStr) else code
        return await self._grant(
            {
                "grant_type": "authorization_code",
                "code": secret_code,
                "redirect_uri": self.redirect_uri,
            },
            secrets=(secret_code,),
        )

    async def refresh(self, refresh_token: SecretStr) -> OAuthTokens:
        """A new access token for the refresh token (kept when the answer omits a new one)."""
        raw = refresh_token.get_secret_value()
        return await self._grant(
            {"grant_type": "refresh_token", "refresh_token": raw},
            secrets=(raw,),
            current_refresh_token=refresh_token,
        )

    async def revoke(self, refresh_token: SecretStr) -> None:
        """Delete the refresh token: the app is disconnected from the account."""
        raw = refresh_token.get_secret_value()
        action = f"DELETE {_REVOKE_PATH}***"
        try:
            response = await self._http.delete(
                f"{self._base_url}{_REVOKE_PATH}{quote(raw, safe='')}"
            )
        except httpx.RequestError as exc:
            raise error_from_transport(exc, action=action)[0] from None
        logger.debug("HubSpot %s: %d", action, response.status_code)
        if not response.is_success:
            raise self._token_error(response, action=action, secrets=(raw,))

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, base_url={self._base_url!r})"

    async def _grant(
        self,
        form: dict[str, str],
        *,
        secrets: Sequence[str],
        current_refresh_token: SecretStr | None = None,
    ) -> OAuthTokens:
        action = f"POST {_TOKEN_PATH} ({form['grant_type']})"
        secret = self._client_secret.get_secret_value()
        all_secrets = (*secrets, secret)
        # Expiry counts from before the request, so a slow answer errs on the early side.
        started_at = self.clock.now()
        try:
            response = await self._http.post(
                self._base_url + _TOKEN_PATH,
                data={**form, "client_id": self.client_id, "client_secret": secret},
                headers={"Accept": "application/json"},
            )
        except httpx.RequestError as exc:
            # "from None": the httpx error holds the request, form secrets included.
            raise error_from_transport(exc, action=action)[0] from None
        logger.debug("HubSpot %s: %d", action, response.status_code)
        if not response.is_success:
            raise self._token_error(response, action=action, secrets=all_secrets)
        body = json_object(response)
        try:
            refresh_token = body.get("refresh_token")
            return OAuthTokens(
                access_token=SecretStr(str(body["access_token"])),
                refresh_token=(
                    SecretStr(str(refresh_token))
                    if refresh_token
                    else _required(current_refresh_token)
                ),
                expires_at=started_at + timedelta(seconds=int(body["expires_in"])),
            )
        except (KeyError, TypeError, ValueError):
            raise CrmServerError(
                f"{action}: unreadable token answer", response.status_code
            ) from None

    @staticmethod
    def _token_error(response: httpx.Response, *, action: str, secrets: Sequence[str]) -> CrmError:
        """400 ``invalid_grant``/``invalid_client`` etc. → CrmAuthError(category=error)."""
        body = json_object(response)
        status = response.status_code
        if 400 <= status < 500 and status != 429:
            category = body.get("error") or body.get("status") or body.get("category")
            description = (
                body.get("error_description")
                or body.get("message")
                or f"HubSpot answered {status} {response.reason_phrase}"
            )
            return CrmAuthError(
                mask(f"{action}: {description}", secrets),
                status,
                None if category is None else str(category),
                None if body.get("correlationId") is None else str(body["correlationId"]),
            )
        return error_from_response(response, action=action, secrets=secrets)[0]


class OAuthTokenSource:
    """Access tokens of one OAuth grant, refreshed once when the margin before expiry is hit.

    Concurrent requests that find the token due wait for a single refresh (an
    ``asyncio.Lock``), so a burst of calls never spends the refresh token several times.
    """

    def __init__(
        self,
        app: OAuthApp,
        tokens: OAuthTokens,
        *,
        refresh_margin_s: float = 300.0,
        clock: Clock | None = None,
        on_refresh: TokensCallback | None = None,
    ) -> None:
        self._app = app
        self._tokens = tokens
        self._refresh_margin_s = refresh_margin_s
        self._clock = clock or app.clock
        self._on_refresh = on_refresh
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: HubSpotSettings,
        *,
        app: OAuthApp,
        tokens: OAuthTokens,
        on_refresh: TokensCallback | None = None,
    ) -> OAuthTokenSource:
        return cls(
            app, tokens, refresh_margin_s=settings.token_refresh_margin_s, on_refresh=on_refresh
        )

    @property
    def tokens(self) -> OAuthTokens:
        """The current grant (after any refresh)."""
        return self._tokens

    async def access_token(self) -> SecretStr:
        if not self._due():
            return self._tokens.access_token
        async with self._lock:
            # Whoever held the lock before us may have refreshed already.
            if self._due():
                logger.debug("refreshing the HubSpot OAuth access token")
                fresh = await self._app.refresh(self._tokens.refresh_token)
                # Stored before the callback runs: a failing callback must not cause a
                # second refresh on the next call.
                self._tokens = fresh
                if self._on_refresh is not None:
                    await self._on_refresh(fresh)
        return self._tokens.access_token

    def __repr__(self) -> str:
        return f"OAuthTokenSource(app={self._app!r}, expires_at={self._tokens.expires_at!r})"

    def _due(self) -> bool:
        return self._tokens.expires_within(self._clock.now(), self._refresh_margin_s)


def _required(token: SecretStr | None) -> SecretStr:
    if token is None:
        raise KeyError("refresh_token")
    return token


class _RedactTokenPaths(logging.Filter):
    """Masks the token in ``/oauth/v1/refresh-tokens/<token>`` in httpx's request log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_PATH.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redact_token_paths_in_httpx_logs() -> None:
    """Install the filter on the "httpx" logger once per process.

    Revocation must put the refresh token in the URL (§1) and httpx logs every URL at INFO,
    the product's default level; the filter is idempotent and changes nothing else.
    """
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactTokenPaths) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactTokenPaths())
