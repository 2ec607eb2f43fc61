"""Field types shared by the input models: each failure reads well after the field's name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

__all__ = ["Email", "IsoDateTime", "NonEmptyStr"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value


def _iso_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO-8601 date-time (e.g. 2026-03-02T15:00:00Z)"
            ) from None
    else:
        raise ValueError("must be an ISO-8601 date-time string (e.g. 2026-03-02T15:00:00Z)")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("needs a timezone (e.g. 2026-03-02T15:00:00Z or +01:00)")
    return parsed.astimezone(UTC)


NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
"""A string that is not empty once surrounding whitespace is stripped."""

Email = Annotated[str, AfterValidator(_email)]
"""An email address, lower-cased."""

IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
"""An ISO-8601 date-time string with a timezone, normalised to UTC."""
