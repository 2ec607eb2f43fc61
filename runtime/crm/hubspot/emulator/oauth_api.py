"""OAuth endpoints (reference §1): authorize (auto-approved), token, revoke, metadata.

These are not rate limited and take no bearer token, like HubSpot's own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from runtime.crm.hubspot.emulator.oauth import OAuthError
from runtime.crm.hubspot.emulator.responses import correlation_id, error_body
from runtime.crm.hubspot.emulator.state import EmulatorState

__all__ = ["oauth_routes"]


def oauth_routes(state: EmulatorState) -> list[Route]:
    async def authorize(request: Request) -> Response:
        params = request.query_params
        redirect_uri = params.get("redirect_uri", "")
        scopes = tuple(params.get("scope", "").split())
        try:
            code = state.oauth.authorize(
                client_id=params.get("client_id", ""),
                redirect_uri=redirect_uri,
                scopes=scopes,
                now=state.clock.now(),
            )
        except OAuthError as exc:
            return _oauth_error(exc)
        query = {"code": code}
        if "state" in params:
            query["state"] = params["state"]
        return RedirectResponse(_with_query(redirect_uri, query), status_code=302)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        grant_type = form.get("grant_type", "")
        now = state.clock.now()
        try:
            if grant_type == "authorization_code":
                grant = state.oauth.exchange_code(
                    client_id=form.get("client_id", ""),
                    client_secret=form.get("client_secret", ""),
                    code=form.get("code", ""),
                    redirect_uri=form.get("redirect_uri", ""),
                    now=now,
                )
            elif grant_type == "refresh_token":
                grant = state.oauth.refresh(
                    client_id=form.get("client_id", ""),
                    client_secret=form.get("client_secret", ""),
                    refresh_token=form.get("refresh_token", ""),
                    now=now,
                )
            else:
                raise OAuthError(
                    "unsupported_grant_type", "BAD_GRANT_TYPE", f"unknown grant_type {grant_type!r}"
                )
        except OAuthError as exc:
            return _oauth_error(exc)
        return JSONResponse(grant.body())

    async def refresh_token(request: Request) -> Response:
        value = request.path_params["token"]
        if request.method == "DELETE":
            if state.oauth.revoke_refresh_token(value):
                return Response(status_code=204)
            return _not_found("refresh token not found")
        scopes = state.oauth.refresh_token_scopes(value)
        if scopes is None:
            return _not_found("refresh token not found")
        return JSONResponse(
            {
                **_metadata(state, scopes),
                "token": value,
                "token_type": "refresh",
                "client_id": state.config.oauth.client_id,
            }
        )

    async def access_token(request: Request) -> Response:
        value = request.path_params["token"]
        access = state.oauth.access_token(value)
        now = state.clock.now()
        if access is None or access.expires_at <= now:
            return _not_found("access token not found or expired")
        expires_in_s = int((access.expires_at - now).total_seconds())
        return JSONResponse(
            {
                **_metadata(state, access.scopes),
                "token": value,
                "token_type": "access",
                "expires_in": expires_in_s,
            }
        )

    return [
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/oauth/v1/token", token, methods=["POST"]),
        Route("/oauth/v1/refresh-tokens/{token}", refresh_token, methods=["GET", "DELETE"]),
        Route("/oauth/v1/access-tokens/{token}", access_token, methods=["GET"]),
    ]


def _metadata(state: EmulatorState, scopes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "user": "emulator-user@example.com",
        "hub_domain": "emulator.hubspot.example",
        "scopes": list(scopes),
        "hub_id": state.config.hub_id,
        "app_id": state.config.oauth.app_id,
        "user_id": 1,
    }


def _oauth_error(exc: OAuthError) -> Response:
    return JSONResponse({**exc.body(), "correlationId": correlation_id()}, status_code=400)


def _not_found(message: str) -> Response:
    return JSONResponse(error_body(message, "OBJECT_NOT_FOUND"), status_code=404)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))
