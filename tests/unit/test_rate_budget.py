"""The per-workspace HubSpot rate budget: burst, search, daily, headers, 429s and settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from runtime.clock import FakeClock
from runtime.crm.hubspot.rate_limits import RateLimitHeaders
from runtime.errors import BudgetExceededError
from runtime.settings import Settings, WriteSettings, env_variables
from runtime.writes.budget import (
    BudgetSnapshot,
    RateBudget,
    RateLimitOverrides,
    RateLimits,
    next_midnight,
)

NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)
TENANT = UUID("7d0b7c1e-3f4a-4c55-9a43-2b1f0c6d8e90")


def _budget(clock: FakeClock, **limits: object) -> RateBudget:
    # No margin unless a test asks: the window's arithmetic reads plainly.
    return RateBudget(RateLimits.model_validate({"window_margin_s": 0.0, **limits}), clock=clock)


async def _spend(budget: RateBudget, calls: int, kind: str = "standard") -> None:
    for _ in range(calls):
        await budget.acquire("search" if kind == "search" else "standard")


# The rolling burst window.


async def test_190_calls_go_at_once_and_the_191st_waits_for_the_first_to_leave() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    await _spend(budget, 190)
    assert clock.monotonic_s() == 0.0
    assert budget.delay_s() == 10.0
    await budget.acquire()
    assert clock.monotonic_s() == 10.0
    assert budget.snapshot().calls_in_window == 1


async def test_the_window_rolls_call_by_call() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=3)
    for _ in range(3):
        await budget.acquire()
        clock.advance(2.0)
    # Sent at 0, 2 and 4; now 6: the call sent at 0 leaves at 10.
    assert budget.delay_s() == pytest.approx(4.0)
    await budget.acquire()
    assert clock.monotonic_s() == pytest.approx(10.0)
    assert budget.delay_s() == pytest.approx(2.0)


async def test_reads_and_writes_share_the_burst_but_not_searches() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=2)
    await _spend(budget, 2)
    assert budget.delay_s("standard") == 10.0
    assert budget.delay_s("search") == 0.0
    await _spend(budget, 5, "search")
    assert clock.monotonic_s() == 0.0


async def test_headroom_keeps_part_of_the_burst_for_other_clients() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=190, headroom=0.2)
    await _spend(budget, 152)
    assert clock.monotonic_s() == 0.0
    assert budget.delay_s() == 10.0
    assert budget.snapshot().window_capacity == 152


def test_a_headroom_that_leaves_no_call_is_refused() -> None:
    with pytest.raises(ValidationError, match="headroom"):
        RateLimits(burst=1, headroom=0.5)


# Search.


async def test_searches_are_limited_to_five_per_second() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=1)
    await _spend(budget, 5, "search")
    assert clock.monotonic_s() == 0.0
    assert budget.delay_s("search") == 1.0
    await budget.acquire("search")
    assert clock.monotonic_s() == 1.0


async def test_searches_count_toward_the_daily_limit() -> None:
    clock = FakeClock()
    budget = _budget(clock, daily=3)
    await _spend(budget, 2, "search")
    await budget.acquire()
    assert budget.snapshot().daily_used == 3
    with pytest.raises(BudgetExceededError):
        await budget.acquire("search")
    with pytest.raises(BudgetExceededError):
        await budget.acquire()


# The daily limit.


async def test_a_spent_day_raises_naming_the_reset_until_it_passes() -> None:
    clock = FakeClock(NEW_YEAR + timedelta(hours=18))
    budget = _budget(clock, daily=2)
    await _spend(budget, 2)
    with pytest.raises(BudgetExceededError, match=r"resets at 2026-01-02T00:00:00\+00:00") as info:
        await budget.acquire()
    assert info.value.retry_after_s == 6 * 3600
    assert budget.delay_s() == 6 * 3600
    clock.advance(6 * 3600 - 1)
    with pytest.raises(BudgetExceededError):
        await budget.acquire()
    clock.advance(1)
    await budget.acquire()
    assert budget.snapshot().daily_used == 1


async def test_no_daily_limit_means_no_daily_refusal() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=1000, daily=None)
    await _spend(budget, 1000)
    assert budget.snapshot().daily_used == 1000
    assert budget.snapshot().daily_limit is None


async def test_the_daily_reset_follows_the_accounts_zone_when_given() -> None:
    clock = FakeClock(NEW_YEAR + timedelta(hours=18))
    chicago = partial(next_midnight, zone=ZoneInfo("America/Chicago"))
    budget = RateBudget(RateLimits(daily=1), clock=clock, daily_resets_at=chicago)
    await budget.acquire()
    # 18:00 UTC is noon in Chicago; its midnight is 06:00 UTC.
    with pytest.raises(BudgetExceededError, match=r"2026-01-02T06:00:00\+00:00"):
        await budget.acquire()


def test_next_midnight_is_strictly_later_and_in_utc() -> None:
    assert next_midnight(NEW_YEAR) == NEW_YEAR + timedelta(days=1)
    assert next_midnight(NEW_YEAR - timedelta(microseconds=1)) == NEW_YEAR
    tokyo = next_midnight(NEW_YEAR, ZoneInfo("Asia/Tokyo"))
    assert tokyo == datetime(2026, 1, 1, 15, tzinfo=UTC)


# Rate-limit headers.


async def test_a_lower_remaining_counts_other_clients_calls() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    await _spend(budget, 10)
    budget.observe(RateLimitHeaders(interval_max=190, interval_remaining=100))
    assert budget.snapshot().calls_in_window == 90
    await _spend(budget, 100)
    assert clock.monotonic_s() == 0.0
    assert budget.delay_s() == 10.0


async def test_a_higher_remaining_never_frees_a_call() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    await _spend(budget, 190)
    budget.observe(RateLimitHeaders(interval_max=190, interval_remaining=190))
    budget.observe(RateLimitHeaders(interval_max=190, interval_remaining=500))
    assert budget.snapshot().calls_in_window == 190
    assert budget.delay_s() == 10.0


async def test_a_different_max_replaces_the_burst() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    budget.observe(RateLimitHeaders(interval_max=250, interval_ms=10_000))
    await _spend(budget, 250)
    assert clock.monotonic_s() == 0.0
    assert budget.delay_s() == 10.0
    budget.observe(RateLimitHeaders(interval_max=100))
    assert budget.snapshot().burst == 100
    assert budget.snapshot().calls_in_window == 100
    assert budget.limits.burst == 190


async def test_a_different_interval_replaces_the_window() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    budget.observe(RateLimitHeaders(interval_ms=1_000))
    await _spend(budget, 191)
    assert clock.monotonic_s() == 1.0
    assert budget.snapshot().window_s == 1.0


async def test_daily_remaining_replaces_our_count() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=1000, daily=1000)
    await _spend(budget, 5)
    budget.observe(RateLimitHeaders(daily=1000, daily_remaining=10))
    assert budget.snapshot().daily_used == 990
    await _spend(budget, 10)
    with pytest.raises(BudgetExceededError):
        await budget.acquire()
    budget.observe(RateLimitHeaders(daily=2_000_000, daily_remaining=1_999_000))
    assert budget.snapshot().daily_used == 1000
    assert budget.snapshot().daily_limit == 2_000_000
    await budget.acquire()


# 429s.


async def test_a_ten_secondly_429_holds_standard_calls_until_the_window_rolls() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    await budget.acquire()
    clock.advance(3.0)
    budget.on_rate_limited("TEN_SECONDLY_ROLLING", None)
    assert budget.delay_s("standard") == 10.0
    assert budget.delay_s("search") == 0.0
    await budget.acquire()
    assert clock.monotonic_s() == 13.0
    assert budget.snapshot().rate_limited_count == 1


@pytest.mark.parametrize("policy", ["TEN_SECONDLY_ROLLING", "UNKNOWN", None])
async def test_retry_after_wins_over_the_window(policy: str | None) -> None:
    clock = FakeClock()
    budget = _budget(clock)
    budget.on_rate_limited(policy, 2.5)
    assert budget.delay_s() == 2.5
    await budget.acquire()
    assert clock.monotonic_s() == 2.5


@pytest.mark.parametrize("policy", ["UNKNOWN", None])
def test_an_unknown_policy_is_held_like_the_burst(policy: str | None) -> None:
    clock = FakeClock()
    budget = _budget(clock)
    budget.observe(RateLimitHeaders(interval_ms=5_000))
    budget.on_rate_limited(policy, None)
    assert budget.delay_s("standard") == 5.0
    assert budget.delay_s("search") == 0.0


async def test_a_secondly_429_holds_only_searches() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    budget.on_rate_limited("SECONDLY", None)
    assert budget.delay_s("search") == 1.0
    assert budget.delay_s("standard") == 0.0
    await budget.acquire()
    assert clock.monotonic_s() == 0.0
    budget.on_rate_limited("SECONDLY", 3.0)
    await budget.acquire("search")
    assert clock.monotonic_s() == 3.0


async def test_a_daily_429_spends_the_day_until_the_reset() -> None:
    clock = FakeClock(NEW_YEAR + timedelta(hours=20))
    budget = _budget(clock)
    await budget.acquire()
    budget.on_rate_limited("DAILY", None)
    with pytest.raises(BudgetExceededError, match=r"resets at 2026-01-02T00:00:00\+00:00") as info:
        await budget.acquire("search")
    assert info.value.retry_after_s == 4 * 3600
    assert budget.snapshot().daily_spent_until == NEW_YEAR + timedelta(days=1)
    clock.advance(4 * 3600)
    await budget.acquire()
    assert budget.snapshot().daily_used == 1
    assert budget.snapshot().daily_spent_until is None


async def test_a_daily_429_with_retry_after_ends_the_day_then() -> None:
    clock = FakeClock(NEW_YEAR + timedelta(hours=20))
    budget = _budget(clock)
    budget.on_rate_limited("DAILY", 600.0)
    with pytest.raises(BudgetExceededError) as info:
        await budget.acquire()
    assert info.value.retry_after_s == 600.0
    clock.advance(600)
    await budget.acquire()
    assert budget.snapshot().daily_used == 1


# Fairness, cancellation and side effects.


async def test_concurrent_callers_are_served_in_arrival_order() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=1)
    await budget.acquire()
    served: list[tuple[str, float]] = []

    async def caller(name: str) -> None:
        await budget.acquire()
        served.append((name, clock.monotonic_s()))

    first = asyncio.create_task(caller("first"))
    await asyncio.sleep(0)  # "first" is now waiting for the window to roll
    later = [asyncio.create_task(caller(name)) for name in ("second", "third")]
    await asyncio.gather(first, *later)
    # A newcomer seeing the freed slot must not take it ahead of "first".
    assert served == [("first", 10.0), ("second", 20.0), ("third", 30.0)]


async def test_a_cancelled_caller_counts_nothing() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=1)
    await budget.acquire()
    waiting = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert budget.snapshot().daily_used == 1
    await budget.acquire()
    assert budget.snapshot().daily_used == 2


async def test_delay_s_counts_nothing() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=2)
    for _ in range(5):
        assert budget.delay_s() == 0.0
        assert budget.delay_s("search") == 0.0
    assert budget.snapshot().calls_in_window == 0
    assert budget.snapshot().daily_used == 0
    await _spend(budget, 2)
    assert clock.monotonic_s() == 0.0


async def test_an_unknown_kind_is_refused() -> None:
    budget = _budget(FakeClock())
    with pytest.raises(ValueError, match="kind"):
        budget.delay_s("bulk")  # type: ignore[arg-type]


async def test_the_snapshot_reports_the_figures() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=100, daily=1000, headroom=0.1)
    await _spend(budget, 7)
    await _spend(budget, 2, "search")
    budget.on_rate_limited("TEN_SECONDLY_ROLLING", 4.0)
    budget.on_rate_limited("SECONDLY", None)
    assert budget.snapshot() == BudgetSnapshot(
        calls_in_window=7,
        window_capacity=90,
        burst=100,
        window_s=10.0,
        searches_in_window=2,
        search_capacity=5,
        daily_used=9,
        daily_limit=1000,
        daily_resets_at=NEW_YEAR + timedelta(days=1),
        daily_spent_until=None,
        blocked_until=NEW_YEAR + timedelta(seconds=4),
        search_blocked_until=NEW_YEAR + timedelta(seconds=1),
        rate_limited_count=2,
    )
    clock.advance(10.0)
    later = budget.snapshot()
    assert (later.calls_in_window, later.searches_in_window) == (0, 0)
    assert (later.blocked_until, later.search_blocked_until) == (None, None)
    assert later.daily_used == 9


# Settings.


def _locs(exc: ValidationError) -> list[str]:
    return [".".join(str(part) for part in error["loc"]) for error in exc.errors()]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """The process environment without any CRM_AGENTS_WRITES__ variable or stray .env."""
    for variable in env_variables():
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_large_tenant_limits_are_read_from_the_environment(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv(
        "CRM_AGENTS_WRITES__LARGE_TENANT_LIMITS",
        f'{{"{TENANT}": {{"burst": 250, "daily": 2000000}}}}',
    )
    writes = Settings().writes
    assert writes.limits_for(TENANT) == RateLimits(burst=250, daily=2_000_000)
    other = UUID("00000000-0000-4000-8000-000000000001")
    assert writes.limits_for(other) == RateLimits()


def test_limits_for_merges_the_overrides_over_the_defaults() -> None:
    writes = WriteSettings.model_validate(
        {
            "burst_per_10s": 100,
            "daily_limit": 250_000,
            "headroom": 0.1,
            "large_tenant_limits": {str(TENANT): {"daily": None, "search_per_s": 4}},
        }
    )
    assert writes.limits_for(TENANT) == RateLimits(
        burst=100, daily=None, search_per_s=4, headroom=0.1
    )


@pytest.mark.parametrize(
    ("entry", "loc"),
    [
        ({"not-a-uuid": {"burst": 250}}, "writes.large_tenant_limits.not-a-uuid.[key]"),
        ({str(TENANT): {"bursts": 250}}, f"writes.large_tenant_limits.{TENANT}.bursts"),
        ({str(TENANT): {"burst": "many"}}, f"writes.large_tenant_limits.{TENANT}.burst"),
        ({str(TENANT): {"burst": 0}}, f"writes.large_tenant_limits.{TENANT}.burst"),
        ({str(TENANT): {"headroom": 1.5}}, f"writes.large_tenant_limits.{TENANT}.headroom"),
    ],
)
def test_bad_large_tenant_limits_name_the_field(entry: dict[str, object], loc: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings.model_validate({"writes": {"large_tenant_limits": entry}})
    assert _locs(info.value) == [loc]


def test_overrides_that_leave_no_call_name_the_workspace() -> None:
    with pytest.raises(ValidationError, match=f"large_tenant_limits.{TENANT}: headroom"):
        WriteSettings.model_validate(
            {"burst_per_10s": 1, "large_tenant_limits": {str(TENANT): {"headroom": 0.5}}}
        )


@pytest.mark.parametrize("raw", ["none", "None", ""])
def test_the_daily_limit_can_be_unset(environment: pytest.MonkeyPatch, raw: str) -> None:
    environment.setenv("CRM_AGENTS_WRITES__DAILY_LIMIT", raw)
    assert Settings().writes.limits_for(TENANT).daily is None


def test_a_batch_may_not_exceed_hubspots_hundred_inputs() -> None:
    with pytest.raises(ValidationError) as info:
        WriteSettings(batch_size=101)
    assert _locs(info.value) == ["batch_size"]


def test_overrides_leave_unset_fields_alone() -> None:
    base = RateLimits(burst=100, daily=250_000)
    assert RateLimitOverrides(burst=250).apply(base) == RateLimits(burst=250, daily=250_000)


async def test_the_margin_keeps_the_last_call_of_a_window_from_arriving_early() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=2, window_margin_s=0.25)
    await _spend(budget, 2)
    assert budget.delay_s() == 10.25  # the first call may have reached HubSpot late
    await budget.acquire()
    assert clock.monotonic_s() == 10.25


async def test_a_429_on_a_window_we_filled_holds_only_until_our_oldest_call_leaves() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=3)
    await _spend(budget, 3)  # sent at 0: the window is ours and full
    clock.advance(9.9)
    budget.on_rate_limited("TEN_SECONDLY_ROLLING", None)  # our first call arrived late
    assert budget.delay_s() == pytest.approx(0.1)  # not a whole window
    clock.advance(0.1)
    await budget.acquire()
    assert clock.monotonic_s() == pytest.approx(10.0)


async def test_a_429_on_a_window_others_spend_too_waits_it_out() -> None:
    clock = FakeClock()
    budget = _budget(clock, burst=3)
    await _spend(budget, 1)
    budget.on_rate_limited("TEN_SECONDLY_ROLLING", None)
    assert budget.delay_s() == 10.0


async def test_our_calls_that_just_left_the_window_are_not_taken_for_another_clients() -> None:
    # 190 calls at t=0 fill the window; at t=10.1 the first slots are free again and we send
    # 10 more. HubSpot counted the answer's Remaining when the request arrived, before the
    # old calls left its window (they arrived a little after we sent them): it says 0 left.
    # The margin (the product's default) is what allows for that arrival delay.
    clock = FakeClock()
    budget = _budget(clock, window_margin_s=0.3)
    await _spend(budget, 190)
    clock.advance(10.35)
    await _spend(budget, 10)
    budget.observe(RateLimitHeaders(interval_max=190, interval_remaining=0, round_trip_s=0.3))
    # Not 10 phantom calls of another client holding their slots until t=20.35: the slots
    # of the first wave free up on their own schedule.
    assert budget.snapshot().calls_in_window == 10
    clock.advance(0.1)
    assert budget.delay_s() == 0.0


async def test_remaining_still_reveals_another_client_beyond_the_round_trip() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    await _spend(budget, 10)
    clock.advance(5.0)
    budget.observe(RateLimitHeaders(interval_max=190, interval_remaining=100, round_trip_s=0.3))
    assert budget.snapshot().calls_in_window == 90


async def test_a_restored_budget_counts_the_calls_a_previous_activation_made() -> None:
    clock = FakeClock()
    budget = _budget(clock)
    now = clock.now()
    # 180 calls 6 s ago and 10 searches, one 0.5 s ago; 40,000 calls today.
    sent: list[tuple[datetime, Literal["standard", "search"]]] = [
        (now - timedelta(seconds=6), "standard")
    ] * 180
    sent += [(now - timedelta(seconds=0.5), "search")] * 10
    budget.restore(sent, daily_used=40_000)
    snapshot = budget.snapshot()
    assert snapshot.calls_in_window == 180
    assert snapshot.searches_in_window == 5  # one second holds 5; the rest have no effect
    assert snapshot.daily_used == 40_000
    await _spend(budget, 10)
    assert clock.monotonic_s() == 0.0
    assert budget.delay_s() == pytest.approx(4.0)  # the restored calls leave 10 s after sending
    assert budget.delay_s("search") == pytest.approx(0.5)
