"""Property value validation against definitions and pipelines, as HubSpot does on writes.

Pure: takes the written values, the definitions, the pipelines and the record's current
values; returns the values as stored (normalised) and every problem found, each with
HubSpot's error code (reference §5). Codes marked "observed" in the reference, and the few
the reference does not name, are this emulator's best reading of HubSpot's answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runtime.crm.hubspot.emulator.values import (
    DAY_MS,
    format_date,
    format_instant,
    parse_instant_ms,
    parse_number,
)
from runtime.crm.hubspot.standard import default_pipeline_id
from runtime.crm.port import ObjectType, Pipeline, PropertyDefinition, PropertyOption

__all__ = ["MAX_STRING_CHARS", "Problem", "WrittenValue", "validate_write"]

MAX_STRING_CHARS = 65_536
WrittenValue = str | int | float | bool | None
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Problem:
    """One refused property value: HubSpot's error code, its message, the property."""

    code: str
    message: str
    property_name: str


def validate_write(
    object_type: ObjectType,
    values: Mapping[str, WrittenValue],
    *,
    definitions: Mapping[str, PropertyDefinition],
    pipelines: Sequence[Pipeline],
    current: Mapping[str, str] | None,
) -> tuple[dict[str, str], list[Problem]]:
    """Check one create (``current`` is None) or update and normalise what it writes.

    Returns:
        The values to store (an empty string clears a value) and the problems; the write
        must be refused as a whole when there is any problem.
    """
    stored: dict[str, str] = {}
    problems: list[Problem] = []
    for name, raw in values.items():
        text = _as_text(raw)
        definition = definitions.get(name)
        if definition is None:
            problems.append(
                Problem("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist', name)
            )
            continue
        if definition.read_only:
            message = f'"{name}" is a read only property; its value cannot be set.'
            problems.append(Problem("READ_ONLY_VALUE", message, name))
            continue
        if text == "" or (object_type == "deals" and name == "dealstage"):
            stored[name] = text  # dealstage is checked against its pipeline below
            continue
        existing = (current or {}).get(name, "")
        value, problem = _check_value(object_type, definition, text, existing=existing)
        if problem is not None:
            problems.append(problem)
        else:
            stored[name] = value
    # A refused pipeline is reported already; its stage cannot be judged without it.
    if object_type == "deals" and not ("pipeline" in values and "pipeline" not in stored):
        problems.extend(_check_deal_stage(stored, pipelines=pipelines, current=current))
    if current is None:
        problems.extend(_missing_required(object_type, stored))
    return stored, problems


def _as_text(raw: WrittenValue) -> str:
    # HubSpot takes JSON numbers and booleans for string-typed values and stores their text.
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw).strip() if isinstance(raw, int | float) else raw


def _check_value(
    object_type: ObjectType, definition: PropertyDefinition, text: str, *, existing: str
) -> tuple[str, Problem | None]:
    name = definition.name
    match definition.type:
        case "number":
            if parse_number(text) is None:
                return text, Problem("INVALID_INTEGER", f"{text} was not a valid number", name)
            return text.strip(), None
        case "date":
            return _check_date(text, name)
        case "datetime":
            ms = parse_instant_ms(text)
            if ms is None:
                message = f"{text} was not a valid datetime (ISO-8601 or epoch milliseconds)"
                return text, Problem("INVALID_DATE", message, name)
            return format_instant(ms), None
        case "enumeration":
            return _check_options(definition, text, existing=existing)
        case "bool":
            if text not in ("true", "false"):
                message = f"{text} was not a valid boolean (true or false)"
                return text, Problem("INVALID_BOOLEAN", message, name)
            return text, None
        case _:
            if len(text) > MAX_STRING_CHARS:
                message = f"{name} is longer than {MAX_STRING_CHARS} characters"
                return text, Problem("INVALID_STRING_LENGTH", message, name)
            # Contacts' email is a plain string to the properties API, but HubSpot checks it.
            if object_type == "contacts" and name == "email" and not _EMAIL.match(text):
                return text, Problem("INVALID_EMAIL", f"Email address {text} is invalid", name)
            return text, None


