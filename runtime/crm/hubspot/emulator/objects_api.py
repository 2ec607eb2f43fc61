"""``/crm/v3/objects/{type}``: list, read, create, update, archive and search one type."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.crm.hubspot.emulator.gate import api_call
from runtime.crm.hubspot.emulator.objects import resolve_object_type
from runtime.crm.hubspot.emulator.render import (
    ALL_PROPERTIES,
    association_types_param,
    names_param,
    record_json,
    selected_properties,
)
from runtime.crm.hubspot.emulator.responses import (
    bad_request,
    json_answer,
    not_found_error,
)
from runtime.crm.hubspot.emulator.search import (
    MAX_BODY_CHARS,
    SearchBody,
    limit_problems,
    run_search,
)
from runtime.crm.hubspot.emulator.state import EmulatorState
from runtime.crm.hubspot.emulator.store import StoredRecord
from runtime.crm.hubspot.emulator.writes import (
    Claims,
    CreateIn,
    PatchIn,
    Refusal,
    check_create,
    check_update,
    parse_body,
    whole_request_error,
)
from runtime.crm.port import ObjectType

__all__ = ["find_record", "object_routes", "path_object_type"]

_LIST_LIMIT_MAX = 100


def path_object_type(request: Request, name: str = "object_type") -> ObjectType:
    raw = request.path_params[name]
    object_type = resolve_object_type(raw)
    if object_type is None:
        raise bad_request(f"Unable to infer object type from: {raw}")
    return object_type


def find_record(
    state: EmulatorState,
    object_type: ObjectType,
    key: str,
    *,
    id_property: str | None,
    archived: bool = False,
) -> StoredRecord | None:
    """A record by id, or by a unique property when ``idProperty`` names one."""
    if not id_property or id_property == "hs_object_id":
        return state.store.get(object_type, key, archived=archived)
    definition = state.schema.definitions[object_type].get(id_property)
    if definition is None or not definition.has_unique_value:
        raise bad_request(f"{id_property} is not a unique property of {object_type}")
    record = state.store.find_by(object_type, id_property, key)
    return record if record is not None and not archived else None


def object_routes(state: EmulatorState) -> list[Route]:
    async def collection(request: Request) -> Response:
        if request.method == "POST":
            return await api_call(
                state, request, lambda c: _create(state, request), latency="write", write=True
            )
        return await api_call(state, request, lambda c: _list(state, request), latency="read")

    async def one(request: Request) -> Response:
        if request.method == "GET":
            return await api_call(state, request, lambda c: _get(state, request), latency="read")
        if request.method == "PATCH":
            return await api_call(
                state, request, lambda c: _patch(state, request), latency="write", write=True
            )
        return await api_call(
            state, request, lambda c: _archive(state, request), latency="write", write=True
        )

    async def search(request: Request) -> Response:
        return await api_call(
            state, request, lambda c: _search(state, request), latency="read", search=True
        )

    base = "/crm/v3/objects/{object_type}"
    return [
        Route(base, collection, methods=["GET", "POST"]),
        Route(f"{base}/search", search, methods=["POST"]),
        Route(base + "/{record_id}", one, methods=["GET", "PATCH", "DELETE"]),
    ]


async def _list(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    limit = _int_param(request, "limit", default=10, low=1, high=_LIST_LIMIT_MAX)
    after = request.query_params.get("after")
    if after is not None and not after.isdigit():
        raise bad_request(f"after {after!r} is not a valid paging cursor")
    archived = request.query_params.get("archived", "false").lower() == "true"
    records = state.store.live(object_type, archived=archived)
    if after is not None:
        # For lists, ``after`` is the id of the next record (reference §2).
        records = [r for r in records if r.id.isdigit() and int(r.id) >= int(after)]
    page, rest = records[:limit], records[limit:]
    selection = selected_properties(object_type, names_param(request, "properties"))
    body: dict[str, object] = {
        "results": [
            record_json(
                record,
                selection,
                definitions=state.schema.definitions[object_type],
                store=state.store,
                associations=association_types_param(request),
            )
            for record in page
        ]
    }
    if rest:
        cursor = rest[0].id
        body["paging"] = {"next": {"after": cursor, "link": f"{request.url.path}?after={cursor}"}}
    return json_answer(body)


async def _get(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    record_id = request.path_params["record_id"]
    archived = request.query_params.get("archived", "false").lower() == "true"
    record = find_record(
        state,
        object_type,
        record_id,
        id_property=request.query_params.get("idProperty"),
        archived=archived,
    )
    if record is None:
        raise not_found_error(record_id)
    selection = selected_properties(object_type, names_param(request, "properties"))
    return json_answer(
        record_json(
            record,
            selection,
            definitions=state.schema.definitions[object_type],
            store=state.store,
            associations=association_types_param(request),
        )
    )


async def _create(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    item = await parse_body(request, CreateIn)
    prepared = check_create(state, object_type, item, claims=Claims())
    if isinstance(prepared, Refusal):
        raise whole_request_error([prepared])
    record = state.store.create(
        object_type,
        prepared.values,
        now=state.clock.now(),
        trace_id=item.object_write_trace_id,
        links=prepared.links,
    )
    definitions = state.schema.definitions[object_type]
    return json_answer(record_json(record, ALL_PROPERTIES, definitions=definitions), 201)


async def _patch(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    record_id = request.path_params["record_id"]
    record = find_record(
        state, object_type, record_id, id_property=request.query_params.get("idProperty")
    )
    if record is None:
        raise not_found_error(record_id)
    item = await parse_body(request, PatchIn)
    values = check_update(state, object_type, record, item.properties, claims=Claims())
    if isinstance(values, Refusal):
        raise whole_request_error([values])
    state.store.update(record, values, now=state.clock.now(), trace_id=None)
    definitions = state.schema.definitions[object_type]
    return json_answer(record_json(record, ALL_PROPERTIES, definitions=definitions))


async def _archive(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    record = state.store.get(object_type, request.path_params["record_id"])
    # Archiving what is gone already answers 204 as well: the end state is the same.
    if record is not None:
        state.store.archive(record, now=state.clock.now(), trace_id=None)
    return Response(status_code=204)


async def _search(state: EmulatorState, request: Request) -> Response:
    object_type = path_object_type(request)
    raw = await request.body()
    if len(raw) > MAX_BODY_CHARS:
        raise bad_request(
            f"The request body has {len(raw)} characters; searches allow {MAX_BODY_CHARS}."
        )
    body = await parse_body(request, SearchBody)
    problems = limit_problems(body)
    if problems:
        raise bad_request("; ".join(problems))
    definitions = state.schema.definitions[object_type]
    store = state.store
    page = run_search(
        object_type,
        body,
        store.live(object_type),
        definitions=definitions,
        associated=lambda record_id, to_type: store.associated(object_type, record_id, to_type),
    )
    selection = selected_properties(object_type, body.properties)
    answer: dict[str, object] = {
        "total": page.total,
        "results": [
            record_json(record, selection, definitions=definitions) for record in page.results
        ],
    }
    if page.next_after is not None:
        answer["paging"] = {"next": {"after": page.next_after}}
    return json_answer(answer)


def _int_param(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)
