"""A newer meeting's proposal for a record's field supersedes an older meeting's pending one,
as the run executor records it, against real Postgres."""

from __future__ import annotations

import asyncio
import uuid
from uuid import UUID

import asyncpg
import pytest

from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import FakeClock, SystemClock
from runtime.crm.audited import AuditedCrm
from runtime.crm.memory import InMemoryCrm
from runtime.crm.snapshot import load_snapshot
from runtime.errors import ConflictError
from runtime.inbox.decisions import InboxDecisions
from runtime.inbox.models import InboxItem
from runtime.inbox.repo import InboxRepo
from runtime.meetings.service import import_meeting
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import NoCrmConnectionError, RunExecutor, WorkspaceCrm
from runtime.runs.repo import RunRepo
from tests.decision_setup import Team, admin, make_item, make_team
from tests.meetings import EXAMPLE_PATH, dialogue
from tests.pipeline_setup import PRICE_AGREED, auto_apply_config, insert_agent

EARLIER = "2026-03-01T15:00:00Z"
LATER = "2026-03-02T15:00:00Z"
PRICE_ONLY = (("Dana Ruiz", "Seventy thousand works for us."),)
"""With the example CRM, the agent proposes only the amount of deal 301."""


class StaticCrms:
    """The example CRM for every workspace the tests made."""

    def __init__(self) -> None:
        self.workspaces: set[UUID] = set()

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        if workspace_id not in self.workspaces:
            raise NoCrmConnectionError(workspace_id)
        crm = InMemoryCrm.from_snapshot(load_snapshot(EXAMPLE_PATH.with_name("crm.json")))
        audited = AuditedCrm(crm, workspace_id=workspace_id, clock=SystemClock())
        return WorkspaceCrm(port=audited, audit=audited)


@pytest.fixture
def crms() -> StaticCrms:
    return StaticCrms()


@pytest.fixture
def executor(pool: asyncpg.Pool, crms: StaticCrms) -> RunExecutor:
    return RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())


@pytest.fixture
async def team(pool: asyncpg.Pool, crms: StaticCrms) -> Team:
    """A workspace with an admin (the items' recipient: the meetings' owner is no member)
    and an active review-only agent."""
    team = await make_team(pool)
    await insert_agent(pool, team.workspace_id, team.admin_id, auto_apply_config(review_only=True))
    crms.workspaces.add(team.workspace_id)
    return team


async def meeting_item(
    pool: asyncpg.Pool,
    executor: RunExecutor,
    team: Team,
    started_at: str,
    said: tuple[tuple[str, str], ...] = PRICE_AGREED,
) -> InboxItem:
    """Store a meeting, run the agent on it, and return the inbox item it made."""
    meeting = dialogue(*said, external_id=f"zoom-{uuid.uuid4().hex[:10]}", started_at=started_at)
    async with pool.acquire() as conn:
        result = await import_meeting(conn, team.workspace_id, meeting)
    await Dispatcher(pool, executor, owner=f"test-{uuid.uuid4().hex[:6]}").drain()
    [run] = result.runs
    activity_id = await pool.fetchval(
        "SELECT id FROM activity_logs WHERE agent_run_id = $1", run.id
    )
    [item] = await InboxRepo(pool).items_for_activity(activity_id)
    return item


async def state(pool: asyncpg.Pool, item: InboxItem) -> tuple[str, dict[str, str], str]:
    """(item status, {field: proposal status}, activity status) as stored now."""
    status = await pool.fetchval("SELECT status FROM inbox_items WHERE id = $1", item.id)
    rows = await pool.fetch("SELECT field, status FROM proposals WHERE inbox_item_id = $1", item.id)
    activity = await pool.fetchval(
        "SELECT status FROM activity_logs WHERE id = $1", item.activity_log_id
    )
    return status, {r["field"]: r["status"] for r in rows}, activity


async def test_a_newer_meeting_supersedes_the_older_pending_item(
    pool: asyncpg.Pool, executor: RunExecutor, team: Team
) -> None:
    older = await meeting_item(pool, executor, team, EARLIER)
    assert (await state(pool, older))[0] == "pending"

    newer = await meeting_item(pool, executor, team, LATER)

    status, fields, activity = await state(pool, older)
    assert status == "superseded"
    assert set(fields) == {"amount", "closedate", "hs_next_step"}
    assert set(fields.values()) == {"superseded"}
    assert activity == "rejected", "nothing of the older meeting is left to write"
    resolved = await pool.fetchrow(
        "SELECT resolved_at, resolved_by FROM inbox_items WHERE id = $1", older.id
    )
    assert resolved["resolved_at"] is not None
    assert resolved["resolved_by"] is None
    assert await state(pool, newer) == (
        "pending",
        {"amount": "pending", "closedate": "pending", "hs_next_step": "pending"},
        "pending",
    )
    decisions = InboxDecisions(pool, FakeClock())
    with pytest.raises(ConflictError, match="superseded by a newer meeting"):
        await decisions.approve(admin(team), older.id)
    with pytest.raises(ConflictError, match="superseded by a newer meeting"):
        await decisions.reject(admin(team), older.id, "late")
    queued = await pool.fetchval(
        "SELECT count(*) FROM write_outbox w JOIN proposals p ON p.id = w.proposal_id"
        " WHERE p.inbox_item_id = $1",
        older.id,
    )
    assert queued == 0


