"""``POST /webhooks/meetings`` over real HTTP: signatures, the replay window, ingestion rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from runtime.api.http import build_api_app
from runtime.connections.cipher import KeyRing
from runtime.meeting_webhooks.service import set_secret
from runtime.settings import ApiSettings, SecretsSettings, Settings
from tests.api.conftest import Tenants
from tests.http_server import serve_asgi
from tests.meetings import example_meeting
from tests.pipeline_setup import auto_apply_config, insert_agent

KEY = os.urandom(32)
KEYRING = KeyRing([("k1", KEY)])
TOLERANCE_S = 300
WORKSPACE_HEADER = "X-CRM-Agents-Workspace"
TIMESTAMP_HEADER = "X-CRM-Agents-Timestamp"
SIGNATURE_HEADER = "X-CRM-Agents-Signature"


@pytest.fixture(scope="module")
def api_url(database_dsn: str) -> Iterator[str]:
    """The app with the key ring the tests seal secrets with."""
    settings = Settings(
        database_url=SecretStr(database_dsn),
        api=ApiSettings(rate_limit_per_s=10_000.0, rate_limit_burst=10_000),
        secrets=SecretsSettings(
            encryption_keys=SecretStr(f"k1:{base64.urlsafe_b64encode(KEY).decode()}")
        ),
        _env_file=None,
    )
    with serve_asgi(build_api_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def http(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def secret(pool: asyncpg.Pool, tenants: Tenants) -> str:
    async with pool.acquire() as conn:
        return await set_secret(conn, KEYRING, tenants.home.workspace_id)


@pytest.fixture(scope="module")
async def active_agent(pool: asyncpg.Pool, tenants: Tenants) -> UUID:
    """An active agent of the home workspace that runs on discovery calls."""
    return await insert_agent(
        pool, tenants.home.workspace_id, tenants.home.admin_id, auto_apply_config()
    )


def _meeting(**changes: Any) -> dict[str, Any]:
    return example_meeting(external_id=f"zoom-{uuid.uuid4().hex[:10]}", **changes)


def _signed(
    secret: str, workspace_id: UUID, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        WORKSPACE_HEADER: str(workspace_id),
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: f"v1={digest}",
        "Content-Type": "application/json",
    }


def _post(http: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post("/webhooks/meetings", content=body, headers=headers)


def _deliver(
    http: httpx.Client, secret: str, workspace_id: UUID, meeting: Any, **kwargs: Any
) -> httpx.Response:
    body = meeting if isinstance(meeting, bytes) else json.dumps(meeting).encode()
    return _post(http, body, _signed(secret, workspace_id, body, **kwargs))


def _error(response: httpx.Response) -> tuple[str, str, str]:
    """(code, field, message) of a refusal."""
    error = response.json()["errors"][0]
    return error["extensions"]["code"], error["extensions"].get("field"), error["message"]


async def _counts(pool: asyncpg.Pool, workspace_id: UUID) -> tuple[int, int, int]:
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM meetings WHERE workspace_id = $1),
                  (SELECT count(*) FROM agent_runs WHERE workspace_id = $1),
                  (SELECT count(*) FROM webhook_deliveries WHERE workspace_id = $1)""",
        workspace_id,
    )
    return row[0], row[1], row[2]


