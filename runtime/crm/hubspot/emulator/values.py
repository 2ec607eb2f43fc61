"""Reading and writing HubSpot's value formats: numbers, dates, datetimes (reference §5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

__all__ = [
    "DAY_MS",
    "format_date",
    "format_instant",
    "parse_instant_ms",
    "parse_number",
    "to_epoch_ms",
]

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_number(text: str) -> Decimal | None:
    """A finite decimal, or None when ``text`` is not one."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_instant_ms(text: str) -> int | None:
    """Epoch milliseconds from epoch ms digits, ``YYYY-MM-DD`` or an ISO-8601 date-time.

    A date-time without a zone is read as UTC; None when ``text`` is none of these.
    """
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return to_epoch_ms(parsed)


def to_epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def format_instant(moment: datetime | int) -> str:
    """HubSpot's answer format for instants: ``2026-03-02T15:00:00.000Z``."""
    if isinstance(moment, int):
        moment = _EPOCH + timedelta(milliseconds=moment)
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def format_date(ms: int) -> str:
    day: date = (_EPOCH + timedelta(milliseconds=ms)).date()
    return day.isoformat()
