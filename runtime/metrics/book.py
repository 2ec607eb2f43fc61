"""A workspace's metrics in memory: per-minute counters, each past minute loaded once.

A frame covers the last ``window_s`` seconds as whole UTC minutes, the current (partial)
minute last: ``1h`` is 60 rows. Rows are loaded from Postgres by minute; a minute is
*final* once ``settle_s`` has passed since it ended (the time a transaction that began in
it has to commit: its rows carry the transaction's start time). A refresh therefore loads
only the minutes that are not final yet, plus minutes of the window never loaded before
(a first read, or a longer window than any asked so far); final minutes stay cached.

The one event that can leave a final minute: a decision voided later (an approved value
that went back to review because the CRM's value changed meanwhile) loses its
``decided_at``, so the rows no longer count it while a cached minute still does, until the
book is rebuilt (a workspace's next activation).

Memory is bounded: minutes older than the longest window (``MAX_WINDOW_S``) are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from runtime.metrics.models import COUNTERS, MinuteCounts, WindowTotals
from runtime.metrics.windows import MAX_WINDOW_S

__all__ = ["FRAME_SCHEMA", "MetricsBook", "MinuteLoader", "totals"]

MinuteLoader = Callable[[datetime, datetime], Awaitable[Sequence[MinuteCounts]]]
"""Loads the minutes in [since, until) where something happened (``MetricsRepo.minutes``)."""

FRAME_SCHEMA = pl.Schema(
    [
        ("minute", pl.Datetime("us", "UTC")),
        *((name, pl.Int64()) for name in COUNTERS),
        ("mean_confidence", pl.Float64()),
    ]
)
"""A metrics frame's columns: the minute's start, the counters, the minute's mean
confidence of the fields proposed in it (null when none was)."""

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class _Span:
    """Minutes in [start, end) are loaded; those before ``final_until`` will not change."""

    start: datetime
    final_until: datetime
    end: datetime


class MetricsBook:
    """One workspace's per-minute counters (see the module docstring).

    Refreshes take turns (an actor's calls interleave at every await), so two readers never
    load the same minutes at once or see a half-replaced span.
    """

    def __init__(
        self, load: MinuteLoader, *, settle_s: float = 60.0, keep_s: int = MAX_WINDOW_S
    ) -> None:
        self._load = load
        self._settle = timedelta(seconds=settle_s)
        self._keep_s = keep_s
        self._minutes: dict[datetime, MinuteCounts] = {}
        self._span: _Span | None = None
        self._lock = asyncio.Lock()

    async def read(self, window_s: int, *, now: datetime) -> pl.DataFrame:
        """Refresh, then the frame of the last ``window_s`` seconds at ``now``."""
        await self.refresh(window_s, now=now)
        return self.frame(window_s, now=now)

    async def refresh(self, window_s: int, *, now: datetime) -> None:
        """Load what the window at ``now`` needs and the book does not hold as final."""
        start, end = _bounds(window_s, now, self._keep_s)
        final_until = _minute(now - self._settle)
        async with self._lock:
            span = self._span
            if span is None or start >= span.final_until or end <= span.start:
                # Nothing final to reuse (a first read, or a gap since the last one).
                self._minutes.clear()
                gaps = [(start, end)]
                loaded_from = start
            else:
                gaps = [(start, span.start), (span.final_until, end)]
                loaded_from = min(start, span.start)
            for since, until in gaps:
                if since < until:
                    self._replace(since, until, await self._load(since, until))
            keep_from = max(loaded_from, end - timedelta(seconds=self._keep_s))
            self._minutes = {m: c for m, c in self._minutes.items() if keep_from <= m < end}
            self._span = _Span(keep_from, min(max(final_until, keep_from), end), end)

    def frame(self, window_s: int, *, now: datetime) -> pl.DataFrame:
        """The window's minutes, oldest first, zero-filled (see ``FRAME_SCHEMA``).

        Raises:
            RuntimeError: the window was not loaded by ``refresh`` (at this ``now``).
        """
        start, end = _bounds(window_s, now, self._keep_s)
        span = self._span
        if span is None or start < span.start or end > span.end:
            raise RuntimeError(
                f"metrics from {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC are not loaded:"
                " refresh() first"
            )
        minutes = [start + i * _MINUTE for i in range(window_s // 60)]
        found = [self._minutes.get(m) for m in minutes]
        columns: dict[str, list[object]] = {"minute": list(minutes)}
        for name in COUNTERS:
            columns[name] = [0 if c is None else getattr(c, name) for c in found]
        columns["mean_confidence"] = [
            c.confidence_sum / c.fields_proposed if c is not None and c.fields_proposed else None
            for c in found
        ]
        return pl.DataFrame(columns, schema=FRAME_SCHEMA)

    def _replace(self, since: datetime, until: datetime, rows: Sequence[MinuteCounts]) -> None:
        for minute in [m for m in self._minutes if since <= m < until]:
            del self._minutes[minute]
        for row in rows:
            self._minutes[_minute(row.minute)] = row


def totals(frame: pl.DataFrame) -> WindowTotals:
    """A frame's counters added up; the mean confidence weighs each proposed field once."""
    sums = frame.select(pl.col(name).sum() for name in COUNTERS).row(0, named=True)
    weighted = frame.select((pl.col("mean_confidence") * pl.col("fields_proposed")).sum()).item()
    proposed = sums["fields_proposed"]
    return WindowTotals(**sums, mean_confidence=weighted / proposed if proposed else None)


def _bounds(window_s: int, now: datetime, keep_s: int) -> tuple[datetime, datetime]:
    """[start, end) of the window at ``now``: whole minutes, the current one last."""
    if window_s % 60 or not 60 <= window_s <= keep_s:
        raise ValueError(f"a window is whole minutes from 1m to {keep_s // 60}m, not {window_s}s")
    end = _minute(now) + _MINUTE
    return end - timedelta(seconds=window_s), end


def _minute(moment: datetime) -> datetime:
    """The UTC minute ``moment`` falls in."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no time zone: metrics minutes are UTC")
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
