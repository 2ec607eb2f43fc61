"""An in-memory CRM behind the CRM port, started from a ``crm.json`` snapshot.

For offline use (``crm-agents preview`` and ``eval``, unit tests): no network, no database.
It runs the HubSpot emulator's own pieces in-process (record store, search, write checks,
answer rendering) and reads their answers with the HubSpot adapter's parsers, so each call
returns what ``HubSpotClient`` returns from the emulator serving the same snapshot: the same
property selection, search matches (``associations.{type}`` pseudo-properties included),
per-input batch errors and refusals, raised as the same ``runtime.crm.errors`` types.

Differences from ``HubSpotClient`` on the emulator, on purpose:

- no authentication, rate limits, latency or injected faults;
- a batch call is checked as one request whatever its size, where the client sends 100
  inputs per request (and may have applied earlier requests when a later one is refused);
- writes live as long as this object; ``write_log()`` lists them, ``reset()`` drops them.

No method awaits, so each call runs whole: concurrent callers never see half a write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from runtime.clock import Clock, SystemClock
from runtime.crm.errors import CrmError
from runtime.crm.hubspot.client import LIST_LIMIT
from runtime.crm.hubspot.emulator.render import ALL_PROPERTIES, record_json, selected_properties
from runtime.crm.hubspot.emulator.responses import (
    ApiError,
    bad_request,
    error_body,
    not_found_error,
    object_not_found_entry,
)
from runtime.crm.hubspot.emulator.search import (
    MAX_BODY_CHARS,
    SearchBody,
    limit_problems,
    run_search,
)
from runtime.crm.hubspot.emulator.state import Schema, load_store
from runtime.crm.hubspot.emulator.store import Store, StoredRecord, WriteLogEntry
from runtime.crm.hubspot.emulator.writes import (
    BatchCreateIn,
    BatchUpdateIn,
    Refusal,
    check_batch_create,
    check_batch_update,
)
from runtime.crm.hubspot.failures import error_from_response
from runtime.crm.hubspot.wire import (
    batch_create_body,
    batch_update_body,
    input_error_from_json,
    record_from_json,
    search_body,
)
from runtime.crm.port import (
    OBJECT_TYPES,
    BatchResult,
    CrmRecord,
    InputError,
    ObjectType,
    Page,
    Pipeline,
    PropertyDefinition,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
)
from runtime.crm.snapshot import CrmSnapshot

__all__ = ["InMemoryCrm"]


@dataclass
class _Space:
    """The emulator's ``RecordSpace``: what its write checks read."""

    schema: Schema
    store: Store


