"""Decisions on inbox items against real Postgres: exactly once, who may decide, what is
recorded, and what reaches the write queue (and, through the writer, the CRM)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.activity.repo import ActivityRepo
from runtime.clock import FakeClock
from runtime.crm.hubspot import NO_RETRIES, HubSpotClient, PrivateAppToken
from runtime.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from runtime.inbox.decisions import MAX_BATCH, InboxDecisions
from runtime.inbox.repo import InboxRepo
from runtime.writes.budget import RateBudget, RateLimits
from runtime.writes.writer import OutboxWriter
from tests.decision_setup import Made, Team, admin, make_item, make_team, member
from tests.hubspot_emulator import TOKEN, RunningEmulator, running_emulator

DECIDED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def decisions(pool: asyncpg.Pool) -> InboxDecisions:
    return InboxDecisions(pool, FakeClock(DECIDED_AT))


@pytest.fixture
async def team(pool: asyncpg.Pool) -> Team:
    return await make_team(pool)


async def outbox_of(pool: asyncpg.Pool, made: Made) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT o.property, o.value, o.operation, o.crm_record_id, o.status FROM write_outbox o"
        " JOIN proposals p ON p.id = o.proposal_id WHERE p.activity_log_id = $1 ORDER BY o.id",
        made.activity_id,
    )
    return [dict(r) for r in rows]


async def audit_of(pool: asyncpg.Pool, item_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT actor_user_id, action, target_type, details, created_at FROM audit_log"
        " WHERE target_id = $1 ORDER BY created_at, action",
        str(item_id),
    )
    return [dict(r) for r in rows]


async def item_row(pool: asyncpg.Pool, item_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT status, resolved_by, resolved_at, resolution_reason, decided_snapshot"
        " FROM inbox_items WHERE id = $1",
        item_id,
    )
    return dict(row)


async def proposal_rows(pool: asyncpg.Pool, made: Made) -> dict[str, tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT field, status, approved_value, decided_by, decided_at FROM proposals"
        " WHERE activity_log_id = $1",
        made.activity_id,
    )
    return {
        r["field"]: (r["status"], r["approved_value"], r["decided_by"], r["decided_at"])
        for r in rows
    }


async def activity_status(pool: asyncpg.Pool, made: Made) -> str | None:
    return (await ActivityRepo(pool).get(made.activity_id)).status


# Approve ----------------------------------------------------------------------------------


async def test_approving_queues_each_field_once_and_records_who_when_and_what_they_saw(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(
        pool,
        team.workspace_id,
        team.member_id,
        fields={"amount": ("20000", "60000"), "closedate": (None, "2026-04-30")},
        auto_applied={"hs_next_step": (None, "Send the order form")},
    )

    decision = await decisions.approve(member(team), made.item.id)

    assert (decision.item.status, decision.item.resolved_by) == ("approved", team.member_id)
    assert decision.item.resolved_at == DECIDED_AT
    assert [p.field for p in decision.proposals] == ["amount", "closedate"]
    assert await proposal_rows(pool, made) == {
        "amount": ("queued", "60000", team.member_id, DECIDED_AT),
        "closedate": ("queued", "2026-04-30", team.member_id, DECIDED_AT),
        # Auto-applied: queued by the run, not by this decision.
        "hs_next_step": ("queued", None, None, None),
    }
    # One outbox row per approved field, besides the auto-applied one queued by the run.
    assert await outbox_of(pool, made) == [
        {
            "property": "hs_next_step",
            "value": "Send the order form",
            "operation": "update",
            "crm_record_id": "301",
            "status": "pending",
        },
        {
            "property": "amount",
            "value": "60000",
            "operation": "update",
            "crm_record_id": "301",
            "status": "pending",
        },
        {
            "property": "closedate",
            "value": "2026-04-30",
            "operation": "update",
            "crm_record_id": "301",
            "status": "pending",
        },
    ]
    assert len(decision.outbox_ids) == 2
    stored = await item_row(pool, made.item.id)
    snapshot = stored["decided_snapshot"]
    assert snapshot["title"] == made.item.title
    assert snapshot["context"] == made.item.context
    assert [
        (p["field"], p["before"], p["proposed"], p["decision"], p["approved"])
        for p in snapshot["proposals"]
    ] == [
        ("amount", "20000", "60000", "queued", "60000"),
        ("closedate", None, "2026-04-30", "queued", "2026-04-30"),
    ]
    [entry] = await audit_of(pool, made.item.id)
    assert (entry["actor_user_id"], entry["action"], entry["target_type"]) == (
        team.member_id,
        "decision.approve",
        "inbox_item",
    )
    assert entry["details"]["fields"] == {"amount": "queued", "closedate": "queued"}
    assert entry["created_at"] == DECIDED_AT
    # The writer settles the activity once the fields are written.
    assert await activity_status(pool, made) == "pending"


async def test_two_racing_approvals_decide_once(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(
        pool,
        team.workspace_id,
        team.member_id,
        fields={"amount": ("1", "2"), "dealstage": ("a", "b")},
    )
    # A third connection holds the item so that both approvals are surely waiting on it
    # together, then lets them go at once.
    async with pool.acquire() as holder:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM inbox_items WHERE id = $1 FOR UPDATE", made.item.id)
        racing = asyncio.gather(
            decisions.approve(admin(team), made.item.id),
            decisions.approve(member(team), made.item.id),
            return_exceptions=True,
        )
        await asyncio.sleep(0.3)
        assert not racing.done()
        await transaction.rollback()
        results = await racing

    decided = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert (len(decided), len(conflicts)) == (1, 1), results
    winner = decided[0].item.resolved_by
    email = team.admin_email if winner == team.admin_id else team.member_email
    assert conflicts[0].field == "id"
    assert f"was already approved by {email} at 2026-03-02T09:30:00+00:00" in conflicts[0].message
    assert [r["property"] for r in await outbox_of(pool, made)] == ["amount", "dealstage"]
    assert [e["action"] for e in await audit_of(pool, made.item.id)] == ["decision.approve"]


async def test_a_retried_approval_changes_nothing_and_says_so(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id)
    await decisions.approve(member(team), made.item.id)
    before = await item_row(pool, made.item.id)

    with pytest.raises(ConflictError, match=f"already approved by {team.member_email}"):
        await decisions.approve(member(team), made.item.id)
    with pytest.raises(ConflictError, match="already approved"):
        await decisions.reject(admin(team), made.item.id, "too late")

    assert await item_row(pool, made.item.id) == before
    assert len(await outbox_of(pool, made)) == 1
    assert len(await audit_of(pool, made.item.id)) == 1


async def test_an_expiry_that_commits_first_wins_over_a_waiting_approval(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id)
    async with pool.acquire() as sweeper:
        transaction = sweeper.transaction()
        await transaction.start()
        expired = await sweeper.execute(
            "UPDATE inbox_items SET status = 'expired', resolved_at = $2"
            " WHERE id = $1 AND status = 'pending'",
            made.item.id,
            DECIDED_AT,
        )
        assert expired == "UPDATE 1"
        approving = asyncio.ensure_future(decisions.approve(member(team), made.item.id))
        await asyncio.sleep(0.3)
        assert not approving.done(), "the approval waits for the expiry's transaction"
        await transaction.commit()
        with pytest.raises(ConflictError, match="expired at 2026-03-02T09:30:00"):
            await approving

    assert await outbox_of(pool, made) == []
    assert (await proposal_rows(pool, made))["amount"] == ("pending", None, None, None)
    assert await audit_of(pool, made.item.id) == []


async def test_an_expiry_after_an_approval_changes_nothing(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id)
    await decisions.approve(member(team), made.item.id)
    expired = await pool.execute(
        "UPDATE inbox_items SET status = 'expired' WHERE id = $1 AND status = 'pending'",
        made.item.id,
    )
    assert expired == "UPDATE 0"
    assert (await item_row(pool, made.item.id))["status"] == "approved"


# Reject -----------------------------------------------------------------------------------


async def test_rejecting_keeps_the_reason_and_ends_the_activity_rejected(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(
        pool,
        team.workspace_id,
        team.member_id,
        fields={"amount": ("20000", "60000"), "closedate": (None, "2026-04-30")},
    )

    decision = await decisions.reject(member(team), made.item.id, "  They meant sixty units.  ")

    assert decision.item.status == "rejected"
    stored = await item_row(pool, made.item.id)
    assert (stored["resolved_by"], stored["resolved_at"]) == (team.member_id, DECIDED_AT)
    assert stored["resolution_reason"] == "They meant sixty units."
    assert [p["decision"] for p in stored["decided_snapshot"]["proposals"]] == [
        "rejected",
        "rejected",
    ]
    assert await proposal_rows(pool, made) == {
        "amount": ("rejected", None, team.member_id, DECIDED_AT),
        "closedate": ("rejected", None, team.member_id, DECIDED_AT),
    }
    assert await outbox_of(pool, made) == []
    assert await activity_status(pool, made) == "rejected"
    [entry] = await audit_of(pool, made.item.id)
    assert entry["action"] == "decision.reject"
    assert entry["details"]["reason_given"] is True
    assert "sixty" not in str(entry["details"]), "the audit log never copies what was typed"


async def test_rejecting_without_a_reason_stores_none(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id)
    await decisions.reject(admin(team), made.item.id, "   ")
    stored = await item_row(pool, made.item.id)
    assert (stored["status"], stored["resolution_reason"]) == ("rejected", None)
    [entry] = await audit_of(pool, made.item.id)
    assert entry["details"]["reason_given"] is False


async def test_a_written_auto_applied_field_makes_a_rejected_items_activity_a_success(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(
        pool,
        team.workspace_id,
        team.member_id,
        auto_applied={"hs_next_step": (None, "Call back")},
    )
    [auto] = made.auto_applied
    await InboxRepo(pool).mark_written(
        team.workspace_id, [(auto.id, "Call back", None)], now=DECIDED_AT
    )

    await decisions.reject(member(team), made.item.id, None)

    assert await activity_status(pool, made) == "success"


async def test_a_queued_auto_applied_field_leaves_the_activity_to_the_writer(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(
        pool,
        team.workspace_id,
        team.member_id,
        auto_applied={"hs_next_step": (None, "Call back")},
    )
    await decisions.reject(member(team), made.item.id, None)
    assert await activity_status(pool, made) == "pending"


async def test_a_too_long_reason_is_bad_input_and_nothing_changes(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id)
    with pytest.raises(InvalidInputError) as bad:
        await decisions.reject(member(team), made.item.id, "x" * 2001)
    assert bad.value.field == "reason"
    assert (await item_row(pool, made.item.id))["status"] == "pending"


# Who may decide, and what -----------------------------------------------------------------


async def test_a_member_decides_only_their_own_items_and_an_admin_any(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    admins = await make_item(pool, team.workspace_id, team.admin_id)
    members = await make_item(pool, team.workspace_id, team.member_id)

    with pytest.raises(PermissionDeniedError):
        await decisions.approve(member(team), admins.item.id)
    with pytest.raises(PermissionDeniedError):
        await decisions.reject(member(team), admins.item.id, None)
    assert (await item_row(pool, admins.item.id))["status"] == "pending"

    decision = await decisions.approve(admin(team), members.item.id)
    assert decision.item.resolved_by == team.admin_id
    [entry] = await audit_of(pool, members.item.id)
    assert entry["actor_user_id"] == team.admin_id
    assert entry["details"]["addressed_to"] == str(team.member_id)


async def test_another_workspaces_item_does_not_exist_for_the_decider(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    other = await make_team(pool)
    theirs = await make_item(pool, other.workspace_id, other.member_id)
    for attempt in (
        decisions.approve(admin(team), theirs.item.id),
        decisions.reject(admin(team), theirs.item.id, None),
        decisions.approve(admin(team), uuid.uuid4()),
    ):
        with pytest.raises(NotFoundError) as missing:
            await attempt
        assert missing.value.field == "id"
    assert (await item_row(pool, theirs.item.id))["status"] == "pending"


async def test_a_question_needs_an_answer_before_approval_but_may_be_rejected(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id, item_type="question")
    with pytest.raises(ConflictError, match="is a question: it needs an answer"):
        await decisions.approve(member(team), made.item.id)
    assert await outbox_of(pool, made) == []
    await decisions.reject(member(team), made.item.id, "none of these deals")
    assert (await item_row(pool, made.item.id))["status"] == "rejected"


# Batch ------------------------------------------------------------------------------------


async def test_a_batch_decides_each_item_on_its_own_and_reports_each_failure(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    first = await make_item(pool, team.workspace_id, team.member_id)
    decided = await make_item(pool, team.workspace_id, team.member_id)
    last = await make_item(
        pool, team.workspace_id, team.member_id, fields={"dealstage": ("a", "b")}
    )
    not_mine = await make_item(pool, team.workspace_id, team.admin_id)
    await decisions.reject(member(team), decided.item.id, None)
    unknown = uuid.uuid4()

    outcomes = await decisions.batch_approve(
        member(team),
        [first.item.id, decided.item.id, unknown, not_mine.item.id, last.item.id, first.item.id],
    )

    assert [(o.item_id, type(o.error).__name__) for o in outcomes] == [
        (first.item.id, "NoneType"),
        (decided.item.id, "ConflictError"),
        (unknown, "NotFoundError"),
        (not_mine.item.id, "PermissionDeniedError"),
        (last.item.id, "NoneType"),
    ]
    shown = {o.item_id: o.item.status if o.item else None for o in outcomes}
    # A conflict shows the item as it is; what the decider may not see is not shown.
    assert shown == {
        first.item.id: "approved",
        decided.item.id: "rejected",
        unknown: None,
        not_mine.item.id: None,
        last.item.id: "approved",
    }
    assert [r["property"] for r in await outbox_of(pool, first)] == ["amount"]
    assert [r["property"] for r in await outbox_of(pool, last)] == ["dealstage"]
    assert await outbox_of(pool, decided) == []
    # Each decided item has its own audit entry.
    for made in (first, last):
        assert [e["action"] for e in await audit_of(pool, made.item.id)] == ["decision.approve"]
    assert (await item_row(pool, not_mine.item.id))["status"] == "pending"


async def test_a_batch_over_the_limit_decides_nothing(
    pool: asyncpg.Pool, decisions: InboxDecisions, team: Team
) -> None:
    made = await make_item(pool, team.workspace_id, team.member_id)
    ids = [made.item.id] + [uuid.uuid4() for _ in range(MAX_BATCH)]
    with pytest.raises(InvalidInputError) as bad:
        await decisions.batch_approve(member(team), ids)
    assert bad.value.field == "ids"
    assert (await item_row(pool, made.item.id))["status"] == "pending"


# Through the writer to the CRM ------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator() as running:
        yield running


async def test_approved_fields_are_written_once_and_a_stale_one_can_be_approved_again(
    pool: asyncpg.Pool, team: Team, emulator: RunningEmulator
) -> None:
    decisions = InboxDecisions(pool, emulator.clock)
    made = await make_item(
        pool,
        team.workspace_id,
        team.member_id,
        fields={"amount": ("20000", "60000"), "dealname": ("Acme Expansion", "Acme Expansion II")},
    )
    with emulator.client() as http:  # someone edits the amount in HubSpot meanwhile
        http.patch("/crm/v3/objects/deals/301", json={"properties": {"amount": "25000"}})
    seen = len(emulator.write_log())
    await decisions.approve(member(team), made.item.id)

    async with HubSpotClient(
        PrivateAppToken(TOKEN), base_url=emulator.url, retry=NO_RETRIES
    ) as client:
        budget = RateBudget(RateLimits(), clock=emulator.clock)
        writer = OutboxWriter(pool, team.workspace_id, client, budget, clock=emulator.clock)
        first = await writer.flush()
        # The name is written; the amount changed in the CRM since the member saw it, so it
        # went back to them instead of overwriting, and the item is pending again.
        assert (first.records_written, first.returned_to_review) == (1, 1)
        assert (await item_row(pool, made.item.id))["status"] == "pending"
        assert await activity_status(pool, made) == "pending"

        again = await decisions.approve(member(team), made.item.id)
        assert [(p.field, p.before_value, p.status) for p in again.proposals] == [
            ("amount", "25000", "queued")
        ]
        second = await writer.flush()

    assert second.records_written == 1
    log = [e for e in emulator.write_log() if e["seq"] > seen]
    assert [(e["id"], e["properties"]) for e in log] == [
        ("301", {"dealname": "Acme Expansion II"}),
        ("301", {"amount": "60000"}),
    ]
    rows = await outbox_of(pool, made)
    assert [(r["property"], r["status"]) for r in rows] == [
        ("amount", "cancelled"),
        ("dealname", "done"),
        ("amount", "done"),
    ]
    assert await activity_status(pool, made) == "success"
    assert [e["action"] for e in await audit_of(pool, made.item.id)] == [
        "decision.approve",
        "decision.approve",
    ]
