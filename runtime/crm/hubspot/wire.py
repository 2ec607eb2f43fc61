"""HubSpot's JSON shapes and the port's models, in both directions.

Readers are lenient about what HubSpot leaves out (every field of an error body is optional,
§5) and strict about what they need (a record without an id is an unreadable answer: the
caller turns ``KeyError``/``TypeError``/``ValueError`` into ``CrmServerError``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

from runtime.crm.port import (
    OBJECT_TYPES,
    BatchResult,
    CrmRecord,
    Filter,
    InputError,
    ObjectType,
    Page,
    Pipeline,
    PipelineStage,
    PropertyDefinition,
    PropertyOption,
    PropertyType,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
)

__all__ = [
    "batch_create_body",
    "batch_read_body",
    "batch_result_from_json",
    "batch_update_body",
    "input_error_from_json",
    "next_after",
    "page_from_json",
    "pipeline_from_json",
    "property_definition_from_json",
    "record_from_json",
    "search_body",
    "validation_problems_from_json",
]

logger = logging.getLogger(__name__)

_PROPERTY_TYPES: frozenset[str] = frozenset(get_args(PropertyType))
# v3 answers name associated types in the plural; v4 and search use the singular.
_OBJECT_TYPE_NAMES: dict[str, ObjectType] = {
    **{name: name for name in OBJECT_TYPES},
    "deal": "deals",
    "contact": "contacts",
    "company": "companies",
}


# Requests ---------------------------------------------------------------------------------


def search_body(request: SearchRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filterGroups": [
            {"filters": [_filter_json(f) for f in group.filters]} for group in request.filter_groups
        ],
        "sorts": [
            {"propertyName": sort.property_name, "direction": sort.direction}
            for sort in request.sorts
        ],
        "limit": request.limit,
    }
    if request.properties:
        body["properties"] = list(request.properties)
    if request.query is not None:
        body["query"] = request.query
    if request.after is not None:
        body["after"] = request.after
    return body


def batch_read_body(ids: Sequence[str], properties: Sequence[str]) -> dict[str, Any]:
    # HubSpot's schema requires propertiesWithHistory even when empty.
    return {
        "properties": list(properties),
        "propertiesWithHistory": [],
        "inputs": [{"id": record_id} for record_id in ids],
    }


def batch_create_body(inputs: Sequence[RecordCreate]) -> dict[str, Any]:
    return {"inputs": [_create_json(item) for item in inputs]}


def batch_update_body(inputs: Sequence[RecordUpdate]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for item in inputs:
        row: dict[str, Any] = {"id": item.id, "properties": dict(item.properties)}
        if item.trace_id is not None:
            row["objectWriteTraceId"] = item.trace_id
        rows.append(row)
    return {"inputs": rows}


def _filter_json(item: Filter) -> dict[str, Any]:
    row: dict[str, Any] = {"propertyName": item.property_name, "operator": item.operator}
    if item.value is not None:
        row["value"] = item.value
    if item.high_value is not None:
        row["highValue"] = item.high_value
    if item.values is not None:
        row["values"] = list(item.values)
    return row


def _create_json(item: RecordCreate) -> dict[str, Any]:
    row: dict[str, Any] = {
        "properties": dict(item.properties),
        # The create schema requires the list, even when there is nothing to associate.
        "associations": [
            {
                "to": {"id": link.to_id},
                "types": [
                    {
                        "associationCategory": link.category,
                        "associationTypeId": link.association_type_id,
                    }
                ],
            }
            for link in item.associations
        ],
    }
    if item.trace_id is not None:
        row["objectWriteTraceId"] = item.trace_id
    return row


# Answers ----------------------------------------------------------------------------------


def record_from_json(object_type: ObjectType, data: Mapping[str, Any]) -> CrmRecord:
    properties = {
        str(name): None if value is None else str(value)
        for name, value in (data.get("properties") or {}).items()
    }
    return CrmRecord(
        id=str(data["id"]),
        object_type=object_type,
        properties=properties,
        created_at=_datetime(data.get("createdAt")),
        updated_at=_datetime(data.get("updatedAt")),
        archived=bool(data.get("archived", False)),
        associations=_embedded_associations(data.get("associations")),
    )


def page_from_json(object_type: ObjectType, data: Mapping[str, Any]) -> Page:
    total = data.get("total")
    return Page(
        results=tuple(record_from_json(object_type, row) for row in data.get("results") or ()),
        next_after=next_after(data),
        total=None if total is None else int(total),
    )


def next_after(data: Mapping[str, Any]) -> str | None:
    """The ``paging.next.after`` cursor; absent on the last page."""
    after = ((data.get("paging") or {}).get("next") or {}).get("after")
    return None if after is None else str(after)


def batch_result_from_json(object_type: ObjectType, data: Mapping[str, Any]) -> BatchResult:
    return BatchResult(
        results=tuple(record_from_json(object_type, row) for row in data.get("results") or ()),
        errors=tuple(input_error_from_json(row) for row in data.get("errors") or ()),
    )


def input_error_from_json(data: Mapping[str, Any]) -> InputError:
    """One entry of a 207's ``errors`` (or of a 400's), whatever subset of fields it has."""
    context = _mapping(data.get("context"))
    nested = [_mapping(e) for e in data.get("errors") or () if isinstance(e, Mapping)]
    code = data.get("code") or data.get("subCategory")
    if code is None and nested:
        code = nested[0].get("code")
    property_names = _strings(context.get("propertyName"))
    for entry in nested:
        property_names += _strings(_mapping(entry.get("context")).get("propertyName"))
    return InputError(
        category=str(data.get("category") or "ERROR"),
        message=str(data.get("message") or ""),
        code=None if code is None else str(code),
        ids=_strings(context.get("ids")),
        trace_ids=_strings(context.get("objectWriteTraceId")),
        property_names=tuple(dict.fromkeys(property_names)),
    )


def validation_problems_from_json(data: Mapping[str, Any]) -> tuple[InputError, ...]:
    """The problems of a 400 VALIDATION_ERROR, one per offending property where named.

    ``errors[]`` is the documented place (§5); older answers only embed a JSON list in the
    message ("Property values were not valid: [...]"), which is read when ``errors`` is absent.
    """
    category = str(data.get("category") or "VALIDATION_ERROR")
    problems = []
    for entry in data.get("errors") or ():
        if not isinstance(entry, Mapping):
            continue
        context = _mapping(entry.get("context"))
        problems.append(
            InputError(
                category=category,
                message=str(entry.get("message") or ""),
                code=None if entry.get("code") is None else str(entry.get("code")),
                ids=_strings(context.get("ids")),
                trace_ids=_strings(context.get("objectWriteTraceId")),
                property_names=_strings(context.get("propertyName")),
            )
        )
    if problems:
        return tuple(problems)
    return _problems_in_message(category, str(data.get("message") or ""))


def property_definition_from_json(data: Mapping[str, Any]) -> PropertyDefinition | None:
    """A property's definition, or None for a type the port does not model (internal ones)."""
    kind = str(data.get("type"))
    if kind not in _PROPERTY_TYPES:
        logger.debug("skipping property %s of unmodelled type %s", data.get("name"), kind)
        return None
    options = tuple(
        PropertyOption(
            label=str(option.get("label", "")),
            value=str(option["value"]),
            display_order=int(option.get("displayOrder") or 0),
            hidden=bool(option.get("hidden", False)),
        )
        for option in data.get("options") or ()
    )
    metadata = _mapping(data.get("modificationMetadata"))
    return PropertyDefinition(
        name=str(data["name"]),
        label=str(data.get("label") or data["name"]),
        type=kind,  # checked against PropertyType above
        field_type=str(data.get("fieldType") or ""),
        options=options,
        has_unique_value=bool(data.get("hasUniqueValue", False)),
        read_only=bool(metadata.get("readOnlyValue", False)),
        description=str(data.get("description") or ""),
    )


