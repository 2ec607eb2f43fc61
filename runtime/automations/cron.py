"""Cron expressions of the ``schedule`` trigger: five fields, parsed into the values they allow.

``minute hour day-of-month month day-of-week``, each ``*``, a value, a range ``a-b``, a step
``*/n`` or ``a-b/n``, or a comma-separated list of those. Months and weekdays also take
their English abbreviations (``jan``, ``mon``); weekday 0 and 7 are both Sunday. As in
cron, when both day fields are restricted a day matches if either does.

Pure: no clock, no I/O. ``CronSchedule.matches`` is what a scheduler asks each minute, in
the automation's timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["CronSchedule", "parse_cron"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i

    def value(self, text: str) -> int:
        word = text.lower()
        if word in self.names:
            return self.low + self.names.index(word)
        if not word.isdigit():
            raise ValueError(f"{self.name} field: {text!r} is not a number")
        number = int(word)
        # cron accepts 7 for Sunday; it is folded onto 0 by the caller.
        high = 7 if self.name == "day-of-week" else self.high
        if not self.low <= number <= high:
            raise ValueError(f"{self.name} field: {number} is outside {self.low}-{high}")
        return number


_FIELDS = (
    _FieldSpec("minute", 0, 59),
    _FieldSpec("hour", 0, 23),
    _FieldSpec("day-of-month", 1, 31),
    _FieldSpec("month", 1, 12, _MONTHS),
    _FieldSpec("day-of-week", 0, 6, _WEEKDAYS),
)


@dataclass(frozen=True)
class CronSchedule:
    """The minutes, hours, days, months and weekdays (0 = Sunday) a cron expression allows."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, at: datetime) -> bool:
        """Whether the minute ``at`` (a local time of the schedule's timezone) is due."""
        if at.minute not in self.minutes or at.hour not in self.hours:
            return False
        if at.month not in self.months:
            return False
        weekday = at.isoweekday() % 7  # Monday 1 ... Sunday 0, as cron counts
        day_ok = at.day in self.days
        weekday_ok = weekday in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok


def parse_cron(expression: str) -> CronSchedule:
    """Parse a five-field cron expression.

    Raises:
        ValueError: not five fields, or a field that names a value out of its range, an
            empty range or a bad step; the message names the field.
    """
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(parts)};"
            " e.g. '0 9 * * mon-fri'"
        )
    values = [_parse_field(spec, part) for spec, part in zip(_FIELDS, parts, strict=True)]
    weekdays = frozenset(0 if day == 7 else day for day in values[4])
    return CronSchedule(
        expression=" ".join(parts),
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        days_restricted=parts[2] != "*",
        weekdays_restricted=parts[4] != "*",
    )


def _parse_field(spec: _FieldSpec, text: str) -> frozenset[int]:
    allowed: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"{spec.name} field: {text!r} has an empty list item")
        allowed |= _parse_item(spec, item)
    return frozenset(allowed)


def _parse_item(spec: _FieldSpec, item: str) -> set[int]:
    span, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"{spec.name} field: the step in {item!r} must be a positive number")
        step = int(step_text)
    if span == "*":
        low, high = spec.low, spec.high
    elif "-" in span:
        first, _, last = span.partition("-")
        low, high = spec.value(first), spec.value(last)
        if low > high:
            raise ValueError(f"{spec.name} field: the range {span!r} runs backwards")
    else:
        low = spec.value(span)
        # "5/15" means from 5 to the end in steps of 15, as in cron.
        high = spec.high if slash else low
    return set(range(low, high + 1, step))
