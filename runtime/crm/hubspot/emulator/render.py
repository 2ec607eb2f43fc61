"""Records, properties and pipelines in HubSpot's answer shapes (camelCase, strings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request

from runtime.crm.hubspot.emulator.objects import (
    DEFAULT_PROPERTIES,
    LAST_MODIFIED_PROPERTY,
    SINGULAR,
    resolve_object_type,
)
from runtime.crm.hubspot.emulator.store import Store, StoredRecord
from runtime.crm.hubspot.emulator.values import format_instant
from runtime.crm.port import ObjectType, Pipeline, PropertyDefinition

__all__ = [
    "ALL_PROPERTIES",
    "association_types_param",
    "names_param",
    "pipeline_json",
    "property_json",
    "record_json",
    "selected_properties",
]

ALL_PROPERTIES: tuple[str, ...] = ("*",)
"""Pseudo-selection for write answers: every property the record has."""


def names_param(request: Request, name: str) -> list[str]:
    """A list query parameter, given comma-separated and/or repeated."""
    return [
        part.strip()
        for raw in request.query_params.getlist(name)
        for part in raw.split(",")
        if part.strip()
    ]


def selected_properties(object_type: ObjectType, requested: Sequence[str]) -> tuple[str, ...]:
    """What a read returns: the defaults, or what was asked plus the ones HubSpot always adds."""
    if not requested:
        return DEFAULT_PROPERTIES[object_type]
    always = ("createdate", LAST_MODIFIED_PROPERTY[object_type], "hs_object_id")
    return tuple(dict.fromkeys([*requested, *always]))


def record_json(
    record: StoredRecord,
    selection: Sequence[str],
    *,
    definitions: Mapping[str, PropertyDefinition],
    store: Store | None = None,
    associations: Sequence[ObjectType] = (),
) -> dict[str, Any]:
    """One record; asked-for properties without a value are null, unknown names left out."""
    if tuple(selection) == ALL_PROPERTIES:
        properties: dict[str, str | None] = dict(sorted(record.properties.items()))
    else:
        properties = {
            name: record.properties.get(name)
            for name in selection
            if name in definitions or name in record.properties
        }
    body: dict[str, Any] = {
        "id": record.id,
        "properties": properties,
        "createdAt": format_instant(record.created_at),
        "updatedAt": format_instant(record.updated_at),
        "archived": record.archived,
    }
    if record.archived_at is not None:
        body["archivedAt"] = format_instant(record.archived_at)
    if store is not None and associations:
        blocks = {}
        for to_type in associations:
            ids = store.associated(record.object_type, record.id, to_type)
            if ids:
                kind = f"{SINGULAR[record.object_type]}_to_{SINGULAR[to_type]}"
                blocks[to_type] = {"results": [{"id": to_id, "type": kind} for to_id in ids]}
        if blocks:
            body["associations"] = blocks
    return body


def association_types_param(request: Request) -> list[ObjectType]:
    found = (resolve_object_type(name) for name in names_param(request, "associations"))
    return list(dict.fromkeys(t for t in found if t is not None))


def property_json(definition: PropertyDefinition, object_type: ObjectType) -> dict[str, Any]:
    return {
        "name": definition.name,
        "label": definition.label,
        "type": definition.type,
        "fieldType": definition.field_type,
        "description": definition.description,
        "groupName": f"{SINGULAR[object_type]}information",
        "options": [
            {
                "label": option.label,
                "value": option.value,
                "displayOrder": option.display_order,
                "hidden": option.hidden,
            }
            for option in definition.options
        ],
        "hasUniqueValue": definition.has_unique_value,
        "hidden": False,
        "formField": not definition.read_only,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": definition.read_only,
        },
    }


def pipeline_json(pipeline: Pipeline) -> dict[str, Any]:
    # Stage metadata values are strings in HubSpot's answers: "0.2", "false".
    return {
        "id": pipeline.id,
        "label": pipeline.label,
        "displayOrder": pipeline.display_order,
        "archived": False,
        "stages": [
            {
                "id": stage.id,
                "label": stage.label,
                "displayOrder": stage.display_order,
                "archived": False,
                "metadata": {
                    "isClosed": "true" if stage.is_closed else "false",
                    **(
                        {"probability": str(stage.probability)}
                        if stage.probability is not None
                        else {}
                    ),
                },
            }
            for stage in pipeline.stages
        ],
    }
