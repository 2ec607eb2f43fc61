"""The per-workspace HubSpot rate budget: when the next call may go, as one client sees it.

Pure bookkeeping over an injected ``Clock``. A workspace's writer (and its CRM reads)
``acquire`` before each call and feed back what HubSpot answered: ``observe`` the
``X-HubSpot-RateLimit-*`` headers, ``on_rate_limited`` after a 429. Rules (HubSpot's figures
and 429 bodies: reference/hubspot.md §6):

- Burst: at most ``burst * (1 - headroom)`` calls in any rolling ``window_s``; reads and
  writes share it. A call may go when fewer were sent in the last ``window_s``; a call sent
  exactly ``window_s`` ago has left. E.g. 190 per 10 s: 190 calls at t=0 go at once, the
  191st goes at t=10.0.
- Search: HubSpot limits its CRM search endpoints separately from the burst (5 requests per
  second per account, §6), so searches do not count toward the burst; they have their own
  rolling one-second window. E.g. 5 searches at t=0, the 6th at t=1.0, while standard calls
  go on meanwhile.
- Daily: every call, search included, counts toward the account's daily limit. When it is
  spent, ``acquire`` raises ``BudgetExceededError`` naming the reset instead of waiting for
  hours. E.g. with 625,000 calls spent by 18:00 UTC, the next ``acquire`` raises "... resets
  at 2026-01-02T00:00:00+00:00" with ``retry_after_s`` = 21600.
- Daily reset: HubSpot resets the daily count at midnight in the account's time zone, which
  no header tells. ``daily_resets_at`` computes the next reset; the default, the next
  midnight UTC, is an approximation that is off by the account's UTC offset. An account east
  of UTC resets before we think (we wait longer than needed); one west of UTC resets after
  (a call at our midnight meets a 429 DAILY, which then holds the budget until our next
  midnight). Pass the account's zone when it is known (HubSpot's account details carry it):
  ``daily_resets_at=partial(next_midnight, zone=ZoneInfo("America/Chicago"))``.
- Headers: ``Max`` and ``Interval-Milliseconds`` replace the burst and window when they
  differ (a larger or smaller tier than configured). ``Remaining`` lower than our own count
  allows means other clients of the same app spend the window too: the difference is
  counted as calls sent now. E.g. after our 10 calls, ``Max`` 190 ``Remaining`` 100 leaves
  100 calls, not 180. HubSpot counted ``Remaining`` when the request arrived, up to a round
  trip before we read it, so our calls of the last window, margin and round trip count as
  ours: our own calls just leaving the window are not mistaken for another client's. A
  ``Remaining`` above our count never frees a call and nothing raises
  the window above ``Max``. ``Daily`` and ``Daily-Remaining`` are the account's own count of
  the day (all its apps), so they replace ours, lower or higher.
- 429: ``TEN_SECONDLY_ROLLING`` (or a policy we do not know) holds standard calls until the
  window has fully rolled, ``SECONDLY`` holds searches for 1 s; ``Retry-After`` wins when
  HubSpot sends it. ``DAILY`` marks the day spent until the reset (until ``Retry-After``,
  when sent: the server knows the account's midnight, so the day ends then).
- Fairness: concurrent ``acquire`` calls of one kind are served in arrival order (an
  ``asyncio.Lock`` queues its waiters first in, first out), so a newcomer never takes the
  slot an earlier caller has been waiting for.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.clock import Clock
from runtime.errors import BudgetExceededError

if TYPE_CHECKING:
    # For annotations only: runtime.crm.hubspot imports runtime.settings, which imports us.
    from runtime.crm.hubspot.rate_limits import RateLimitHeaders

__all__ = [
    "SEARCH_WINDOW_S",
    "BudgetSnapshot",
    "CallKind",
    "DailyResetsAt",
    "RateBudget",
    "RateLimitOverrides",
    "RateLimits",
    "next_midnight",
    "usable_burst",
]

CallKind = Literal["standard", "search"]
DailyResetsAt = Callable[[datetime], datetime]
"""Given the current time, the next time the account's daily count resets (strictly later)."""

