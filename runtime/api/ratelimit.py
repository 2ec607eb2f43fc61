"""Per-token request rate limits: a token bucket per caller, kept by each replica.

With several replicas a token may reach the limit times the number of replicas; that
bound is what ops tune ``CRM_AGENTS_API__RATE_LIMIT_PER_S`` against. Buckets of callers
idle long enough to be full again are dropped, so memory follows the active callers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "retry_after_header"]

_SWEEP_EVERY = 1024  # requests between drops of full buckets


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_s: float, burst: int, *, now: Callable[[], float]) -> None:
        self._per_s = per_s
        self._burst = float(burst)
        self._now = now
        self._buckets: dict[bytes | str, _Bucket] = {}
        self._until_sweep = _SWEEP_EVERY

    def acquire(self, caller: bytes | str) -> float | None:
        """Take one request for ``caller``: None when allowed, else seconds to wait."""
        now = self._now()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._per_s)
        bucket.at = now
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._per_s

    def _sweep(self, now: float) -> None:
        self._until_sweep = _SWEEP_EVERY
        refill_s = self._burst / self._per_s
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < refill_s}


def retry_after_header(wait_s: float) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it is let in."""
    return str(max(1, math.ceil(wait_s)))
