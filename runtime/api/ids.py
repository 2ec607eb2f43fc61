"""IDs in and out of the API: the database's UUIDs, parsed with the argument named."""

from __future__ import annotations

from uuid import UUID

from runtime.api.errors import ApiError

__all__ = ["parse_id", "parse_ids"]


def parse_id(value: object, field: str) -> UUID:
    """A UUID from an ``ID`` argument; anything else is bad input on ``field``."""
    try:
        return UUID(str(value))
    except ValueError:
        raise ApiError.bad_input(field, f"{str(value)[:80]!r} is not an id") from None


def parse_ids(values: list[object], field: str) -> list[UUID]:
    return [parse_id(value, f"{field}.{index}") for index, value in enumerate(values)]
