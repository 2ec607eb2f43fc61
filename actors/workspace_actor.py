"""The workspace actor: a thin Ray shell over ``runtime.writes.workspace.WorkspaceRuntime``.

One per workspace, named (``actors.options``), created on first use with ``get_if_exists``.
It activates on its first wake-up (state rebuilt from Postgres, an interrupted batch
recovered), flushes the workspace's outbox as rows arrive, and ends its own process after
``idle_s`` without work and with nothing pending: an idle workspace costs no process. The
next wake-up creates it again. ``RayWorkspaces`` is the ``WorkspaceHost`` that wakes them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from typing import Any
from uuid import UUID

import asyncpg
import ray

from actors.options import workspace_actor_options
from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.db.connect import server_dsn
from runtime.db.pool import create_pool
from runtime.settings import Settings
from runtime.writes.workspace import WorkspaceRuntime

__all__ = ["RayWorkspaces", "WorkspaceActor", "WorkspaceShell"]

_log = logging.getLogger(__name__)
_pool: asyncpg.Pool | None = None  # one per worker process, created on first use
_held = ExitStack()  # keeps an embedded server attached for as long as this process lives


async def _process_pool(settings: Settings) -> asyncpg.Pool:
    global _pool
    if _pool is None:
        dsn = _held.enter_context(server_dsn(settings))
        _pool = await create_pool(dsn, settings.db)
    return _pool


class WorkspaceShell:
    """Hosts one ``WorkspaceRuntime``; every method is a thin call through."""

    def __init__(self, workspace_id: str, idle_s: float = 300.0) -> None:
        self._workspace_id = UUID(workspace_id)
        self._idle_s = idle_s
        self._runtime: WorkspaceRuntime | None = None
        self._serving: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def wake(self) -> dict[str, Any]:
        """Activate if needed and look at the queue; answers the workspace's snapshot."""
        runtime = await self._active()
        runtime.wake()
        return runtime.snapshot()

    async def snapshot(self) -> dict[str, Any]:
        return (await self._active()).snapshot()

    async def pid(self) -> int:
        import os

        return os.getpid()

    async def _active(self) -> WorkspaceRuntime:
        if self._runtime is not None and self._serving is not None and not self._serving.done():
            return self._runtime
        settings = Settings()
        runtime = WorkspaceRuntime(
            self._workspace_id,
            await _process_pool(settings),
            settings=settings,
            clock=SystemClock(),
            keyring=KeyRing.from_settings(settings),
        )
        await runtime.activate()
        self._runtime = runtime
        self._serving = asyncio.create_task(self._serve(runtime))
        return runtime

    async def _serve(self, runtime: WorkspaceRuntime) -> None:
        try:
            await runtime.run(self._stop, idle_s=self._idle_s)
        except Exception:
            _log.exception("workspace %s stopped writing", self._workspace_id)
        finally:
            await runtime.close()
        # Idle with nothing pending: end this process; the next wake-up starts a fresh one.
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)


WorkspaceActor: Any = ray.remote(WorkspaceShell)
"""The Ray actor class (``WorkspaceShell`` made remote; options in ``actors.options``)."""


class RayWorkspaces:
    """Implements ``runtime.writes.host.WorkspaceHost`` with one actor per workspace."""

    def __init__(
        self,
        *,
        idle_s: float = 300.0,
        env_vars: dict[str, str] | None = None,
        resources_for: dict[UUID, dict[str, float]] | None = None,
    ) -> None:
        self._idle_s = idle_s
        self._env_vars = env_vars
        self._resources_for = resources_for or {}

    def handle(self, workspace_id: UUID) -> Any:
        """The workspace's actor, created if it is not running."""
        options = workspace_actor_options(
            workspace_id,
            env_vars=self._env_vars,
            resources=self._resources_for.get(workspace_id),
        )
        return WorkspaceActor.options(**options).remote(str(workspace_id), self._idle_s)

    async def wake(self, workspace_id: UUID) -> None:
        try:
            await self.handle(workspace_id).wake.remote()
        except ray.exceptions.RayActorError:
            # It ended itself (idle) between lookup and call: a fresh one takes the wake-up.
            await self.handle(workspace_id).wake.remote()

    async def close(self) -> None:
        """Actors outlive this host (detached); nothing to release here."""
