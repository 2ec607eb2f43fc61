"""HubSpot's rate limits (reference §6) as plain bookkeeping; the caller passes the time.

- A rolling 10-second window per app (each private-app token is an app; OAuth tokens share
  their app's window), excluding search.
- A daily budget per account, shared by every app and by search; it resets at midnight of
  the account's time zone (the caller passes that day).
- Search: a per-account rolling one-second window.

A call refused with 429 is not counted, in any window or in the day. HubSpot does not
document either way; counting refusals would let a client that retries too early lock
itself out indefinitely, and the documented advice (wait for the window) assumes it does not.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = ["INTERVAL_MS", "LimitDecision", "Policy", "RateLimiter"]

INTERVAL_MS = 10_000
_INTERVAL_S = INTERVAL_MS / 1000
_SEARCH_WINDOW_S = 1.0

Policy = Literal["TEN_SECONDLY_ROLLING", "DAILY", "SECONDLY"]


@dataclass(frozen=True)
class LimitDecision:
    """Whether a call may proceed, which policy refused it, and what is left afterwards."""

    allowed: bool
    policy: Policy | None
    interval_max: int
    interval_remaining: int
    daily: int
    daily_remaining: int


class RateLimiter:
    """Counts admitted calls per app window, per account day, and per search second."""

    def __init__(self, *, ten_second_limit: int, daily_limit: int, search_per_second: int) -> None:
        self.ten_second_limit = ten_second_limit
        self.daily_limit = daily_limit
        self.search_per_second = search_per_second
        self._windows: dict[str, deque[float]] = {}
        self._searches: deque[float] = deque()
        self._day: date | None = None
        self._day_count = 0

    def admit_call(self, app_key: str, *, now_s: float, today: date) -> LimitDecision:
        """Admit one non-search call of ``app_key`` at monotonic time ``now_s``, or refuse it."""
        window = self._windows.setdefault(app_key, deque())
        _expire(window, now_s - _INTERVAL_S)
        self._roll_day(today)
        policy: Policy | None = None
        if self._day_count >= self.daily_limit:
            policy = "DAILY"
        elif len(window) >= self.ten_second_limit:
            policy = "TEN_SECONDLY_ROLLING"
        else:
            window.append(now_s)
            self._day_count += 1
        return LimitDecision(
            allowed=policy is None,
            policy=policy,
            interval_max=self.ten_second_limit,
            interval_remaining=max(self.ten_second_limit - len(window), 0),
            daily=self.daily_limit,
            daily_remaining=max(self.daily_limit - self._day_count, 0),
        )

    def admit_search(self, *, now_s: float, today: date) -> LimitDecision:
        """Admit one search call of the account, or refuse it (SECONDLY or DAILY)."""
        _expire(self._searches, now_s - _SEARCH_WINDOW_S)
        self._roll_day(today)
        policy: Policy | None = None
        if self._day_count >= self.daily_limit:
            policy = "DAILY"
        elif len(self._searches) >= self.search_per_second:
            policy = "SECONDLY"
        else:
            self._searches.append(now_s)
            self._day_count += 1
        return LimitDecision(
            allowed=policy is None,
            policy=policy,
            interval_max=self.search_per_second,
            interval_remaining=max(self.search_per_second - len(self._searches), 0),
            daily=self.daily_limit,
            daily_remaining=max(self.daily_limit - self._day_count, 0),
        )

    def peek(self, app_key: str, *, now_s: float, today: date) -> LimitDecision:
        """What is left for ``app_key`` without counting a call (for an injected 429)."""
        window = self._windows.setdefault(app_key, deque())
        _expire(window, now_s - _INTERVAL_S)
        self._roll_day(today)
        return LimitDecision(
            allowed=True,
            policy=None,
            interval_max=self.ten_second_limit,
            interval_remaining=max(self.ten_second_limit - len(window), 0),
            daily=self.daily_limit,
            daily_remaining=max(self.daily_limit - self._day_count, 0),
        )

    def reset(self) -> None:
        self._windows.clear()
        self._searches.clear()
        self._day, self._day_count = None, 0

    def _roll_day(self, today: date) -> None:
        if today != self._day:
            self._day, self._day_count = today, 0


def _expire(window: deque[float], cutoff_s: float) -> None:
    """Drop calls at or before ``cutoff_s``: a call exactly one window old no longer counts."""
    while window and window[0] <= cutoff_s:
        window.popleft()
