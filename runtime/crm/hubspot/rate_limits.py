"""The ``X-HubSpot-RateLimit-*`` headers of one answer, read into a small model.

Every non-search answer carries them (reference/hubspot.md §6); a rate budget learns the
account's limits and what is left from them. ``Daily-Remaining`` is absent for OAuth apps.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

__all__ = ["RateLimitHeaders", "parse_rate_limit_headers", "parse_retry_after_s"]

_PREFIX = "x-hubspot-ratelimit-"


class RateLimitHeaders(BaseModel):
    """What one answer said about the limits; a field is None when its header was absent."""

    model_config = ConfigDict(frozen=True)

    daily: int | None = None
    daily_remaining: int | None = None
    interval_ms: int | None = None
    interval_max: int | None = None
    interval_remaining: int | None = None
    round_trip_s: float | None = None
    """Not a header: seconds from sending the request to reading this answer, when known.
    HubSpot counted the window at some moment in between, so a reader comparing
    ``interval_remaining`` with its own sends must allow for it."""


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitHeaders | None:
    """The rate-limit headers of an answer, or None when it carries none (search answers)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    values = {
        "daily": _int(lowered.get(_PREFIX + "daily")),
        "daily_remaining": _int(lowered.get(_PREFIX + "daily-remaining")),
        "interval_ms": _int(lowered.get(_PREFIX + "interval-milliseconds")),
        "interval_max": _int(lowered.get(_PREFIX + "max")),
        "interval_remaining": _int(lowered.get(_PREFIX + "remaining")),
    }
    if all(value is None for value in values.values()):
        return None
    return RateLimitHeaders(**values)


def parse_retry_after_s(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds; the HTTP-date form is not used by HubSpot and is ignored."""
    lowered = {name.lower(): value for name, value in headers.items()}
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None
