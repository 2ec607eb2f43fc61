"""The API's small parts: rate limiter, bearer header parsing, cursors, error mapping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast
from uuid import uuid4

import pytest

from runtime.api import auth
from runtime.api.auth import BadTokenError, bearer_token
from runtime.api.errors import ApiError, ErrorCode, api_error_from
from runtime.api.pagination import (
    MAX_PAGE_SIZE,
    PaginationInput,
    decode_cursor,
    encode_cursor,
    page_request,
)
from runtime.api.ratelimit import RateLimiter, retry_after_header
from runtime.clock import FakeClock
from runtime.errors import ConflictError, InvalidInputError, NotFoundError
from runtime.tokens.models import Principal


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_requests_wait_for_refill() -> None:
    time = FakeTime()
    limiter = RateLimiter(per_s=2.0, burst=3, now=time)
    assert [limiter.acquire("a") for _ in range(3)] == [None, None, None]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(0.5)
    assert limiter.acquire("b") is None, "callers have their own buckets"
    time.now = 0.5
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None


def test_a_refused_request_does_not_spend_a_token() -> None:
    time = FakeTime()
    limiter = RateLimiter(per_s=1.0, burst=1, now=time)
    assert limiter.acquire("a") is None
    for _ in range(5):
        assert limiter.acquire("a") is not None
    time.now = 1.0
    assert limiter.acquire("a") is None


def test_idle_callers_are_forgotten() -> None:
    time = FakeTime()
    limiter = RateLimiter(per_s=10.0, burst=10, now=time)
    for index in range(1024):
        limiter.acquire(f"caller-{index}")
    time.now = 5.0
    for _ in range(1024):
        limiter.acquire("busy")
    assert len(limiter._buckets) == 1


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"


@pytest.mark.parametrize(
    ("header", "token"),
    [(None, None), ("Bearer abc", "abc"), ("bearer   abc ", "abc"), ("BEARER abc", "abc")],
)
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer   ", "abc"])
def test_other_authorization_headers_are_refused(header: str) -> None:
    with pytest.raises(BadTokenError):
        bearer_token(header)


def test_a_cursor_round_trips() -> None:
    at, row = datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC), uuid4()
    key = decode_cursor(encode_cursor(at, row), "after")
    assert (key.created_at, key.id) == (at, row)


@pytest.mark.parametrize(
    "cursor", ["", "nope", "W10", encode_cursor(datetime.now(UTC), uuid4())[:-3]]
)
def test_a_foreign_cursor_is_bad_input_on_its_argument(cursor: str) -> None:
    with pytest.raises(ApiError) as raised:
        decode_cursor(cursor, "pagination.after")
    assert raised.value.extensions == {"code": "BAD_USER_INPUT", "field": "pagination.after"}


def test_page_size_limits() -> None:
    assert page_request(None).size == 20
    assert page_request(PaginationInput(first=MAX_PAGE_SIZE)).size == MAX_PAGE_SIZE
    for bad in (-1, MAX_PAGE_SIZE + 1):
        with pytest.raises(ApiError) as raised:
            page_request(PaginationInput(first=bad))
        assert raised.value.extensions == {"code": "BAD_USER_INPUT", "field": "pagination.first"}


def test_domain_errors_keep_their_field_in_camel_case() -> None:
    invalid = api_error_from(InvalidInputError.one("call_type", "unknown"))
    assert invalid.extensions == {"code": ErrorCode.BAD_USER_INPUT.value, "field": "callType"}
    inside_json = api_error_from(InvalidInputError.one("config.auto_apply_threshold", "too high"))
    assert inside_json.extensions == {
        "code": "BAD_USER_INPUT",
        "field": "config.auto_apply_threshold",
    }
    assert api_error_from(NotFoundError("meeting", "m1", field="meeting_id")).extensions == {
        "code": "NOT_FOUND",
        "field": "meetingId",
    }
    conflict = api_error_from(ConflictError("id", "already approved"))
    assert conflict.extensions == {"code": "CONFLICT", "field": "id"}


async def test_checks_of_one_token_that_miss_together_share_one_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    principal = Principal(uuid4(), uuid4(), uuid4(), "member")
    lookups: list[str] = []
    gate = asyncio.Event()

    async def looked_up(_pool: object, token: str, *, now: datetime) -> Principal | None:
        lookups.append(token)
        await gate.wait()
        return principal if token == "cra_live" else None

    monkeypatch.setattr(auth, "authenticate", looked_up)
    checker = auth.Authenticator(cast(Any, None), FakeClock(datetime.now(UTC)), cache_s=5.0)
    many = [asyncio.create_task(checker.principal("cra_live")) for _ in range(50)]
    other = asyncio.create_task(checker.principal("cra_gone"))
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*many) == [principal] * 50
    with pytest.raises(BadTokenError):
        await other
    assert sorted(lookups) == ["cra_gone", "cra_live"]
    assert await checker.principal("cra_live") == principal, "then answered from memory"
    assert len(lookups) == 2
