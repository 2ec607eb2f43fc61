"""The run dispatcher: claims pending runs and executes them, any number side by side.

Every long-running process (``crm-agents worker``, later ``serve`` and ``demo``) hosts one.

- Claiming: ``FOR UPDATE SKIP LOCKED`` (``RunRepo.claim``), so dispatchers on one queue never
  take the same run; each claim holds a lease of ``lease_s`` seconds, renewed by a heartbeat
  while the run executes.
- Recovery: a run whose process died keeps its expired lease and is claimed again by the
  next dispatcher that looks; only the lease holder may record a run's outcome, so a
  dispatcher that stalled past its lease cannot complete a run a second time.
- Waking up: new runs send a NOTIFY (``runtime.events.AGENT_RUNS``) that wakes a waiting
  dispatcher at once; it also looks every ``poll_s`` seconds, for expired leases and for
  notifications sent while it was not listening.
- Bounded work: at most ``concurrency`` runs execute at once per dispatcher.
- Stopping: ``stop()`` ends claiming, lets running runs finish for ``grace_s`` seconds, then
  cancels the rest and hands them back to the queue.
- A run that fails on our side (a bug, a lost database connection during the agent) is
  recorded as a failed activity with the error; a run that repeatedly kills its process is
  given up after ``max_attempts`` (``RunExecutor``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable

import asyncpg

from runtime.events import AGENT_RUNS, Event, listen
from runtime.runs.executor import LeaseLostError, RunExecutor
from runtime.runs.models import AgentRun
from runtime.runs.repo import RunRepo

__all__ = ["Dispatcher", "owner_id"]

_log = logging.getLogger(__name__)


def owner_id() -> str:
    """Who holds a lease: host, process and a random part (two dispatchers in one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """Claims and executes runs until stopped (``run``) or until none is left (``drain``)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        executor: RunExecutor,
        *,
        concurrency: int = 4,
        lease_s: float = 60.0,
        poll_s: float = 5.0,
        grace_s: float = 30.0,
        owner: str | None = None,
        on_finished: Callable[[AgentRun], None] | None = None,
    ) -> None:
        """Args (besides the module docstring's): ``on_finished`` is told each run this
        dispatcher recorded (a progress bar, a metric)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.owner = owner or owner_id()
        self._pool = pool
        self._executor = executor
        self._concurrency = concurrency
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._grace_s = grace_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._on_finished = on_finished
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.completed = 0
        self.failed = 0

    def stop(self) -> None:
        """Stop claiming; ``run`` returns once the runs in hand are finished or handed back."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Claim and execute runs until ``stop()``."""
        async with self._pool.acquire() as listener, listen(listener, (AGENT_RUNS,)) as events:
            waker = asyncio.create_task(self._wake_on(events))
            try:
                while not self._stopping.is_set():
                    await self._fill()
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            finally:
                waker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waker
                await self._wind_down()

    async def drain(self) -> int:
        """Execute runs until none is claimable and none is running; how many finished."""
        before = self.completed + self.failed
        while True:
            claimed = await self._fill()
            if not claimed and not self._running:
                return self.completed + self.failed - before
            if self._running:
                await asyncio.wait(
                    list(self._running.values()), return_when=asyncio.FIRST_COMPLETED
                )

    async def _wake_on(self, events: asyncio.Queue[Event]) -> None:
        while True:
            await events.get()
            self._wake.set()

    async def _fill(self) -> int:
        """Claim as many runs as there are free slots; start them."""
        free = self._concurrency - len(self._running)
        if free <= 0 or self._stopping.is_set():
            return 0
        claimed = await RunRepo(self._pool).claim(self.owner, limit=free, lease_s=self._lease_s)
        for run in claimed:
            task = asyncio.create_task(self._execute(run), name=f"run {run.id}")
            self._running[run.id] = task
        return len(claimed)

    async def _execute(self, run: AgentRun) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(run))
        try:
            activity = await self._executor.execute(run, self.owner)
            if activity.status == "failed":
                self.failed += 1
            else:
                self.completed += 1
            if self._on_finished is not None:
                self._on_finished(run)
        except LeaseLostError as exc:
            _log.warning("%s; its outcome was not recorded here", exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or lost database: record it, never drop the run
            _log.exception("run %s failed on our side", run.id)
            await self._record_failure(run, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._running.pop(run.id, None)
            self._wake.set()

    async def _record_failure(self, run: AgentRun, message: str) -> None:
        try:
            await self._executor.record_failure(run, self.owner, message)
            self.failed += 1
        except Exception:
            # The database itself is gone: the lease expires and another dispatcher retries.
            _log.exception("run %s: the failure could not be recorded either", run.id)

    async def _heartbeat(self, run: AgentRun) -> None:
        interval = self._lease_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                held = await RunRepo(self._pool).extend_lease(
                    run.id, self.owner, lease_s=self._lease_s
                )
            except (OSError, asyncpg.PostgresError):
                _log.warning("run %s: lease not renewed (database unreachable)", run.id)
                continue
            if not held:
                _log.warning("run %s: lease lost to another dispatcher", run.id)
                return

    async def _wind_down(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(list(self._running.values()), timeout=self._grace_s)
        unfinished = [run_id for run_id, task in self._running.items() if task in pending]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        repo = RunRepo(self._pool)
        for run_id in unfinished:
            await repo.release(run_id, self.owner)
        if unfinished:
            _log.info("handed %d unfinished run(s) back to the queue", len(unfinished))
