"""Date phrases resolve to the day a careful reader would put in the CRM."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.agents.extractors.date_phrases import fiscal_year_start_month, resolve_date_phrase

pytestmark = pytest.mark.unit

WED = date(2025, 12, 3)  # a Wednesday
FRI = date(2025, 12, 5)  # a Friday
LEAP = date(2028, 2, 10)  # 2028 is a leap year

CASES: list[tuple[str, date, str]] = [
    # absolute
    ("2026-04-30", WED, "2026-04-30"),
    ("3/31", WED, "2026-03-31"),
    ("3/31/27", WED, "2027-03-31"),
    ("March 31", WED, "2026-03-31"),
    ("Apr 30th, 2026", WED, "2026-04-30"),
    ("31 March 2026", WED, "2026-03-31"),
    ("the thirty-first of March", WED, "2026-03-31"),
    ("October thirty-first", date(2025, 9, 15), "2025-10-31"),
    ("Mon 15 Dec", WED, "2025-12-15"),
    ("Fri 2/27", WED, "2026-02-27"),
    # month and day without a year: next occurrence on or after the anchor
    ("December 3", WED, "2025-12-03"),
    ("December 2", WED, "2026-12-02"),
    ("February 29", date(2025, 3, 1), "2028-02-29"),
    ("the 15th", WED, "2025-12-15"),
    ("the 2nd", WED, "2026-01-02"),
    ("the thirtieth.", date(2026, 2, 10), "2026-03-30"),
    ("Friday the fourteenth", date(2025, 2, 11), "2025-02-14"),
    # month ends, quarters, years
    ("end of this month", WED, "2025-12-31"),
    ("end of next month", WED, "2026-01-31"),
    ("end of next month", date(2028, 1, 15), "2028-02-29"),
    ("end of next month", date(2027, 1, 15), "2027-02-28"),
    ("by the end of the month", date(2026, 2, 2), "2026-02-28"),
    ("end of March", WED, "2026-03-31"),
    ("end of February", LEAP, "2028-02-29"),
    ("in September", date(2025, 8, 20), "2025-09-30"),
    ("mid-April", WED, "2026-04-15"),
    ("early May", WED, "2026-05-10"),
    ("late May", WED, "2026-05-31"),
    ("end of the quarter", WED, "2025-12-31"),
    ("EOQ", date(2026, 4, 1), "2026-06-30"),
    ("next quarter", WED, "2026-03-31"),
    ("end of Q3", date(2025, 5, 22), "2025-09-30"),
    ("Q3", WED, "2026-09-30"),
    ("Q3 next year", date(2025, 12, 9), "2026-09-30"),
    ("Q1 2027", WED, "2027-03-31"),
    ("end of the year", WED, "2025-12-31"),
    ("end of next year", WED, "2026-12-31"),
    ("year end", WED, "2025-12-31"),
    # weekdays (weeks start on Monday)
    ("Friday", WED, "2025-12-05"),
    ("Friday", FRI, "2025-12-12"),
    ("this Friday", FRI, "2025-12-05"),
    ("next Friday", WED, "2025-12-12"),
    ("next Tuesday", date(2026, 2, 24), "2026-03-03"),
    ("next Friday", date(2025, 5, 22), "2025-05-30"),
    ("the Tuesday after next", date(2025, 8, 14), "2025-08-26"),
    ("two weeks from Friday", WED, "2025-12-19"),
    ("a week from Tuesday", WED, "2025-12-16"),
    ("last Friday", WED, "2025-11-28"),
    ("end of the week", WED, "2025-12-05"),
    ("next week", WED, "2025-12-12"),
    # offsets
    ("in two weeks", WED, "2025-12-17"),
    ("in 30 days", WED, "2026-01-02"),
    ("in three months", date(2025, 11, 30), "2026-02-28"),
    ("today", WED, "2025-12-03"),
    ("tomorrow", date(2025, 12, 31), "2026-01-01"),
]


@pytest.mark.parametrize(("phrase", "anchor", "expected"), CASES)
def test_phrase_resolves_against_the_meeting_day(phrase: str, anchor: date, expected: str) -> None:
    found = resolve_date_phrase(phrase, anchor=anchor)
    assert [m.value.isoformat() for m in found] == [expected]


@pytest.mark.parametrize(
    ("phrase", "fy_start", "anchor", "expected"),
    [
        ("the end of our fiscal Q1", 2, date(2025, 10, 9), "2026-04-30"),
        ("fiscal Q4", 4, WED, "2026-03-31"),
        ("end of the fiscal year", 7, date(2026, 1, 15), "2026-06-30"),
        ("end of our fiscal year", 7, date(2026, 7, 1), "2027-06-30"),
        ("end of the fiscal quarter", 2, WED, "2026-01-31"),
        ("end of Q3", 4, date(2025, 5, 22), "2025-09-30"),  # plain Q3 is calendar
    ],
)
def test_fiscal_periods_follow_the_stated_fiscal_year(
    phrase: str, fy_start: int, anchor: date, expected: str
) -> None:
    found = resolve_date_phrase(phrase, anchor=anchor, fiscal_year_start_month=fy_start)
    assert [m.value.isoformat() for m in found] == [expected]


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [("Friday", "2026-02-27"), ("Feb 27", "2026-02-27"), ("this morning", "2026-03-02")],
)
def test_past_tense_reads_backwards(phrase: str, expected: str) -> None:
    found = resolve_date_phrase(phrase, anchor=date(2026, 3, 2), tense="past")
    assert [m.value.isoformat() for m in found] == [expected]


@pytest.mark.parametrize(
    "text", ["at 3:40pm", "24/7 support", "the first workflow", "we sat down", "about 30 days"]
)
def test_non_dates_are_not_read_as_dates(text: str) -> None:
    assert resolve_date_phrase(text, anchor=WED) == []


def test_spans_point_into_the_text_and_the_longest_reading_wins() -> None:
    text = "sign by September fifteenth, then talk next Friday"
    found = resolve_date_phrase(text, anchor=date(2025, 5, 13))
    assert [(text[m.start : m.end], m.value.isoformat()) for m in found] == [
        ("September fifteenth", "2025-09-15"),
        ("next Friday", "2025-05-23"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Our fiscal year starts February first.", 2),
        ("our fiscal year starts in April", 4),
        ("FY ends June 30", 7),
        ("Our fiscal year ends June thirtieth", 7),
        ("our fiscal year closes June thirtieth", 7),
        ("FY closes Oct 31", 11),
        ("the start of our new financial year, that's April first", 4),
        ("We have a fiscal year like everyone.", None),
    ],
)
def test_fiscal_year_start_is_read_from_the_meeting(text: str, expected: int | None) -> None:
    assert fiscal_year_start_month(text) == expected
