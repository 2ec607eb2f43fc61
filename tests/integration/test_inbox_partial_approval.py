"""Approving some fields of an item, some with a person's value, against real Postgres and
the HubSpot emulator: the edits are checked against the CRM's property definitions, the
proposed, approved and written values stay apart, and nothing changes on bad input."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token
from runtime.crm.hubspot import NO_RETRIES, HubSpotClient, PrivateAppToken
from runtime.errors import ConflictError, InvalidInputError
from runtime.inbox.decisions import InboxDecisions
from runtime.inbox.edits import FieldApproval
from runtime.runs.crm_source import ConnectedCrms
from runtime.settings import HubSpotSettings
from runtime.writes.budget import RateBudget, RateLimits
from runtime.writes.writer import OutboxWriter
from tests.decision_setup import Made, Team, Values, make_item, make_team, member
from tests.hubspot_emulator import TOKEN, RunningEmulator, running_emulator

KEYS = KeyRing([("k", os.urandom(32))])
FIELDS: Values = {
    "amount": ("20000", "60000"),
    "closedate": ("2026-06-30", "2026-05-31"),
    "dealstage": ("appointmentscheduled", "qualifiedtobuy"),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator() as running:
        yield running


@pytest.fixture
async def crms(pool: asyncpg.Pool) -> AsyncIterator[ConnectedCrms]:
    source = ConnectedCrms(pool, KEYS, HubSpotSettings(max_retries=0), clock=SystemClock())
    yield source
    await source.aclose()


@pytest.fixture
async def team(pool: asyncpg.Pool, emulator: RunningEmulator) -> Team:
    made = await make_team(pool)
    await connect_private_token(pool, KEYS, made.workspace_id, token=TOKEN, base_url=emulator.url)
    return made


@pytest.fixture
def decisions(pool: asyncpg.Pool, crms: ConnectedCrms) -> InboxDecisions:
    return InboxDecisions(pool, SystemClock(), crms)


async def proposals(pool: asyncpg.Pool, made: Made) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT field, status, proposed_value, approved_value, written_value, decided_by"
        " FROM proposals WHERE activity_log_id = $1",
        made.activity_id,
    )
    return {row["field"]: dict(row) for row in rows}


async def state(pool: asyncpg.Pool, made: Made) -> tuple[Any, ...]:
    """Everything a decision changes, to show that a refused one changed nothing."""
    item = await pool.fetchrow(
        "SELECT status, resolved_by, decided_snapshot FROM inbox_items WHERE id = $1", made.item.id
    )
    outbox = await pool.fetchval(
        "SELECT count(*) FROM write_outbox o JOIN proposals p ON p.id = o.proposal_id"
        " WHERE p.activity_log_id = $1",
        made.activity_id,
    )
    audit = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE target_id = $1", str(made.item.id)
    )
    return (tuple(item), outbox, audit, sorted((await proposals(pool, made)).items()))


async def test_some_fields_approved_one_edited_the_rest_rejected_and_each_value_kept_apart(
    pool: asyncpg.Pool, team: Team, decisions: InboxDecisions, emulator: RunningEmulator
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id, fields=FIELDS)
    decision = await decisions.approve(
        member(team),
        made.item.id,
        [
            FieldApproval("amount", "55,000.00"),
            FieldApproval("dealstage", "Presentation Scheduled"),
        ],
    )

    assert decision.item.status == "approved"
    rows = await proposals(pool, made)
    # The approved value is the CRM's own form of what the member typed.
    values = {f: (r["status"], r["proposed_value"], r["approved_value"]) for f, r in rows.items()}
    assert values == {
        "amount": ("queued", "60000", "55000"),
        "dealstage": ("queued", "qualifiedtobuy", "presentationscheduled"),
        "closedate": ("rejected", "2026-05-31", None),
    }
    assert {r["decided_by"] for r in rows.values()} == {team.member_id}
    snapshot = await pool.fetchval(
        "SELECT decided_snapshot FROM inbox_items WHERE id = $1", made.item.id
    )
    seen = {p["field"]: (p["decision"], p["approved"], p["edited"]) for p in snapshot["proposals"]}
    assert seen == {
        "amount": ("queued", "55000", True),
        "dealstage": ("queued", "presentationscheduled", True),
        "closedate": ("rejected", None, False),
    }
    [audit] = await pool.fetch(
        "SELECT action, details FROM audit_log WHERE target_id = $1", str(made.item.id)
    )
    assert audit["action"] == "decision.approve"
    assert audit["details"]["edited"] == ["amount", "dealstage"]
    assert "55000" not in str(audit["details"])  # values stay out of the audit log

    # The writer sends the approved values; the CRM's answer is the written value.
    seen_writes = len(emulator.write_log())
    async with HubSpotClient(
        PrivateAppToken(TOKEN), base_url=emulator.url, retry=NO_RETRIES
    ) as client:
        budget = RateBudget(RateLimits(), clock=emulator.clock)
        writer = OutboxWriter(pool, team.workspace_id, client, budget, clock=emulator.clock)
        flushed = await writer.flush()
    assert flushed.records_written == 1
    [write] = [e for e in emulator.write_log() if e["seq"] > seen_writes]
    assert (write["id"], write["properties"]) == (
        "301",
        {"amount": "55000", "dealstage": "presentationscheduled"},
    )
    rows = await proposals(pool, made)
    assert {f: r["written_value"] for f, r in rows.items() if r["status"] == "written"} == {
        "amount": "55000",
        "dealstage": "presentationscheduled",
    }
    status = await pool.fetchval("SELECT status FROM activity_logs WHERE id = $1", made.activity_id)
    assert status == "success"


async def test_approving_a_subset_as_proposed_needs_no_crm(pool: asyncpg.Pool, team: Team) -> None:
    # No CRM source at all: approving without an edit reads nothing.
    decisions = InboxDecisions(pool, SystemClock())
    made = await make_item(pool, team.workspace_id, team.member_id, fields=FIELDS)
    await decisions.approve(member(team), made.item.id, [FieldApproval("closedate")])
    rows = await proposals(pool, made)
    assert {f: (r["status"], r["approved_value"]) for f, r in rows.items()} == {
        "amount": ("rejected", None),
        "closedate": ("queued", "2026-05-31"),
        "dealstage": ("rejected", None),
    }


@pytest.mark.parametrize(
    ("approvals", "problems"),
    [
        ([], [("fields", "name at least one field")]),
        (
            [FieldApproval("amount"), FieldApproval("amount", "5")],
            [("fields.1.field", "'amount' is named twice")],
        ),
        ([FieldApproval("amount", "  ")], [("fields.0.value", "must not be blank")]),
        ([FieldApproval("hs_priority")], [("fields.0.field", "is not pending on this item")]),
        ([FieldApproval("hs_priority", "HIGH")], [("fields.0.field", "the item proposes no")]),
        (
            [FieldApproval("amount", "sixty grand"), FieldApproval("closedate", "next Friday")],
            [
                ("fields.0.value", "'sixty grand' is not a number"),
                ("fields.1.value", "'next Friday' is not a date"),
            ],
        ),
        ([FieldApproval("dealstage", "Negotiation")], [("fields.0.value", "is not a stage of")]),
    ],
)
async def test_a_bad_approval_names_each_field_and_changes_nothing(
    pool: asyncpg.Pool,
    team: Team,
    decisions: InboxDecisions,
    approvals: list[FieldApproval],
    problems: list[tuple[str, str]],
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id, fields=FIELDS)
    before = await state(pool, made)
    with pytest.raises(InvalidInputError) as raised:
        await decisions.approve(member(team), made.item.id, approvals)
    assert [field for field, _ in raised.value.problems] == [field for field, _ in problems]
    for (_, reason), (_, expected) in zip(raised.value.problems, problems, strict=True):
        assert expected in reason
    assert await state(pool, made) == before


async def test_a_read_only_property_cannot_be_edited(
    pool: asyncpg.Pool, team: Team, decisions: InboxDecisions
) -> None:
    made = await make_item(
        pool, team.workspace_id, team.member_id, fields={"hs_object_id": ("301", "999")}
    )
    before = await state(pool, made)
    with pytest.raises(InvalidInputError) as raised:
        await decisions.approve(member(team), made.item.id, [FieldApproval("hs_object_id", "7")])
    assert raised.value.field == "fields.0.field"
    assert "read-only" in raised.value.reason
    assert await state(pool, made) == before


async def test_an_edit_without_a_crm_connection_is_a_conflict_naming_it(
    pool: asyncpg.Pool, decisions: InboxDecisions
) -> None:
    unconnected = await make_team(pool)
    made = await make_item(pool, unconnected.workspace_id, unconnected.member_id, fields=FIELDS)
    before = await state(pool, made)
    with pytest.raises(ConflictError) as raised:
        await decisions.approve(
            member(unconnected), made.item.id, [FieldApproval("amount", "70000")]
        )
    assert raised.value.field == "crm_connection"
    assert await state(pool, made) == before


async def test_a_field_superseded_since_the_item_was_shown_is_named(
    pool: asyncpg.Pool, team: Team, decisions: InboxDecisions
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id, fields=FIELDS)
    await pool.execute(
        "UPDATE proposals SET status = 'superseded'"
        " WHERE activity_log_id = $1 AND field = 'amount'",
        made.activity_id,
    )
    before = await state(pool, made)
    with pytest.raises(InvalidInputError) as raised:
        await decisions.approve(member(team), made.item.id, [FieldApproval("amount")])
    assert raised.value.field == "fields.0.field"
    assert "is not pending on this item (pending: closedate, dealstage)" in raised.value.reason
    assert await state(pool, made) == before


async def test_a_second_partial_approval_is_a_conflict(
    pool: asyncpg.Pool, team: Team, decisions: InboxDecisions
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id, fields=FIELDS)
    await decisions.approve(member(team), made.item.id, [FieldApproval("amount", "61000")])
    before = await state(pool, made)
    with pytest.raises(ConflictError) as raised:
        await decisions.approve(member(team), made.item.id, [FieldApproval("amount", "62000")])
    assert "already approved by member@" in raised.value.reason
    assert await state(pool, made) == before