async def test_a_signed_delivery_stores_the_meeting_and_queues_its_runs(
    http: httpx.Client, tenants: Tenants, secret: str, active_agent: UUID, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    meeting = _meeting()
    response = _deliver(http, secret, home.workspace_id, meeting)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["created"] is True
    assert answer["meeting"]["external_id"] == meeting["external_id"]
    assert answer["meeting"]["workspace_id"] == str(home.workspace_id)
    assert [r["agent_config_id"] for r in answer["runs"]] == [str(active_agent)]
    stored = await pool.fetchrow(
        "SELECT workspace_id, title FROM meetings WHERE id = $1", UUID(answer["meeting"]["id"])
    )
    assert (stored["workspace_id"], stored["title"]) == (home.workspace_id, meeting["title"])
    runs = await pool.fetch(
        "SELECT id FROM agent_runs WHERE meeting_id = $1", UUID(answer["meeting"]["id"])
    )
    assert [str(r["id"]) for r in runs] == [answer["runs"][0]["id"]]

    # A retry signed again (a new timestamp) is answered by idempotency, and queues nothing.
    before = await _counts(pool, home.workspace_id)
    again = _deliver(http, secret, home.workspace_id, meeting, timestamp=int(time.time()) + 1)
    assert again.status_code == 200, again.text
    assert (again.json()["created"], again.json()["runs"]) == (False, [])
    assert again.json()["meeting"]["id"] == answer["meeting"]["id"]
    meetings, runs_count, deliveries = await _counts(pool, home.workspace_id)
    assert (meetings, runs_count, deliveries) == (before[0], before[1], before[2] + 1)


async def test_the_same_delivery_again_is_refused_as_a_replay(
    http: httpx.Client, tenants: Tenants, secret: str, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    body = json.dumps(_meeting()).encode()
    headers = _signed(secret, home.workspace_id, body)
    first = _post(http, body, headers)
    assert first.status_code == 201, first.text
    before = await _counts(pool, home.workspace_id)

    replay = _post(http, body, headers)
    assert replay.status_code == 409
    code, field, message = _error(replay)
    assert (code, field) == ("CONFLICT", SIGNATURE_HEADER)
    assert "accepted already" in message
    assert await _counts(pool, home.workspace_id) == before


async def test_other_content_under_a_known_external_id_conflicts(
    http: httpx.Client, tenants: Tenants, secret: str, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    meeting = _meeting()
    assert _deliver(http, secret, home.workspace_id, meeting).status_code == 201
    before = await _counts(pool, home.workspace_id)

    changed = _deliver(http, secret, home.workspace_id, {**meeting, "title": "Other"})
    assert changed.status_code == 409
    code, field, message = _error(changed)
    assert (code, field) == ("CONFLICT", "body.external_id")
    assert "different content" in message
    assert await _counts(pool, home.workspace_id) == before, "the refused delivery is not kept"


@pytest.mark.parametrize("offset_s", [-TOLERANCE_S - 5, TOLERANCE_S + 5], ids=["stale", "future"])
async def test_a_timestamp_outside_the_window_is_refused(
    http: httpx.Client, tenants: Tenants, secret: str, pool: asyncpg.Pool, offset_s: int
) -> None:
    home = tenants.home
    before = await _counts(pool, home.workspace_id)
    response = _deliver(
        http, secret, home.workspace_id, _meeting(), timestamp=int(time.time()) + offset_s
    )
    assert response.status_code == 401
    code, field, message = _error(response)
    assert (code, field) == ("UNAUTHENTICATED", TIMESTAMP_HEADER)
    assert ("in the past" if offset_s < 0 else "in the future") in message
    assert await _counts(pool, home.workspace_id) == before


async def test_a_signature_that_does_not_verify_is_refused(
    http: httpx.Client, tenants: Tenants, secret: str, pool: asyncpg.Pool
) -> None:
    home = tenants.home
    before = await _counts(pool, home.workspace_id)
    wrong_secret = _deliver(http, "whsec_not-the-secret", home.workspace_id, _meeting())
    body = json.dumps(_meeting()).encode()
    headers = _signed(secret, home.workspace_id, body)
    tampered = _post(http, body + b" ", headers)
    for response in (wrong_secret, tampered):
        assert response.status_code == 401, response.text
        code, field, message = _error(response)
        assert (code, field) == ("UNAUTHENTICATED", SIGNATURE_HEADER)
        assert "does not verify" in message
        assert secret not in response.text
    assert await _counts(pool, home.workspace_id) == before


async def test_unknown_workspaces_and_workspaces_without_a_secret_look_alike(
    http: httpx.Client, tenants: Tenants, secret: str, pool: asyncpg.Pool
) -> None:
    meeting = _meeting()
    wrong = _deliver(http, "whsec_guess", tenants.home.workspace_id, meeting)
    unknown = _deliver(http, secret, uuid.uuid4(), meeting)
    no_secret = _deliver(http, secret, tenants.other.workspace_id, meeting)
    assert [r.status_code for r in (wrong, unknown, no_secret)] == [401, 401, 401]
    assert unknown.json() == no_secret.json() == wrong.json()
    assert await _counts(pool, tenants.other.workspace_id) == (0, 0, 0)


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        (WORKSPACE_HEADER, None, "required"),
        (WORKSPACE_HEADER, "acme", "must be a workspace id"),
        (TIMESTAMP_HEADER, None, "required"),
        (TIMESTAMP_HEADER, "2026-11-26T10:00:00Z", "unix seconds"),
        (SIGNATURE_HEADER, None, "required"),
        (SIGNATURE_HEADER, "sha256=abc", "must be v1=<64 hex digits>"),
        (SIGNATURE_HEADER, "v1=" + "zz" * 32, "must be v1=<64 hex digits>"),
    ],
)
async def test_a_missing_or_malformed_header_is_named(
    http: httpx.Client, tenants: Tenants, secret: str, header: str, value: str | None, reason: str
) -> None:
    body = json.dumps(_meeting()).encode()
    headers = _signed(secret, tenants.home.workspace_id, body)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    response = _post(http, body, headers)
    assert response.status_code == 401
    code, field, message = _error(response)
    assert (code, field) == ("UNAUTHENTICATED", header)
    assert reason in message


@pytest.mark.parametrize(
    ("body", "status", "field", "reason"),
    [
        (_meeting(started_at=None), 422, "body.started_at", "required"),
        (_meeting(started_at="2026-03-02T15:00:00"), 422, "body.started_at", "timezone"),
        (b"{not json", 400, "body", "is not JSON"),
        (b"[1, 2]", 400, "body", "must be a JSON object"),
    ],
    ids=["missing started_at", "no time zone", "not JSON", "not an object"],
)
async def test_a_bad_meeting_is_named_and_nothing_is_stored(
    http: httpx.Client,
    tenants: Tenants,
    secret: str,
    pool: asyncpg.Pool,
    body: Any,
    status: int,
    field: str,
    reason: str,
) -> None:
    home = tenants.home
    before = await _counts(pool, home.workspace_id)
    response = _deliver(http, secret, home.workspace_id, body)
    assert response.status_code == status, response.text
    code, named, message = _error(response)
    assert (code, named) == ("BAD_USER_INPUT", field)
    assert reason in message
    assert response.json()["errors"][0]["extensions"]["problems"][0]["field"] == field
    assert await _counts(pool, home.workspace_id) == before


async def test_the_secret_is_sealed_and_a_rotation_ends_the_old_one(
    http: httpx.Client, tenants: Tenants, pool: asyncpg.Pool
) -> None:
    other = tenants.other
    async with pool.acquire() as conn:
        old = await set_secret(conn, KEYRING, other.workspace_id)
        new = await set_secret(conn, KEYRING, other.workspace_id)
    assert old != new
    assert old.startswith("whsec_")
    sealed = await pool.fetchrow(
        "SELECT secret, key_id FROM workspace_webhook_secrets WHERE workspace_id = $1",
        other.workspace_id,
    )
    assert sealed["key_id"] == "k1"
    assert new.encode() not in bytes(sealed["secret"])

    refused = _deliver(http, old, other.workspace_id, _meeting())
    assert refused.status_code == 401
    accepted = _deliver(http, new, other.workspace_id, _meeting())
    assert accepted.status_code == 201, accepted.text
    # The home workspace's secret does not sign for another workspace, nor the reverse.
    crossed = _deliver(http, new, tenants.home.workspace_id, _meeting())
    assert crossed.status_code == 401
