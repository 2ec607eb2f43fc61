"""A workspace writes what its agents queued: activation, flushing, passivation, waking."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.crm.audited import AuditedCrm
from runtime.crm.hubspot.auth import PrivateAppToken
from runtime.crm.hubspot.client import HubSpotClient
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.crm.hubspot.retry import NO_RETRIES
from runtime.crm.port import CrmPort
from runtime.inbox.repo import InboxRepo
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import NoCrmConnectionError, RunExecutor, WorkspaceCrm
from runtime.settings import Settings, WriteSettings
from runtime.writes.budget import RateBudget
from runtime.writes.host import InProcessWorkspaces, WriteCoordinator
from runtime.writes.workspace import WorkspaceRuntime
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator
from tests.pipeline_setup import import_price_meeting, tenant_with_auto_agent

SETTINGS = Settings(writes=WriteSettings(flush_interval_s=0.05))


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


class EmulatorCrms:
    """Runs read the emulator; workspaces listed in ``unconnected`` have no CRM."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.unconnected: set[UUID] = set()
        self._clients: list[HubSpotClient] = []

    def client(self) -> HubSpotClient:
        client = HubSpotClient(PrivateAppToken(TOKEN), base_url=self.url, retry=NO_RETRIES)
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        if workspace_id in self.unconnected:
            raise NoCrmConnectionError(workspace_id)
        audited = AuditedCrm(self.client(), workspace_id=workspace_id, clock=SystemClock())
        return WorkspaceCrm(port=audited, audit=audited)

    async def open(self, workspace_id: UUID, budget: RateBudget) -> CrmPort:
        if workspace_id in self.unconnected:
            raise NoCrmConnectionError(workspace_id)
        return HubSpotClient(
            PrivateAppToken(TOKEN),
            base_url=self.url,
            retry=NO_RETRIES,
            on_rate_limit_headers=budget.observe,
        )


@pytest.fixture
async def crms(emulator: RunningEmulator) -> AsyncIterator[EmulatorCrms]:
    emulator.admin("reset", {})
    source = EmulatorCrms(emulator.url)
    yield source
    await source.aclose()


async def _workspace_with_queued_writes(
    pool: asyncpg.Pool, crms: EmulatorCrms, *, meetings: int = 1
) -> UUID:
    workspace, _ = await tenant_with_auto_agent(pool)
    for _ in range(meetings):
        await import_price_meeting(pool, workspace)
    executor = RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
    await Dispatcher(pool, executor).drain()
    return workspace


async def _statuses(pool: asyncpg.Pool, workspace: UUID) -> dict[str, Any]:
    rows = await pool.fetch(
        "SELECT status, count(*) AS n FROM write_outbox WHERE workspace_id = $1 GROUP BY status",
        workspace,
    )
    return {r["status"]: r["n"] for r in rows}


def _runtime(pool: asyncpg.Pool, workspace: UUID, crms: EmulatorCrms) -> WorkspaceRuntime:
    return WorkspaceRuntime(
        workspace, pool, settings=SETTINGS, clock=SystemClock(), open_crm=crms.open
    )


async def test_a_workspace_writes_its_queued_fields_once_and_counts_them(
    pool: asyncpg.Pool, crms: EmulatorCrms, emulator: RunningEmulator
) -> None:
    workspace = await _workspace_with_queued_writes(pool, crms)
    assert (await _statuses(pool, workspace)) == {"pending": 3}
    runtime = _runtime(pool, workspace, crms)

    activation = await runtime.activate()
    assert activation.agents == 1
    assert activation.metrics.auto_applied == 3
    assert activation.metrics.writes_ok == 0
    reports = await runtime.drain()

    assert sum(r.records_written for r in reports) == 1  # three fields, one record, one input
    assert (await _statuses(pool, workspace)) == {"done": 3}
    assert [e["id"] for e in emulator.write_log()] == ["301"]
    deal = await crms.client().get("deals", "301", properties=("amount",))
    assert deal.properties["amount"] == "60000"
    activity = await pool.fetchrow(
        "SELECT id, status FROM activity_logs WHERE workspace_id = $1", workspace
    )
    assert activity["status"] == "success"
    proposals = await InboxRepo(pool).proposals_for_activity(activity["id"])
    assert {p.status for p in proposals} == {"written"}
    assert runtime.metrics is not None
    assert runtime.metrics.writes_ok == 3

    # Passivated and activated again: the same state, rebuilt from the rows.
    await runtime.close()
    again = _runtime(pool, workspace, crms)
    reactivated = await again.activate()
    assert reactivated.metrics == runtime.metrics
    assert await again.drain() == []  # nothing left, nothing written twice
    assert len(emulator.write_log()) == 1
    # Its budget starts from the CRM calls HubSpot still counts (the runs' reads and the
    # write), read from the audit log, not from an empty window.
    # Searches have their own window (one second) but count toward the day.
    counts = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE action <> 'crm.search') AS standard, count(*) AS day"
        " FROM audit_log WHERE workspace_id = $1 AND action LIKE 'crm.%'",
        workspace,
    )
    assert counts["standard"] >= 2
    budget = again.snapshot()["budget"]
    assert budget["calls_in_window"] == counts["standard"]
    assert budget["daily_used"] == counts["day"]
    await again.close()


async def test_the_coordinator_wakes_a_workspace_and_the_host_passivates_it_when_idle(
    pool: asyncpg.Pool, crms: EmulatorCrms, emulator: RunningEmulator
) -> None:
    host = InProcessWorkspaces(
        pool, settings=SETTINGS, clock=SystemClock(), open_crm=crms.open, idle_s=0.3
    )
    coordinator = WriteCoordinator(pool, host, sweep_s=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(coordinator.run(stop))
    try:
        workspace = await _workspace_with_queued_writes(pool, crms)
        await _until(lambda: _done(pool, workspace, 3))
        assert len(emulator.write_log()) == 1
        await _until(lambda: _gone(host, workspace))  # idle: passivated

        queued = await _workspace_more(pool, crms, workspace)
        assert queued >= 1
        await _until(lambda: _done(pool, workspace, 3 + queued))  # woken again
        assert len(emulator.write_log()) == 2
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        await host.close()


async def test_a_workspace_without_a_connection_keeps_its_writes_queued(
    pool: asyncpg.Pool, crms: EmulatorCrms
) -> None:
    workspace = await _workspace_with_queued_writes(pool, crms)
    crms.unconnected.add(workspace)
    host = InProcessWorkspaces(pool, settings=SETTINGS, clock=SystemClock(), open_crm=crms.open)
    await host.wake(workspace)
    assert workspace not in host.live
    assert (await _statuses(pool, workspace)) == {"pending": 3}
    await host.close()


async def _workspace_more(pool: asyncpg.Pool, crms: EmulatorCrms, workspace: UUID) -> int:
    """Another meeting for the workspace's agent, at another price; how many fields it
    queued."""
    await import_price_meeting(pool, workspace, price="Seventy")
    executor = RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())
    await Dispatcher(pool, executor).drain()
    # All rows, whatever their status: a woken writer may have sent them already.
    total = await pool.fetchval(
        "SELECT count(*) FROM write_outbox WHERE workspace_id = $1", workspace
    )
    return int(total) - 3


async def _done(pool: asyncpg.Pool, workspace: UUID, count: int) -> bool:
    return (await _statuses(pool, workspace)) == {"done": count}


async def _gone(host: InProcessWorkspaces, workspace: UUID) -> bool:
    return workspace not in host.live


async def _until(check: Any, *, timeout_s: float = 15.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    assert await check(), "condition not reached in time"