def _check_date(text: str, name: str) -> tuple[str, Problem | None]:
    ms = parse_instant_ms(text)
    if ms is None:
        message = f"{text} was not a valid date (YYYY-MM-DD or epoch milliseconds)"
        return text, Problem("INVALID_DATE", message, name)
    # reference §5: a date must be midnight UTC, whatever form it comes in.
    offset_ms = ms % DAY_MS
    if offset_ms:
        hours, rest = divmod(offset_ms, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        seconds, millis = divmod(rest, 1000)
        fraction = str(millis).rstrip("0") if millis else "0"
        clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction}"
        return text, Problem("INVALID_DATE", f"{text} is at {clock} UTC, not midnight!", name)
    return format_date(ms), None


def _check_options(
    definition: PropertyDefinition, text: str, *, existing: str
) -> tuple[str, Problem | None]:
    name = definition.name
    if not definition.options:
        # Option-less enumerations are references (owners) whose values are numeric ids.
        if not text.isascii() or not text.isdigit():
            return text, Problem("INVALID_LONG", f"{text} was not a valid long", name)
        return text, None
    allowed = {option.value for option in definition.options}
    if definition.field_type == "checkbox":
        # Multi-select: values separated by ';'; a leading ';' adds to the current ones.
        parts = [part for part in text.split(";") if part]
        if text.startswith(";"):
            parts = [part for part in existing.split(";") if part] + parts
        bad = [part for part in parts if part not in allowed]
        if bad:
            return text, _invalid_option(bad[0], definition.options, name)
        return ";".join(dict.fromkeys(parts)), None
    if text not in allowed:
        return text, _invalid_option(text, definition.options, name)
    return text, None


def _invalid_option(value: str, options: Sequence[PropertyOption], name: str) -> Problem:
    listed = ", ".join(f'label: "{o.label}" value: "{o.value}"' for o in options)
    message = f"{value} was not one of the allowed options: [{listed}]"
    return Problem("INVALID_OPTION", message, name)


def _check_deal_stage(
    stored: dict[str, str], *, pipelines: Sequence[Pipeline], current: Mapping[str, str] | None
) -> list[Problem]:
    """A deal's stage must belong to its pipeline, after this write's pipeline applies."""
    if "pipeline" in stored and stored["pipeline"] == "":
        return [_invalid_pipeline("", pipelines)]
    if current is None and "pipeline" not in stored:
        pipeline_id = default_pipeline_id(pipelines)
        if pipeline_id is not None:
            stored["pipeline"] = pipeline_id
    if "dealstage" not in stored and "pipeline" not in stored:
        return []
    pipeline_id = stored.get("pipeline") or (current or {}).get("pipeline", "")
    pipeline = next((p for p in pipelines if p.id == pipeline_id), None)
    if pipeline is None:
        return [_invalid_pipeline(pipeline_id, pipelines)] if "pipeline" in stored else []
    stage = stored.get("dealstage", (current or {}).get("dealstage", ""))
    if current is None and stage == "":
        return []  # reported as a missing required property
    stage_options = tuple(
        PropertyOption(label=s.label, value=s.id, display_order=s.display_order)
        for s in pipeline.stages
    )
    if stage not in {option.value for option in stage_options}:
        return [_invalid_option(stage, stage_options, "dealstage")]
    return []


def _invalid_pipeline(value: str, pipelines: Sequence[Pipeline]) -> Problem:
    options = tuple(PropertyOption(label=p.label, value=p.id) for p in pipelines)
    return _invalid_option(value, options, "pipeline")


def _missing_required(object_type: ObjectType, stored: Mapping[str, str]) -> list[Problem]:
    # reference §2: deals need dealname and dealstage; companies a name or a domain.
    missing: list[str] = []
    if object_type == "deals":
        missing = [name for name in ("dealname", "dealstage") if not stored.get(name)]
    elif object_type == "companies" and not (stored.get("name") or stored.get("domain")):
        missing = ["name"]
    return [
        Problem("REQUIRED_PROPERTY", f'Property "{name}" is required', name) for name in missing
    ]
