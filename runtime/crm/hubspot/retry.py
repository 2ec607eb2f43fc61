"""When to try a HubSpot request again, and after how long: pure functions of what failed.

The caller (``session.py``) describes a failed attempt as a ``Failure`` and asks
``retry_delay_s``; ``None`` means raise now. Rules (reference/hubspot.md §6):

- 429 DAILY: never retried; the budget only comes back at midnight.
- 429 otherwise: ``Retry-After`` when sent, else the rate window
  (``X-HubSpot-RateLimit-Interval-Milliseconds``, 10 s when absent), 1 s for search's
  SECONDLY limit. These waits are the server's, so they get no jitter and no cap: a wait
  longer than ``max_delay_s`` raises at once, carrying the wait for the caller to schedule.
- 477 Migration in Progress: ``Retry-After``, the same way (backoff if it is missing).
- 423 Locked: backoff, but at least 2 s (a lock lasts 2 s).
- 5xx, dropped connections, timeouts: exponential backoff with full jitter, capped.
- Any other status: not retried.

A request that is not safe to replay (batch create: HubSpot does not deduplicate writes) is
retried only when it provably never reached HubSpot: a refused connection, or a refusal
status (429, 423, 477) that says the request was not carried out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from runtime.settings import HubSpotSettings

__all__ = [
    "LOCKED_MIN_DELAY_S",
    "NO_RETRIES",
    "RATE_WINDOW_DEFAULT_S",
    "SECONDLY_WINDOW_S",
    "Failure",
    "RetryPolicy",
    "rate_limit_wait_s",
    "retry_delay_s",
]

RATE_WINDOW_DEFAULT_S = 10.0
"""The burst window when an answer does not say its length (TEN_SECONDLY_ROLLING)."""
SECONDLY_WINDOW_S = 1.0
"""Search is limited per second and its answers carry no rate-limit headers."""
LOCKED_MIN_DELAY_S = 2.0
"""HubSpot's 423 Locked lasts 2 s; retrying sooner only meets the lock again."""


@dataclass(frozen=True)
class RetryPolicy:
    """How persistent the client is. ``rng`` drives the jitter; inject a seeded one in tests."""

    max_retries: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    rng: random.Random | None = None
    retry_rate_limited: bool = True
    """False: a 429 raises at once, for a caller whose rate budget sends it again (the
    budget must count every attempt); other failures are still retried."""

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay_s <= 0 or self.max_delay_s <= 0:
            raise ValueError("retries must be >= 0 and delays > 0")

    @classmethod
    def from_settings(
        cls, settings: HubSpotSettings, *, rng: random.Random | None = None
    ) -> RetryPolicy:
        return cls(
            max_retries=settings.max_retries,
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
            rng=rng,
        )

    def backoff_s(self, retry_number: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(n-1))], so clients spread out."""
        ceiling_s = min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry_number - 1))
        draw = self.rng.random() if self.rng is not None else random.random()
        return ceiling_s * draw


NO_RETRIES = RetryPolicy(max_retries=0)
"""Every failure raises at once; for callers that account every attempt themselves."""


@dataclass(frozen=True)
class Failure:
    """One failed attempt, as much as the retry decision needs to know about it.

    ``status`` is None when no answer came. ``sent`` is False only when the request
    provably never reached HubSpot (the connection was refused, the token could not be had).
    ``server_wait_s`` is the wait HubSpot asked for (see ``rate_limit_wait_s``), if any.
    """

    status: int | None = None
    sent: bool = True
    rate_limit_policy: str | None = None
    server_wait_s: float | None = None


def rate_limit_wait_s(
    policy: str | None, *, retry_after_s: float | None, interval_ms: int | None
) -> float | None:
    """How long a 429 asks us to wait; None for the daily limit (unless Retry-After says).

    Retry-After on REST 429s is undocumented (§6), so the rate window is the usual answer.
    """
    if retry_after_s is not None:
        return retry_after_s
    if policy == "DAILY":
        return None
    if policy == "SECONDLY":
        return SECONDLY_WINDOW_S
    if interval_ms is not None and interval_ms > 0:
        return interval_ms / 1000
    return RATE_WINDOW_DEFAULT_S


def retry_delay_s(
    failure: Failure, *, retry_number: int, policy: RetryPolicy, replay_safe: bool
) -> float | None:
    """Seconds to wait before retry number ``retry_number`` (1-based), or None to give up."""
    if retry_number > policy.max_retries:
        return None
    status = failure.status
    if not failure.sent:
        return policy.backoff_s(retry_number)
    if status is None:
        # Dropped or timed out after sending: HubSpot may have carried the request out.
        return policy.backoff_s(retry_number) if replay_safe else None
    if status == 429:
        if failure.rate_limit_policy == "DAILY" or not policy.retry_rate_limited:
            return None
        return _server_wait(failure.server_wait_s, policy)
    if status == 477:
        if failure.server_wait_s is None:
            return policy.backoff_s(retry_number)
        return _server_wait(failure.server_wait_s, policy)
    if status == 423:
        return max(LOCKED_MIN_DELAY_S, policy.backoff_s(retry_number))
    if status >= 500:
        # A 5xx (a 504 gateway timeout above all) may come after the write happened.
        return policy.backoff_s(retry_number) if replay_safe else None
    return None


def _server_wait(wait_s: float | None, policy: RetryPolicy) -> float | None:
    if wait_s is None or wait_s > policy.max_delay_s:
        return None
    return max(wait_s, 0.0)