SEARCH_WINDOW_S = 1.0
"""HubSpot's search limit is per second (§6)."""
_KINDS: tuple[CallKind, ...] = ("standard", "search")
# Float slack for window edges: a clock slept to "t + window" may land a few ulps short.
_EPSILON_S = 1e-9

_Burst = Annotated[int, Field(ge=1)]
_WindowS = Annotated[float, Field(gt=0)]
_Daily = Annotated[int, Field(ge=1)]
_SearchPerS = Annotated[int, Field(ge=1)]
_Headroom = Annotated[float, Field(ge=0, lt=1)]


def usable_burst(burst: int, headroom: float) -> int:
    """Calls per window this client may spend: ``floor(burst * (1 - headroom))``.

    E.g. ``usable_burst(190, 0.2) == 152``: 38 calls of each window stay free for the other
    clients of the same app.
    """
    return math.floor(burst * (1 - headroom) + _EPSILON_S)


class RateLimits(BaseModel):
    """HubSpot's limits for one account and app, as configured (reference/hubspot.md §6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    burst: _Burst = Field(
        default=190,
        description=(
            "Calls per rolling window per app: HubSpot gives 100 on Free and Starter, 190 on"
            " Professional and Enterprise, 250 with the API limit increase, 110 per installing"
            " account to a marketplace OAuth app."
        ),
    )
    window_s: _WindowS = Field(
        default=10.0,
        description="The rolling burst window; HubSpot's is 10 s (Interval-Milliseconds 10000).",
    )
    daily: _Daily | None = Field(
        default=625_000,
        description=(
            "Calls per account per day, search included: 250,000 on Free and Starter, 625,000"
            " on Professional, 1,000,000 on Enterprise, +1,000,000 per limit increase pack."
            " None: unknown or unlimited (HubSpot states none for marketplace OAuth apps)."
        ),
    )
    search_per_s: _SearchPerS = Field(
        default=5,
        description="CRM search requests per second per account: HubSpot allows 5.",
    )
    headroom: _Headroom = Field(
        default=0.0,
        description=(
            "Fraction of the burst left unused for other clients of the same app (the burst"
            " is per app, shared by every process holding its token); 0.2 keeps 38 of 190."
        ),
    )
    window_margin_s: float = Field(
        default=0.3,
        ge=0.0,
        le=5.0,
        description=(
            "Seconds added to the window when judging it: a call is counted when it is let go"
            " and HubSpot counts it when it arrives, so a late-arriving first call would"
            " otherwise let the window's last call in early (a 429). 0.3 s costs 3%."
        ),
    )

    @model_validator(mode="after")
    def _headroom_leaves_a_call(self) -> Self:
        if usable_burst(self.burst, self.headroom) < 1:
            raise ValueError(f"headroom {self.headroom} leaves no call of a burst of {self.burst}")
        return self

    @property
    def window_capacity(self) -> int:
        """Calls this client may send per window, once the headroom is kept aside."""
        return usable_burst(self.burst, self.headroom)


class RateLimitOverrides(BaseModel):
    """Some of ``RateLimits`` for one large tenant; the fields left out keep the defaults.

    E.g. ``{"burst": 250, "daily": 2000000}`` for an account with the limit increase pack;
    ``{"daily": null}`` for one whose daily limit is unknown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    burst: _Burst | None = None
    window_s: _WindowS | None = None
    daily: _Daily | None = None
    search_per_s: _SearchPerS | None = None
    headroom: _Headroom | None = None

    def apply(self, base: RateLimits) -> RateLimits:
        """``base`` with the fields given here replaced, validated together."""
        return RateLimits.model_validate(
            {**base.model_dump(), **self.model_dump(exclude_unset=True)}
        )


def next_midnight(now: datetime, zone: tzinfo = UTC) -> datetime:
    """The first midnight in ``zone`` strictly after ``now``, in UTC.

    E.g. 2026-01-01T18:00Z → 2026-01-02T00:00Z; in America/Chicago → 2026-01-02T06:00Z.
    """
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return midnight.astimezone(UTC)