async def test_only_the_same_record_and_field_is_superseded(
    pool: asyncpg.Pool, executor: RunExecutor, team: Team
) -> None:
    older = await meeting_item(pool, executor, team, EARLIER)
    # Another deal's amount, from an even older meeting of the same workspace.
    other_deal = await make_item(
        pool, team.workspace_id, team.member_id, fields={"amount": ("1", "2")}, record_id="302"
    )
    await pool.execute(
        "UPDATE activity_logs SET meeting_id = (SELECT meeting_id FROM activity_logs"
        " WHERE id = $2) WHERE id = $1",
        other_deal.activity_id,
        older.activity_log_id,
    )

    newer = await meeting_item(pool, executor, team, LATER, said=PRICE_ONLY)

    assert await state(pool, newer) == ("pending", {"amount": "pending"}, "pending")
    status, fields, activity = await state(pool, older)
    assert (status, activity) == ("pending", "pending"), "its other fields still wait"
    assert fields == {"amount": "superseded", "closedate": "pending", "hs_next_step": "pending"}
    assert (await state(pool, other_deal.item))[:2] == ("pending", {"amount": "pending"})

    # What is left of the older item is still decided as usual.
    decision = await InboxDecisions(pool, FakeClock()).approve(admin(team), older.id)
    assert {p.field for p in decision.proposals} == {"closedate", "hs_next_step"}


async def test_a_late_older_meeting_does_not_supersede_the_newer_one(
    pool: asyncpg.Pool, executor: RunExecutor, team: Team
) -> None:
    newer = await meeting_item(pool, executor, team, LATER)

    late = await meeting_item(pool, executor, team, EARLIER)

    assert (await state(pool, newer))[:2] == (
        "pending",
        {"amount": "pending", "closedate": "pending", "hs_next_step": "pending"},
    )
    status, fields, activity = await state(pool, late)
    assert status == "superseded", "recorded, and superseded at once by the newer meeting's"
    assert set(fields.values()) == {"superseded"}
    assert activity == "rejected"


async def test_a_decision_that_commits_first_wins_over_supersession(
    pool: asyncpg.Pool, executor: RunExecutor, team: Team
) -> None:
    older = await meeting_item(pool, executor, team, EARLIER)
    async with pool.acquire() as deciding:
        transaction = deciding.transaction()
        await transaction.start()
        # What a rejection does, holding the item's lock as decisions do.
        await deciding.execute("SELECT 1 FROM inbox_items WHERE id = $1 FOR UPDATE", older.id)
        await deciding.execute(
            "UPDATE proposals SET status = 'rejected' WHERE inbox_item_id = $1", older.id
        )
        await deciding.execute(
            "UPDATE inbox_items SET status = 'rejected', resolved_at = now() WHERE id = $1",
            older.id,
        )
        recording = asyncio.ensure_future(meeting_item(pool, executor, team, LATER))
        await asyncio.sleep(0.5)
        assert not recording.done(), "the newer run's transaction waits for the decision"
        await transaction.commit()
        newer = await recording

    status, fields, _ = await state(pool, older)
    assert (status, set(fields.values())) == ("rejected", {"rejected"})
    assert (await state(pool, newer))[0] == "pending"


async def test_proposals_without_a_meeting_or_a_record_are_never_compared(
    pool: asyncpg.Pool, executor: RunExecutor, team: Team
) -> None:
    no_meeting = await make_item(pool, team.workspace_id, team.member_id)  # deal 301's amount
    no_record = await make_item(pool, team.workspace_id, team.member_id, record_id=None)

    await meeting_item(pool, executor, team, LATER)

    for made in (no_meeting, no_record):
        assert (await state(pool, made.item))[:2] == ("pending", {"amount": "pending"})


async def test_two_meetings_recorded_together_leave_only_the_newer_pending(
    pool: asyncpg.Pool, executor: RunExecutor, team: Team
) -> None:
    imported = []
    for started_at in (LATER, EARLIER):
        meeting = dialogue(
            *PRICE_AGREED, external_id=f"zoom-{uuid.uuid4().hex[:10]}", started_at=started_at
        )
        async with pool.acquire() as conn:
            imported.append(await import_meeting(conn, team.workspace_id, meeting))
    runs = [result.runs[0] for result in imported]

    claimed = await RunRepo(pool).claim("together", limit=10, lease_s=60)
    assert {run.id for run in runs} <= {run.id for run in claimed}

    # One batch: the two runs' rows are recorded in one transaction.
    results = await executor.execute_batch(claimed, "together")
    assert {r.run_id for r in results if r.status is not None} >= {run.id for run in runs}

    newer, older = [
        (await InboxRepo(pool).items_for_activity(
            await pool.fetchval("SELECT id FROM activity_logs WHERE agent_run_id = $1", run.id)
        ))[0]
        for run in runs
    ]  # fmt: skip
    assert (await state(pool, newer))[0] == "pending"
    assert (await state(pool, older))[0] == "superseded"