class InMemoryCrm:
    """Implements ``CrmPort`` over a snapshot held in memory."""

    def __init__(self, snapshot: CrmSnapshot | None = None, *, clock: Clock | None = None) -> None:
        """A CRM holding ``snapshot`` (an empty CRM without one).

        Args:
            snapshot: the starting state; property definitions and pipelines come from it.
            clock: stamps ``createdate`` and modification times of writes.
        """
        self._snapshot = snapshot or CrmSnapshot()
        self._clock = clock or SystemClock()
        schema = Schema.from_snapshot(self._snapshot)
        self._space = _Space(schema, load_store(self._snapshot, schema, now=self._clock.now()))

    @classmethod
    def from_snapshot(cls, snapshot: CrmSnapshot, *, clock: Clock | None = None) -> InMemoryCrm:
        return cls(snapshot, clock=clock)

    def __repr__(self) -> str:
        counts = {t: len(self._space.store.live(t)) for t in OBJECT_TYPES}
        return f"InMemoryCrm({counts})"

    def write_log(self) -> list[WriteLogEntry]:
        """Every applied create and update since the start (or the last ``reset``)."""
        return list(self._space.store.write_log)

    def reset(self) -> None:
        """Back to the snapshot: writes and the write log are dropped."""
        self._space.store = load_store(self._snapshot, self._space.schema, now=self._clock.now())

    # Reads --------------------------------------------------------------------------------

    async def get(
        self,
        object_type: ObjectType,
        record_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord:
        record = self._space.store.get(object_type, record_id)
        if record is None:
            action = f"GET /crm/v3/objects/{object_type}/{record_id}"
            raise _crm_error(not_found_error(record_id), action=action)
        selection = selected_properties(object_type, properties)
        return self._answer(record, selection, associations=tuple(dict.fromkeys(associations)))

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        limit: int = LIST_LIMIT,
        after: str | None = None,
    ) -> Page:
        if not 1 <= limit <= LIST_LIMIT:
            raise ValueError(f"limit must be within 1..{LIST_LIMIT}, not {limit}")
        if after is not None and not after.isdigit():
            action = f"GET /crm/v3/objects/{object_type}"
            raise _crm_error(bad_request(f"after {after!r} is not a valid paging cursor"), action)
        records = self._space.store.live(object_type)
        if after is not None:
            # For lists, ``after`` is the id of the next record (as HubSpot pages them).
            records = [r for r in records if r.id.isdigit() and int(r.id) >= int(after)]
        page, rest = records[:limit], records[limit:]
        selection = selected_properties(object_type, properties)
        return Page(
            results=tuple(self._answer(record, selection) for record in page),
            next_after=rest[0].id if rest else None,
        )

    async def search(self, object_type: ObjectType, request: SearchRequest) -> Page:
        action = f"POST /crm/v3/objects/{object_type}/search"
        wire = search_body(request)
        # HubSpot measures the body as sent; httpx sends compact JSON.
        size = len(json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_BODY_CHARS:
            message = f"The request body has {size} characters; searches allow {MAX_BODY_CHARS}."
            raise _crm_error(bad_request(message), action)
        body = SearchBody.model_validate(wire)
        problems = limit_problems(body)
        if problems:
            raise _crm_error(bad_request("; ".join(problems)), action)
        store = self._space.store
        found = run_search(
            object_type,
            body,
            store.live(object_type),
            definitions=self._space.schema.definitions[object_type],
            associated=lambda record_id, to_type: store.associated(object_type, record_id, to_type),
        )
        selection = selected_properties(object_type, body.properties)
        return Page(
            results=tuple(self._answer(record, selection) for record in found.results),
            next_after=found.next_after,
            total=found.total,
        )

    async def batch_read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str] = ()
    ) -> BatchResult:
        """Records by id; unknown ids come back as one ``OBJECT_NOT_FOUND`` input error."""
        found: list[StoredRecord] = []
        missing: list[str] = []
        for record_id in dict.fromkeys(ids):
            record = self._space.store.get(object_type, record_id)
            if record is None:
                missing.append(record_id)
            else:
                found.append(record)
        selection = selected_properties(object_type, properties)
        errors = [_not_found(object_type, missing)] if missing else []
        return BatchResult(
            results=tuple(self._answer(record, selection) for record in found),
            errors=tuple(errors),
        )

    async def associated_ids(
        self, from_type: ObjectType, record_id: str, to_type: ObjectType
    ) -> list[str]:
        linked = self._space.store.associated(from_type, record_id, to_type)
        return sorted(linked, key=lambda to_id: int(to_id) if to_id.isdigit() else 0)

    async def property_definitions(self, object_type: ObjectType) -> list[PropertyDefinition]:
        """HubSpot's standard definitions with the snapshot's own laid over them."""
        return list(self._space.schema.definitions[object_type].values())

    async def pipelines(self, object_type: ObjectType = "deals") -> list[Pipeline]:
        if object_type != "deals":
            message = f"{object_type} have no pipelines in this emulator"
            action = f"GET /crm/v3/pipelines/{object_type}"
            raise _crm_error(ApiError(404, error_body(message, "OBJECT_NOT_FOUND")), action)
        return [
            pipeline.model_copy(
                update={"stages": tuple(sorted(pipeline.stages, key=lambda s: s.display_order))}
            )
            for pipeline in sorted(self._space.schema.pipelines, key=lambda p: p.display_order)
        ]

    # Writes -------------------------------------------------------------------------------

    async def batch_create(
        self, object_type: ObjectType, inputs: Sequence[RecordCreate]
    ) -> BatchResult:
        """Create records, checked as the emulator checks them (values, associations, unique
        values). One bad input refuses all unless every input has its own ``trace_id``.

        Raises:
            CrmValidationError: an input was refused and the inputs are not all traced.
            CrmError: (409 CONFLICT) likewise, for a unique value held by another record.
        """
        if not inputs:
            return BatchResult(results=())
        action = f"POST /crm/v3/objects/{object_type}/batch/create"
        # The body HubSpotClient would send, parsed by the emulator's own request model.
        body = BatchCreateIn.model_validate(batch_create_body(inputs))
        space = self._space
        try:
            checked = check_batch_create(space, object_type, body)
        except ApiError as exc:
            raise _crm_error(exc, action) from exc
        results: list[CrmRecord] = []
        errors: list[InputError] = []
        for item, outcome in zip(body.inputs, checked, strict=True):
            if isinstance(outcome, Refusal):
                entry = outcome.batch_entry(trace_id=item.object_write_trace_id)
                errors.append(input_error_from_json(entry))
                continue
            record = space.store.create(
                object_type,
                outcome.values,
                now=self._clock.now(),
                trace_id=item.object_write_trace_id,
                links=outcome.links,
            )
            results.append(self._answer(record, ALL_PROPERTIES))
        return BatchResult(results=tuple(results), errors=tuple(errors))

    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult:
        """Set properties, checked as the emulator checks them; unknown ids come back as one
        ``OBJECT_NOT_FOUND`` input error after the others.

        Raises:
            CrmValidationError: an id given twice, or a refused input when the inputs are not
                all traced (nothing is applied then).
            CrmError: (409 CONFLICT) likewise, for a unique value held by another record.
        """
        if not inputs:
            return BatchResult(results=())
        action = f"POST /crm/v3/objects/{object_type}/batch/update"
        body = BatchUpdateIn.model_validate(batch_update_body(inputs))
        space = self._space
        try:
            checked = check_batch_update(
                space,
                object_type,
                body,
                find=lambda record_id, _id_property: space.store.get(object_type, record_id),
            )
        except ApiError as exc:
            raise _crm_error(exc, action) from exc
        missing = [item.id for item, pair in zip(body.inputs, checked, strict=True) if pair is None]
        results: list[CrmRecord] = []
        errors: list[InputError] = []
        for item, pair in zip(body.inputs, checked, strict=True):
            if pair is None:
                continue
            record, outcome = pair
            if isinstance(outcome, Refusal):
                entry = outcome.batch_entry(trace_id=item.object_write_trace_id, record_id=item.id)
                errors.append(input_error_from_json(entry))
                continue
            space.store.update(
                record, outcome, now=self._clock.now(), trace_id=item.object_write_trace_id
            )
            results.append(self._answer(record, ALL_PROPERTIES))
        if missing:
            errors.append(_not_found(object_type, missing))
        return BatchResult(results=tuple(results), errors=tuple(errors))

    def _answer(
        self,
        record: StoredRecord,
        selection: Sequence[str],
        *,
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord:
        # Rendered as the emulator answers and read back as the client reads it, so the
        # selection rules (defaults, nulls for unset properties) cannot drift apart.
        answer = record_json(
            record,
            selection,
            definitions=self._space.schema.definitions[record.object_type],
            store=self._space.store,
            associations=associations,
        )
        return record_from_json(record.object_type, answer)


def _not_found(object_type: ObjectType, ids: Sequence[str]) -> InputError:
    return input_error_from_json(object_not_found_entry(object_type, ids))


def _crm_error(refusal: ApiError, action: str) -> CrmError:
    """The error ``HubSpotClient`` raises for the emulator's refusal: one mapping, not two."""
    answer = httpx.Response(refusal.status_code, json=refusal.body)
    error, _ = error_from_response(answer, action=action)
    return error
