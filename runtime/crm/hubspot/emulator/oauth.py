"""HubSpot's OAuth 2.0 authorization-code flow (reference §1), minus the browser.

Authorization is approved at once. Codes are single-use and short-lived; access tokens live
``access_token_ttl_s``; refresh tokens live until revoked and keep their value across
refreshes, as HubSpot's do. Revoking a refresh token leaves the access tokens already issued
valid until they expire (the reference does not say otherwise). Times are passed in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runtime.crm.hubspot.emulator.config import OAuthAppConfig

__all__ = ["AccessGrant", "AccessToken", "OAuthAuthority", "OAuthError"]


class OAuthError(Exception):
    """A refusal in RFC 6749's shape plus HubSpot's legacy ``status``/``message`` fields."""

    def __init__(self, error: str, legacy_status: str, description: str) -> None:
        self.error = error
        self.legacy_status = legacy_status
        self.description = description
        super().__init__(error, legacy_status, description)

    def body(self) -> dict[str, str]:
        return {
            "error": self.error,
            "error_description": self.description,
            "status": self.legacy_status,
            "message": self.description,
        }


@dataclass(frozen=True)
class AccessToken:
    token: str
    refresh_token: str
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class AccessGrant:
    access_token: str
    refresh_token: str
    expires_in_s: int

    def body(self) -> dict[str, Any]:
        return {
            "token_type": "bearer",
            "refresh_token": self.refresh_token,
            "access_token": self.access_token,
            "expires_in": self.expires_in_s,
        }


@dataclass
class _Code:
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: datetime


class OAuthAuthority:
    """Issues, refreshes, revokes and checks tokens for the one configured app."""

    def __init__(self, config: OAuthAppConfig) -> None:
        self.config = config
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, tuple[str, ...]] = {}
        self._access: dict[str, AccessToken] = {}

    def authorize(
        self, *, client_id: str, redirect_uri: str, scopes: tuple[str, ...], now: datetime
    ) -> str:
        """Approve at once; the code to send back to ``redirect_uri``."""
        self._check_client_id(client_id)
        if not redirect_uri:
            raise OAuthError("invalid_request", "BAD_REDIRECT_URI", "missing redirect_uri")
        code = secrets.token_urlsafe(24)
        expires_at = now + timedelta(seconds=self.config.auth_code_ttl_s)
        self._codes[code] = _Code(redirect_uri, scopes, expires_at)
        return code

    def exchange_code(
        self, *, client_id: str, client_secret: str, code: str, redirect_uri: str, now: datetime
    ) -> AccessGrant:
        self._check_client(client_id, client_secret)
        # A code works once, used or not in time; a failed try also spends it.
        issued = self._codes.pop(code, None)
        if issued is None or issued.expires_at <= now:
            raise OAuthError("invalid_grant", "BAD_AUTH_CODE", "missing or invalid auth code")
        if redirect_uri != issued.redirect_uri:
            raise OAuthError(
                "invalid_grant",
                "BAD_REDIRECT_URI",
                "redirect_uri does not match the one the auth code was issued for",
            )
        refresh_token = f"na1-{secrets.token_hex(2)}-{secrets.token_hex(16)}"
        self._refresh[refresh_token] = issued.scopes
        return self._issue(refresh_token, now)

    def refresh(
        self, *, client_id: str, client_secret: str, refresh_token: str, now: datetime
    ) -> AccessGrant:
        self._check_client(client_id, client_secret)
        if refresh_token not in self._refresh:
            raise OAuthError(
                "invalid_grant",
                "BAD_REFRESH_TOKEN",
                "refresh token is invalid, expired or revoked",
            )
        return self._issue(refresh_token, now)

    def revoke_refresh_token(self, refresh_token: str) -> bool:
        return self._refresh.pop(refresh_token, None) is not None

    def refresh_token_scopes(self, refresh_token: str) -> tuple[str, ...] | None:
        return self._refresh.get(refresh_token)

    def access_token(self, token: str) -> AccessToken | None:
        """The issued access token, expired or not; None if it was never issued here."""
        return self._access.get(token)

    def _issue(self, refresh_token: str, now: datetime) -> AccessGrant:
        # HubSpot's access tokens are opaque, up to 512 characters; these never start "pat-".
        token = "C" + secrets.token_urlsafe(96)
        ttl_s = self.config.access_token_ttl_s
        self._access[token] = AccessToken(
            token=token,
            refresh_token=refresh_token,
            scopes=self._refresh[refresh_token],
            expires_at=now + timedelta(seconds=ttl_s),
        )
        return AccessGrant(access_token=token, refresh_token=refresh_token, expires_in_s=ttl_s)

    def _check_client_id(self, client_id: str) -> None:
        if client_id != self.config.client_id:
            raise OAuthError("invalid_client", "BAD_CLIENT_ID", "missing or unknown client id")

    def _check_client(self, client_id: str, client_secret: str) -> None:
        self._check_client_id(client_id)
        if not secrets.compare_digest(client_secret.encode(), self.config.client_secret.encode()):
            raise OAuthError(
                "invalid_client", "BAD_CLIENT_SECRET", "missing or invalid client secret"
            )
