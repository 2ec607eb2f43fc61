"""HubSpotClient failures: every error category, and the retry schedule measured on a FakeClock.

The clock's elapsed time is the sum of the waits, and the request count shows there is no
storm: a rate-limited client waits the window out once instead of hammering HubSpot.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from runtime.clock import FakeClock
from runtime.crm.errors import (
    CrmAuthError,
    CrmConnectionError,
    CrmError,
    CrmNotFoundError,
    CrmRateLimitedError,
    CrmServerError,
    CrmValidationError,
)
from runtime.crm.hubspot import NO_RETRIES, Failure, HubSpotClient, PrivateAppToken, RetryPolicy
from runtime.crm.hubspot.retry import rate_limit_wait_s, retry_delay_s
from runtime.crm.port import RecordCreate, RecordUpdate, SearchRequest

TOKEN = "pat-na1-0000-secret"
BURST = {
    "status": "error",
    "message": "You have reached your ten_secondly_rolling limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c-429",
    "policyName": "TEN_SECONDLY_ROLLING",
    "requestId": "r-1",
}
DAILY = {**BURST, "message": "You have reached your daily limit.", "policyName": "DAILY"}
SECONDLY = {
    "status": "error",
    "message": "You have reached your secondly limit.",
    "category": "RATE_LIMITS",
}
DEAL = {"id": "1", "properties": {"dealname": "A"}, "createdAt": None, "updatedAt": None}
OK_BATCH = {"status": "COMPLETE", "results": [DEAL]}


class TopOfRange(random.Random):
    """Jitter that always draws the top of the range, so backoff waits are exact."""

    def random(self) -> float:
        return 1.0


class Script:
    """Answers with the given responses (or raises the given exceptions) in order."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self._steps: Iterator[httpx.Response | Exception] = iter(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = next(self._steps)
        if isinstance(step, Exception):
            raise step
        return step


