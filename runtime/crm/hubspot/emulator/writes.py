"""Request bodies of the object endpoints and the checks one write input goes through.

A check either prepares the input (normalised values, association links) or refuses it
with what HubSpot would say: 400 VALIDATION_ERROR for property values or associations,
409 CONFLICT for a taken unique value. Nothing is applied here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.requests import Request

from runtime.crm.hubspot.emulator.objects import ASSOCIATION_TYPES, SINGULAR
from runtime.crm.hubspot.emulator.responses import (
    ApiError,
    bad_request,
    error_body,
    problem_entries,
    validation_message,
)
from runtime.crm.hubspot.emulator.state import Schema
from runtime.crm.hubspot.emulator.store import AssociationLink, Store, StoredRecord
from runtime.crm.hubspot.emulator.validation import Problem, WrittenValue, validate_write
from runtime.crm.port import ObjectType
from runtime.errors import invalid_from_pydantic

__all__ = [
    "BATCH_LIMIT",
    "AssociationIn",
    "BatchCreateIn",
    "BatchIdsIn",
    "BatchReadIn",
    "BatchUpdateIn",
    "CheckedUpdate",
    "Claims",
    "CreateIn",
    "PatchIn",
    "PreparedCreate",
    "RecordSpace",
    "Refusal",
    "check_batch_create",
    "check_batch_size",
    "check_batch_update",
    "check_create",
    "check_update",
    "parse_body",
    "traced_individually",
    "whole_request_error",
]

# reference §2: object batch endpoints take at most 100 inputs.
BATCH_LIMIT = 100
Model = TypeVar("Model", bound=BaseModel)


class RecordSpace(Protocol):
    """What the write checks read: the schema and the records.

    ``EmulatorState`` is one; ``runtime.crm.memory.InMemoryCrm`` holds another, so the
    in-memory CRM refuses exactly the writes the emulator refuses.
    """

    @property
    def schema(self) -> Schema: ...

    @property
    def store(self) -> Store: ...


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


IdText = Annotated[str, BeforeValidator(_id_text)]
Properties = dict[str, WrittenValue]
_BODY = ConfigDict(extra="ignore", populate_by_name=True)


class AssociationTypeIn(BaseModel):
    model_config = _BODY

    association_category: str = Field(default="HUBSPOT_DEFINED", alias="associationCategory")
    association_type_id: int = Field(alias="associationTypeId")


class AssociationTargetIn(BaseModel):
    model_config = _BODY

    id: IdText


class AssociationIn(BaseModel):
    model_config = _BODY

    to: AssociationTargetIn
    types: list[AssociationTypeIn] = Field(min_length=1)


class CreateIn(BaseModel):
    model_config = _BODY

    properties: Properties = Field(default_factory=dict)
    associations: list[AssociationIn] = Field(default_factory=list)
    object_write_trace_id: str | None = Field(default=None, alias="objectWriteTraceId")


class PatchIn(BaseModel):
    model_config = _BODY

    properties: Properties


class UpdateIn(BaseModel):
    model_config = _BODY

    id: IdText
    id_property: str | None = Field(default=None, alias="idProperty")
    properties: Properties
    object_write_trace_id: str | None = Field(default=None, alias="objectWriteTraceId")


class IdIn(BaseModel):
    model_config = _BODY

    id: IdText


class BatchCreateIn(BaseModel):
    model_config = _BODY

    inputs: list[CreateIn]


class BatchUpdateIn(BaseModel):
    model_config = _BODY

    inputs: list[UpdateIn]


class BatchIdsIn(BaseModel):
    model_config = _BODY

    inputs: list[IdIn]


class BatchReadIn(BaseModel):
    model_config = _BODY

    inputs: list[IdIn]
    properties: list[str] = Field(default_factory=list)
    id_property: str | None = Field(default=None, alias="idProperty")


async def parse_body(request: Request, model: type[Model]) -> Model:
    """The body as ``model``; 400 naming the position or field when it is not."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = invalid_from_pydantic(exc).problems
        detail = "; ".join(f"{where}: {reason}" for where, reason in problems)
        raise bad_request(f"Invalid input JSON: {detail}") from exc


