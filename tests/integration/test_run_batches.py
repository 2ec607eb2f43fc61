"""A batch of runs: its inputs read in one statement, each workspace's CRM looked up once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

import asyncpg
import pytest

from runtime.activity.repo import ActivityRepo
from runtime.agents.config import AgentConfig
from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.crm.audited import AuditedCrm
from runtime.crm.memory import InMemoryCrm
from runtime.crm.snapshot import load_snapshot
from runtime.errors import NotFoundError
from runtime.meetings.service import import_meeting
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import NoCrmConnectionError, RunExecutor, RunResult, WorkspaceCrm
from runtime.runs.models import AgentRun
from runtime.runs.repo import RunRepo
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.meetings import EXAMPLE_PATH, dialogue
from tests.pipeline_setup import PRICE_AGREED, auto_apply_config, insert_agent

OWNER_EMAIL = "sam@ourco.example"  # the example meeting's owner


class CountedCrms:
    """The example CRM for the workspaces given one; counts the lookups per workspace."""

    def __init__(self) -> None:
        self.connected: set[UUID] = set()
        self.lookups: dict[UUID, int] = {}

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        self.lookups[workspace_id] = self.lookups.get(workspace_id, 0) + 1
        if workspace_id not in self.connected:
            raise NoCrmConnectionError(workspace_id)
        crm = InMemoryCrm.from_snapshot(load_snapshot(EXAMPLE_PATH.with_name("crm.json")))
        audited = AuditedCrm(crm, workspace_id=workspace_id, clock=SystemClock())
        return WorkspaceCrm(port=audited, audit=audited)


@pytest.fixture
def crms() -> CountedCrms:
    return CountedCrms()


@pytest.fixture
def executor(pool: asyncpg.Pool, crms: CountedCrms) -> RunExecutor:
    return RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())


@pytest.fixture(autouse=True)
async def quiet_queue(pool: asyncpg.Pool, executor: RunExecutor) -> None:
    """Runs earlier tests left queued are executed first, so a test claims only its own."""
    await Dispatcher(pool, executor, owner="sweeper").drain()


async def _workspace(
    pool: asyncpg.Pool, crms: CountedCrms, *, owner_is_member: bool, connected: bool = True
) -> tuple[UUID, UUID, UUID]:
    """A workspace with an active agent: its id, its admin's and the meeting owner's."""
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))
    async with pool.acquire() as conn:
        admin, _ = await add_user_to_workspace(
            conn,
            workspace.id,
            UserCreate(email=f"admin-{uuid.uuid4().hex[:6]}@ourco.example"),
            role="admin",
        )
        owner_id = admin.user.id
        if owner_is_member:
            owner, _ = await add_user_to_workspace(
                conn, workspace.id, UserCreate(email=OWNER_EMAIL), role="member"
            )
            owner_id = owner.user.id
    await insert_agent(pool, workspace.id, admin.user.id, auto_apply_config())
    if connected:
        crms.connected.add(workspace.id)
    return workspace.id, admin.user.id, owner_id


async def _meetings(pool: asyncpg.Pool, workspace_id: UUID, count: int) -> None:
    async with pool.acquire() as conn:
        for _ in range(count):
            meeting = dialogue(*PRICE_AGREED, external_id=f"zoom-{uuid.uuid4().hex[:10]}")
            await import_meeting(conn, workspace_id, meeting)


async def test_a_batch_looks_each_workspace_crm_up_once_and_records_every_run(
    pool: asyncpg.Pool, crms: CountedCrms, executor: RunExecutor
) -> None:
    member, _, owner = await _workspace(pool, crms, owner_is_member=True)
    outsider, admin, _ = await _workspace(pool, crms, owner_is_member=False)
    unconnected, _, _ = await _workspace(pool, crms, owner_is_member=True, connected=False)
    for workspace_id in (member, outsider, unconnected):
        await _meetings(pool, workspace_id, 2)
    claimed = await RunRepo(pool).claim("batch-owner", limit=10, lease_s=60)
    assert len(claimed) == 6
    crms.lookups.clear()

    results = await executor.execute_batch(claimed, "batch-owner")

    assert crms.lookups == {member: 1, outsider: 1, unconnected: 1}
    assert [r.run_id for r in results] == [run.id for run in claimed]
    activities = ActivityRepo(pool)
    for run, result in zip(claimed, results, strict=True):
        activity = await activities.for_run(run.id)
        assert activity is not None
        assert activity.status == result.status
        if run.workspace_id == unconnected:
            assert activity.status == "failed"
            assert "has no CRM connection" in (activity.error_message or "")
            continue
        assert activity.status == "pending"
        assert activity.crm_record_id == "301"
        # The meeting's owner when a member of the workspace, else the agent's creator.
        assert activity.user_id == (owner if run.workspace_id == member else admin)


async def test_a_run_whose_meeting_or_agent_is_gone_is_not_found(
    pool: asyncpg.Pool, crms: CountedCrms, executor: RunExecutor
) -> None:
    workspace_id, _, _ = await _workspace(pool, crms, owner_is_member=True)
    await _meetings(pool, workspace_id, 1)
    [run] = await RunRepo(pool).list_for_meeting(
        await pool.fetchval("SELECT id FROM meetings WHERE workspace_id = $1", workspace_id)
    )
    gone_meeting = run.model_copy(update={"meeting_id": uuid.uuid4()})
    gone_agent = run.model_copy(update={"agent_config_id": uuid.uuid4()})

    with pytest.raises(NotFoundError) as meeting_error:
        await executor.execute(gone_meeting, "nobody")
    with pytest.raises(NotFoundError) as agent_error:
        await executor.execute(gone_agent, "nobody")

    assert (meeting_error.value.kind, meeting_error.value.key) == (
        "meeting",
        str(gone_meeting.meeting_id),
    )
    assert (agent_error.value.kind, agent_error.value.key) == (
        "agent config",
        str(gone_agent.agent_config_id),
    )


async def test_runs_that_arrive_while_every_batch_slot_is_busy_leave_together(
    pool: asyncpg.Pool, crms: CountedCrms, executor: RunExecutor
) -> None:
    """Under load a serving dispatcher keeps its batches full instead of starting a batch
    (a task and a transaction) for each run as it arrives."""
    workspace_id, _, _ = await _workspace(pool, crms, owner_is_member=True)
    sizes: list[int] = []
    release, changed = asyncio.Event(), asyncio.Event()

    async def held_runner(runs: Sequence[AgentRun], owner: str) -> list[RunResult]:
        sizes.append(len(runs))
        changed.set()
        await release.wait()
        return await executor.execute_batch(runs, owner)

    dispatcher = Dispatcher(
        pool,
        executor,
        concurrency=4,
        batch_size=2,
        runner=held_runner,
        poll_s=0.05,
        on_finished=lambda _: changed.set(),
    )
    serving = asyncio.create_task(dispatcher.run())
    try:
        await _meetings(pool, workspace_id, 1)
        await _until(lambda: sizes == [1], changed)
        await _meetings(pool, workspace_id, 1)
        await _until(lambda: sizes == [1, 1], changed)
        await _meetings(pool, workspace_id, 4)  # both batch slots are busy meanwhile
        await asyncio.sleep(0.3)
        assert sizes == [1, 1], "no third batch while two are running"
        release.set()
        await _until(lambda: dispatcher.completed == 6, changed)
    finally:
        dispatcher.stop()
        await serving
    assert sizes == [1, 1, 2, 2]


async def _until(condition: Callable[[], bool], changed: asyncio.Event) -> None:
    """Wait until ``condition`` holds, looking again each time ``changed`` is set."""
    async with asyncio.timeout(10):
        while not condition():
            changed.clear()
            await changed.wait()


# A batch records in a constant number of statements what its runs would record one by one.

_T = TypeVar("_T")
_NOTHING_NEW = (("Dana Ruiz", "Lovely weather today."),)


class OneConnection:
    """A pool that lends the same connection every time (the test's transaction holds it)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn

    async def logged(self, call: Awaitable[_T]) -> tuple[_T, list[str]]:
        """What ``call`` returns, and each statement it sent."""
        statements: list[str] = []

        def log(query: Any) -> None:
            statements.append(query.query)

        self.conn.add_query_logger(log)
        try:
            result = await call
            await asyncio.sleep(0)  # loggers are called soon after their statement
        finally:
            self.conn.remove_query_logger(log)
        return result, statements


async def _agent_workspace(
    pool: asyncpg.Pool,
    crms: CountedCrms,
    config: AgentConfig,
    said: Sequence[tuple[str, str]],
    runs: int,
    *,
    paused: bool = False,
    connected: bool = True,
) -> UUID:
    """A workspace with one agent of ``config`` and ``runs`` meetings where ``said`` is said
    (the agent paused once they are stored when ``paused``); its id."""
    workspace_id, admin, _ = await _workspace(pool, crms, owner_is_member=True, connected=connected)
    await pool.execute("DELETE FROM agent_configs WHERE workspace_id = $1", workspace_id)
    agent_id = await insert_agent(pool, workspace_id, admin, config)
    async with pool.acquire() as conn:
        for _ in range(runs):
            meeting = dialogue(*said, external_id=f"zoom-{uuid.uuid4().hex[:10]}")
            await import_meeting(conn, workspace_id, meeting)
    if paused:
        await pool.execute("UPDATE agent_configs SET status = 'paused' WHERE id = $1", agent_id)
    return workspace_id


async def _mixed_batch(pool: asyncpg.Pool, crms: CountedCrms) -> list[AgentRun]:
    """16 claimed runs that end every way a run ends: fields auto-applied, an approval, a
    question (an uncertain deal match), a skip (nothing new; the agent paused meanwhile)
    and a failure (no CRM connection)."""
    await _agent_workspace(pool, crms, auto_apply_config(), PRICE_AGREED, 4)
    await _agent_workspace(pool, crms, auto_apply_config(review_only=True), PRICE_AGREED, 3)
    question = auto_apply_config(min_match_confidence=0.95)
    await _agent_workspace(pool, crms, question, PRICE_AGREED, 3)
    await _agent_workspace(pool, crms, auto_apply_config(), _NOTHING_NEW, 2)
    await _agent_workspace(pool, crms, auto_apply_config(), PRICE_AGREED, 2, paused=True)
    await _agent_workspace(pool, crms, auto_apply_config(), PRICE_AGREED, 2, connected=False)
    claimed = await RunRepo(pool).claim("mix-owner", limit=20, lease_s=60)
    assert len(claimed) == 16
    return claimed


@asynccontextmanager
async def _rolled_back(conn: asyncpg.Connection) -> AsyncIterator[None]:
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield
    finally:
        await transaction.rollback()


def _plain(row: Any, names: Mapping[UUID, object]) -> dict[str, object]:
    """A row without its id and timestamps; ids of rows that recording wrote are replaced by
    what they name (an activity by its run, a proposal by its activity and field)."""
    return {
        column: names.get(value, value) if isinstance(value, UUID) else value
        for column, value in dict(row).items()
        if column != "id" and not isinstance(value, datetime)
    }


async def _stored(conn: asyncpg.Connection, runs: Sequence[AgentRun]) -> dict[str, Any]:
    """Every row that recording ``runs`` writes or changes, comparable across recordings."""
    run_ids = [run.id for run in runs]
    activities = await conn.fetch(
        "SELECT * FROM activity_logs WHERE agent_run_id = ANY($1::uuid[])", run_ids
    )
    names: dict[UUID, object] = {row["id"]: ("activity", row["agent_run_id"]) for row in activities}
    items = await conn.fetch(
        "SELECT * FROM inbox_items WHERE activity_log_id = ANY($1::uuid[])", list(names)
    )
    names.update((row["id"], ("item", names[row["activity_log_id"]])) for row in items)
    proposals = await conn.fetch(
        "SELECT * FROM proposals WHERE activity_log_id = ANY($1::uuid[])", list(names)
    )
    names.update(
        (row["id"], ("proposal", names[row["activity_log_id"]], row["field"])) for row in proposals
    )
    outbox = await conn.fetch(
        "SELECT * FROM write_outbox WHERE proposal_id = ANY($1::uuid[]) ORDER BY id",
        [row["id"] for row in proposals],
    )
    run_rows = await conn.fetch("SELECT * FROM agent_runs WHERE id = ANY($1::uuid[])", run_ids)
    audit = await conn.fetch(
        "SELECT * FROM audit_log WHERE workspace_id = ANY($1::uuid[])",
        list({run.workspace_id for run in runs}),
    )
    return {
        "runs": {row["id"]: _plain(row, names) for row in run_rows},
        "activities": {names[row["id"]]: _plain(row, names) for row in activities},
        "items": {names[row["id"]]: _plain(row, names) for row in items},
        "proposals": {names[row["id"]]: _plain(row, names) for row in proposals},
        "outbox": [_plain(row, names) for row in outbox],  # in the order it is sent
        "audit": sorted((_plain(row, names) for row in audit), key=repr),
    }


async def test_a_batch_records_in_a_few_statements_what_its_runs_would_record_one_by_one(
    pool: asyncpg.Pool,
    crms: CountedCrms,
    executor: RunExecutor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    claimed = await _mixed_batch(pool, crms)
    one_of_each = list({run.workspace_id: run for run in claimed}.values())
    caplog.set_level(logging.WARNING, logger="runtime.runs.executor")

    async with pool.acquire() as conn:
        one = OneConnection(conn)
        on_one = RunExecutor(
            cast(asyncpg.Pool, one), crms, extractor=RulesExtractor(), clock=SystemClock()
        )
        async with _rolled_back(conn):  # the driver looks the statements' types up first
            await on_one.execute_batch(one_of_each, "mix-owner")
        async with _rolled_back(conn):
            _, statements = await one.logged(on_one.execute_batch(claimed, "mix-owner"))
            batch = await _stored(conn, claimed)
        async with _rolled_back(conn):
            for run in claimed:
                await on_one.execute(run, "mix-owner")
            one_by_one = await _stored(conn, claimed)
        async with _rolled_back(conn):
            _, fewer = await one.logged(on_one.execute_batch(one_of_each, "mix-owner"))

    assert caplog.records == [], "each batch was recorded as a whole"
    statuses = Counter(a["status"] for a in batch["activities"].values())
    assert statuses == {"pending": 10, "success": 4, "failed": 2}
    assert Counter(i["item_type"] for i in batch["items"].values()) == {
        "approval": 3,
        "question": 3,
    }
    assert batch["outbox"]
    assert batch["audit"]
    assert batch == one_by_one
    # Read the inputs; begin; finish the runs; insert the activities, the inbox items, the
    # proposals, the outbox rows (one workspace auto-applies) and the audit entries; commit.
    assert len(statements) == len(fewer) == 9, statements

    results = await executor.execute_batch(claimed, "mix-owner")

    async with pool.acquire() as conn:
        assert await _stored(conn, claimed) == batch
    stored = {run_id: row["status"] for (_, run_id), row in batch["activities"].items()}
    assert {r.run_id: r.status for r in results} == stored
