"""``GET /oauth/hubspot/callback``: where HubSpot sends the admin's browser after the grant.

Register ``<the API's public URL>/oauth/hubspot/callback`` as the OAuth app's redirect URL
(``CRM_AGENTS_HUBSPOT__REDIRECT_URI``). The request carries no bearer token: the ``state``
that ``startCrmOAuth`` put in the authorize URL is its credential, good once
(``runtime.connections.oauth``). The answer is a small HTML page for the person at the
browser, saying whether HubSpot is connected and, if not, why; with
``CRM_AGENTS_HUBSPOT__OAUTH_RETURN_URL`` set it also sends them on there, adding
``?oauth=<outcome>``. No token, code or secret is ever part of the page.

Statuses: 200 connected or declined in HubSpot; 400 a state that is missing, unknown, used
or expired (nothing happens), or a code HubSpot refused; 403 the admin who started is no
longer one; 429 too many callbacks from one address; 502 HubSpot failed; 503 the OAuth app is
not configured.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runtime.api.context import Services
from runtime.api.ratelimit import RateLimiter, retry_after_header
from runtime.connections.oauth import OAuthOutcome, OutcomeKind, complete_oauth

__all__ = ["CALLBACK_PATH", "oauth_callback_router"]

CALLBACK_PATH = "/oauth/hubspot/callback"

_STATUS: dict[OutcomeKind, int] = {
    "connected": 200,
    "denied": 200,
    "refused": 400,
    "invalid_state": 400,
    "not_allowed": 403,
    "unavailable": 502,
    "not_configured": 503,
}
_HEADERS = {
    "Cache-Control": "no-store",
    # The callback's URL holds the code and state: never send it on as a Referer.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
_REDIRECT_DELAY_S = 3


def oauth_callback_router(state: Mapping[str, Any]) -> APIRouter:
    """The callback route; ``state`` holds the app's ``services`` and ``limiter`` once the app
    has started (``runtime.api.http.build_api_app``)."""
    router = APIRouter()

    @router.get(CALLBACK_PATH, response_class=HTMLResponse)
    async def hubspot_callback(request: Request) -> HTMLResponse:
        services: Services = state["services"]
        limiter: RateLimiter = state["limiter"]
        return_url = services.settings.hubspot.oauth_return_url
        host = request.client.host if request.client else "unknown"
        wait_s = limiter.acquire(f"oauth-callback:{host}")
        if wait_s is not None:
            message = f"too many requests: retry in {wait_s:.1f} s"
            page = _page("HubSpot not connected", message, return_url=None)
            headers = {**_HEADERS, "Retry-After": retry_after_header(wait_s)}
            return HTMLResponse(page, 429, headers=headers)
        params = request.query_params
        outcome = await complete_oauth(
            services.pool,
            services.keyring(),
            services.settings.hubspot,
            state=params.get("state"),
            code=params.get("code"),
            error=params.get("error"),
            error_description=params.get("error_description"),
            now=services.clock.now(),
        )
        return _answer(outcome, return_url)

    return router


def _answer(outcome: OAuthOutcome, return_url: str | None) -> HTMLResponse:
    title = "HubSpot connected" if outcome.connected else "HubSpot not connected"
    back = None if return_url is None else _with_query(return_url, {"oauth": outcome.kind})
    return HTMLResponse(
        _page(title, outcome.message, return_url=back), _STATUS[outcome.kind], headers=_HEADERS
    )


def _page(title: str, message: str, *, return_url: str | None) -> str:
    refresh = link = ""
    if return_url is not None:
        url = html.escape(return_url, quote=True)
        refresh = f'<meta http-equiv="refresh" content="{_REDIRECT_DELAY_S};url={url}">'
        link = f'<p><a href="{url}">Back to crm-agents</a></p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>{refresh}"
        "<style>body{font-family:sans-serif;max-width:40em;margin:4em auto}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{link}"
        "</body></html>"
    )


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))
