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
- Bounded work: at most ``concurrency`` runs are in hand at once per dispatcher, in at
  most ``concurrency // batch_size`` batches of up to ``batch_size``. Capping the batches,
  not only the runs, is what keeps batches full under load: runs that arrive one by one
  while every batch slot is busy wait in the queue and leave it together, instead of each
  becoming a batch of one (a task and a transaction per run). A batch is handed to a
  runner: by default this
  process's ``RunExecutor.execute_batch`` (plain asyncio), or ``actors.executor.RayRunner``,
  which executes it as a Ray task on any node of the cluster. Either way the batch's
  outcomes are recorded in one transaction by the process that ran it.
- A runner whose process died (a killed Ray worker) raises ``ExecutorLostError``: the
  batch's leases end at once and its runs are claimed again, their attempt counted.
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
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from runtime.events import AGENT_RUNS, Event, listen
from runtime.runs.executor import RunExecutor, RunResult
from runtime.runs.models import AgentRun
from runtime.runs.repo import RunRepo

__all__ = ["BatchRunner", "Dispatcher", "ExecutorLostError", "owner_id"]

_log = logging.getLogger(__name__)


BatchRunner = Callable[[Sequence[AgentRun], str], Awaitable[list[RunResult]]]
"""Executes a batch of runs claimed by an owner and records their outcomes."""


class ExecutorLostError(Exception):
    """The process executing a batch died before it answered; nothing more is known."""


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
        batch_size: int = 1,
        lease_s: float = 60.0,
        poll_s: float = 5.0,
        grace_s: float = 30.0,
        owner: str | None = None,
        on_finished: Callable[[AgentRun], None] | None = None,
        runner: BatchRunner | None = None,
    ) -> None:
        """Args (besides the module docstring's): ``on_finished`` is told each run this
        dispatcher recorded (a progress bar, a metric); ``runner`` executes batches
        elsewhere (default: ``executor.execute_batch``, in this process)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.owner = owner or owner_id()
        self._pool = pool
        self._executor = executor
        self._runner: BatchRunner = runner or executor.execute_batch
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._max_batches = max(1, concurrency // batch_size)
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._grace_s = grace_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._on_finished = on_finished
        self._running: dict[asyncio.Task[None], list[AgentRun]] = {}
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
                await asyncio.wait(list(self._running), return_when=asyncio.FIRST_COMPLETED)

    async def _wake_on(self, events: asyncio.Queue[Event]) -> None:
        while True:
            await events.get()
            self._wake.set()

    async def _fill(self) -> int:
        """Claim as many runs as there is room for; start them in batches."""
        in_hand = sum(len(runs) for runs in self._running.values())
        free_batches = self._max_batches - len(self._running)
        free = min(self._concurrency - in_hand, free_batches * self._batch_size)
        if free <= 0 or self._stopping.is_set():
            return 0
        claimed = await RunRepo(self._pool).claim(self.owner, limit=free, lease_s=self._lease_s)
        for start in range(0, len(claimed), self._batch_size):
            batch = claimed[start : start + self._batch_size]
            task = asyncio.create_task(self._execute(batch), name=f"runs from {batch[0].id}")
            self._running[task] = batch
        return len(claimed)

    async def _execute(self, runs: list[AgentRun]) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(runs))
        try:
            results = await self._runner(runs, self.owner)
            by_id = {run.id: run for run in runs}
            for result in results:
                if result.status is None:
                    _log.warning(
                        "run %s: lease lost; its outcome was not recorded here", result.run_id
                    )
                    continue
                if result.status == "failed":
                    self.failed += 1
                else:
                    self.completed += 1
                if self._on_finished is not None:
                    self._on_finished(by_id[result.run_id])
        except asyncio.CancelledError:
            raise
        except ExecutorLostError as exc:
            _log.warning(
                "%d run(s) lost with their process (%s); claiming them again", len(runs), exc
            )
            await self._abandon(runs)
        except Exception as exc:  # a bug or lost database: record it, never drop the runs
            _log.exception("a batch of %d run(s) failed on our side", len(runs))
            for run in runs:
                await self._record_failure(run, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            current = asyncio.current_task()
            if current is not None:
                self._running.pop(current, None)
            self._wake.set()

    async def _abandon(self, runs: Sequence[AgentRun]) -> None:
        try:
            await RunRepo(self._pool).abandon([run.id for run in runs], self.owner)
        except (OSError, asyncpg.PostgresError):
            _log.warning("runs not handed back (database unreachable); their leases expire")

    async def _record_failure(self, run: AgentRun, message: str) -> None:
        try:
            await self._executor.record_failure(run, self.owner, message)
            self.failed += 1
        except Exception:
            # The database itself is gone, or the lease was lost: the lease expires and
            # another dispatcher retries.
            _log.exception("run %s: the failure could not be recorded either", run.id)

    async def _heartbeat(self, runs: Sequence[AgentRun]) -> None:
        interval = self._lease_s / 3
        ids = [run.id for run in runs]
        while ids:
            await asyncio.sleep(interval)
            try:
                held = await RunRepo(self._pool).extend_leases(
                    ids, self.owner, lease_s=self._lease_s
                )
            except (OSError, asyncpg.PostgresError):
                _log.warning("%d run(s): leases not renewed (database unreachable)", len(ids))
                continue
            lost = [run_id for run_id in ids if run_id not in held]
            for run_id in lost:
                _log.warning("run %s: lease lost or run finished", run_id)
            ids = [run_id for run_id in ids if run_id in held]

    async def _wind_down(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(list(self._running), timeout=self._grace_s)
        unfinished = [run.id for task in pending for run in self._running.get(task, [])]
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
