"""Metric windows as people write them: ``15m``, ``1h``, ``24h``, ``7d``."""

from __future__ import annotations

import re

from runtime.errors import InvalidInputError

__all__ = ["MAX_WINDOW_S", "parse_window", "window_label"]

MAX_WINDOW_S = 7 * 86_400
"""The longest window: a week of minutes (10,080 rows) is what a workspace keeps in memory."""

_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86_400}


def parse_window(text: str, *, field: str = "window") -> int:
    """Seconds in a window such as ``15m``, ``1h`` or ``7d`` (whole minutes, hours, days).

    Raises:
        InvalidInputError: not such a duration, zero, or longer than ``MAX_WINDOW_S``;
            the problem names ``field``.
    """
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise InvalidInputError.one(field, f"{text!r} is not a duration like 15m, 1h or 7d")
    seconds = int(match["amount"]) * _UNIT_S[match["unit"]]
    if seconds == 0:
        raise InvalidInputError.one(field, f"{text!r} is empty: a window is at least 1m")
    if seconds > MAX_WINDOW_S:
        raise InvalidInputError.one(
            field, f"{text!r} is longer than the longest window, {window_label(MAX_WINDOW_S)}"
        )
    return seconds


def window_label(window_s: int) -> str:
    """The shortest way to write a window of whole minutes (``3600`` is ``1h``)."""
    for unit, size in (("d", 86_400), ("h", 3600)):
        if window_s % size == 0:
            return f"{window_s // size}{unit}"
    return f"{window_s // 60}m"
