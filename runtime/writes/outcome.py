"""What became of a batch's rows: the CRM's answer read input by input.

Pure: takes the inputs sent and the answer (or the error that ended the request) and sorts
every outbox row into done, failed, released (back to pending) or unknown (left in flight).
Rules:

- An update is written when its record is among the results and no error names it; a
  create when a result holds every value it sent (a batch answer need not keep the inputs'
  order and does not name the trace id of what it made).
- Errors name their input by trace id (``outbox-7``), else by record id.
- ``OUTCOME_UNKNOWN`` (the request failed without an answer) leaves the input in flight for
  recovery; ``NOT_SENT`` and rate-limit refusals release it; any other error fails it with
  the CRM's message. An input neither confirmed nor refused is unknown too.
- A refused update fails the fields the refusal names (``property_names``); its other
  fields are released and go again without the bad one, e.g. ``amount`` "abc" fails and
  ``closedate`` is sent again alone. A create fails whole.
- A request that failed whole: 423 and 477 are released (not carried out), any other 4xx
  fails every input (nothing was applied; the same request would fail again), a 5xx or no
  answer leaves them unknown.
- Values compare by meaning (``runtime.agents.values``): ``"20000"`` equals ``"20000.00"``
  for a number property, ``"2026-04-30"`` equals ``"2026-04-30T00:00:00.000Z"`` for a date;
  without a definition, numbers still compare as numbers and text by ``text_key``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from uuid import UUID

from runtime.agents.values import canonical, is_blank, text_key
from runtime.crm.errors import CrmError
from runtime.crm.port import (
    AssociationInput,
    BatchResult,
    CrmRecord,
    InputError,
    PropertyDefinition,
)
from runtime.inbox.models import InboxItem
from runtime.writes.plan import PlannedInput, QueuedWrite

__all__ = [
    "DEAL_TO_COMPANY",
    "DEAL_TO_CONTACT",
    "BatchOutcome",
    "associations_in",
    "create_outcome",
    "outcome_of_error",
    "same_value",
    "shown",
    "update_outcome",
]

DEAL_TO_COMPANY = 341
"""HubSpot's default association type from a deal to a company (reference/hubspot.md §4)."""
DEAL_TO_CONTACT = 3
"""HubSpot's default association type from a deal to a contact (§4)."""
_NOT_CARRIED_OUT = frozenset({423, 477})  # Locked, Migration in Progress: try again later.


@dataclass
class BatchOutcome:
    """Each row of a batch in one bucket, with the counts per input."""

    done: list[tuple[QueuedWrite, str, str | None]] = field(default_factory=list)
    """(row, value the CRM stored, id of the record a create made)."""
    failed: list[tuple[QueuedWrite, str]] = field(default_factory=list)
    """(row, the CRM's message)."""
    released: list[QueuedWrite] = field(default_factory=list)
    unknown: list[QueuedWrite] = field(default_factory=list)
    created: list[tuple[UUID, str]] = field(default_factory=list)
    """(activity, id of the record its create made)."""
    written_inputs: int = 0
    failed_inputs: int = 0
    unknown_inputs: int = 0


def same_value(a: str | None, b: str | None, definition: PropertyDefinition | None) -> bool:
    """Whether two CRM values mean the same (see the module docstring); blanks are equal."""
    if a is None or b is None or is_blank(a) or is_blank(b):
        return is_blank(a) and is_blank(b)
    if definition is None:
        try:
            return Decimal(a.strip()) == Decimal(b.strip())
        except InvalidOperation:
            return text_key(a) == text_key(b)
    try:
        return text_key(canonical(a, definition)) == text_key(canonical(b, definition))
    except ValueError:
        return text_key(a) == text_key(b)


def shown(value: str | None) -> str:
    """A value as a person reads it in a reason: ``(empty)`` for a blank."""
    return "(empty)" if value is None or is_blank(value) else value


def outcome_of_error(exc: CrmError, inputs: Sequence[PlannedInput]) -> BatchOutcome:
    """The rows of a request that failed whole (rate limits and auth are the caller's)."""
    writes = [w for i in inputs for w in i.writes]
    if exc.status in _NOT_CARRIED_OUT:
        return BatchOutcome(released=writes)
    if exc.status is not None and 400 <= exc.status < 500:
        return BatchOutcome(failed=[(w, str(exc)) for w in writes], failed_inputs=len(inputs))
    return BatchOutcome(unknown=writes, unknown_inputs=len(inputs))


