"""Executor tasks on real Ray: a backlog of runs fans out over Ray tasks, each run executed
and recorded once; a task's process SIGKILLed mid-run hands its runs back to the queue; the
runs' CRM reads spend the workspace actor's budget; the actor's metrics match the rows."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import psutil
import pytest

from actors.executor import RayRunner
from actors.workspace_actor import RayWorkspaces
from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.metrics.book import totals
from runtime.runs.crm_source import ConnectedCrms
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import RunExecutor
from runtime.settings import HubSpotSettings
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator
from tests.pipeline_setup import import_price_meeting, tenant_with_auto_agent

KEY = os.urandom(32)
KEYS = KeyRing([("k", KEY)])
PRICES = ("Sixty", "Seventy", "Eighty", "Ninety", "Fifty", "Forty")


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture
def env(database_dsn: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_dsn,
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": "k:" + base64.urlsafe_b64encode(KEY).decode(),
        "CRM_AGENTS_LOG_LEVEL": "WARNING",
        # The workspace actors these runs wake must not write meanwhile: writes are not
        # what these tests look at (a minute of quiet before a partial batch leaves).
        "CRM_AGENTS_WRITES__FLUSH_INTERVAL_S": "60",
    }


def _dispatcher(pool: asyncpg.Pool, env: dict[str, str], **options: Any) -> Dispatcher:
    # The local executor only records what a runner could not (a bug's failure).
    crms = ConnectedCrms(pool, KEYS, HubSpotSettings(max_retries=0), clock=SystemClock())
    local = RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
    return Dispatcher(pool, local, runner=RayRunner(env_vars=env), **options)


async def _connected_tenant(pool: asyncpg.Pool, emulator: RunningEmulator) -> UUID:
    workspace, _ = await tenant_with_auto_agent(pool)
    await connect_private_token(pool, KEYS, workspace, token=TOKEN, base_url=emulator.url)
    return workspace


async def test_a_backlog_fans_out_over_ray_tasks_and_each_run_is_recorded_once(
    ray_cluster: Any, pool: asyncpg.Pool, emulator: RunningEmulator, env: dict[str, str]
) -> None:
    emulator.admin("reset", {})
    tenants = [await _connected_tenant(pool, emulator) for _ in range(2)]
    for tenant in tenants:
        for price in PRICES * 3:
            await import_price_meeting(pool, tenant, price=price)
    runs = await pool.fetchval("SELECT count(*) FROM agent_runs WHERE status = 'pending'")
    assert runs == 36

    dispatcher = _dispatcher(pool, env, concurrency=12, batch_size=3)
    assert await dispatcher.drain() == 36

    rows = await pool.fetch(
        "SELECT r.status, r.attempts, count(a.id) AS activities FROM agent_runs r"
        " LEFT JOIN activity_logs a ON a.agent_run_id = r.id"
        " WHERE r.workspace_id = ANY($1) GROUP BY r.id",
        tenants,
    )
    assert len(rows) == 36
    assert {(r["status"], r["attempts"], r["activities"]) for r in rows} == {("done", 1, 1)}
    queued = await pool.fetchval(
        "SELECT count(*) FROM write_outbox WHERE workspace_id = ANY($1)", tenants
    )
    assert queued == 36 * 3  # each run queued its three auto-applied fields

    for tenant in tenants:
        handle = RayWorkspaces(env_vars=env).handle(tenant)
        # The runs' reads reached HubSpot through the actor's budget, the writer's.
        snapshot = await handle.snapshot.remote()
        # Every call the runs sent (the audit log's) was counted there, searches included.
        calls = await pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE workspace_id = $1 AND action LIKE 'crm.%'",
            tenant,
        )
        assert calls >= 1
        assert snapshot["budget"]["daily_used"] == calls
        # The data team's frame says what the rows say.
        frame = await handle.metrics.remote("1h")
        counted = totals(frame)
        assert counted.runs == 18
        assert counted.auto_applied == 18 * 3
        assert counted.fields_proposed == 18 * 3


async def test_a_killed_executor_process_hands_its_runs_back_to_the_queue(
    ray_cluster: Any, pool: asyncpg.Pool, emulator: RunningEmulator, env: dict[str, str]
) -> None:
    emulator.admin("reset", {})
    tenant = await _connected_tenant(pool, emulator)
    await import_price_meeting(pool, tenant)
    # Every CRM call answers after 30 s: the task is mid-run when its process is killed.
    emulator.admin("faults", {"slow": 1.0, "slow_extra_ms": [30_000, 30_000]})
    dispatcher = _dispatcher(pool, env, concurrency=1, lease_s=30.0)
    draining = asyncio.create_task(dispatcher.drain())
    try:
        pid = None
        for _ in range(300):
            pid = _executing_pid()
            if pid is not None:
                break
            await asyncio.sleep(0.1)
        assert pid is not None, "no executor task started"
        await asyncio.sleep(0.5)  # well inside the run: reading the CRM
        emulator.admin("faults", {"slow": 0.0})
        os.kill(pid, signal.SIGKILL)
        assert await asyncio.wait_for(draining, timeout=60) == 1
    finally:
        emulator.admin("faults", {"slow": 0.0})
        if not draining.done():
            draining.cancel()

    run = await pool.fetchrow(
        "SELECT status, attempts FROM agent_runs WHERE workspace_id = $1", tenant
    )
    # Claimed again at once (not after its 30 s lease), its lost attempt counted.
    assert (run["status"], run["attempts"]) == ("done", 2)
    activities = await pool.fetchval(
        "SELECT count(*) FROM activity_logs WHERE workspace_id = $1", tenant
    )
    assert activities == 1


def _executing_pid() -> int | None:
    """The process executing an ``execute_runs`` task: Ray titles a worker process with the
    task it is executing (``ray::execute_runs``) and ``ray::IDLE`` between tasks."""
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline and cmdline[0].startswith("ray::execute_runs"):
            return int(process.info["pid"])
    return None
