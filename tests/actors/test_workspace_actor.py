"""The workspace actor on real Ray: it writes, passivates when idle, comes back intact, and
writes every queued field exactly once even when its process is SIGKILLed mid-write."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from actors.options import NAMESPACE, workspace_actor_name
from actors.workspace_actor import RayWorkspaces
from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.runs.crm_source import ConnectedCrms
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import RunExecutor
from runtime.settings import HubSpotSettings
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator
from tests.pipeline_setup import import_price_meeting, tenant_with_auto_agent

KEY = os.urandom(32)
KEYS = KeyRing([("k", KEY)])


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture
def workspaces(ray_cluster: Any, database_dsn: str) -> RayWorkspaces:
    env = {
        "DATABASE_URL": database_dsn,
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": "k:" + base64.urlsafe_b64encode(KEY).decode(),
        "CRM_AGENTS_WRITES__FLUSH_INTERVAL_S": "0.05",
        "CRM_AGENTS_LOG_LEVEL": "WARNING",
    }
    return RayWorkspaces(idle_s=1.5, env_vars=env)


@pytest.fixture
async def db(database_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_dsn)
    yield conn
    await conn.close()


async def _queued_writes(pool: asyncpg.Pool, emulator: RunningEmulator) -> UUID:
    """A connected workspace whose auto-applying agent queued one deal's three fields."""
    emulator.admin("reset", {})
    workspace, _ = await tenant_with_auto_agent(pool)
    await connect_private_token(pool, KEYS, workspace, token=TOKEN, base_url=emulator.url)
    await import_price_meeting(pool, workspace)
    crms = ConnectedCrms(pool, KEYS, HubSpotSettings(max_retries=0), clock=SystemClock())
    try:
        executor = RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
        await Dispatcher(pool, executor).drain()
    finally:
        await crms.aclose()
    return workspace


async def _statuses(db: asyncpg.Connection, workspace: UUID) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT status, count(*) AS n FROM write_outbox WHERE workspace_id = $1 GROUP BY status",
        workspace,
    )
    return {r["status"]: int(r["n"]) for r in rows}


async def _until(check: Any, *, timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    assert await check(), "condition not reached in time"


def _alive(workspace: UUID) -> bool:
    import ray

    try:
        ray.get_actor(workspace_actor_name(workspace), namespace=NAMESPACE)
    except ValueError:
        return False
    return True


async def test_the_actor_writes_passivates_when_idle_and_comes_back_intact(
    pool: asyncpg.Pool,
    db: asyncpg.Connection,
    emulator: RunningEmulator,
    workspaces: RayWorkspaces,
) -> None:
    workspace = await _queued_writes(pool, emulator)

    await workspaces.wake(workspace)
    await _until(lambda: _is(db, workspace, {"done": 3}))
    assert [e["id"] for e in emulator.write_log()] == ["301"]
    first = await workspaces.handle(workspace).snapshot.remote()
    assert first["metrics"]["writes_ok"] == 3
    assert first["budget"]["calls_in_window"] >= 1

    await _until(lambda: _gone(workspace))  # idle, nothing pending: its process ended

    await workspaces.wake(workspace)
    again = await workspaces.handle(workspace).snapshot.remote()
    assert again["metrics"]["writes_ok"] == 3  # rebuilt from the rows
    assert again["agents"] == first["agents"]
    assert len(emulator.write_log()) == 1  # nothing written twice


@pytest.mark.parametrize("point", ["before_sending", "in_flight", "after_the_answer"])
async def test_a_sigkilled_actor_leaves_every_field_written_exactly_once(
    point: str,
    pool: asyncpg.Pool,
    db: asyncpg.Connection,
    database_dsn: str,
    emulator: RunningEmulator,
    workspaces: RayWorkspaces,
) -> None:
    workspace = await _queued_writes(pool, emulator)
    locker = await asyncpg.connect(database_dsn)
    locked = locker.transaction()
    try:
        if point == "before_sending":
            # The rows are locked: the actor's claim (pending -> in_flight) waits, unsent.
            await locked.start()
            await _lock_rows(locker, workspace)
        else:
            emulator.admin("hold", {"on": True})  # HubSpot holds the batch request
        await workspaces.wake(workspace)
        pid = int(await workspaces.handle(workspace).pid.remote())
        if point == "before_sending":
            await asyncio.sleep(0.5)
            assert await _statuses(db, workspace) == {"pending": 3}
        else:
            await _until(lambda: _is(db, workspace, {"in_flight": 3}))
        if point == "after_the_answer":
            # HubSpot answers, but recording the answer (in_flight -> done) waits on a lock.
            await locked.start()
            await _lock_rows(locker, workspace)
            emulator.admin("hold", {"on": False})
            await _until(lambda: _written(emulator))
        os.kill(pid, signal.SIGKILL)
    finally:
        emulator.admin("hold", {"on": False})
        if point != "in_flight":
            await locked.rollback()
        await locker.close()

    # What the coordinator's sweep does after a crash: wake the workspace again.
    await _until(lambda: _woken(workspaces, workspace, pid))
    await _until(lambda: _is(db, workspace, {"done": 3}))
    await asyncio.sleep(0.3)
    assert [e["id"] for e in emulator.write_log()] == ["301"]  # once, whatever the point


async def _lock_rows(conn: asyncpg.Connection, workspace: UUID) -> None:
    await conn.execute("SELECT id FROM write_outbox WHERE workspace_id = $1 FOR UPDATE", workspace)


async def _is(db: asyncpg.Connection, workspace: UUID, expected: dict[str, int]) -> bool:
    return await _statuses(db, workspace) == expected


async def _gone(workspace: UUID) -> bool:
    return not _alive(workspace)


async def _written(emulator: RunningEmulator) -> bool:
    return len(emulator.write_log()) >= 1


async def _woken(workspaces: RayWorkspaces, workspace: UUID, dead_pid: int) -> bool:
    """A new actor process took the workspace (Ray restarted it, or a new one started)."""
    import ray

    try:
        await workspaces.wake(workspace)
        return int(await workspaces.handle(workspace).pid.remote()) != dead_pid
    except ray.exceptions.RayActorError:
        return False
