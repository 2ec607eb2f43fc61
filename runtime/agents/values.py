"""CRM property values compared by meaning: ``"60000"`` equals ``"60000.00"``.

HubSpot hands every value over as a string, so whether a proposal changes anything depends
on the property's type: numbers compare as decimals, dates and date-times by calendar day
(``2026-04-30`` equals ``2026-04-30T00:00:00.000Z``), enumerations by option id (a label is
mapped to its id), booleans by truth, free text by case and spacing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from runtime.crm.port import Pipeline, PropertyDefinition

__all__ = ["canonical", "is_blank", "same_text", "text_key"]

_SPACES = re.compile(r"\s+")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def is_blank(value: str | None) -> bool:
    """HubSpot reports an empty property as missing, ``None`` or ``""``."""
    return value is None or not value.strip()


def text_key(value: str) -> str:
    """Free text as compared: lower case, runs of whitespace as one space, no edge punctuation."""
    return _SPACES.sub(" ", value).strip().strip(".;,").strip().casefold()


def same_text(a: str, b: str) -> bool:
    return text_key(a) == text_key(b)


def canonical(
    value: str, definition: PropertyDefinition | None, *, pipeline: Pipeline | None = None
) -> str:
    """The CRM string form of ``value`` for a property, the same for equal values.

    Numbers lose trailing zeros (``"60000.00"`` → ``"60000"``), dates and date-times become
    ``YYYY-MM-DD`` (the calendar day in UTC), an enumeration label becomes its option id, a
    deal stage must belong to the deal's pipeline when it is known, booleans become
    ``true``/``false``; other text is stripped.

    Raises:
        ValueError: the value cannot be one of this property's values; the message says why.
    """
    text = value.strip()
    if definition is None:
        return text
    if definition.type == "number":
        return _number(text)
    if definition.type in ("date", "datetime"):
        return _day(text).isoformat()
    if definition.type == "bool":
        if text.casefold() in _TRUE:
            return "true"
        if text.casefold() in _FALSE:
            return "false"
        raise ValueError(f"{text!r} is not true or false")
    if definition.type == "enumeration":
        return _option(text, definition, pipeline)
    return text


def _number(text: str) -> str:
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


def _day(text: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD or ISO-8601)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _option(text: str, definition: PropertyDefinition, pipeline: Pipeline | None) -> str:
    if definition.name == "dealstage" and pipeline is not None:
        choices = [(stage.id, stage.label) for stage in pipeline.stages]
        where = f"a stage of pipeline {pipeline.id!r}"
    else:
        choices = [(option.value, option.label) for option in definition.options]
        where = f"an option of {definition.name}"
    if not choices:
        # HubSpot fills some option lists (owners) from the portal; unknown here, so accepted.
        return text
    for option_id, _ in choices:
        if option_id == text:
            return option_id
    wanted = text_key(text)
    for option_id, label in choices:
        if wanted in (text_key(option_id), text_key(label)):
            return option_id
    raise ValueError(f"{text!r} is not {where}")