def update_outcome(inputs: Sequence[PlannedInput], result: BatchResult) -> BatchOutcome:
    outcome = BatchOutcome()
    written = {record.id: record for record in result.results}
    errors = _attributed(inputs, result.errors, by_record=True)
    for index, item in enumerate(inputs):
        error = errors.get(index)
        record = written.get(item.record_id or "")
        if error is None and record is not None:
            outcome.done.extend((w, _stored(record, w), None) for w in item.writes)
            outcome.written_inputs += 1
        else:
            _not_written(outcome, item, error)
    return outcome


def create_outcome(
    inputs: Sequence[PlannedInput],
    result: BatchResult,
    definitions: Mapping[str, PropertyDefinition],
) -> BatchOutcome:
    outcome = BatchOutcome()
    errors = _attributed(inputs, result.errors, by_record=False)
    open_inputs = [index for index in range(len(inputs)) if index not in errors]
    made: dict[int, CrmRecord] = {}
    for record in result.results:
        for index in open_inputs:
            if index not in made and _holds(record, inputs[index], definitions):
                made[index] = record
                break
    for index, item in enumerate(inputs):
        created = made.get(index)
        if created is None:
            _not_written(outcome, item, errors.get(index))
            continue
        outcome.done.extend((w, _stored(created, w), created.id) for w in item.writes)
        if item.activity_log_id is not None:
            outcome.created.append((item.activity_log_id, created.id))
        outcome.written_inputs += 1
    return outcome


def associations_in(item: InboxItem) -> tuple[AssociationInput, ...]:
    """A new deal's links from its inbox item's context: ``company.id``, ``contacts[].id``."""
    context = item.context or {}
    links: list[AssociationInput] = []
    company = context.get("company")
    if isinstance(company, dict) and company.get("id"):
        links.append(
            AssociationInput(
                to_object_type="companies",
                to_id=str(company["id"]),
                association_type_id=DEAL_TO_COMPANY,
            )
        )
    contacts = context.get("contacts")
    for contact in contacts if isinstance(contacts, list) else ():
        if isinstance(contact, dict) and contact.get("id"):
            links.append(
                AssociationInput(
                    to_object_type="contacts",
                    to_id=str(contact["id"]),
                    association_type_id=DEAL_TO_CONTACT,
                )
            )
    return tuple(links)


def _attributed(
    inputs: Sequence[PlannedInput], errors: Sequence[InputError], *, by_record: bool
) -> dict[int, InputError]:
    """Which input each per-input error is about: by trace id, else by record id."""
    by_trace = {item.trace_id: index for index, item in enumerate(inputs)}
    by_id = {item.record_id: index for index, item in enumerate(inputs)} if by_record else {}
    found: dict[int, InputError] = {}
    for error in errors:
        hits = [by_trace[t] for t in error.trace_ids if t in by_trace]
        if not hits:
            hits = [by_id[i] for i in error.ids if i in by_id]
        for index in hits:
            found.setdefault(index, error)
    return found


def _not_written(outcome: BatchOutcome, item: PlannedInput, error: InputError | None) -> None:
    if error is None or error.code == "OUTCOME_UNKNOWN":
        # Neither confirmed nor refused: recovery reads the record and decides.
        outcome.unknown.extend(item.writes)
        outcome.unknown_inputs += 1
    elif error.code == "NOT_SENT" or error.category == "RATE_LIMITS":
        outcome.released.extend(item.writes)
    else:
        _refused(outcome, item, error)


def _refused(outcome: BatchOutcome, item: PlannedInput, error: InputError) -> None:
    named = set(error.property_names)
    blamed = [w for w in item.writes if w.property in named]
    if item.operation == "create" or not blamed or error.category != "VALIDATION_ERROR":
        blamed = list(item.writes)
    message = error.message or error.category
    outcome.failed.extend((w, message) for w in blamed)
    outcome.released.extend(w for w in item.writes if w not in blamed)
    outcome.failed_inputs += 1


def _holds(
    record: CrmRecord, item: PlannedInput, definitions: Mapping[str, PropertyDefinition]
) -> bool:
    return all(
        same_value(record.properties.get(w.property), w.value, definitions.get(w.property))
        for w in item.writes
    )


def _stored(record: CrmRecord, write: QueuedWrite) -> str:
    """The value the CRM holds for a written field: what it made of ours."""
    value = record.properties.get(write.property)
    return write.value if value is None else value
