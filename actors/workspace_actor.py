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
from typing import Any
from uuid import UUID

import polars as pl
import ray

from actors.options import large_tenant_resources, workspace_actor_options
from actors.process import process_pool
from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.errors import BudgetExceededError
from runtime.metrics.windows import parse_window
from runtime.settings import ClusterSettings, Settings
from runtime.writes.budget import CallKind
from runtime.writes.workspace import WorkspaceRuntime

__all__ = [
    "ActorBudget",
    "ActorBudgets",
    "RayWorkspaces",
    "WorkspaceActor",
    "WorkspaceShell",
    "workspace_metrics",
]

_log = logging.getLogger(__name__)


class WorkspaceShell:
    """Hosts one ``WorkspaceRuntime``; every method is a thin call through."""

    def __init__(self, workspace_id: str, idle_s: float = 300.0) -> None:
        self._workspace_id = UUID(workspace_id)
        self._idle_s = idle_s
        self._runtime: WorkspaceRuntime | None = None
        self._serving: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._activating = asyncio.Lock()

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

    async def acquire_call(self, kind: CallKind) -> tuple[str, float] | None:
        """Wait for the workspace's budget to let a call of ``kind`` go (a run's CRM read in
        another process, ``ActorBudgets``); counts it. The daily limit spent answers its
        message and seconds until the reset instead of raising through Ray."""
        budget = (await self._active()).budget
        if budget is None:
            raise RuntimeError(f"workspace {self._workspace_id} has no budget while inactive")
        try:
            await budget.acquire(kind)
        except BudgetExceededError as exc:
            return str(exc), exc.retry_after_s or 0.0
        return None

    async def rate_limited(self, policy: str | None, retry_after_s: float | None) -> None:
        """A call of another process met a 429: hold the workspace's calls back."""
        budget = (await self._active()).budget
        if budget is not None:
            budget.on_rate_limited(policy, retry_after_s)

    async def node_id(self) -> str:
        """The Ray node this actor runs on (where a large tenant's actor was placed)."""
        return str(ray.get_runtime_context().get_node_id())

    async def _active(self) -> WorkspaceRuntime:
        async with self._activating:
            # One activation at a time: calls that arrive together (a batch's reads) must
            # share one runtime and its budget, not each build their own.
            return await self._activate()

    async def _activate(self) -> WorkspaceRuntime:
        if self._runtime is not None and self._serving is not None and not self._serving.done():
            return self._runtime
        settings = Settings()
        runtime = WorkspaceRuntime(
            self._workspace_id,
            await process_pool(settings),
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

    async def metrics(self, window: str) -> pl.DataFrame:
        """Per-minute counters over ``window`` (``15m``, ``1h``, ``7d``) as a Polars frame.

        Activates the workspace like any other call, so an actor started only to answer
        this still ends itself when idle.
        """
        window_s = parse_window(window)
        return await (await self._active()).metrics_frame(window_s)


WorkspaceActor: Any = ray.remote(WorkspaceShell)
"""The Ray actor class (``WorkspaceShell`` made remote; options in ``actors.options``)."""


class RayWorkspaces:
    """Implements ``runtime.writes.host.WorkspaceHost`` with one actor per workspace.

    Large tenants are pinned as ``cluster`` says (``Settings().cluster`` when not given);
    an entry of ``resources_for`` overrides that for its workspace.
    """

    def __init__(
        self,
        *,
        idle_s: float = 300.0,
        env_vars: dict[str, str] | None = None,
        cluster: ClusterSettings | None = None,
        resources_for: dict[UUID, dict[str, float]] | None = None,
    ) -> None:
        self._idle_s = idle_s
        self._env_vars = env_vars
        self._cluster = cluster if cluster is not None else Settings().cluster
        self._resources_for = resources_for or {}
        self._handles: dict[UUID, Any] = {}

    def handle(self, workspace_id: UUID) -> Any:
        """The workspace's actor, created if it is not running."""
        resources = self._resources_for.get(workspace_id)
        if resources is None:
            resources = large_tenant_resources(self._cluster, workspace_id)
        options = workspace_actor_options(
            workspace_id, env_vars=self._env_vars, resources=resources
        )
        return WorkspaceActor.options(**options).remote(str(workspace_id), self._idle_s)

    async def call(self, workspace_id: UUID, method: str, *args: Any) -> Any:
        """Call a method of the workspace's actor through a cached handle; an actor that
        ended itself (idle) since the handle was had is started again and asked again."""
        for attempt in (1, 2):
            handle = self._handles.get(workspace_id)
            if handle is None:
                # Looking it up (or creating it) waits on Ray's control store: off the loop.
                handle = await asyncio.to_thread(self.handle, workspace_id)
                self._handles[workspace_id] = handle
            try:
                return await getattr(handle, method).remote(*args)
            except ray.exceptions.RayActorError:
                self._handles.pop(workspace_id, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    async def wake(self, workspace_id: UUID) -> None:
        await self.call(workspace_id, "wake")

    async def close(self) -> None:
        """Actors outlive this host (detached); nothing to release here."""


class ActorBudget:
    """Implements ``runtime.writes.budgeted.CallBudget`` with a workspace actor's budget:
    a run's CRM reads in an executor process spend what the workspace's writer spends."""

    def __init__(self, workspaces: RayWorkspaces, workspace_id: UUID) -> None:
        self._workspaces = workspaces
        self._workspace_id = workspace_id
        self._told: set[asyncio.Task[Any]] = set()

    async def acquire(self, kind: CallKind = "standard") -> None:
        spent = await self._workspaces.call(self._workspace_id, "acquire_call", kind)
        if spent is not None:
            message, retry_after_s = spent
            raise BudgetExceededError(message, retry_after_s=retry_after_s)

    def on_rate_limited(self, policy: str | None, retry_after_s: float | None) -> None:
        # Not awaited: the answer carries nothing the caller needs, and the 429 is raised
        # to it at once either way. The task is kept until done (the loop holds it weakly).
        told = asyncio.get_running_loop().create_task(
            self._workspaces.call(self._workspace_id, "rate_limited", policy, retry_after_s)
        )
        self._told.add(told)
        told.add_done_callback(self._forget)

    def _forget(self, told: asyncio.Task[Any]) -> None:
        self._told.discard(told)
        if not told.cancelled() and told.exception() is not None:
            # The actor could not be told: its budget learns of the 429 from the next one.
            _log.warning(
                "workspace %s: a 429 not passed on: %s", self._workspace_id, told.exception()
            )


class ActorBudgets:
    """Implements ``runtime.writes.budgeted.BudgetSource`` with workspace actors."""

    def __init__(self, workspaces: RayWorkspaces) -> None:
        self._workspaces = workspaces
        self._by_workspace: dict[UUID, ActorBudget] = {}

    def for_workspace(self, workspace_id: UUID) -> ActorBudget:
        budget = self._by_workspace.get(workspace_id)
        if budget is None:
            budget = self._by_workspace[workspace_id] = ActorBudget(self._workspaces, workspace_id)
        return budget


def workspace_metrics(
    workspace_id: UUID | str, window: str = "1h", *, env_vars: dict[str, str] | None = None
) -> pl.DataFrame:
    """A workspace's per-minute metrics from its actor, for a driver attached to the cluster
    (a notebook after ``ray.init(address="auto", namespace="crm-agents")``).

    Finds the workspace's actor by name, or starts it as ``RayWorkspaces`` does (placed
    like any of its actors; ``env_vars`` reach a new actor's process). README "Metrics for
    the data team".
    """
    workspace = UUID(str(workspace_id))
    workspaces = RayWorkspaces(env_vars=env_vars)
    try:
        frame: pl.DataFrame = ray.get(workspaces.handle(workspace).metrics.remote(window))
    except ray.exceptions.RayActorError:
        # It ended itself (idle) between lookup and call: a fresh one answers.
        frame = ray.get(workspaces.handle(workspace).metrics.remote(window))
    return frame
