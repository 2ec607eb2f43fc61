"""Reading a batch answer input by input, and comparing CRM values by meaning."""

from __future__ import annotations

import uuid

import pytest

from runtime.crm.errors import CrmConnectionError, CrmServerError, CrmValidationError
from runtime.crm.port import BatchResult, CrmRecord, InputError, PropertyDefinition
from runtime.writes.outcome import create_outcome, outcome_of_error, same_value, update_outcome
from runtime.writes.plan import QueuedWrite, plan_batches

NUMBER = PropertyDefinition(name="amount", label="Amount", type="number", field_type="number")
DATE = PropertyDefinition(name="closedate", label="Close date", type="date", field_type="date")
TEXT = PropertyDefinition(name="dealname", label="Name", type="string", field_type="text")


@pytest.mark.parametrize(
    ("a", "b", "definition", "same"),
    [
        ("20000", "20000.00", NUMBER, True),
        ("20000", "20001", NUMBER, False),
        ("2026-04-30", "2026-04-30T00:00:00.000Z", DATE, True),
        ("2026-04-30", "2026-05-01", DATE, False),
        (None, "", NUMBER, True),
        (None, "0", NUMBER, False),
        ("Acme  Pilot", "acme pilot", TEXT, True),
        ("60000.0", "60000", None, True),  # no definition: numbers still compare as numbers
        ("Acme", "Globex", None, False),
        ("abc", "ABC", NUMBER, True),  # not a number at all: compared as text
    ],
)
def test_values_compare_by_meaning(
    a: str | None, b: str | None, definition: PropertyDefinition | None, same: bool
) -> None:
    assert same_value(a, b, definition) is same


def _write(outbox_id: int, record_id: str | None, prop: str, value: str) -> QueuedWrite:
    return QueuedWrite(
        outbox_id=outbox_id,
        proposal_id=uuid.uuid4(),
        activity_log_id=uuid.uuid4(),
        inbox_item_id=None,
        operation="update" if record_id else "create",
        object_type="deals",
        record_id=record_id,
        property=prop,
        value=value,
        before=None,
        approved=False,
    )


def _record(record_id: str, **properties: str) -> CrmRecord:
    return CrmRecord(id=record_id, object_type="deals", properties=dict(properties))


def test_a_207_fails_only_its_input_and_only_the_field_it_names() -> None:
    amount, closedate = (
        _write(1, "301", "amount", "abc"),
        _write(2, "301", "closedate", "2026-05-31"),
    )
    ok = _write(3, "302", "amount", "5")
    [batch] = plan_batches([amount, closedate, ok], 100)
    refusal = InputError(
        category="VALIDATION_ERROR",
        message="abc was not a valid number",
        trace_ids=("outbox-1",),
        property_names=("amount",),
    )
    answer = BatchResult(results=(_record("302", amount="5"),), errors=(refusal,))

    outcome = update_outcome(batch.inputs, answer)

    assert outcome.done == [(ok, "5", None)]
    assert outcome.failed == [(amount, "abc was not a valid number")]
    assert outcome.released == [closedate]  # sent again, without the bad field
    assert (outcome.written_inputs, outcome.failed_inputs) == (1, 1)


def test_inputs_the_answer_does_not_settle() -> None:
    rows = [_write(n, str(300 + n), "amount", "1") for n in range(1, 5)]
    [batch] = plan_batches(rows, 100)
    errors = (
        InputError(category="CrmServerError", message="?", code="OUTCOME_UNKNOWN", ids=("301",)),
        InputError(category="CrmServerError", message="?", code="NOT_SENT", ids=("302",)),
        InputError(category="RATE_LIMITS", message="429", code="REFUSED", ids=("303",)),
    )

    outcome = update_outcome(batch.inputs, BatchResult(results=(), errors=errors))

    # 304 is neither confirmed nor refused: only a read can tell, so it stays in flight.
    assert outcome.unknown == [rows[0], rows[3]]
    assert outcome.released == [rows[1], rows[2]]
    assert outcome.done == []
    assert outcome.failed == []


def test_creates_are_matched_to_the_records_made_by_their_values() -> None:
    globex, initech = _write(1, None, "dealname", "Globex"), _write(2, None, "dealname", "Initech")
    [batch] = plan_batches([globex, initech], 100)
    answer = BatchResult(
        results=(_record("9002", dealname="Initech"), _record("9001", dealname="Globex"))
    )

    outcome = create_outcome(batch.inputs, answer, {"dealname": TEXT})

    assert outcome.done == [(globex, "Globex", "9001"), (initech, "Initech", "9002")]
    assert outcome.created == [(globex.activity_log_id, "9001"), (initech.activity_log_id, "9002")]


def test_a_request_that_failed_whole() -> None:
    rows = [_write(1, "301", "amount", "1"), _write(2, "302", "amount", "2")]
    [batch] = plan_batches(rows, 100)
    refused = outcome_of_error(CrmValidationError("POST ...: bad"), batch.inputs)
    assert [(w, m) for w, m in refused.failed] == [
        (rows[0], "POST ...: bad"),
        (rows[1], "POST ...: bad"),
    ]
    assert outcome_of_error(CrmServerError("locked", 423), batch.inputs).released == rows
    assert outcome_of_error(CrmServerError("down", 503), batch.inputs).unknown == rows
    assert outcome_of_error(CrmConnectionError("dropped"), batch.inputs).unknown == rows
