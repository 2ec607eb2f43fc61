"""Who keeps the workspaces writing: a coordinator that wakes them, and an in-process host.

- ``WriteCoordinator`` (one per long-running process) listens on ``runtime.events.WRITE_OUTBOX``
  and wakes the workspace a notification names. At start, and every ``sweep_s`` seconds, it
  also wakes every workspace that has unsent outbox rows: that covers notifications sent
  while no process listened, and batches a crash left in flight.
- ``InProcessWorkspaces`` hosts ``WorkspaceRuntime`` objects in this process: activated on
  the first wake-up, passivated after ``idle_s`` without work and nothing pending, activated
  again on the next wake-up. ``actors.workspace_actor.RayWorkspaces`` does the same with one
  Ray actor per workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol
from uuid import UUID

import asyncpg

from runtime.clock import Clock
from runtime.connections.cipher import KeyRing
from runtime.events import WRITE_OUTBOX, listen
from runtime.outbox.repo import OutboxRepo
from runtime.runs.executor import NoCrmConnectionError
from runtime.settings import Settings
from runtime.waiting import first_of
from runtime.writes.budgeted import Budgets
from runtime.writes.workspace import CrmOpener, WorkspaceRuntime

__all__ = ["InProcessWorkspaces", "WorkspaceHost", "WriteCoordinator"]

_log = logging.getLogger(__name__)


class WorkspaceHost(Protocol):
    """Where workspaces live: in this process, or one Ray actor each."""

    async def wake(self, workspace_id: UUID) -> None: ...

    async def close(self) -> None: ...


class InProcessWorkspaces:
    """Implements ``WorkspaceHost`` with ``WorkspaceRuntime`` objects in this process."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        settings: Settings,
        clock: Clock,
        keyring: KeyRing | None = None,
        open_crm: CrmOpener | None = None,
        budgets: Budgets | None = None,
        idle_s: float = 300.0,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._clock = clock
        self._keyring = keyring
        self._open_crm = open_crm
        self._budgets = budgets
        self._idle_s = idle_s
        self._live: dict[UUID, tuple[WorkspaceRuntime, asyncio.Task[None]]] = {}
        self._stop = asyncio.Event()

    @property
    def live(self) -> dict[UUID, WorkspaceRuntime]:
        """The active workspaces (the others cost nothing but their rows)."""
        return {workspace: runtime for workspace, (runtime, _) in self._live.items()}

    async def wake(self, workspace_id: UUID) -> None:
        found = self._live.get(workspace_id)
        if found is not None and not found[1].done():
            found[0].wake()
            return
        runtime = await self._activated(workspace_id)
        if runtime is None:
            return
        task = asyncio.create_task(self._serve(runtime), name=f"workspace {workspace_id}")
        self._live[workspace_id] = (runtime, task)

    async def drain_all(self) -> int:
        """Write every workspace's queued fields now, one workspace after another, and
        passivate each (``worker --once``); how many records were written."""
        written = 0
        for workspace_id in await OutboxRepo(self._pool).workspaces_with_unsent():
            runtime = await self._activated(workspace_id)
            if runtime is None:
                continue
            try:
                written += sum(report.records_written for report in await runtime.drain())
            finally:
                await runtime.close()
        return written

    async def _activated(self, workspace_id: UUID) -> WorkspaceRuntime | None:
        """The workspace activated; None when it has no CRM connection (its rows wait)."""
        runtime = WorkspaceRuntime(
            workspace_id,
            self._pool,
            settings=self._settings,
            clock=self._clock,
            keyring=self._keyring,
            open_crm=self._open_crm,
            budget=None if self._budgets is None else self._budgets.for_workspace(workspace_id),
        )
        try:
            await runtime.activate()
        except NoCrmConnectionError as exc:
            _log.warning("%s; its queued writes wait", exc)
            return None
        return runtime

    async def _serve(self, runtime: WorkspaceRuntime) -> None:
        try:
            await runtime.run(self._stop, idle_s=self._idle_s)
        except Exception:
            _log.exception("workspace %s stopped writing", runtime.workspace_id)
        finally:
            await runtime.close()
            current = self._live.get(runtime.workspace_id)
            if current is not None and current[0] is runtime:
                del self._live[runtime.workspace_id]

    async def close(self) -> None:
        self._stop.set()
        tasks = [task for _, task in self._live.values()]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class WriteCoordinator:
    """Wakes the workspaces that have writes to make (see the module docstring)."""

    def __init__(self, pool: asyncpg.Pool, host: WorkspaceHost, *, sweep_s: float = 30.0) -> None:
        self._pool = pool
        self._host = host
        self._sweep_s = sweep_s

    async def sweep(self) -> int:
        """Wake every workspace with unsent rows; how many."""
        workspaces = await OutboxRepo(self._pool).workspaces_with_unsent()
        for workspace in workspaces:
            await self._host.wake(workspace)
        return len(workspaces)

    async def run(self, stop: asyncio.Event) -> None:
        async with self._pool.acquire() as conn, listen(conn, (WRITE_OUTBOX,)) as events:
            await self.sweep()
            while not stop.is_set():
                got = await first_of(events.get(), stop.wait(), timeout_s=self._sweep_s)
                if got is None:
                    await self.sweep()
                elif not stop.is_set():
                    await self._host.wake(got.result().workspace_id)
