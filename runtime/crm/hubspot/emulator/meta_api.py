"""Property definitions, deal pipelines and v4 association reads (reference §4, §5)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.crm.hubspot.emulator.gate import api_call
from runtime.crm.hubspot.emulator.objects import ASSOCIATION_TYPES, SINGULAR
from runtime.crm.hubspot.emulator.objects_api import path_object_type
from runtime.crm.hubspot.emulator.render import pipeline_json, property_json
from runtime.crm.hubspot.emulator.responses import (
    ApiError,
    bad_request,
    batch_body,
    error_body,
    json_answer,
)
from runtime.crm.hubspot.emulator.state import EmulatorState
from runtime.crm.hubspot.emulator.writes import BatchIdsIn, check_batch_size, parse_body
from runtime.crm.port import ObjectType

__all__ = ["meta_routes"]

# reference §4: association batch reads take up to 1,000 inputs.
_ASSOCIATION_BATCH_LIMIT = 1_000
_ASSOCIATION_PAGE_MAX = 500


def meta_routes(state: EmulatorState) -> list[Route]:
    async def properties(request: Request) -> Response:
        return await api_call(state, request, lambda c: _properties(state, request), latency="read")

    async def one_property(request: Request) -> Response:
        return await api_call(
            state, request, lambda c: _one_property(state, request), latency="read"
        )

    async def pipelines(request: Request) -> Response:
        return await api_call(state, request, lambda c: _pipelines(state, request), latency="read")

    async def associations(request: Request) -> Response:
        return await api_call(
            state, request, lambda c: _associations(state, request), latency="read"
        )

    async def association_batch(request: Request) -> Response:
        return await api_call(
            state, request, lambda c: _association_batch(state, request), latency="read"
        )

    return [
        Route("/crm/v3/properties/{object_type}", properties, methods=["GET"]),
        Route("/crm/v3/properties/{object_type}/{name}", one_property, methods=["GET"]),
        Route("/crm/v3/pipelines/{object_type}", pipelines, methods=["GET"]),
        Route("/crm/v3/pipelines/{object_type}/{pipeline_id}", pipelines, methods=["GET"]),
        Route(
            "/crm/v4/objects/{object_type}/{record_id}/associations/{to_type}",
            associations,
            methods=["GET"],
        ),
        Route(
            "/crm/v4/associations/{object_type}/{to_type}/batch/read",
            association_batch,
            methods=["POST"],
        ),
    ]


async def _properties(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    definitions = state.schema.definitions[object_type].values()
    return json_answer({"results": [property_json(d, object_type) for d in definitions]})


async def _one_property(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    name = request.path_params["name"]
    definition = state.schema.definitions[object_type].get(name)
    if definition is None:
        message = f"Unable to find property {name} on object type {object_type}"
        raise ApiError(404, error_body(message, "OBJECT_NOT_FOUND"))
    return json_answer(property_json(definition, object_type))


async def _pipelines(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    if object_type != "deals":
        raise ApiError(
            404, error_body(f"{object_type} have no pipelines in this emulator", "OBJECT_NOT_FOUND")
        )
    wanted = request.path_params.get("pipeline_id")
    if wanted is None:
        return json_answer({"results": [pipeline_json(p) for p in state.schema.pipelines]})
    for pipeline in state.schema.pipelines:
        if pipeline.id == wanted:
            return json_answer(pipeline_json(pipeline))
    raise ApiError(404, error_body(f"Pipeline {wanted} does not exist", "OBJECT_NOT_FOUND"))


def _association_rows(
    state: EmulatorState, from_type: ObjectType, record_id: str, to_type: ObjectType
) -> list[dict[str, Any]]:
    """v4 rows: ``toObjectId`` is a number, as in HubSpot's v4 answers."""
    linked = state.store.associated(from_type, record_id, to_type)
    return [
        {
            "toObjectId": int(to_id),
            "associationTypes": [
                {
                    "category": "HUBSPOT_DEFINED",
                    "typeId": type_id,
                    "label": ASSOCIATION_TYPES[type_id].label,
                }
                for type_id in sorted(type_ids)
            ],
        }
        for to_id, type_ids in sorted(linked.items(), key=lambda pair: int(pair[0]))
    ]


async def _associations(state: EmulatorState, request: Request) -> Response:
    from_type = path_object_type(request)
    to_type = path_object_type(request, "to_type")
    rows = _association_rows(state, from_type, request.path_params["record_id"], to_type)
    limit_raw = request.query_params.get("limit", str(_ASSOCIATION_PAGE_MAX))
    after_raw = request.query_params.get("after", "0")
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= _ASSOCIATION_PAGE_MAX:
        raise bad_request(f"limit must be a whole number from 1 to {_ASSOCIATION_PAGE_MAX}")
    if not after_raw.isdigit():
        raise bad_request(f"after {after_raw!r} is not a valid paging cursor")
    offset, limit = int(after_raw), int(limit_raw)
    body: dict[str, Any] = {"results": rows[offset : offset + limit]}
    if offset + limit < len(rows):
        cursor = str(offset + limit)
        body["paging"] = {"next": {"after": cursor, "link": f"{request.url.path}?after={cursor}"}}
    return json_answer(body)


async def _association_batch(state: EmulatorState, request: Request) -> Response:
    from_type = path_object_type(request)
    to_type = path_object_type(request, "to_type")
    body = await parse_body(request, BatchIdsIn)
    check_batch_size(len(body.inputs), _ASSOCIATION_BATCH_LIMIT)
    started_at = state.clock.now()
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for record_id in dict.fromkeys(item.id for item in body.inputs):
        rows = _association_rows(state, from_type, record_id, to_type)
        if rows:
            results.append({"from": {"id": record_id}, "to": rows})
        else:
            # Observed HubSpot behaviour: an id without associations is a 207 error entry.
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": (
                        f"No {SINGULAR[to_type]} is associated with"
                        f" {SINGULAR[from_type]} {record_id}."
                    ),
                    "context": {"fromObjectId": [record_id]},
                }
            )
    answer = batch_body(results, errors, started_at=started_at, completed_at=state.clock.now())
    return json_answer(answer, 207 if errors else 200)
