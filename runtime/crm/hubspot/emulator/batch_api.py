"""``/crm/v3/objects/{type}/batch/*``: read, create, update and archive up to 100 inputs.

Partial failures answer 207 (reference §5). Creates and updates fail per input only when
every input carries its own ``objectWriteTraceId``; otherwise one bad input refuses the
whole request and nothing is applied. Every applied input is one write-log entry.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.crm.hubspot.emulator.gate import api_call
from runtime.crm.hubspot.emulator.objects_api import find_record, path_object_type
from runtime.crm.hubspot.emulator.render import ALL_PROPERTIES, record_json, selected_properties
from runtime.crm.hubspot.emulator.responses import (
    batch_body,
    json_answer,
    object_not_found_entry,
)
from runtime.crm.hubspot.emulator.state import EmulatorState
from runtime.crm.hubspot.emulator.store import StoredRecord
from runtime.crm.hubspot.emulator.writes import (
    BatchCreateIn,
    BatchIdsIn,
    BatchReadIn,
    BatchUpdateIn,
    Refusal,
    check_batch_create,
    check_batch_size,
    check_batch_update,
    parse_body,
)

__all__ = ["batch_routes"]


def batch_routes(state: EmulatorState) -> list[Route]:
    async def read(request: Request) -> Response:
        return await api_call(state, request, lambda c: _read(state, request), latency="read")

    async def create(request: Request) -> Response:
        return await api_call(
            state, request, lambda c: _create(state, request), latency="batch_write", write=True
        )

    async def update(request: Request) -> Response:
        return await api_call(
            state, request, lambda c: _update(state, request), latency="batch_write", write=True
        )

    async def archive(request: Request) -> Response:
        return await api_call(
            state, request, lambda c: _archive(state, request), latency="batch_write", write=True
        )

    base = "/crm/v3/objects/{object_type}/batch"
    return [
        Route(f"{base}/read", read, methods=["POST"]),
        Route(f"{base}/create", create, methods=["POST"]),
        Route(f"{base}/update", update, methods=["POST"]),
        Route(f"{base}/archive", archive, methods=["POST"]),
    ]


async def _read(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    body = await parse_body(request, BatchReadIn)
    check_batch_size(len(body.inputs))
    started_at = state.clock.now()
    found: list[StoredRecord] = []
    missing: list[str] = []
    for record_id in dict.fromkeys(item.id for item in body.inputs):
        record = find_record(state, object_type, record_id, id_property=body.id_property)
        if record is None:
            missing.append(record_id)
        else:
            found.append(record)
    selection = selected_properties(object_type, body.properties)
    definitions = state.schema.definitions[object_type]
    results = [record_json(record, selection, definitions=definitions) for record in found]
    errors = [object_not_found_entry(object_type, missing)] if missing else []
    answer = batch_body(results, errors, started_at=started_at, completed_at=state.clock.now())
    return json_answer(answer, 207 if errors else 200)


async def _create(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    body = await parse_body(request, BatchCreateIn)
    check_batch_size(len(body.inputs))
    started_at = state.clock.now()
    checked = check_batch_create(state, object_type, body)
    definitions = state.schema.definitions[object_type]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item, outcome in zip(body.inputs, checked, strict=True):
        if isinstance(outcome, Refusal):
            errors.append(outcome.batch_entry(trace_id=item.object_write_trace_id))
            continue
        record = state.store.create(
            object_type,
            outcome.values,
            now=state.clock.now(),
            trace_id=item.object_write_trace_id,
            links=outcome.links,
        )
        results.append(record_json(record, ALL_PROPERTIES, definitions=definitions))
    answer = batch_body(results, errors, started_at=started_at, completed_at=state.clock.now())
    return json_answer(answer, 207 if errors else 201)


async def _update(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    body = await parse_body(request, BatchUpdateIn)
    check_batch_size(len(body.inputs))
    started_at = state.clock.now()
    checked = check_batch_update(
        state,
        object_type,
        body,
        find=lambda record_id, id_property: find_record(
            state, object_type, record_id, id_property=id_property
        ),
    )
    missing = [item.id for item, pair in zip(body.inputs, checked, strict=True) if pair is None]
    definitions = state.schema.definitions[object_type]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item, pair in zip(body.inputs, checked, strict=True):
        if pair is None:
            continue
        record, outcome = pair
        if isinstance(outcome, Refusal):
            entry = outcome.batch_entry(trace_id=item.object_write_trace_id, record_id=item.id)
            errors.append(entry)
            continue
        state.store.update(
            record, outcome, now=state.clock.now(), trace_id=item.object_write_trace_id
        )
        results.append(record_json(record, ALL_PROPERTIES, definitions=definitions))
    if missing:
        errors.append(object_not_found_entry(object_type, missing))
    answer = batch_body(results, errors, started_at=started_at, completed_at=state.clock.now())
    return json_answer(answer, 207 if errors else 200)


async def _archive(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    body = await parse_body(request, BatchIdsIn)
    check_batch_size(len(body.inputs))
    for item in body.inputs:
        record = state.store.get(object_type, item.id)
        if record is not None:
            state.store.archive(record, now=state.clock.now(), trace_id=None)
    return Response(status_code=204)
