"""Planning a flush: outbox rows merged per record and split into batches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from runtime.crm.port import ObjectType
from runtime.inbox.models import Proposal
from runtime.outbox.models import OutboxRow
from runtime.writes.plan import QueuedWrite, plan_batches

ACTIVITY = uuid.uuid4()


def write(
    outbox_id: int,
    record_id: str | None,
    prop: str,
    value: str = "1",
    *,
    operation: str = "update",
    object_type: ObjectType = "deals",
    activity: UUID = ACTIVITY,
) -> QueuedWrite:
    return QueuedWrite(
        outbox_id=outbox_id,
        proposal_id=uuid.uuid4(),
        activity_log_id=activity,
        inbox_item_id=None,
        operation="create" if operation == "create" else "update",
        object_type=object_type,
        record_id=record_id,
        property=prop,
        value=value,
        before=None,
        approved=False,
    )


def test_the_fields_of_one_record_are_one_input() -> None:
    rows = [write(7, "301", "amount", "60000"), write(8, "301", "closedate", "2026-05-31")]
    rows.append(write(9, "302", "amount", "9000"))

    [batch] = plan_batches(rows, 100)

    assert (batch.operation, batch.object_type) == ("update", "deals")
    assert [(i.record_id, i.properties) for i in batch.inputs] == [
        ("301", {"amount": "60000", "closedate": "2026-05-31"}),
        ("302", {"amount": "9000"}),
    ]
    assert [i.trace_id for i in batch.inputs] == ["outbox-7", "outbox-9"]
    assert [i.outbox_ids for i in batch.inputs] == [(7, 8), (9,)]
    assert batch.superseded == ()


def test_the_newer_row_for_a_field_wins_and_the_older_ones_are_superseded() -> None:
    oldest, older = write(3, "301", "amount", "50000"), write(5, "301", "amount", "55000")
    newest = write(12, "301", "amount", "60000")
    other = write(4, "301", "hs_next_step", "Send the order form")

    [batch] = plan_batches([newest, other, older, oldest], 100)

    [item] = batch.inputs
    assert item.properties == {"amount": "60000", "hs_next_step": "Send the order form"}
    assert item.writes == (other, newest)
    # Every replaced row is reported against the row that is sent, not its successor.
    assert item.superseded == ((oldest, newest), (older, newest))
    assert batch.superseded == item.superseded


def test_250_records_make_batches_of_100_100_and_50_in_queue_order() -> None:
    rows = [write(i * 2 + 1, str(1000 + i), "amount") for i in range(250)]
    rows += [write(i * 2 + 2, str(1000 + i), "closedate") for i in range(250)]

    batches = plan_batches(rows, 100)

    assert [len(b.inputs) for b in batches] == [100, 100, 50]
    records = [i.record_id for b in batches for i in b.inputs]
    assert records == [str(1000 + i) for i in range(250)]  # each record once, oldest first
    assert all(set(i.properties) == {"amount", "closedate"} for b in batches for i in b.inputs)


def test_a_create_is_one_input_per_activity_in_its_own_batch() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    rows = [
        write(1, "301", "amount"),
        write(2, None, "dealname", "Globex", operation="create", activity=first),
        write(3, None, "amount", "5000", operation="create", activity=first),
        write(4, None, "dealname", "Initech", operation="create", activity=second),
        write(5, "302", "amount"),
    ]

    updates, creates = plan_batches(rows, 100)

    assert [i.record_id for i in updates.inputs] == ["301", "302"]
    assert creates.operation == "create"
    assert [(i.activity_log_id, i.properties) for i in creates.inputs] == [
        (first, {"dealname": "Globex", "amount": "5000"}),
        (second, {"dealname": "Initech"}),
    ]


def test_object_types_are_never_mixed_in_a_batch() -> None:
    rows = [write(1, "301", "amount"), write(2, "201", "phone", object_type="contacts")]
    batches = plan_batches(rows, 100)
    assert [(b.object_type, len(b.inputs)) for b in batches] == [("deals", 1), ("contacts", 1)]


def test_the_same_id_in_two_object_types_is_two_records() -> None:
    rows = [write(1, "5", "amount"), write(2, "5", "phone", object_type="contacts")]
    assert len(plan_batches(rows, 100)) == 2


def test_nothing_queued_plans_nothing() -> None:
    assert plan_batches([], 100) == []


def test_keeping_some_rows_of_an_input() -> None:
    rows = [write(1, "301", "amount", "1"), write(2, "301", "closedate", "2026-05-31")]
    [batch] = plan_batches(rows, 100)
    [item] = batch.inputs
    kept = item.keeping([rows[1]])
    assert kept is not None
    assert (kept.properties, kept.trace_id) == ({"closedate": "2026-05-31"}, "outbox-2")
    assert item.keeping([]) is None


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        plan_batches([write(1, "301", "amount")], 0)
    with pytest.raises(ValueError, match="needs a record id"):
        plan_batches([write(1, None, "amount")], 100)


def _stored(**proposal: Any) -> tuple[OutboxRow, Proposal]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    workspace, proposal_id = uuid.uuid4(), uuid.uuid4()
    row = OutboxRow(
        id=7,
        workspace_id=workspace,
        proposal_id=proposal_id,
        operation="update",
        crm_record_type="deal",
        crm_record_id="301",
        property="amount",
        value="60000",
        status="pending",
        attempts=2,
        batch_id=None,
        error_message=None,
        created_at=now,
        sent_at=None,
        done_at=None,
    )
    fields: dict[str, Any] = {
        "id": proposal_id,
        "workspace_id": workspace,
        "activity_log_id": ACTIVITY,
        "inbox_item_id": None,
        "crm_record_type": "deal",
        "crm_record_id": "301",
        "field": "amount",
        "before_value": "20000",
        "proposed_value": "60000",
        "approved_value": None,
        "written_value": None,
        "confidence": Decimal("0.9"),
        "route": "auto_apply",
        "status": "queued",
        "reason": "",
        "evidence": [],
        "error_message": None,
        "decided_by": None,
        "decided_at": None,
        "created_at": now,
        "updated_at": now,
        **proposal,
    }
    return row, Proposal(**fields)


def test_a_stored_row_becomes_a_queued_write() -> None:
    queued = QueuedWrite.of(*_stored())
    assert (queued.object_type, queued.record_id, queued.before) == ("deals", "301", "20000")
    assert (queued.attempts, queued.approved) == (2, False)
    assert QueuedWrite.of(*_stored(decided_by=uuid.uuid4())).approved
    assert QueuedWrite.of(*_stored(approved_value="65000")).approved
