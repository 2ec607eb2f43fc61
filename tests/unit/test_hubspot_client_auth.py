"""HubSpot auth: the OAuth flow (authorize URL, code, refresh ahead of expiry, revoke), token
endpoint errors, and secrets kept out of reprs, messages and logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from runtime.clock import FakeClock
from runtime.crm.errors import CrmAuthError, CrmServerError
from runtime.crm.hubspot import (
    NO_RETRIES,
    HubSpotClient,
    OAuthApp,
    OAuthTokens,
    OAuthTokenSource,
    PrivateAppToken,
    RetryPolicy,
)
from runtime.settings import HubSpotSettings

BASE = "https://hubspot.test"
CLIENT_SECRET = "client-secret-7f3a"
CODE = "code-one-time-91b2"
ACCESS = "access-token-first-0a1b"
ACCESS_2 = "access-token-second-2c3d"
REFRESH = "refresh-token-4e5f"
PAT = "pat-na1-6a7b-private"
SECRETS = (CLIENT_SECRET, CODE, ACCESS, ACCESS_2, REFRESH, PAT)
DEAL = {"id": "1", "properties": {}}


class FakeHubSpot:
    """Token endpoint, revocation and one object route, recording what they were sent."""

    def __init__(self) -> None:
        self.token_forms: list[dict[str, list[str]]] = []
        self.token_content_types: list[str] = []
        self.api_tokens: list[str] = []
        self.revoked: list[str] = []
        self.token_answer: tuple[int, dict[str, Any]] | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/oauth/v1/token":
            # Yield a few times so concurrent callers get to pile up behind the refresh.
            for _ in range(5):
                await asyncio.sleep(0)
            form = parse_qs(request.content.decode())
            self.token_forms.append(form)
            self.token_content_types.append(request.headers["Content-Type"])
            if self.token_answer is not None:
                status, body = self.token_answer
                return httpx.Response(status, json=body)
            access = ACCESS if form["grant_type"] == ["authorization_code"] else ACCESS_2
            return httpx.Response(
                200,
                json={
                    "token_type": "bearer",
                    "refresh_token": REFRESH,
                    "access_token": access,
                    "expires_in": 1800,
                },
            )
        if path.startswith("/oauth/v1/refresh-tokens/"):
            self.revoked.append(path.rsplit("/", 1)[1])
            return httpx.Response(204)
        self.api_tokens.append(request.headers["Authorization"].removeprefix("Bearer "))
        return httpx.Response(200, json=DEAL)


@pytest.fixture
def hubspot() -> FakeHubSpot:
    return FakeHubSpot()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http(hubspot: FakeHubSpot) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(hubspot)) as client:
        yield client


@pytest.fixture
def app(http: httpx.AsyncClient, clock: FakeClock) -> OAuthApp:
    return OAuthApp(
        client_id="client-1",
        client_secret=SecretStr(CLIENT_SECRET),
        redirect_uri="https://crm-agents.test/oauth/callback",
        scopes=["oauth", "crm.objects.deals.read", "crm.objects.deals.write"],
        base_url=BASE,
        authorize_endpoint="https://app.hubspot.test/oauth/authorize",
        http=http,
        clock=clock,
    )


def grant(clock: FakeClock, *, expires_in_s: float = 1800) -> OAuthTokens:
    return OAuthTokens(
        access_token=SecretStr(ACCESS),
        refresh_token=SecretStr(REFRESH),
        expires_at=clock.now() + timedelta(seconds=expires_in_s),
    )


def test_the_authorize_url_carries_client_scopes_redirect_and_state(app):
    url = app.authorize_url(state="xyz-123", optional_scopes=["crm.objects.companies.read"])

    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://app.hubspot.test/oauth/authorize"
    )
    assert "scope=oauth%20crm.objects.deals.read%20crm.objects.deals.write" in parts.query
    assert parse_qs(parts.query) == {
        "client_id": ["client-1"],
        "scope": ["oauth crm.objects.deals.read crm.objects.deals.write"],
        "redirect_uri": ["https://crm-agents.test/oauth/callback"],
        "state": ["xyz-123"],
        "optional_scope": ["crm.objects.companies.read"],
    }


async def test_a_code_is_exchanged_for_tokens_that_expire_by_the_clock(app, hubspot, clock):
    tokens = await app.exchange_code(CODE)

    assert hubspot.token_content_types == ["application/x-www-form-urlencoded"]
    assert hubspot.token_forms == [
        {
            "grant_type": ["authorization_code"],
            "code": [CODE],
            "redirect_uri": ["https://crm-agents.test/oauth/callback"],
            "client_id": ["client-1"],
            "client_secret": [CLIENT_SECRET],
        }
    ]
    assert tokens.access_token.get_secret_value() == ACCESS
    assert tokens.refresh_token.get_secret_value() == REFRESH
    assert tokens.expires_at == clock.now() + timedelta(seconds=1800)


async def test_the_token_is_refreshed_ahead_of_expiry_and_handed_to_the_callback(
    app, hubspot, clock, http
):
    persisted: list[OAuthTokens] = []

    async def persist(tokens: OAuthTokens) -> None:
        persisted.append(tokens)

    source = OAuthTokenSource(app, grant(clock), refresh_margin_s=300, on_refresh=persist)
    client = HubSpotClient(source, base_url=BASE, http=http, clock=clock)

    await client.get("deals", "1")
    clock.advance(1499)  # 301 s left: not yet
    await client.get("deals", "1")
    clock.advance(2)  # 299 s left: inside the margin
    await client.get("deals", "1")
    await client.get("deals", "1")

    assert hubspot.api_tokens == [ACCESS, ACCESS, ACCESS_2, ACCESS_2]
    assert [f["grant_type"] for f in hubspot.token_forms] == [["refresh_token"]]
    assert hubspot.token_forms[0]["refresh_token"] == [REFRESH]
    assert [t.access_token.get_secret_value() for t in persisted] == [ACCESS_2]
    assert source.tokens.expires_at == clock.now() + timedelta(seconds=1800)


async def test_concurrent_requests_share_a_single_refresh(app, hubspot, clock, http):
    source = OAuthTokenSource(app, grant(clock, expires_in_s=10), refresh_margin_s=300)
    client = HubSpotClient(source, base_url=BASE, http=http, clock=clock)

    await asyncio.gather(*(client.get("deals", "1") for _ in range(20)))

    assert len(hubspot.token_forms) == 1
    assert hubspot.api_tokens == [ACCESS_2] * 20


async def test_revoke_deletes_the_refresh_token(app, hubspot):
    await app.revoke(SecretStr(REFRESH))
    assert hubspot.revoked == [REFRESH]


@pytest.mark.parametrize(
    ("body", "category"),
    [
        (
            {
                "error": "invalid_grant",
                "error_description": "refresh token is invalid, expired or revoked",
                "status": "BAD_REFRESH_TOKEN",
                "message": "refresh token is invalid, expired or revoked",
            },
            "invalid_grant",
        ),
        ({"error": "invalid_client", "error_description": "bad client secret"}, "invalid_client"),
        (
            {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"},
            "BAD_REFRESH_TOKEN",
        ),
    ],
)
async def test_token_endpoint_refusals_are_auth_errors_with_the_oauth_error_as_category(
    app, hubspot, body, category
):
    hubspot.token_answer = (400, body)
    with pytest.raises(CrmAuthError) as caught:
        await app.refresh(SecretStr(REFRESH))
    assert (caught.value.status, caught.value.category) == (400, category)
    assert REFRESH not in str(caught.value)


async def test_a_dead_refresh_token_fails_the_call_without_retries(app, hubspot, clock, http):
    hubspot.token_answer = (400, {"error": "invalid_grant", "error_description": "revoked"})
    source = OAuthTokenSource(app, grant(clock, expires_in_s=0))
    client = HubSpotClient(source, base_url=BASE, http=http, clock=clock)

    with pytest.raises(CrmAuthError, match="revoked"):
        await client.get("deals", "1")

    assert len(hubspot.token_forms) == 1
    assert hubspot.api_tokens == []


async def test_a_token_endpoint_outage_is_retried_like_any_server_error(app, hubspot, clock, http):
    hubspot.token_answer = (503, {"status": "error", "message": "unavailable"})
    source = OAuthTokenSource(app, grant(clock, expires_in_s=0))
    client = HubSpotClient(
        source, base_url=BASE, http=http, clock=clock, retry=RetryPolicy(max_retries=2)
    )

    with pytest.raises(CrmServerError):
        await client.get("deals", "1")

    assert len(hubspot.token_forms) == 3
    assert hubspot.api_tokens == []


def test_oauth_from_settings_names_the_missing_settings():
    with pytest.raises(ValueError, match="CRM_AGENTS_HUBSPOT__CLIENT_SECRET"):
        OAuthApp.from_settings(HubSpotSettings(client_id="c", redirect_uri="https://x.test/cb"))


async def test_secrets_stay_out_of_reprs_messages_and_logs(app, hubspot, clock, http, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the CLI quiets httpx; undo it here
    tokens = await app.exchange_code(CODE)
    source = OAuthTokenSource(app, tokens)
    oauth_client = HubSpotClient(source, base_url=BASE, http=http, clock=clock)
    await oauth_client.get("deals", "1")
    await app.revoke(tokens.refresh_token)

    # An answer that echoes the token it was sent is masked in the error message.
    def echo(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        return httpx.Response(
            401,
            json={
                "status": "error",
                "message": f"token {token} is invalid",
                "category": "INVALID_AUTHENTICATION",
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(echo)) as echo_http:
        pat_client = HubSpotClient(
            PrivateAppToken(PAT), base_url=BASE, http=echo_http, retry=NO_RETRIES
        )
        with pytest.raises(CrmAuthError) as caught:
            await pat_client.get("deals", "1")
        hubspot.token_answer = (
            400,
            {"error": "invalid_grant", "error_description": f"bad {REFRESH}"},
        )
        with pytest.raises(CrmAuthError) as refused:
            await app.refresh(tokens.refresh_token)

    shown = [
        repr(app),
        repr(source),
        repr(tokens),
        str(tokens),
        repr(PrivateAppToken(PAT)),
        repr(oauth_client),
        str(caught.value),
        repr(caught.value),
        str(refused.value),
        caplog.text,
    ]
    # httpx logs every request URL at INFO; the revocation URL carries the refresh token.
    assert f"DELETE {BASE}/oauth/v1/refresh-tokens/*** " in caplog.text
    for secret in SECRETS:
        for text in shown:
            assert secret not in text
