"""HubSpot's rate limits as the emulator counts them (reference §6), on a fake clock."""

from __future__ import annotations

from datetime import date

from runtime.clock import FakeClock
from runtime.crm.hubspot.emulator.limits import RateLimiter

DAY = date(2026, 1, 1)


def _limiter(*, ten_second: int = 3, daily: int = 1000, search: int = 2) -> RateLimiter:
    return RateLimiter(ten_second_limit=ten_second, daily_limit=daily, search_per_second=search)


def test_the_window_refuses_the_call_over_the_limit_and_says_what_is_left() -> None:
    limiter = _limiter()
    remaining = [
        limiter.admit_call("app", now_s=0.0, today=DAY).interval_remaining for _ in range(3)
    ]
    assert remaining == [2, 1, 0]
    refused = limiter.admit_call("app", now_s=9.999, today=DAY)
    assert (refused.allowed, refused.policy) == (False, "TEN_SECONDLY_ROLLING")


def test_the_window_rolls_a_call_out_exactly_ten_seconds_later() -> None:
    clock = FakeClock()
    limiter = _limiter(ten_second=2)
    limiter.admit_call("app", now_s=clock.monotonic_s(), today=DAY)
    clock.advance(4)
    limiter.admit_call("app", now_s=clock.monotonic_s(), today=DAY)
    clock.advance(6)  # the first call is now 10 s old
    assert limiter.admit_call("app", now_s=clock.monotonic_s(), today=DAY).allowed
    assert not limiter.admit_call("app", now_s=clock.monotonic_s(), today=DAY).allowed


def test_each_app_has_its_own_window() -> None:
    limiter = _limiter(ten_second=1)
    assert limiter.admit_call("pat:a", now_s=0, today=DAY).allowed
    assert not limiter.admit_call("pat:a", now_s=0, today=DAY).allowed
    assert limiter.admit_call("pat:b", now_s=0, today=DAY).allowed


def test_refused_calls_are_not_counted() -> None:
    limiter = _limiter(ten_second=2, daily=100)
    limiter.admit_call("app", now_s=0, today=DAY)
    limiter.admit_call("app", now_s=0, today=DAY)
    for _ in range(5):
        assert not limiter.admit_call("app", now_s=5, today=DAY).allowed
    decision = limiter.admit_call("app", now_s=10, today=DAY)
    assert decision.allowed
    assert decision.interval_remaining == 1  # only this call is in the window
    assert decision.daily_remaining == 97  # 3 admitted calls, not 8


def test_the_daily_limit_is_shared_by_all_apps_and_resets_the_next_day() -> None:
    limiter = _limiter(ten_second=10, daily=3)
    for app in ("pat:a", "pat:b", "oauth:c"):
        assert limiter.admit_call(app, now_s=0, today=DAY).allowed
    refused = limiter.admit_call("pat:d", now_s=0, today=DAY)
    assert (refused.allowed, refused.policy, refused.daily_remaining) == (False, "DAILY", 0)
    next_day = limiter.admit_call("pat:d", now_s=1, today=date(2026, 1, 2))
    assert (next_day.allowed, next_day.daily_remaining) == (True, 2)


def test_search_has_its_own_one_second_window_and_counts_toward_the_day() -> None:
    limiter = _limiter(ten_second=1, daily=10, search=2)
    assert limiter.admit_search(now_s=0.0, today=DAY).allowed
    assert limiter.admit_search(now_s=0.5, today=DAY).allowed
    refused = limiter.admit_search(now_s=0.9, today=DAY)
    assert (refused.allowed, refused.policy) == (False, "SECONDLY")
    assert limiter.admit_search(now_s=1.0, today=DAY).allowed
    # Searches do not use the app's 10-second window, but do use the day.
    call = limiter.admit_call("app", now_s=1.0, today=DAY)
    assert (call.allowed, call.daily_remaining) == (True, 6)


def test_reset_forgets_every_count() -> None:
    limiter = _limiter(ten_second=1, daily=1)
    limiter.admit_call("app", now_s=0, today=DAY)
    limiter.reset()
    assert limiter.admit_call("app", now_s=0, today=DAY).allowed
