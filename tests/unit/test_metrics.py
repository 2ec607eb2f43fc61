"""Workspace metrics without a database: windows, per-minute frames, final minutes cached."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from runtime.clock import FakeClock
from runtime.errors import InvalidInputError
from runtime.metrics.book import FRAME_SCHEMA, MetricsBook, totals
from runtime.metrics.models import COUNTERS, MinuteCounts, WindowTotals
from runtime.metrics.windows import MAX_WINDOW_S, parse_window, window_label

START = datetime(2026, 3, 2, 10, 30, 15, tzinfo=UTC)  # 15 s into minute 10:30


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=UTC)


class Rows:
    """Answers as the database does (minutes in [since, until) with activity); notes each ask."""

    def __init__(self) -> None:
        self.minutes: dict[datetime, MinuteCounts] = {}
        self.asked: list[tuple[datetime, datetime]] = []

    def put(self, minute: datetime, **counts: Any) -> None:
        self.minutes[minute] = MinuteCounts(minute=minute, **counts)

    async def __call__(self, since: datetime, until: datetime) -> Sequence[MinuteCounts]:
        self.asked.append((since, until))
        await asyncio.sleep(0)  # a query yields to the event loop
        return [row for minute, row in sorted(self.minutes.items()) if since <= minute < until]


def column(frame: pl.DataFrame, minute: datetime, name: str) -> Any:
    return frame.filter(pl.col("minute") == minute)[name].item()


# Windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("1h", 3600), ("24h", 86_400), ("7d", 604_800), ("90m", 5400), (" 2H ", 7200)],
)
def test_windows_are_whole_minutes_hours_or_days(text: str, seconds: int) -> None:
    assert parse_window(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("5x", "'5x' is not a duration like 15m, 1h or 7d"),
        ("", "'' is not a duration like 15m, 1h or 7d"),
        ("1.5h", "'1.5h' is not a duration like 15m, 1h or 7d"),
        ("-1h", "'-1h' is not a duration like 15m, 1h or 7d"),
        ("30s", "'30s' is not a duration like 15m, 1h or 7d"),
        ("0m", "'0m' is empty: a window is at least 1m"),
        ("8d", "'8d' is longer than the longest window, 7d"),
        ("10081m", "'10081m' is longer than the longest window, 7d"),
    ],
)
def test_a_bad_window_says_what_a_window_looks_like(text: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_window(text)
    assert (raised.value.field, raised.value.reason) == ("window", reason)


def test_a_bad_window_names_the_field_it_came_from() -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_window("5x", field="--window")
    assert str(raised.value) == "--window: '5x' is not a duration like 15m, 1h or 7d"


def test_window_labels_are_the_shortest_spelling() -> None:
    assert [window_label(s) for s in (900, 3600, 5400, 86_400, MAX_WINDOW_S)] == [
        "15m",
        "1h",
        "90m",
        "1d",
        "7d",
    ]


# Frames ------------------------------------------------------------------------------------


async def test_a_frame_has_every_minute_of_the_window_oldest_first_zeros_included() -> None:
    rows = Rows()
    rows.put(at(10, 5), runs=2, runs_failed=1, fields_proposed=4, auto_applied=3,
             sent_to_review=1, confidence_sum=2.0)  # fmt: skip
    rows.put(at(10, 30), writes_ok=3, writes_failed=1, approved=1, rejected=2)

    frame = await MetricsBook(rows).read(3600, now=START)

    assert frame.schema == FRAME_SCHEMA
    assert frame.height == 60
    assert frame["minute"].to_list() == [at(9, 31) + timedelta(minutes=i) for i in range(60)]
    busy = frame.filter(pl.col("minute") == at(10, 5)).row(0, named=True)
    assert busy == {
        "minute": at(10, 5),
        "runs": 2,
        "runs_failed": 1,
        "fields_proposed": 4,
        "auto_applied": 3,
        "sent_to_review": 1,
        "approved": 0,
        "rejected": 0,
        "writes_ok": 0,
        "writes_failed": 0,
        "mean_confidence": 0.5,
    }
    now_row = frame.row(-1, named=True)  # the current, partial minute comes last
    assert (now_row["minute"], now_row["writes_ok"], now_row["rejected"]) == (at(10, 30), 3, 2)
    assert now_row["mean_confidence"] is None  # nothing proposed in it
    quiet = frame.filter(~pl.col("minute").is_in([at(10, 5), at(10, 30)]))
    assert quiet.height == 58
    assert quiet.select(pl.sum_horizontal(COUNTERS).sum()).item() == 0
    assert quiet["mean_confidence"].null_count() == 58


async def test_totals_weigh_each_proposed_field_once() -> None:
    rows = Rows()
    rows.put(at(10, 0), runs=1, fields_proposed=1, confidence_sum=0.9, writes_ok=1)
    rows.put(at(10, 1), runs=1, fields_proposed=3, confidence_sum=0.3, writes_failed=2)

    frame = await MetricsBook(rows).read(3600, now=START)

    summed = totals(frame)
    assert summed.model_dump(exclude={"mean_confidence"}) == {
        **dict.fromkeys(COUNTERS, 0),
        "runs": 2,
        "fields_proposed": 4,
        "writes_ok": 1,
        "writes_failed": 2,
    }
    # Per minute the means are 0.9 and 0.1; four fields at 1.2 together average 0.3.
    assert summed.mean_confidence == pytest.approx(0.3)


async def test_a_window_without_activity_totals_zero_and_no_confidence() -> None:
    frame = await MetricsBook(Rows()).read(900, now=START)
    assert frame.height == 15
    assert totals(frame) == WindowTotals()


# What a refresh loads ----------------------------------------------------------------------


async def test_a_refresh_reloads_only_minutes_that_are_not_final() -> None:
    clock = FakeClock(START)
    rows = Rows()
    rows.put(at(10, 5), runs=2)
    book = MetricsBook(rows)
    await book.read(3600, now=clock.now())
    assert rows.asked == [(at(9, 31), at(10, 31))]

    rows.put(at(10, 5), runs=99)  # a final minute: the book does not read it again
    rows.put(at(10, 29), runs=1)  # less than a minute after it ended: not final yet
    rows.put(at(10, 30), runs=4)
    clock.advance(30)
    frame = await book.read(3600, now=clock.now())

    assert rows.asked[1:] == [(at(10, 29), at(10, 31))]
    assert column(frame, at(10, 5), "runs") == 2
    assert (column(frame, at(10, 29), "runs"), column(frame, at(10, 30), "runs")) == (1, 4)

    clock.advance(90)  # 10:32:15: the window moved on by two minutes
    rows.put(at(10, 32), runs=7)
    frame = await book.read(3600, now=clock.now())
    assert rows.asked[2:] == [(at(10, 29), at(10, 33))]
    assert frame["minute"][0] == at(9, 33)
    assert (frame.height, column(frame, at(10, 32), "runs")) == (60, 7)


async def test_a_longer_window_loads_only_the_minutes_it_adds() -> None:
    rows = Rows()
    rows.put(at(8, 45), sent_to_review=2)
    book = MetricsBook(rows)
    await book.read(3600, now=START)

    frame = await book.read(7200, now=START)

    assert rows.asked[1:] == [(at(8, 31), at(9, 31)), (at(10, 29), at(10, 31))]
    assert (frame.height, column(frame, at(8, 45), "sent_to_review")) == (120, 2)
    await book.read(900, now=START)  # inside what is cached: only the recent minutes again
    assert rows.asked[3:] == [(at(10, 29), at(10, 31))]


async def test_after_a_long_gap_the_window_is_loaded_whole() -> None:
    clock = FakeClock(START)
    rows = Rows()
    book = MetricsBook(rows)
    await book.read(3600, now=clock.now())
    clock.advance(2 * 3600)
    await book.read(3600, now=clock.now())
    assert rows.asked[1:] == [(at(11, 31), at(12, 31))]


async def test_readers_at_once_take_turns_instead_of_loading_the_window_twice() -> None:
    rows = Rows()
    rows.put(at(10, 0), runs=1)
    book = MetricsBook(rows)

    first, second = await asyncio.gather(book.read(3600, now=START), book.read(3600, now=START))

    assert rows.asked == [(at(9, 31), at(10, 31)), (at(10, 29), at(10, 31))]
    assert first.equals(second)


async def test_a_frame_needs_its_window_loaded() -> None:
    book = MetricsBook(Rows())
    with pytest.raises(RuntimeError, match="refresh"):
        book.frame(3600, now=START)
    await book.refresh(3600, now=START)
    with pytest.raises(RuntimeError, match="not loaded"):
        book.frame(3600, now=START + timedelta(minutes=5))
    with pytest.raises(RuntimeError, match="not loaded"):
        book.frame(7200, now=START)


@pytest.mark.parametrize("window_s", [0, 90, MAX_WINDOW_S + 60])
async def test_a_window_is_whole_minutes_up_to_the_longest(window_s: int) -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        await MetricsBook(Rows()).read(window_s, now=START)


async def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC"):
        await MetricsBook(Rows()).read(3600, now=START.replace(tzinfo=None))