def check_batch_size(count: int, limit: int = BATCH_LIMIT) -> None:
    if count > limit:
        raise bad_request(f"Batch input of {count} items is over the limit of {limit} inputs.")


def traced_individually(trace_ids: list[str | None]) -> bool:
    """reference §5: per-input errors only when every input has its own objectWriteTraceId."""
    present = [trace_id for trace_id in trace_ids if trace_id]
    return len(present) == len(trace_ids) and len(set(present)) == len(present)


@dataclass(frozen=True)
class Refusal:
    """Why one input is refused, answerable alone (whole request) or inside a 207."""

    status_code: int
    category: str
    message: str
    errors: tuple[dict[str, Any], ...] = ()
    problems: tuple[Problem, ...] = ()

    @classmethod
    def invalid(cls, problems: list[Problem]) -> Refusal:
        return cls(
            400,
            "VALIDATION_ERROR",
            validation_message(problems),
            tuple(problem_entries(problems)),
            tuple(problems),
        )

    def batch_entry(self, *, trace_id: str | None, record_id: str | None = None) -> dict[str, Any]:
        context: dict[str, list[str]] = {}
        if trace_id:
            context["objectWriteTraceId"] = [trace_id]
        if record_id is not None:
            context["ids"] = [record_id]
        entry: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": context,
        }
        if self.errors:
            entry["errors"] = list(self.errors)
        return entry


def whole_request_error(refusals: list[Refusal]) -> ApiError:
    """One answer refusing a whole request; property problems of all inputs are merged."""
    first = refusals[0]
    problems = [p for r in refusals if r.status_code == 400 for p in r.problems]
    if first.status_code == 400 and problems:
        first = Refusal.invalid(problems)
    body = error_body(first.message, first.category)
    if first.errors:
        body["errors"] = list(first.errors)
    return ApiError(first.status_code, body)


@dataclass(frozen=True)
class PreparedCreate:
    values: dict[str, str]
    links: tuple[AssociationLink, ...]


@dataclass
class Claims:
    """Unique values claimed by earlier inputs of the same request: name -> value -> id."""

    taken: dict[str, dict[str, str]] = field(default_factory=dict)

    def holder(self, name: str, value: str) -> str | None:
        return self.taken.get(name, {}).get(value.casefold())

    def claim(self, name: str, value: str, record_id: str) -> None:
        self.taken.setdefault(name, {})[value.casefold()] = record_id

    def claim_unique(
        self, state: RecordSpace, object_type: ObjectType, values: dict[str, str], holder: str
    ) -> None:
        """Claim the unique values an accepted input writes, so later inputs conflict."""
        for name, definition in state.schema.definitions[object_type].items():
            if definition.has_unique_value and values.get(name):
                self.claim(name, values[name], holder)


def check_create(
    state: RecordSpace, object_type: ObjectType, item: CreateIn, *, claims: Claims
) -> PreparedCreate | Refusal:
    values, problems = validate_write(
        object_type,
        item.properties,
        definitions=state.schema.definitions[object_type],
        pipelines=state.schema.pipelines,
        current=None,
    )
    if problems:
        return Refusal.invalid(problems)
    links: list[AssociationLink] = []
    for association in item.associations:
        for kind in association.types:
            link = _association_link(state, object_type, association.to.id, kind)
            if isinstance(link, Refusal):
                return link
            links.append(link)
    conflict = _unique_conflict(state, object_type, values, claims=claims, record_id=None)
    return conflict or PreparedCreate(values, tuple(links))


def check_batch_create(
    space: RecordSpace, object_type: ObjectType, body: BatchCreateIn
) -> list[PreparedCreate | Refusal]:
    """Check every input of a batch create before any is applied (reference §5).

    Unique values claimed by an earlier input count against later ones. A refused input
    fails the whole request unless every input is traced individually.

    Raises:
        ApiError: a refusal in an untraced request.
    """
    claims = Claims()
    checked: list[PreparedCreate | Refusal] = []
    for index, item in enumerate(body.inputs):
        outcome = check_create(space, object_type, item, claims=claims)
        if isinstance(outcome, PreparedCreate):
            claims.claim_unique(space, object_type, outcome.values, f"(input {index})")
        checked.append(outcome)
    refusals = [outcome for outcome in checked if isinstance(outcome, Refusal)]
    if refusals and not traced_individually([i.object_write_trace_id for i in body.inputs]):
        raise whole_request_error(refusals)
    return checked


