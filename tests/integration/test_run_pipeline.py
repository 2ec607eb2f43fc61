"""From a stored meeting to stored decisions: runs queued, claimed, executed and recorded."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.activity.models import ActivityLog
from runtime.activity.repo import ActivityRepo
from runtime.agents.config import AgentConfig
from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.crm.errors import CrmConnectionError
from runtime.crm.memory import InMemoryCrm
from runtime.crm.snapshot import load_snapshot
from runtime.events import ACTIVITY_LOGS, INBOX_ITEMS, Event, listen
from runtime.inbox.repo import InboxRepo
from runtime.meetings.models import MeetingIn
from runtime.meetings.service import ImportResult, import_meeting
from runtime.outbox.repo import OutboxRepo
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import (
    LeaseLostError,
    RunExecutor,
    RunResult,
)
from runtime.runs.models import AgentRun
from runtime.runs.repo import RunRepo
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.meetings import EXAMPLE_PATH, dialogue
from tests.pipeline_setup import StaticCrms, auto_apply_config, insert_agent

CRM_SNAPSHOT = EXAMPLE_PATH.with_name("crm.json")
FIELDS = ("dealstage", "amount", "closedate", "hs_next_step")
OWNER_EMAIL = "sam@ourco.example"  # the example meeting's owner
SAID = (
    ("Sam Lee", "So where did you land on price?"),
    ("Dana Ruiz", "Sixty thousand works for us. We'll sign by the end of next month."),
    ("Sam Lee", "Great. I'll send the order form tomorrow."),
)


class DownCrm(InMemoryCrm):
    """A CRM that does not answer."""

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        raise CrmConnectionError("connection refused by crm.test")


class BlockedCrm(InMemoryCrm):
    """A CRM whose first read never returns (a run that hangs until cancelled)."""

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()


@dataclass
class Tenant:
    workspace_id: UUID
    admin_id: UUID
    owner_id: UUID


@pytest.fixture
def crms() -> StaticCrms:
    return StaticCrms()


@pytest.fixture
def executor(pool: asyncpg.Pool, crms: StaticCrms) -> RunExecutor:
    return RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())


@pytest.fixture(autouse=True)
async def quiet_queue(pool: asyncpg.Pool, executor: RunExecutor) -> None:
    """Runs earlier tests left queued are executed first, so a test counts only its own."""
    await Dispatcher(pool, executor, owner="sweeper").drain()


async def _tenant(pool: asyncpg.Pool, crms: StaticCrms, *, owner_is_member: bool = True) -> Tenant:
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))
    async with pool.acquire() as conn:
        admin, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email=f"admin-{uuid.uuid4().hex[:6]}@ourco.example"),
            role="admin",
        )  # fmt: skip
        owner_id = admin.user.id
        if owner_is_member:
            owner, _ = await add_user_to_workspace(
                conn, workspace.id, UserCreate(email=OWNER_EMAIL), role="member"
            )
            owner_id = owner.user.id
    crms.by_workspace[workspace.id] = InMemoryCrm.from_snapshot(load_snapshot(CRM_SNAPSHOT))
    return Tenant(workspace.id, admin.user.id, owner_id)


def _config(**changes: Any) -> AgentConfig:
    return auto_apply_config(**changes)


async def _agent(
    pool: asyncpg.Pool,
    tenant: Tenant,
    config: AgentConfig,
    *,
    status: str = "active",
    is_template: bool = False,
) -> UUID:
    return await insert_agent(
        pool, tenant.workspace_id, tenant.admin_id, config, status=status, is_template=is_template
    )


async def _import(pool: asyncpg.Pool, tenant: Tenant, meeting: MeetingIn) -> ImportResult:
    async with pool.acquire() as conn:
        return await import_meeting(conn, tenant.workspace_id, meeting)


def _meeting(*lines: tuple[str, str], **changes: Any) -> MeetingIn:
    return dialogue(*(lines or SAID), external_id=f"zoom-{uuid.uuid4().hex[:10]}", **changes)


async def _run_one(pool: asyncpg.Pool, executor: RunExecutor, run: AgentRun) -> ActivityLog:
    [claimed] = await RunRepo(pool).claim("test-owner", limit=1, lease_s=60)
    assert claimed.id == run.id
    return await executor.execute(claimed, "test-owner")


async def test_storing_a_meeting_queues_one_run_per_active_agent_in_scope(
    pool: asyncpg.Pool, crms: StaticCrms
) -> None:
    tenant = await _tenant(pool, crms)
    in_scope = await _agent(pool, tenant, _config(call_types=("Discovery", "demo")))
    await _agent(pool, tenant, _config(call_types=("renewal",)))
    await _agent(pool, tenant, _config(), status="paused")
    await _agent(pool, tenant, _config(), status="draft")
    await _agent(pool, tenant, _config(), is_template=True)
    other = await _tenant(pool, crms)
    await _agent(pool, other, _config())

    meeting = _meeting(call_type=" DISCOVERY ")
    result = await _import(pool, tenant, meeting)
    assert [r.agent_config_id for r in result.runs] == [in_scope]
    assert result.runs[0].status == "pending"
    again = await _import(pool, tenant, meeting)
    assert (again.created, again.runs) == (False, [])
    assert len(await RunRepo(pool).list_for_meeting(result.meeting.id)) == 1


async def test_a_meeting_without_a_call_type_queues_nothing(
    pool: asyncpg.Pool, crms: StaticCrms
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config())
    result = await _import(pool, tenant, _meeting(call_type=None))
    assert result.created
    assert result.runs == []


async def test_confident_fields_are_queued_for_writing(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    agent_id = await _agent(pool, tenant, _config())
    [run] = (await _import(pool, tenant, _meeting())).runs

    activity = await _run_one(pool, executor, run)

    assert (activity.action_type, activity.status) == ("update", "pending")
    assert (activity.crm_record_type, activity.crm_record_id) == ("deal", "301")
    assert activity.agent_config_id == agent_id
    assert activity.agent_run_id == run.id
    assert activity.user_id == tenant.owner_id
    assert activity.fields_updated is not None
    assert activity.fields_updated["amount"]["before"] == "20000"
    assert activity.fields_updated["amount"]["after"] == "60000"
    assert 0 < activity.fields_updated["amount"]["confidence"] <= 1
    assert activity.overall_confidence is not None
    proposals = await InboxRepo(pool).proposals_for_activity(activity.id)
    assert {p.field for p in proposals} == set(activity.fields_updated)
    assert {(p.route, p.status, p.inbox_item_id) for p in proposals} == {
        ("auto_apply", "queued", None)
    }
    assert all(p.evidence and p.evidence[0]["source"] == "transcript" for p in proposals)
    outbox = await OutboxRepo(pool).unsent(tenant.workspace_id)
    assert {(o.proposal_id, o.property, o.value) for o in outbox} == {
        (p.id, p.field, p.proposed_value) for p in proposals
    }
    assert {o.operation for o in outbox} == {"update"}
    assert {o.crm_record_id for o in outbox} == {"301"}
    assert await InboxRepo(pool).items_for_activity(activity.id) == []
    assert (await RunRepo(pool).get(run.id)).status == "done"
    audit = await pool.fetch(
        "SELECT action FROM audit_log WHERE workspace_id = $1", tenant.workspace_id
    )
    assert audit
    assert all(row["action"].startswith("crm.") for row in audit)


async def test_fields_for_review_make_one_approval_item_for_the_meeting_owner(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config(review_only=True))
    [run] = (await _import(pool, tenant, _meeting())).runs

    activity = await _run_one(pool, executor, run)

    [item] = await InboxRepo(pool).items_for_activity(activity.id)
    assert (item.item_type, item.status, item.user_id) == ("approval", "pending", tenant.owner_id)
    assert item.title == "Review 3 changes to Acme Expansion"
    assert item.context is not None
    assert item.context["record"] == {"type": "deal", "id": "301", "name": "Acme Expansion"}
    assert item.context["meeting"]["id"] == str(run.meeting_id)
    fields = {f["field"]: f for f in item.context["fields"]}
    assert fields["amount"]["before"] == "20000"
    assert fields["amount"]["after"] == "60000"
    assert "agent is review-only" in fields["amount"]["reason"]
    assert fields["amount"]["evidence"][0]["speaker"] == "Dana Ruiz"
    proposals = await InboxRepo(pool).proposals_for_activity(activity.id)
    assert {(p.status, p.inbox_item_id) for p in proposals} == {("pending", item.id)}
    assert item.confidence == min(p.confidence for p in proposals)
    assert await OutboxRepo(pool).unsent(tenant.workspace_id) == []
    assert await InboxRepo(pool).pending_for_user(tenant.workspace_id, tenant.owner_id) == [item]


async def test_an_owner_outside_the_workspace_leaves_the_item_to_the_agents_creator(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms, owner_is_member=False)
    await _agent(pool, tenant, _config(review_only=True))
    [run] = (await _import(pool, tenant, _meeting())).runs
    activity = await _run_one(pool, executor, run)
    [item] = await InboxRepo(pool).items_for_activity(activity.id)
    assert item.user_id == tenant.admin_id == activity.user_id


async def test_an_uncertain_deal_match_asks_a_question(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config(min_match_confidence=0.95))
    [run] = (await _import(pool, tenant, _meeting())).runs

    activity = await _run_one(pool, executor, run)

    [item] = await InboxRepo(pool).items_for_activity(activity.id)
    assert item.item_type == "question"
    assert item.title.startswith("Which deal is")
    assert item.context is not None
    candidates = [c["id"] for c in item.context["match"]["candidates"]]
    assert "301" in candidates
    assert item.context["match"]["confidence"] < 0.95
    proposals = await InboxRepo(pool).proposals_for_activity(activity.id)
    assert proposals
    assert {p.status for p in proposals} == {"pending"}
    assert await OutboxRepo(pool).unsent(tenant.workspace_id) == []


async def test_a_meeting_with_nothing_new_is_a_skip(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config())
    [run] = (await _import(pool, tenant, _meeting(("Dana Ruiz", "Lovely weather today.")))).runs

    activity = await _run_one(pool, executor, run)

    assert (activity.action_type, activity.status) == ("skip", "success")
    assert activity.details["skip_reason"] == "nothing new"
    assert activity.fields_updated == {}
    assert await InboxRepo(pool).proposals_for_activity(activity.id) == []
    assert await InboxRepo(pool).items_for_activity(activity.id) == []


async def test_a_workspace_without_a_crm_connection_fails_the_run_with_a_message(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    del crms.by_workspace[tenant.workspace_id]
    await _agent(pool, tenant, _config())
    [run] = (await _import(pool, tenant, _meeting())).runs

    activity = await _run_one(pool, executor, run)

    assert activity.status == "failed"
    assert activity.error_message is not None
    assert "no CRM connection" in activity.error_message
    assert "crm-agents crm connect" in activity.error_message
    stored = await RunRepo(pool).get(run.id)
    assert (stored.status, stored.error_message) == ("failed", activity.error_message)


async def test_a_crm_that_does_not_answer_fails_the_run_and_keeps_the_meeting(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    crms.by_workspace[tenant.workspace_id] = DownCrm.from_snapshot(load_snapshot(CRM_SNAPSHOT))
    await _agent(pool, tenant, _config())
    result = await _import(pool, tenant, _meeting())

    activity = await _run_one(pool, executor, result.runs[0])

    assert activity.status == "failed"
    assert activity.meeting_id == result.meeting.id
    assert activity.error_message is not None
    assert "the CRM could not be read" in activity.error_message
    assert "connection refused" in activity.error_message
    audit = await pool.fetch(
        "SELECT details FROM audit_log WHERE workspace_id = $1", tenant.workspace_id
    )
    assert any(row["details"].get("outcome") == "error" for row in audit)


async def test_a_paused_agent_runs_nothing_it_had_queued(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    agent_id = await _agent(pool, tenant, _config())
    [run] = (await _import(pool, tenant, _meeting())).runs
    await pool.execute("UPDATE agent_configs SET status = 'paused' WHERE id = $1", agent_id)
    activity = await _run_one(pool, executor, run)
    assert (activity.action_type, activity.status) == ("skip", "success")
    assert "paused" in activity.details["skip_reason"]


async def test_two_dispatchers_on_one_queue_never_run_a_run_twice(
    pool: asyncpg.Pool, crms: StaticCrms
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config())
    await _agent(pool, tenant, _config(review_only=True))
    runs = [r for _ in range(15) for r in (await _import(pool, tenant, _meeting())).runs]
    executed: Counter[UUID] = Counter()

    class CountingExecutor(RunExecutor):
        async def execute_batch(self, runs: Sequence[AgentRun], owner: str) -> list[RunResult]:
            executed.update(run.id for run in runs)
            await asyncio.sleep(0.01)  # let the other dispatcher interleave
            return await super().execute_batch(runs, owner)

    def dispatcher() -> Dispatcher:
        executor = CountingExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
        # Batches of two: a batch's outcomes are recorded together.
        return Dispatcher(pool, executor, concurrency=4, batch_size=2)

    first, second = dispatcher(), dispatcher()
    done = await asyncio.gather(first.drain(), second.drain())

    assert sum(done) == len(runs) == 30
    assert set(executed) == {r.id for r in runs}
    assert set(executed.values()) == {1}
    assert first.completed
    assert second.completed
    count = await pool.fetchval(
        "SELECT count(*) FROM activity_logs WHERE workspace_id = $1", tenant.workspace_id
    )
    assert count == 30


async def test_a_dead_dispatchers_run_is_claimed_again_after_its_lease(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config())
    [run] = (await _import(pool, tenant, _meeting())).runs
    repo = RunRepo(pool)
    # The first dispatcher claims the run and dies: it never finishes nor renews the lease.
    [abandoned] = await repo.claim("dead-owner", limit=1, lease_s=0.2)
    assert await repo.claim("other", limit=10, lease_s=60) == []  # held while the lease runs
    await asyncio.sleep(0.3)

    rescuer = Dispatcher(pool, executor, owner="rescuer")
    assert await rescuer.drain() == 1
    stored = await repo.get(run.id)
    assert (stored.status, stored.lease_owner, stored.attempts) == ("done", "rescuer", 2)
    # Had the first one only stalled, its late outcome would not be recorded a second time.
    with pytest.raises(LeaseLostError):
        await executor.execute(abandoned, "dead-owner")
    count = await pool.fetchval(
        "SELECT count(*) FROM activity_logs WHERE agent_run_id = $1", run.id
    )
    assert count == 1


async def test_a_run_that_kept_killing_its_process_is_given_up_with_a_message(
    pool: asyncpg.Pool, crms: StaticCrms
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config())
    [run] = (await _import(pool, tenant, _meeting())).runs
    repo = RunRepo(pool)
    for _ in range(2):
        await repo.claim("crashing", limit=1, lease_s=0.05)
        await asyncio.sleep(0.1)
    executor = RunExecutor(
        pool, crms, extractor=RulesExtractor(), clock=SystemClock(), max_attempts=2
    )
    assert await Dispatcher(pool, executor).drain() == 1
    activity = await ActivityRepo(pool).for_run(run.id)
    assert activity is not None
    assert activity.status == "failed"
    assert activity.error_message is not None
    assert "gave up after 2 attempts" in activity.error_message


async def test_a_stopping_dispatcher_hands_unfinished_runs_back(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    crms.by_workspace[tenant.workspace_id] = BlockedCrm.from_snapshot(load_snapshot(CRM_SNAPSHOT))
    await _agent(pool, tenant, _config())
    [run] = (await _import(pool, tenant, _meeting())).runs
    dispatcher = Dispatcher(pool, executor, poll_s=0.05, grace_s=0.1)
    task = asyncio.create_task(dispatcher.run())
    for _ in range(200):
        if (await RunRepo(pool).get(run.id)).status == "running":
            break
        await asyncio.sleep(0.02)
    dispatcher.stop()
    await asyncio.wait_for(task, timeout=10)
    stored = await RunRepo(pool).get(run.id)
    assert (stored.status, stored.lease_owner, stored.attempts) == ("pending", None, 0)
    crms.by_workspace[tenant.workspace_id] = InMemoryCrm.from_snapshot(load_snapshot(CRM_SNAPSHOT))


@pytest.fixture
async def listener(pool: asyncpg.Pool) -> AsyncIterator[asyncio.Queue[Event]]:
    async with pool.acquire() as conn, listen(conn, (ACTIVITY_LOGS, INBOX_ITEMS)) as queue:
        yield queue


async def _events(queue: asyncio.Queue[Event], workspace_id: UUID, count: int) -> list[Event]:
    found: list[Event] = []
    while len(found) < count:
        event = await asyncio.wait_for(queue.get(), timeout=10)
        if event.workspace_id == workspace_id:
            found.append(event)
    return found


async def test_a_second_connection_is_notified_of_activity_and_inbox_items(
    pool: asyncpg.Pool,
    crms: StaticCrms,
    executor: RunExecutor,
    listener: asyncio.Queue[Event],
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config(review_only=True))
    [run] = (await _import(pool, tenant, _meeting())).runs

    activity = await _run_one(pool, executor, run)

    events = await _events(listener, tenant.workspace_id, 2)
    [item] = await InboxRepo(pool).items_for_activity(activity.id)
    assert {(e.channel, e.id, e.op, e.status) for e in events} == {
        (ACTIVITY_LOGS, activity.id, "insert", "pending"),
        (INBOX_ITEMS, item.id, "insert", "pending"),
    }
    assert next(e for e in events if e.channel == INBOX_ITEMS).user_id == tenant.owner_id

    await pool.execute("UPDATE inbox_items SET status = 'approved' WHERE id = $1", item.id)
    await pool.execute("UPDATE inbox_items SET title = 'renamed' WHERE id = $1", item.id)
    [changed] = await _events(listener, tenant.workspace_id, 1)
    assert (changed.channel, changed.id, changed.op, changed.status) == (
        INBOX_ITEMS,
        item.id,
        "update",
        "approved",
    )
    assert listener.empty()  # a change that is not a status change says nothing


async def test_a_rolled_back_transaction_notifies_nobody(
    pool: asyncpg.Pool, crms: StaticCrms, listener: asyncio.Queue[Event]
) -> None:
    tenant = await _tenant(pool, crms)
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(
            "INSERT INTO activity_logs (workspace_id, action_type) VALUES ($1, 'skip')",
            tenant.workspace_id,
        )
        await transaction.rollback()
    await pool.execute(
        "INSERT INTO activity_logs (workspace_id, action_type) VALUES ($1, 'skip')",
        tenant.workspace_id,
    )
    [event] = await _events(listener, tenant.workspace_id, 1)
    assert event.op == "insert"
    await asyncio.sleep(0.1)
    assert listener.empty()


async def test_a_waiting_dispatcher_wakes_up_when_a_meeting_is_stored(
    pool: asyncpg.Pool, crms: StaticCrms, executor: RunExecutor
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config())
    dispatcher = Dispatcher(pool, executor, poll_s=3600)  # only a notification can wake it
    task = asyncio.create_task(dispatcher.run())
    try:
        await asyncio.sleep(0.2)  # it is listening and waiting
        [run] = (await _import(pool, tenant, _meeting())).runs
        for _ in range(500):
            if (await RunRepo(pool).get(run.id)).status == "done":
                break
            await asyncio.sleep(0.02)
        assert (await RunRepo(pool).get(run.id)).status == "done"
    finally:
        dispatcher.stop()
        await asyncio.wait_for(task, timeout=10)


async def test_a_batch_that_cannot_be_recorded_together_is_recorded_run_by_run(
    pool: asyncpg.Pool, crms: StaticCrms
) -> None:
    tenant = await _tenant(pool, crms)
    await _agent(pool, tenant, _config())
    for _ in range(3):
        await _import(pool, tenant, _meeting())

    class Unbatched(RunExecutor):
        async def _record_many(self, items: Any, owner: str) -> list[RunResult]:
            raise asyncpg.PostgresError("the batch's transaction failed")

    executor = Unbatched(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
    claimed = await RunRepo(pool).claim("test-owner", limit=3, lease_s=60)
    results = await executor.execute_batch(claimed, "test-owner")

    assert [r.run_id for r in results] == [r.id for r in claimed]
    assert all(r.status is not None for r in results)
    count = await pool.fetchval(
        "SELECT count(*) FROM activity_logs WHERE workspace_id = $1", tenant.workspace_id
    )
    assert count == 3
