"""Date expressions in meeting text, resolved against the meeting's day: pure, no I/O.

``resolve_date_phrase`` finds every date expression in a text and resolves it to a calendar
day. The conventions, each with an example for a meeting on Wednesday 2025-12-03:

- Absolute: ``2026-04-30``; ``3/31`` and ``3/31/26`` are US month/day; ``March 31``,
  ``31 March 2026``, ``the thirty-first of March``, ``Fri 2/27``, ``Mon 15 Dec``.
- A month and day without a year is the next such day on or after the meeting
  (``March 31`` -> 2026-03-31; ``December 3`` -> 2025-12-03); with ``tense="past"`` it is
  the latest such day on or before the meeting. ``the 15th`` / ``Friday the fifteenth`` is the
  next 15th on or after the meeting (the weekday is not checked against the day).
- Periods resolve to their last day: ``end of (this|the) month`` -> 2025-12-31,
  ``end of next month`` -> 2026-01-31; ``end of March`` / ``in March`` / ``late March`` ->
  2026-03-31; ``mid-March`` -> 2026-03-15; ``early March`` -> 2026-03-10; ``beginning of
  March`` -> 2026-03-01. A named month is this year's when it is the meeting's month or later,
  else next year's (so ``mid-December`` said on 12-20 is in the past: the caller decides).
- Calendar quarters: ``EOQ`` / ``end of the quarter`` / ``this quarter`` -> 2025-12-31,
  ``next quarter`` -> 2026-03-31, ``Q3`` -> the next Q3 end not before the meeting
  (2026-09-30), ``Q3 next year`` -> Q3 of the meeting's year + 1, ``Q3 2027`` -> 2027-09-30.
  ``fiscal Q1`` / ``fiscal quarter`` use ``fiscal_year_start_month``; a plain ``Q1`` is
  calendar. ``end of the (fiscal|financial) year`` -> the day before the fiscal year starts.
- Year: ``end of (the|this) year`` / ``year end`` / ``EOY`` -> 2025-12-31, ``end of next
  year`` -> 2026-12-31, ``end of 2026``.
- Weeks start on Monday. ``Friday`` / ``by Friday`` / ``this coming Friday`` -> the first
  Friday after the meeting day (1-7 days ahead; 2025-12-05); ``this Friday`` is the same except
  that on a Friday it is that day; ``next Friday`` -> the Friday of next week (2025-12-12);
  ``the Friday after next`` -> a week after that (2025-12-19); ``two weeks from Friday`` ->
  ``Friday`` + 14 days (2025-12-19); ``last Friday`` -> the latest Friday before the meeting.
  With ``tense="past"`` a bare ``Friday`` is the latest Friday before the meeting.
- ``this week`` / ``end of the week`` -> Friday of this week; ``next week`` -> Friday of next.
- ``in two weeks`` / ``two weeks from today`` -> +14 days; ``in 30 days`` -> +30 days;
  ``in three months`` -> same day three months on (clamped to the month's end).
- ``today`` / ``this morning`` -> the meeting day; ``tomorrow`` / ``yesterday``.
Holidays (``by Thanksgiving``, ``before Christmas``) are left out.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from runtime.agents.extractors.needles import needle_pattern
from runtime.agents.extractors.prefilter import PrefilteredPattern, prefiltered

__all__ = [
    "DateMention",
    "Granularity",
    "Tense",
    "fiscal_year_start_month",
    "may_hold_a_date",
    "resolve_date_phrase",
]

Granularity = Literal["day", "week", "month", "quarter", "year"]
Tense = Literal["future", "past"]


@dataclass(frozen=True, slots=True)
class DateMention:
    """One date expression: its span in the text and the day it resolves to."""

    start: int
    end: int
    text: str
    value: date
    granularity: Granularity = "day"


_MONTH_NAMES = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
_MONTH = rf"(?P<month>{_MONTH_NAMES})\b\.?"
_ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
)
_ORDINAL_WORDS = {word: i + 1 for i, word in enumerate(_ORDINALS)}
_ORDINAL_WORDS |= {f"twenty-{w}": 20 + i + 1 for i, w in enumerate(_ORDINALS[:9])}
_ORDINAL_WORDS |= {"thirtieth": 30, "thirty-first": 31}
_ORDINAL_RE = "|".join(
    sorted((w.replace("-", "[- ]?") for w in _ORDINAL_WORDS), key=len, reverse=True)
)
_DAY = rf"(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![/:\d])|(?P<dayword>{_ORDINAL_RE})"
_DAY_SUFFIXED = rf"(?P<day>\d{{1,2}})(?:st|nd|rd|th)|(?P<dayword>{_ORDINAL_RE})"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_FULL = rf"(?P<wd>{'|'.join(_WEEKDAYS)})"
_WEEKDAY_ANY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed"
_WEEKDAY_ANY += r"|thu(?:rs?)?|fri|sat|sun)\b\.?"
_WD_PREFIX = rf"(?:\b{_WEEKDAY_ANY},?\s+(?:the\s+)?)?"
_NUMBER_WORDS: tuple[str, ...] = ("a", "an", "one", "two", "three", "four", "five", "six")
_NUMBER_WORDS += ("seven", "eight", "nine", "ten", "eleven", "twelve")
_NUMBERS = {w: max(i - 1, 1) for i, w in enumerate(_NUMBER_WORDS)}
_NUMBERS |= {"a couple of": 2, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30}
_NUMBERS |= {"sixty": 60, "ninety": 90, "forty-five": 45, "forty five": 45}
_COUNT = rf"(?P<n>\d{{1,3}}|{'|'.join(sorted(_NUMBERS, key=len, reverse=True))})"
_FY_STATEMENT = prefiltered(
    r"\b(?:fiscal|financial)\s+year\b[^.?!]{0,25}?\b(?P<verb>starts?|starting|begins?|beginning"
    r"|ends?|ending|closes?|closing|wraps?\s+up|runs\s+(?:through|to|until)|that's|which is|is)"
    r"\s+(?:(?:in|on|at\s+the\s+end\s+of)\s+)?(?:the\s+)?"
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?)?{_MONTH}",
    re.IGNORECASE,
)
_FY_ABBR = prefiltered(
    rf"\bFY\s+(?P<verb>starts?|begins?|ends?|closes?)\s+(?:(?:in|on)\s+)?{_MONTH}", re.IGNORECASE
)

_Handler = Callable[[re.Match[str], date, int, Tense], "tuple[date, Granularity] | None"]


def fiscal_year_start_month(text: str) -> int | None:
    """The fiscal year's first month if the text states it ("our fiscal year starts in
    April" -> 4, "FY ends June 30" -> 7, "our fiscal year closes June thirtieth" -> 7, "new
    financial year starts April 1" -> 4), else None.
    """
    found = _FY_STATEMENT.search(text) or _FY_ABBR.search(text)
    if found is None:
        return None
    month = _month_number(found["month"])
    if found["verb"].lower().startswith(("end", "clos", "wrap", "run")):
        return month % 12 + 1
    return month


def resolve_date_phrase(
    text: str, *, anchor: date, fiscal_year_start_month: int = 1, tense: Tense = "future"
) -> list[DateMention]:
    """Every date expression in ``text``, in order, resolved against ``anchor``.

    Args:
        text: A sentence or a longer text.
        anchor: The meeting's day; relative expressions count from it.
        fiscal_year_start_month: First month of the customer's fiscal year (1 = calendar).
        tense: "past" reads ambiguous days backwards ("signed on Friday" = the last Friday).

    Returns:
        Non-overlapping mentions; where expressions overlap the longest wins.
    """
    if not may_hold_a_date(text):
        return []
    found: list[tuple[int, DateMention]] = []
    lowered = text.lower() if text.isascii() else None  # one lowering for all the rules' tests
    for priority, (pattern, handler) in enumerate(_RULES):
        if lowered is not None and not pattern.may_match(text, lowered):
            continue
        for match in pattern.pattern.finditer(text):
            resolved = handler(match, anchor, fiscal_year_start_month, tense)
            if resolved is not None:
                value, granularity = resolved
                mention = DateMention(match.start(), match.end(), match[0], value, granularity)
                found.append((priority, mention))
    # Longest first; on equal length the more specific rule ("March 13" over "by March").
    found.sort(key=lambda pm: (pm[1].start - pm[1].end, pm[0], pm[1].start))
    kept: list[DateMention] = []
    for _, mention in found:
        if all(mention.end <= k.start or mention.start >= k.end for k in kept):
            kept.append(mention)
    return sorted(kept, key=lambda m: m.start)


# --- calendar helpers -------------------------------------------------------------------

_Result = tuple[date, Granularity] | None


def _g(match: re.Match[str], *names: str) -> str | None:
    """The first of the named groups that matched (alternatives need distinct names)."""
    groups = match.groupdict()
    return next((value for name in names if (value := groups.get(name))), None)


def _month_number(name: str) -> int:
    prefix = name.lower()[:3]
    return next(i + 1 for i, full in enumerate(_MONTH_NAMES.split("|")) if full[:3] == prefix)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's last day (Jan 31 + 1 -> Feb 28)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _shift_month_end(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return _month_end(year, month + 1)


def _month_year(month: int, anchor: date) -> int:
    """The year of a named month's occurrence: this year's unless that month is over."""
    return anchor.year if month >= anchor.month else anchor.year + 1


def _day_value(match: re.Match[str]) -> int:
    if match["day"]:
        return int(match["day"])
    return _ORDINAL_WORDS[re.sub(r"[- ]+", "-", match["dayword"].lower())]


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[re.sub(r"\s+", " ", word.lower())]


def _year(token: str) -> int:
    return int(token) + (2000 if len(token) == 2 else 0)


def _in_direction(found: date | None, anchor: date, tense: Tense) -> bool:
    return found is not None and (found <= anchor if tense == "past" else found >= anchor)


def _next_month_day(month: int, day: int, anchor: date, tense: Tense) -> date | None:
    step = -1 if tense == "past" else 1
    for offset in range(9):  # Feb 29 may be up to 8 years away
        found = _valid(anchor.year + step * offset, month, day)
        if _in_direction(found, anchor, tense):
            return found
    return None


def _next_day_of_month(day: int, anchor: date, tense: Tense) -> date | None:
    step = -1 if tense == "past" else 1
    for offset in range(13):
        first = _add_months(anchor.replace(day=1), step * offset)
        found = _valid(first.year, first.month, day)
        if _in_direction(found, anchor, tense):
            return found
    return None


def _weekday(name: str) -> int:
    return next(i for i, full in enumerate(_WEEKDAYS) if full.startswith(name.lower()[:3]))


def _coming(weekday: int, anchor: date, *, today_counts: bool = False) -> date:
    ahead = (weekday - anchor.weekday()) % 7
    return anchor + timedelta(days=ahead if ahead or today_counts else 7)


def _previous(weekday: int, anchor: date) -> date:
    back = (anchor.weekday() - weekday) % 7
    return anchor - timedelta(days=back or 7)


def _next_week(weekday: int, anchor: date) -> date:
    return anchor - timedelta(days=anchor.weekday()) + timedelta(days=7 + weekday)


def _quarter_end(fiscal_year_start: int, quarter: int, fy_start_month: int) -> date:
    """Last day of quarter ``quarter`` of the fiscal year starting in ``fiscal_year_start``."""
    year, month = divmod(fiscal_year_start * 12 + fy_start_month - 1 + 3 * quarter - 1, 12)
    return _month_end(year, month + 1)


def _fiscal_year_of(anchor: date, fy_start_month: int) -> int:
    return anchor.year if anchor.month >= fy_start_month else anchor.year - 1


def _next_quarter_end(quarter: int, anchor: date, fy_start_month: int) -> date:
    first = _fiscal_year_of(anchor, fy_start_month)
    return next(
        end
        for year in (first, first + 1)
        if (end := _quarter_end(year, quarter, fy_start_month)) >= anchor
    )


# --- rule handlers ----------------------------------------------------------------------


def _iso(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    found = _valid(int(m["y"]), int(m["mo"]), int(m["d"]))
    return None if found is None else (found, "day")


def _us(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    month, day = int(m["mo"]), int(m["d"])
    if m["y"]:
        found = _valid(_year(m["y"]), month, day)
    else:
        found = _next_month_day(month, day, anchor, tense) if 1 <= month <= 12 else None
    return None if found is None else (found, "day")


def _month_day(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    month, day = _month_number(m["month"]), _day_value(m)
    if m["y"]:
        found = _valid(int(m["y"]), month, day)
    else:
        found = _next_month_day(month, day, anchor, tense)
    return None if found is None else (found, "day")


def _day_only(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    found = _next_day_of_month(_day_value(m), anchor, tense)
    return None if found is None else (found, "day")


def _named_month(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    month = _month_number(m["month"])
    year = int(m["y"]) if m["y"] else _month_year(month, anchor)
    if tense == "past" and not m["y"] and (year, month) > (anchor.year, anchor.month):
        year -= 1
    part = (_g(m, "part", "part2", "part3") or "").lower()
    if part.startswith("mid"):
        return date(year, month, 15), "day"
    if part == "early":
        return date(year, month, 10), "day"
    if part in ("beginning", "start"):
        return date(year, month, 1), "day"
    return _month_end(year, month), ("day" if part else "month")


def _relative_month(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    which = (_g(m, "which", "which2") or "this").lower()
    first = _add_months(anchor.replace(day=1), {"next": 1, "last": -1}.get(which, 0))
    return _month_end(first.year, first.month), "month"


def _quarter(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    qualifier = (_g(m, "fiscal", "fiscal2") or "calendar").lower()
    start = 1 if qualifier == "calendar" else fy
    number_text = _g(m, "q", "qw")
    if number_text is None:  # this / next / the quarter
        current = (anchor.month - start) % 12 // 3 + 1
        end = _next_quarter_end(current, anchor, start)
        if (_g(m, "which", "which2") or "").lower() == "next":
            end = _shift_month_end(end, 3)
        return end, "quarter"
    number = (
        int(number_text) if number_text.isdigit() else _QUARTER_WORDS.index(number_text.lower()) + 1
    )
    if m["y"]:
        # A fiscal year is named by the calendar year it ends in (FY2026 = Apr 2025-Mar 2026).
        return _quarter_end(_year(m["y"]) - (1 if start > 1 else 0), number, start), "quarter"
    if m["nextyear"]:
        return _quarter_end(_fiscal_year_of(anchor, start) + 1, number, start), "quarter"
    return _next_quarter_end(number, anchor, start), "quarter"


def _year_end(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    if m["y"]:
        return date(int(m["y"]), 12, 31), "year"
    offset = 12 if (m["which"] or "").lower() == "next" else 0
    qualifier = (_g(m, "fiscal", "fiscal2") or "calendar").lower()
    if qualifier != "calendar" or m[0].upper() == "FYE":
        end_month = (fy - 2) % 12 + 1
        end = _month_end(_month_year(end_month, anchor), end_month)
        return _shift_month_end(end, offset), "year"
    return date(anchor.year + offset // 12, 12, 31), "year"


def _week(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    monday = anchor - timedelta(days=anchor.weekday())
    offset = 7 if (_g(m, "which", "which2") or "").lower() == "next" else 0
    return monday + timedelta(days=4 + offset), "week"


def _weekday_rel(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    weekday = _weekday(m["wd"])
    which = " ".join((m["which"] or "").lower().split())
    if m["after"]:
        base = _next_week(weekday, anchor) + timedelta(days=7)
    elif which == "next":
        base = _next_week(weekday, anchor)
    elif which == "last" or (tense == "past" and not which):
        base = _previous(weekday, anchor)
    else:
        base = _coming(weekday, anchor, today_counts=which == "this")
    if m["n"]:
        days = _count(m["n"]) * (7 if m["unit"].lower().startswith("week") else 1)
        base += timedelta(days=days)
    return base, "day"


def _offset(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    count = _count(_g(m, "n", "n2") or "1")
    unit = (_g(m, "unit", "unit2") or "day").lower()
    if unit.startswith("month"):
        return _add_months(anchor, count), "day"
    return anchor + timedelta(days=count * (7 if unit.startswith("week") else 1)), "day"


def _today(m: re.Match[str], anchor: date, fy: int, tense: Tense) -> _Result:
    word = m[0].lower()
    days = 2 if "after" in word else 1 if "tomorrow" in word else -1 if "yesterday" in word else 0
    return anchor + timedelta(days=days), "day"


def _rule(pattern: str, handler: _Handler) -> tuple[PrefilteredPattern, _Handler]:
    return prefiltered(pattern, re.IGNORECASE), handler


def _fiscal(name: str) -> str:
    return rf"(?:(?P<{name}>fiscal|financial|calendar|FY)\s+)?"


_YEAR_SUFFIX = r"(?:,?\s+(?P<y>\d{4})\b)?"
_QUARTER_WORDS = ("first", "second", "third", "fourth")
# Every rule below needs a digit or one of these stems somewhere in its match: a month or
# weekday name, an ordinal day, or a calendar word (month, quarter, EOQ, year, EOY, FYE,
# week, day, tonight, tomorrow, morning, afternoon, evening). Most sentences have none;
# checking this first spares them fifteen scans (the rules' optional weekday prefixes make
# each scan try every position), and each rule's own prefilter spares most of the rest.
# (A pattern of those words once followed this check; every rule's match also matches it, so
# it could only ever turn away text that no rule matches, and is gone.)
_DATE_STEMS = (
    *("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    *("mon", "tue", "wed", "thu", "fri", "sat", "sun", *_QUARTER_WORDS, "fifth", "sixth"),
    *("seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth", "teenth", "twent"),
    *("thirt", "month", "quarter", "eoq", "year", "eoy", "fye", "week", "day", "tonight"),
    *("tomorrow", "morning", "afternoon", "evening"),
)
_DIGIT = re.compile(r"\d")
# One scan of the lowered text for all the stems (written as a trie, so the regex engine tries
# one branch per first letter) finds what a substring test per stem finds, in a fraction of
# the time.
_DATE_STEM = re.compile(needle_pattern(_DATE_STEMS))


# Callers ask about a sentence, then resolve it, which asks again: the answer is remembered.
@functools.lru_cache(maxsize=64)
def may_hold_a_date(text: str) -> bool:
    """False only when ``resolve_date_phrase`` finds nothing in ``text`` whatever the anchor,
    fiscal year and tense: a cheap test for callers with work to spare for such text."""
    return _DIGIT.search(text) is not None or _DATE_STEM.search(text.lower()) is not None


_RULES: tuple[tuple[PrefilteredPattern, _Handler], ...] = (
    _rule(rf"{_WD_PREFIX}\b(?P<y>\d{{4}})-(?P<mo>\d{{1,2}})-(?P<d>\d{{1,2}})\b", _iso),
    _rule(
        rf"{_WD_PREFIX}(?<![\d/:.$])\b(?P<mo>\d{{1,2}})/(?P<d>\d{{1,2}})"
        r"(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])",
        _us,
    ),
    _rule(rf"{_WD_PREFIX}\b{_MONTH}\s+(?:the\s+)?(?:{_DAY})\b{_YEAR_SUFFIX}", _month_day),
    _rule(rf"{_WD_PREFIX}\b(?:the\s+)?(?:{_DAY})\s+(?:of\s+)?{_MONTH}{_YEAR_SUFFIX}", _month_day),
    _rule(rf"\b{_WEEKDAY_ANY},?\s+(?:the\s+)?(?:{_DAY})\b", _day_only),
    _rule(
        rf"\bthe\s+(?:{_DAY_SUFFIXED})\b(?=\s*(?:[.,;:!?)\u2014-]|$|\s+(?:at|works|is|then|if"
        r"|and|or|when|because|so|but|would|will|latest|of\s+(?:this|next|the)\s+month)\b))",
        _day_only,
    ),
    _rule(
        r"\b(?:(?:the\s+)?(?P<part>end|beginning|start|middle)\s+of\s+|(?P<part2>early|late|mid)"
        r"[- ]?|(?:in|by|before|until|till|through|during)\s+|(?P<part3>end)\s+)"
        rf"{_MONTH}{_YEAR_SUFFIX}",
        _named_month,
    ),
    _rule(
        r"\b(?:(?:the\s+)?end\s+of\s+(?:(?P<which>this|next|last|the)\s+)?month"
        r"|(?P<which2>this|next)\s+month'?s\s+end|month[- ]end)\b",
        _relative_month,
    ),
    _rule(
        rf"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|our\s+)?)?{_fiscal('fiscal')}"
        r"(?:Q(?P<q>[1-4])|(?P<qw>first|second|third|fourth)\s+(?:fiscal\s+)?quarter)\b"
        r"(?:\s+(?P<nextyear>next\s+year)|,?\s+(?:of\s+)?(?:FY\s?)?(?P<y>\d{4}))?",
        _quarter,
    ),
    _rule(
        r"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|our\s+|(?P<which>this|next)\s+)?"
        rf"{_fiscal('fiscal')}quarter|(?P<which2>this|next)\s+{_fiscal('fiscal2')}quarter"
        r"|EOQ|quarter[- ]end)\b",
        _quarter,
    ),
    _rule(
        r"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|our\s+|(?P<which>this|next)\s+)?"
        rf"{_fiscal('fiscal')}year|{_fiscal('fiscal2')}year[- ]end|EOY|FYE"
        r"|(?:the\s+)?end\s+of\s+(?P<y>\d{4}))\b",
        _year_end,
    ),
    _rule(
        r"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|(?P<which>this|next)\s+)?week"
        r"|(?P<which2>this|next)\s+week)\b",
        _week,
    ),
    _rule(
        rf"\b(?:{_COUNT}\s+(?P<unit>weeks?|days?)\s+from\s+)?"
        r"(?:(?P<which>this\s+coming|this|next|last|coming)\s+)?"
        rf"(?:the\s+)?{_WEEKDAY_FULL}\b(?P<after>\s+after\s+next)?",
        _weekday_rel,
    ),
    _rule(
        rf"\b(?:(?:in|within)\s+{_COUNT}\s+(?P<unit>days?|weeks?|months?)"
        rf"|{_COUNT.replace('<n>', '<n2>')}\s+(?P<unit2>days?|weeks?|months?)\s+from\s+"
        r"(?:now|today))\b",
        _offset,
    ),
    _rule(
        r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening)|(?:the\s+day\s+after\s+)?"
        r"tomorrow|yesterday)\b",
        _today,
    ),
)