CheckedUpdate = tuple[StoredRecord, dict[str, str] | Refusal] | None
"""One batch-update input after checking: None for an unknown id, else the record and its
normalised values or the reason it is refused."""


def check_batch_update(
    space: RecordSpace,
    object_type: ObjectType,
    body: BatchUpdateIn,
    *,
    find: Callable[[str, str | None], StoredRecord | None],
) -> list[CheckedUpdate]:
    """Check every input of a batch update before any is applied (reference §5).

    ``find(id, id_property)`` looks a record up. A refused input fails the whole request
    unless every input is traced individually.

    Raises:
        ApiError: an id given twice, or a refusal in an untraced request.
    """
    repeated = [rid for rid, n in Counter(i.id for i in body.inputs).items() if n > 1]
    if repeated:
        raise bad_request(
            f"Duplicate IDs found in batch input: [{', '.join(repeated)}]. IDs must be unique"
        )
    claims = Claims()
    checked: list[CheckedUpdate] = []
    for item in body.inputs:
        record = find(item.id, item.id_property)
        if record is None:
            checked.append(None)
            continue
        outcome = check_update(space, object_type, record, item.properties, claims=claims)
        if not isinstance(outcome, Refusal):
            claims.claim_unique(space, object_type, outcome, record.id)
        checked.append((record, outcome))
    refusals = [pair[1] for pair in checked if pair and isinstance(pair[1], Refusal)]
    if refusals and not traced_individually([i.object_write_trace_id for i in body.inputs]):
        raise whole_request_error(refusals)
    return checked


def check_update(
    state: RecordSpace,
    object_type: ObjectType,
    record: StoredRecord,
    properties: Properties,
    *,
    claims: Claims,
) -> dict[str, str] | Refusal:
    values, problems = validate_write(
        object_type,
        properties,
        definitions=state.schema.definitions[object_type],
        pipelines=state.schema.pipelines,
        current=record.properties,
    )
    if problems:
        return Refusal.invalid(problems)
    conflict = _unique_conflict(state, object_type, values, claims=claims, record_id=record.id)
    return conflict or values


def _association_link(
    state: RecordSpace, object_type: ObjectType, to_id: str, kind: AssociationTypeIn
) -> AssociationLink | Refusal:
    association = ASSOCIATION_TYPES.get(kind.association_type_id)
    if (
        kind.association_category != "HUBSPOT_DEFINED"
        or association is None
        or association.from_type != object_type
    ):
        message = (
            f"{kind.association_category} association type {kind.association_type_id}"
            f" does not start at {SINGULAR[object_type]} records"
        )
        entry = {
            "message": message,
            "code": "INVALID_ASSOCIATION_TYPE",
            "context": {"associationTypeId": [str(kind.association_type_id)]},
        }
        return Refusal(400, "VALIDATION_ERROR", message, (entry,))
    if state.store.get(association.to_type, to_id) is None:
        message = (
            f"Cannot associate with {SINGULAR[association.to_type]} {to_id}: it does not exist"
        )
        entry = {"message": message, "code": "OBJECT_NOT_FOUND", "context": {"toObjectId": [to_id]}}
        return Refusal(400, "VALIDATION_ERROR", message, (entry,))
    return AssociationLink(association.to_type, to_id, association.type_id)


def _unique_conflict(
    state: RecordSpace,
    object_type: ObjectType,
    values: dict[str, str],
    *,
    claims: Claims,
    record_id: str | None,
) -> Refusal | None:
    for name, definition in state.schema.definitions[object_type].items():
        value = values.get(name, "")
        if not definition.has_unique_value or value == "":
            continue
        holder = state.store.find_by(object_type, name, value)
        holder_id = holder.id if holder is not None else claims.holder(name, value)
        if holder_id is not None and holder_id != record_id:
            if object_type == "contacts" and name == "email":
                message = f"Contact already exists. Existing ID: {holder_id}"
            else:
                message = (
                    f"A {SINGULAR[object_type]} with {name} {value} already exists."
                    f" Existing ID: {holder_id}"
                )
            return Refusal(409, "CONFLICT", message)
    return None