def pipeline_from_json(data: Mapping[str, Any]) -> Pipeline:
    stages = []
    for stage in data.get("stages") or ():
        if stage.get("archived"):
            continue
        # Stage metadata values are strings: {"probability": "0.2", "isClosed": "false"}.
        metadata = _mapping(stage.get("metadata"))
        probability = metadata.get("probability")
        stages.append(
            PipelineStage(
                id=str(stage["id"]),
                label=str(stage.get("label") or stage["id"]),
                display_order=int(stage.get("displayOrder") or 0),
                probability=None if probability in (None, "") else float(probability),
                is_closed=_bool(metadata.get("isClosed", stage.get("isClosed", False))),
            )
        )
    return Pipeline(
        id=str(data["id"]),
        label=str(data.get("label") or data["id"]),
        display_order=int(data.get("displayOrder") or 0),
        stages=tuple(sorted(stages, key=lambda s: s.display_order)),
    )


def _embedded_associations(raw: Any) -> dict[ObjectType, tuple[str, ...]]:
    """v3's ``associations`` block: ``{"contacts": {"results": [{"id", "type"}]}}``.

    One id appears once per association type (e.g. primary and unlabeled), so ids are
    de-duplicated. The block holds a first page only; ``associated_ids`` reads them all.
    """
    found: dict[ObjectType, tuple[str, ...]] = {}
    for name, block in _mapping(raw).items():
        object_type = _OBJECT_TYPE_NAMES.get(str(name))
        if object_type is None:
            continue
        ids = [str(row["id"]) for row in _mapping(block).get("results") or ()]
        found[object_type] = tuple(dict.fromkeys(found.get(object_type, ()) + tuple(ids)))
    return found


def _problems_in_message(category: str, message: str) -> tuple[InputError, ...]:
    start = message.find("[")
    if start < 0:
        return (InputError(category=category, message=message),)
    try:
        entries = json.loads(message[start:])
    except ValueError:
        return (InputError(category=category, message=message),)
    problems = tuple(
        InputError(
            category=category,
            message=str(entry.get("message") or message),
            code=None if entry.get("error") is None else str(entry.get("error")),
            property_names=_strings(entry.get("name")),
        )
        for entry in entries
        if isinstance(entry, Mapping)
    )
    return problems or (InputError(category=category, message=message),)


def _datetime(raw: Any) -> datetime | None:
    if raw in (None, ""):
        return None
    return datetime.fromisoformat(str(raw))


def _bool(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() == "true"
    return bool(raw)


def _mapping(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


def _strings(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str | int):
        return (str(raw),)
    return tuple(str(item) for item in raw)
