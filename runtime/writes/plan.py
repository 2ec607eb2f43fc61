"""Planning a flush: queued outbox rows in, batches of merged inputs out.

Pure: ``plan_batches`` takes the rows a flush may send (oldest first) and decides what each
request carries. Rules:

- One input per record: every row of one record becomes one input with all its fields.
  Rows 7 (deal 301 ``amount``), 8 (deal 301 ``closedate``) and 9 (deal 302 ``amount``) make
  two inputs: ``301 {amount, closedate}`` and ``302 {amount}``.
- The newer row wins: two rows for the same record and property keep the newer one (the
  higher outbox id); the older is reported as ``superseded`` on the input, and the writer
  cancels it (outbox ``cancelled``, proposal ``superseded``). It is not marked ``done``: it
  was never written, and ``done`` would claim it was. Rows 7 (``amount`` 50000) and 12
  (``amount`` 60000) of deal 301 send 60000; row 7 is superseded by row 12.
- One create per activity: the rows of a proposed create (no record id yet) are grouped by
  the activity that proposed them into one input, e.g. ``{dealname, amount, dealstage}``.
- Batches hold inputs of one operation (update or create) and one object type, at most
  ``batch_size`` of them (HubSpot refuses more than 100), in the order of each input's
  oldest row: 250 records make batches of 100, 100 and 50.
- Each input has a trace id made of its first row's id (``outbox-7``), unique within a
  request, so that HubSpot ties a per-input error to it (reference/hubspot.md §5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from runtime.crm.port import ObjectType
from runtime.inbox.models import Proposal
from runtime.outbox.models import OutboxRow

__all__ = ["OBJECT_TYPE_OF", "Batch", "PlannedInput", "QueuedWrite", "plan_batches"]

OBJECT_TYPE_OF: dict[str, ObjectType] = {
    "deal": "deals",
    "contact": "contacts",
    "company": "companies",
    "deals": "deals",
    "contacts": "contacts",
    "companies": "companies",
}
"""The port's object type for a stored ``crm_record_type`` (the seed stores ``deal``)."""

Operation = Literal["update", "create"]


@dataclass(frozen=True, slots=True)
class QueuedWrite:
    """One outbox row with what the writer needs of its proposal."""

    outbox_id: int
    proposal_id: UUID
    activity_log_id: UUID
    inbox_item_id: UUID | None
    operation: Operation
    object_type: ObjectType
    record_id: str | None
    property: str
    value: str
    before: str | None
    approved: bool
    """A human decided it (``decided_by`` or ``approved_value`` set): checked against the
    CRM's current value before it is written."""
    attempts: int = 0

    @classmethod
    def of(cls, row: OutboxRow, proposal: Proposal) -> QueuedWrite:
        object_type = OBJECT_TYPE_OF.get(row.crm_record_type)
        if object_type is None:
            raise ValueError(f"outbox row {row.id}: unknown record type {row.crm_record_type!r}")
        return cls(
            outbox_id=row.id,
            proposal_id=row.proposal_id,
            activity_log_id=proposal.activity_log_id,
            inbox_item_id=proposal.inbox_item_id,
            operation=row.operation,
            object_type=object_type,
            record_id=row.crm_record_id,
            property=row.property,
            value=row.value,
            before=proposal.before_value,
            approved=proposal.decided_by is not None or proposal.approved_value is not None,
            attempts=row.attempts,
        )


@dataclass(frozen=True, slots=True)
class PlannedInput:
    """One input of a batch request: a record's fields (or a new record's), merged."""

    operation: Operation
    object_type: ObjectType
    record_id: str | None
    activity_log_id: UUID | None
    writes: tuple[QueuedWrite, ...]
    """The rows this input writes, one per property, oldest first."""
    superseded: tuple[tuple[QueuedWrite, QueuedWrite], ...] = ()
    """(older, newer) pairs: rows replaced by a newer row of the same property."""

    @property
    def properties(self) -> dict[str, str]:
        return {w.property: w.value for w in self.writes}

    @property
    def trace_id(self) -> str:
        return f"outbox-{self.writes[0].outbox_id}"

    @property
    def outbox_ids(self) -> tuple[int, ...]:
        return tuple(w.outbox_id for w in self.writes)

    def keeping(self, kept: Sequence[QueuedWrite]) -> PlannedInput | None:
        """This input with only ``kept`` of its rows (None when none is left)."""
        ids = {w.outbox_id for w in kept}
        writes = tuple(w for w in self.writes if w.outbox_id in ids)
        if not writes:
            return None
        return PlannedInput(
            self.operation,
            self.object_type,
            self.record_id,
            self.activity_log_id,
            writes,
            self.superseded,
        )


@dataclass(frozen=True, slots=True)
class Batch:
    """Inputs for one batch request: one operation, one object type, ≤ batch_size inputs."""

    operation: Operation
    object_type: ObjectType
    inputs: tuple[PlannedInput, ...]

    @property
    def writes(self) -> tuple[QueuedWrite, ...]:
        return tuple(w for i in self.inputs for w in i.writes)

    @property
    def superseded(self) -> tuple[tuple[QueuedWrite, QueuedWrite], ...]:
        return tuple(pair for i in self.inputs for pair in i.superseded)


_InputKey = tuple[Operation, ObjectType, str]


def plan_batches(rows: Sequence[QueuedWrite], batch_size: int) -> list[Batch]:
    """Merge ``rows`` per record and split them into batches (see the module docstring).

    Raises:
        ValueError: ``batch_size`` is not positive, or an update row has no record id.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    grouped: dict[_InputKey, list[QueuedWrite]] = {}
    for row in sorted(rows, key=lambda r: r.outbox_id):
        if row.operation == "update":
            if row.record_id is None:
                raise ValueError(f"outbox row {row.outbox_id}: an update needs a record id")
            key: _InputKey = ("update", row.object_type, row.record_id)
        else:
            key = ("create", row.object_type, str(row.activity_log_id))
        grouped.setdefault(key, []).append(row)

    by_kind: dict[tuple[Operation, ObjectType], list[PlannedInput]] = {}
    for (operation, object_type, _), group in grouped.items():
        by_kind.setdefault((operation, object_type), []).append(_merged(group))

    batches = [
        Batch(operation, object_type, tuple(inputs[start : start + batch_size]))
        for (operation, object_type), inputs in by_kind.items()
        for start in range(0, len(inputs), batch_size)
    ]
    # The oldest row of a batch's first input is the batch's place in the queue.
    return sorted(batches, key=lambda b: _first_row_id(b.inputs[0]))


def _merged(group: list[QueuedWrite]) -> PlannedInput:
    """One record's rows (oldest first) as one input; a newer row replaces an older one."""
    by_property: dict[str, list[QueuedWrite]] = {}
    for row in group:
        by_property.setdefault(row.property, []).append(row)
    # Every older row of a property is reported against the one that is sent.
    superseded = [(old, rows[-1]) for rows in by_property.values() for old in rows[:-1]]
    writes = tuple(sorted((rows[-1] for rows in by_property.values()), key=lambda r: r.outbox_id))
    first = group[0]
    return PlannedInput(
        operation=first.operation,
        object_type=first.object_type,
        record_id=first.record_id,
        activity_log_id=first.activity_log_id if first.operation == "create" else None,
        writes=writes,
        superseded=tuple(sorted(superseded, key=lambda pair: pair[0].outbox_id)),
    )


def _first_row_id(item: PlannedInput) -> int:
    ids = [w.outbox_id for w in item.writes] + [old.outbox_id for old, _ in item.superseded]
    return min(ids)