def limited(body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.Response(429, json=body, headers=headers)


class RecordingClock(FakeClock):
    """A FakeClock that also lists each wait."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
async def connect(clock: RecordingClock) -> AsyncIterator[Callable[..., HubSpotClient]]:
    opened: list[httpx.AsyncClient] = []

    def make(handler: Script, retry: RetryPolicy | None = None) -> HubSpotClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        opened.append(http)
        policy = retry or RetryPolicy(
            max_retries=5, base_delay_s=0.5, max_delay_s=30, rng=TopOfRange()
        )
        return HubSpotClient(
            PrivateAppToken(TOKEN),
            base_url="https://hubspot.test",
            http=http,
            clock=clock,
            retry=policy,
        )

    yield make
    for http in opened:
        await http.aclose()


# Error categories -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error_type", "category"),
    [
        (
            401,
            {
                "status": "error",
                "message": "The OAuth token used to make this call expired 5 second(s) ago.",
                "correlationId": "c",
                "category": "EXPIRED_AUTHENTICATION",
                "context": {"expire time": ["2026-01-01"]},
            },
            CrmAuthError,
            "EXPIRED_AUTHENTICATION",
        ),
        (
            401,
            {"status": "error", "message": "bad token", "category": "INVALID_AUTHENTICATION"},
            CrmAuthError,
            "INVALID_AUTHENTICATION",
        ),
        (401, {}, CrmAuthError, "INVALID_AUTHENTICATION"),
        (
            404,
            {"status": "error", "message": "nope", "category": "OBJECT_NOT_FOUND"},
            CrmNotFoundError,
            "OBJECT_NOT_FOUND",
        ),
        (
            409,
            {
                "status": "error",
                "message": "Contact already exists. Existing ID: 5",
                "category": "CONFLICT",
            },
            CrmError,
            "CONFLICT",
        ),
        (
            500,
            {"status": "error", "message": "internal", "category": "INTERNAL_ERROR"},
            CrmServerError,
            "INTERNAL_ERROR",
        ),
    ],
)
async def test_whole_request_failures_become_typed_errors(
    connect, status, body, error_type, category
):
    hubspot = Script(httpx.Response(status, json=body))
    client = connect(hubspot, NO_RETRIES)
    with pytest.raises(CrmError) as caught:
        await client.get("deals", "1")
    assert type(caught.value) is error_type
    assert (caught.value.status, caught.value.category) == (status, category)


async def test_missing_scopes_is_an_auth_error_naming_the_scopes(connect):
    body = {
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "correlationId": "c-403",
        "category": "MISSING_SCOPES",
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.objects.deals.write"]},
            }
        ],
    }
    hubspot = Script(httpx.Response(403, json=body))
    client = connect(hubspot)
    with pytest.raises(CrmAuthError) as caught:
        await client.get("deals", "1")
    assert (caught.value.status, caught.value.category) == (403, "MISSING_SCOPES")
    assert "crm.objects.deals.write" in str(caught.value)
    assert len(hubspot.requests) == 1


async def test_validation_problems_are_read_from_the_message_when_errors_is_absent(connect):
    embedded = (
        '[{"isValid":false,"message":"Property \\"x\\" does not exist",'
        '"error":"PROPERTY_DOESNT_EXIST","name":"x"},'
        '{"isValid":false,"message":"abc was not one of the allowed options",'
        '"error":"INVALID_OPTION","name":"dealstage"}]'
    )
    body = {
        "status": "error",
        "message": f"Property values were not valid: {embedded}",
        "correlationId": "c-400",
        "category": "VALIDATION_ERROR",
    }
    client = connect(Script(httpx.Response(400, json=body)))
    with pytest.raises(CrmValidationError) as caught:
        await client.get("deals", "1")
    assert [(p.code, p.property_names) for p in caught.value.problems] == [
        ("PROPERTY_DOESNT_EXIST", ("x",)),
        ("INVALID_OPTION", ("dealstage",)),
    ]
    assert caught.value.correlation_id == "c-400"


async def test_an_html_error_page_is_a_server_error(connect):
    hubspot = Script(httpx.Response(502, text="<html>Bad gateway</html>"))
    client = connect(hubspot, NO_RETRIES)
    with pytest.raises(CrmServerError) as caught:
        await client.get("deals", "1")
    assert caught.value.status == 502
    assert "502" in str(caught.value)


@pytest.mark.parametrize(
    "dropped",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadTimeout("timed out"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_no_answer_is_a_connection_error(connect, clock, dropped):
    hubspot = Script(dropped, dropped, dropped)
    client = connect(hubspot, RetryPolicy(max_retries=2, base_delay_s=1, rng=TopOfRange()))
    with pytest.raises(CrmConnectionError) as caught:
        await client.get("deals", "1")
    assert "GET /crm/v3/objects/deals/1" in str(caught.value)
    assert isinstance(caught.value.__cause__, type(dropped))
    assert len(hubspot.requests) == 3  # reads are safe to replay
    assert clock.monotonic_s() == 1 + 2


# Rate limits --------------------------------------------------------------------------------


async def test_a_burst_limit_waits_out_the_window_once_then_succeeds(connect, clock):
    hubspot = Script(
        limited(
            BURST,
            **{
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Remaining": "0",
            },
        ),
        httpx.Response(200, json=DEAL),
    )
    client = connect(hubspot)

    record = await client.get("deals", "1")

    assert record.id == "1"
    assert len(hubspot.requests) == 2
    assert clock.monotonic_s() == 10.0


async def test_a_burst_limit_without_headers_waits_ten_seconds(connect, clock):
    hubspot = Script(limited(BURST), httpx.Response(200, json=DEAL))
    await connect(hubspot).get("deals", "1")
    assert clock.monotonic_s() == 10.0


async def test_a_lasting_burst_limit_is_retried_a_bounded_number_of_times(connect, clock):
    hubspot = Script(
        *[limited(BURST, **{"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})] * 4
    )
    client = connect(hubspot, RetryPolicy(max_retries=3, max_delay_s=30, rng=TopOfRange()))

    with pytest.raises(CrmRateLimitedError) as caught:
        await client.get("deals", "1")

    assert len(hubspot.requests) == 4
    assert clock.monotonic_s() == 30.0
    assert (caught.value.policy, caught.value.retry_after_s) == ("TEN_SECONDLY_ROLLING", 10.0)


async def test_the_daily_limit_raises_without_retrying(connect, clock):
    hubspot = Script(limited(DAILY, **{"X-HubSpot-RateLimit-Daily-Remaining": "0"}))
    client = connect(hubspot)

    with pytest.raises(CrmRateLimitedError) as caught:
        await client.get("deals", "1")

    assert caught.value.policy == "DAILY"
    assert caught.value.correlation_id == "c-429"
    assert len(hubspot.requests) == 1
    assert clock.monotonic_s() == 0


async def test_retry_after_is_honoured(connect, clock):
    hubspot = Script(limited(BURST, **{"Retry-After": "3"}), httpx.Response(200, json=DEAL))
    await connect(hubspot).get("deals", "1")
    assert clock.monotonic_s() == 3.0


async def test_a_wait_longer_than_the_policy_allows_raises_with_the_wait(connect, clock):
    hubspot = Script(limited(BURST, **{"Retry-After": "120"}))
    with pytest.raises(CrmRateLimitedError) as caught:
        await connect(hubspot).get("deals", "1")
    assert caught.value.retry_after_s == 120.0
    assert len(hubspot.requests) == 1
    assert clock.monotonic_s() == 0


async def test_the_search_secondly_limit_is_recognised_by_its_message_and_waits_a_second(
    connect, clock
):
    hubspot = Script(limited(SECONDLY), httpx.Response(200, json={"total": 0, "results": []}))
    page = await connect(hubspot).search("deals", SearchRequest())
    assert page.total == 0
    assert clock.monotonic_s() == 1.0


async def test_no_retries_raises_at_once_with_the_wait_for_the_caller(connect, clock):
    hubspot = Script(limited(BURST, **{"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}))
    with pytest.raises(CrmRateLimitedError) as caught:
        await connect(hubspot, NO_RETRIES).get("deals", "1")
    assert caught.value.retry_after_s == 10.0
    assert len(hubspot.requests) == 1
    assert clock.monotonic_s() == 0


# Backoff ------------------------------------------------------------------------------------


async def test_server_errors_back_off_exponentially_up_to_the_cap_then_raise_the_last(
    connect, clock
):
    answers = [
        httpx.Response(500 + n, json={"status": "error", "message": f"failure {n}"})
        for n in range(6)
    ]
    hubspot = Script(*answers)
    client = connect(
        hubspot, RetryPolicy(max_retries=5, base_delay_s=1, max_delay_s=5, rng=TopOfRange())
    )
    with pytest.raises(CrmServerError) as caught:
        await client.get("deals", "1")

    assert clock.sleeps == [1, 2, 4, 5, 5]
    assert len(hubspot.requests) == 6
    assert caught.value.status == 505
    assert "failure 5" in str(caught.value)


async def test_jitter_keeps_backoff_within_its_ceiling():
    policy = RetryPolicy(base_delay_s=1, max_delay_s=8, rng=random.Random(42))
    for retry_number in range(1, 8):
        ceiling = min(8, 2 ** (retry_number - 1))
        waits = {policy.backoff_s(retry_number) for _ in range(50)}
        assert all(0 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered, not fixed


async def test_locked_waits_at_least_two_seconds(connect, clock):
    hubspot = Script(
        httpx.Response(423, json={"status": "error", "message": "locked"}),
        httpx.Response(200, json=DEAL),
    )
    await connect(hubspot, RetryPolicy(base_delay_s=0.1, rng=TopOfRange())).get("deals", "1")
    assert clock.monotonic_s() == 2.0


async def test_migration_in_progress_waits_for_retry_after(connect, clock):
    hubspot = Script(
        httpx.Response(477, headers={"Retry-After": "7"}), httpx.Response(200, json=DEAL)
    )
    await connect(hubspot).get("deals", "1")
    assert clock.monotonic_s() == 7.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 414])
async def test_other_client_errors_are_not_retried(connect, clock, status):
    hubspot = Script(httpx.Response(status, json={"status": "error", "message": "no"}))
    with pytest.raises(CrmError):
        await connect(hubspot).get("deals", "1")
    assert len(hubspot.requests) == 1
    assert clock.monotonic_s() == 0


# Creates are not replayed blindly -----------------------------------------------------------


CREATE = [RecordCreate(properties={"dealname": "A"}, trace_id="t1")]


@pytest.mark.parametrize(
    "lost",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
        httpx.Response(504, json={"status": "error", "message": "gateway timeout"}),
    ],
    ids=["dropped", "timeout", "504"],
)
async def test_a_create_that_may_have_happened_is_not_sent_again(connect, lost):
    hubspot = Script(lost, httpx.Response(201, json=OK_BATCH))
    with pytest.raises((CrmConnectionError, CrmServerError)):
        await connect(hubspot).batch_create("deals", CREATE)
    assert len(hubspot.requests) == 1


@pytest.mark.parametrize(
    "refused",
    [httpx.ConnectError("[Errno 111] Connection refused"), limited(BURST)],
    ids=["connect", "429"],
)
async def test_a_create_that_provably_did_not_happen_is_retried(connect, refused):
    hubspot = Script(refused, httpx.Response(201, json=OK_BATCH))
    result = await connect(hubspot).batch_create("deals", CREATE)
    assert [r.id for r in result.results] == ["1"]
    assert len(hubspot.requests) == 2


async def test_updates_are_replayed_after_a_dropped_connection(connect):
    hubspot = Script(httpx.RemoteProtocolError("dropped"), httpx.Response(200, json=OK_BATCH))
    result = await connect(hubspot).batch_update(
        "deals", [RecordUpdate(id="1", properties={"a": "b"})]
    )
    assert len(result.results) == 1
    assert len(hubspot.requests) == 2


# The pure decision ---------------------------------------------------------------------------


def test_the_rate_limit_wait_prefers_retry_after_then_the_window():
    assert rate_limit_wait_s("TEN_SECONDLY_ROLLING", retry_after_s=2, interval_ms=10000) == 2
    assert rate_limit_wait_s("TEN_SECONDLY_ROLLING", retry_after_s=None, interval_ms=1000) == 1
    assert rate_limit_wait_s("TEN_SECONDLY_ROLLING", retry_after_s=None, interval_ms=None) == 10
    assert rate_limit_wait_s("SECONDLY", retry_after_s=None, interval_ms=None) == 1
    assert rate_limit_wait_s("DAILY", retry_after_s=None, interval_ms=10000) is None


def test_retry_delay_rules():
    policy = RetryPolicy(max_retries=2, base_delay_s=1, max_delay_s=30, rng=TopOfRange())

    def delay(failure: Failure, *, retry_number: int = 1, replay_safe: bool = True) -> float | None:
        return retry_delay_s(
            failure, retry_number=retry_number, policy=policy, replay_safe=replay_safe
        )

    burst = Failure(status=429, rate_limit_policy="TEN_SECONDLY_ROLLING", server_wait_s=10)
    assert delay(burst) == 10
    assert delay(burst, replay_safe=False) == 10
    assert delay(burst, retry_number=3) is None
    assert delay(Failure(status=429, rate_limit_policy="DAILY", server_wait_s=5)) is None
    assert delay(Failure(status=503), retry_number=2) == 2
    assert delay(Failure(status=503), replay_safe=False) is None
    assert delay(Failure(status=None, sent=False), replay_safe=False) == 1
    assert delay(Failure(status=None, sent=True), replay_safe=False) is None
    assert delay(Failure(status=477)) == 1  # no Retry-After: plain backoff
    assert delay(Failure(status=477, server_wait_s=86400)) is None
    assert delay(Failure(status=400)) is None
    assert retry_delay_s(burst, retry_number=1, policy=NO_RETRIES, replay_safe=True) is None