@dataclass(frozen=True)
class BudgetSnapshot:
    """What the budget knows at one moment; the workspace actor reports it.

    ``blocked_until`` / ``search_blocked_until`` are set while a 429 holds that kind of call
    back; ``daily_spent_until`` while the day's budget is spent (by our count or a 429).
    """

    calls_in_window: int
    window_capacity: int
    burst: int
    window_s: float
    searches_in_window: int
    search_capacity: int
    daily_used: int
    daily_limit: int | None
    daily_resets_at: datetime
    daily_spent_until: datetime | None
    blocked_until: datetime | None
    search_blocked_until: datetime | None
    rate_limited_count: int


class RateBudget:
    """One account's HubSpot budget as one client sees it; see the module docstring.

    Args:
        limits: the configured limits; headers may later correct the burst, window and
            daily limit (``limits`` itself stays as configured).
        clock: the time source; ``acquire`` waits with ``clock.sleep``.
        daily_resets_at: the next daily reset after a given time (default: next midnight
            UTC, an approximation of the account's midnight).
    """

    def __init__(
        self,
        limits: RateLimits,
        *,
        clock: Clock,
        daily_resets_at: DailyResetsAt = next_midnight,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._next_reset_after = daily_resets_at
        self._burst = limits.burst
        self._window_s = limits.window_s
        self._daily_limit = limits.daily
        # Send times (clock.monotonic_s), oldest first; at most one window's worth each.
        self._sent: deque[float] = deque()
        self._searches: deque[float] = deque()
        self._blocked_until_s: dict[CallKind, float] = dict.fromkeys(_KINDS, -math.inf)
        self._daily_used = 0
        self._resets_at = self._next_reset(clock.now())
        self._daily_spent_until: datetime | None = None
        self._rate_limited_count = 0
        self._locks: dict[CallKind, asyncio.Lock] = {kind: asyncio.Lock() for kind in _KINDS}

    async def acquire(self, kind: CallKind = "standard") -> None:
        """Wait until a call of ``kind`` may go, then count it as sent.

        Callers of one kind are served in arrival order; a cancelled caller counts nothing.

        Raises:
            BudgetExceededError: the daily budget is spent; the message names the reset and
                ``retry_after_s`` is the time until it.
        """
        _check_kind(kind)
        async with self._locks[kind]:
            while True:
                now = self._clock.now()
                spent_until = self._daily_spent_until_at(now)
                if spent_until is not None:
                    raise self._daily_error(spent_until, now)
                wait_s = self._call_delay_s(kind, self._clock.monotonic_s())
                if wait_s == 0.0:
                    break
                await self._clock.sleep(wait_s)
            # No await between the last check and the count: no other task sees it in between.
            self._record(kind, self._clock.monotonic_s())

    def restore(self, sent: Sequence[tuple[datetime, CallKind]], *, daily_used: int) -> None:
        """Start from calls made before this budget existed (a workspace activated again
        after passivation or a crash): their send times, oldest first, and the day's count.

        HubSpot still counts a call sent up to a window ago, and the day's calls until the
        reset; without them a fresh budget would let a full burst go into a window the last
        activation had spent (a 429 for each call over).
        """
        now, now_s = self._clock.now(), self._clock.monotonic_s()
        for sent_at, kind in sent:
            _check_kind(kind)
            self._note_sent(kind, now_s - (now - sent_at).total_seconds())
        self._roll_day(now)
        self._daily_used = max(self._daily_used, daily_used)

    def delay_s(self, kind: CallKind = "standard") -> float:
        """Seconds until a call of ``kind`` may go (0.0: now), counting nothing.

        While the daily budget is spent this is the time until it resets (``acquire`` raises
        instead of waiting). Callers already queued in ``acquire`` are not counted.
        """
        _check_kind(kind)
        now = self._clock.now()
        spent_until = self._daily_spent_until_at(now)
        if spent_until is not None:
            return max((spent_until - now).total_seconds(), 0.0)
        return self._call_delay_s(kind, self._clock.monotonic_s())

    def observe(self, headers: RateLimitHeaders) -> None:
        """Learn the limits and what is left from one answer's ``X-HubSpot-RateLimit-*``."""
        now_s = self._clock.monotonic_s()
        if headers.interval_max is not None and headers.interval_max > 0:
            self._burst = headers.interval_max
        if headers.interval_ms is not None and headers.interval_ms > 0:
            self._window_s = headers.interval_ms / 1000
        # HubSpot counted ``Remaining`` when our request arrived, up to a round trip ago
        # and with its own view of when our calls arrived: any of ours sent within a window,
        # the margin and that round trip may have been in its count. Counting fewer of ours
        # would take our own calls that just left the window for another client's, each
        # holding a slot for a whole window (10 of 190 slots in a steady drain, measured).
        lookback_s = self._window_s + self.limits.window_margin_s + (headers.round_trip_s or 0.0)
        _keep_last(self._sent, self._kept_sends())
        if headers.interval_remaining is not None:
            spent_by_all = self._burst - max(headers.interval_remaining, 0)
            spent_by_others = spent_by_all - _sent_since(self._sent, now_s - lookback_s)
            if spent_by_others > 0:
                # Their send times are unknown; "now" is the latest they can be, so it errs
                # on the side of waiting too long rather than meeting a 429.
                self._sent.extend([now_s] * spent_by_others)

        if headers.daily is not None and headers.daily > 0:
            self._daily_limit = headers.daily
        if headers.daily_remaining is not None and self._daily_limit is not None:
            self._roll_day(self._clock.now())
            remaining = min(max(headers.daily_remaining, 0), self._daily_limit)
            self._daily_used = self._daily_limit - remaining

    def on_rate_limited(self, policy: str | None, retry_after_s: float | None) -> None:
        """Hold calls back after a 429 of ``policy`` (``policyName``; None when unknown)."""
        self._rate_limited_count += 1
        if retry_after_s is not None and (retry_after_s < 0 or math.isnan(retry_after_s)):
            retry_after_s = None
        now_s = self._clock.monotonic_s()
        if policy == "DAILY":
            now = self._clock.now()
            self._roll_day(now)
            if retry_after_s is not None:
                self._resets_at = now + timedelta(seconds=retry_after_s)
            if self._daily_limit is not None:
                self._daily_used = max(self._daily_used, self._daily_limit)
            until = self._resets_at
            if self._daily_spent_until is not None:
                until = max(until, self._daily_spent_until)
            self._daily_spent_until = until
            return
        if policy == "SECONDLY":
            kind: CallKind = "search"
            hold_s = SEARCH_WINDOW_S if retry_after_s is None else retry_after_s
        else:
            # TEN_SECONDLY_ROLLING, and any policy we do not know. When our own calls fill
            # the window, HubSpot frees a slot when the oldest of them leaves it: hold until
            # then (a call that arrived a little early costs a moment, not a window).
            # Otherwise other clients spend the window too, at times we do not know: wait
            # the whole window out, which is always enough.
            kind = "standard"
            hold_s = self._window_s if retry_after_s is None else retry_after_s
            window_s = self._window_s + self.limits.window_margin_s
            ours = _sent_since(self._sent, now_s - window_s)
            if retry_after_s is None and ours >= self._window_capacity():
                hold_s = max(
                    _window_delay_s(self._sent, window_s, self._window_capacity(), now_s), 0.0
                )
        self._blocked_until_s[kind] = max(self._blocked_until_s[kind], now_s + hold_s)

    def snapshot(self) -> BudgetSnapshot:
        """The figures as of now."""
        now = self._clock.now()
        now_s = self._clock.monotonic_s()
        spent_until = self._daily_spent_until_at(now)
        return BudgetSnapshot(
            calls_in_window=min(_sent_since(self._sent, now_s - self._window_s), self._burst),
            window_capacity=self._window_capacity(),
            burst=self._burst,
            window_s=self._window_s,
            searches_in_window=_sent_since(self._searches, now_s - SEARCH_WINDOW_S),
            search_capacity=self.limits.search_per_s,
            daily_used=self._daily_used,
            daily_limit=self._daily_limit,
            daily_resets_at=self._resets_at,
            daily_spent_until=spent_until,
            blocked_until=self._blocked_until(now, now_s, "standard"),
            search_blocked_until=self._blocked_until(now, now_s, "search"),
            rate_limited_count=self._rate_limited_count,
        )

    def _kept_sends(self) -> int:
        # The window needs the last ``burst`` sends; ``observe`` looks a little further back.
        return 2 * self._burst

    def _window_capacity(self) -> int:
        # A Max learned from headers is not validated against the headroom: keep one call.
        return max(usable_burst(self._burst, self.limits.headroom), 1)

    def _call_delay_s(self, kind: CallKind, now_s: float) -> float:
        blocked_s = _remaining_s(self._blocked_until_s[kind], now_s)
        if kind == "search":
            window_s = _window_delay_s(
                self._searches, SEARCH_WINDOW_S, self.limits.search_per_s, now_s
            )
        else:
            window_s = _window_delay_s(
                self._sent,
                self._window_s + self.limits.window_margin_s,
                self._window_capacity(),
                now_s,
            )
        return max(blocked_s, window_s)

    def _record(self, kind: CallKind, now_s: float) -> None:
        self._note_sent(kind, now_s)
        self._daily_used += 1

    def _note_sent(self, kind: CallKind, sent_s: float) -> None:
        if kind == "search":
            self._searches.append(sent_s)
            _keep_last(self._searches, self.limits.search_per_s)
        else:
            self._sent.append(sent_s)
            _keep_last(self._sent, self._kept_sends())

    def _next_reset(self, now: datetime) -> datetime:
        resets_at = self._next_reset_after(now)
        if resets_at <= now:
            raise ValueError(f"daily_resets_at({now.isoformat()}) must return a later time")
        return resets_at

    def _roll_day(self, now: datetime) -> None:
        if now >= self._resets_at:
            self._daily_used = 0
            self._resets_at = self._next_reset(now)

    def _daily_spent_until_at(self, now: datetime) -> datetime | None:
        self._roll_day(now)
        if self._daily_spent_until is not None:
            if now < self._daily_spent_until:
                return self._daily_spent_until
            self._daily_spent_until = None
        if self._daily_limit is not None and self._daily_used >= self._daily_limit:
            return self._resets_at
        return None

    def _daily_error(self, until: datetime, now: datetime) -> BudgetExceededError:
        limit = f" ({self._daily_limit:,} calls)" if self._daily_limit is not None else ""
        return BudgetExceededError(
            f"the HubSpot daily API limit{limit} is spent; it resets at {until.isoformat()}",
            retry_after_s=(until - now).total_seconds(),
        )

    def _blocked_until(self, now: datetime, now_s: float, kind: CallKind) -> datetime | None:
        remaining_s = _remaining_s(self._blocked_until_s[kind], now_s)
        return now + timedelta(seconds=remaining_s) if remaining_s > 0 else None


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")


def _sent_since(sent: deque[float], cutoff_s: float) -> int:
    """How many of ``sent`` (oldest first) are after ``cutoff_s``: a call one full window
    old has left it. Counts without dropping: ``observe`` looks further back than a window."""
    count = 0
    for sent_s in reversed(sent):
        if sent_s <= cutoff_s + _EPSILON_S:
            break
        count += 1
    return count


def _keep_last(sent: deque[float], count: int) -> None:
    while len(sent) > count:
        sent.popleft()


def _window_delay_s(sent: deque[float], window_s: float, capacity: int, now_s: float) -> float:
    """Seconds until fewer than ``capacity`` of ``sent`` are within the last ``window_s``."""
    if _sent_since(sent, now_s - window_s) < capacity:
        return 0.0
    # The call whose leaving frees a slot: the capacity-th most recent one.
    return _remaining_s(sent[len(sent) - capacity] + window_s, now_s)


def _remaining_s(until_s: float, now_s: float) -> float:
    remaining = until_s - now_s
    return remaining if remaining > _EPSILON_S else 0.0
