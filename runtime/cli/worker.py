"""`crm-agents worker`: the run dispatcher as a long-running process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import typer
from rich.progress import Progress

from runtime.agents.extraction import Extractor
from runtime.cli._common import JSON_OPTION, database, emit, load_settings, run, stderr
from runtime.cli.agents import EXTRACTOR_HELP, extractor_named
from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.inbox.expiry import ExpirySweeper
from runtime.runs.crm_source import ConnectedCrms
from runtime.runs.dispatcher import BatchRunner, Dispatcher
from runtime.runs.executor import RunExecutor
from runtime.runs.models import AgentRun
from runtime.runs.repo import RunRepo
from runtime.settings import Settings
from runtime.writes.budgeted import Budgets
from runtime.writes.host import InProcessWorkspaces, WorkspaceHost, WriteCoordinator

__all__ = [
    "RunProcessing",
    "dispatch_until",
    "run_processing",
    "stop_on_signals",
    "worker_command",
]


def worker_command(
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        min=1,
        help="Runs executed at once (default CRM_AGENTS_WORKER__CONCURRENCY).",
    ),
    once: bool = typer.Option(
        False,
        "--once",
        help="Execute every queued run, then exit (a script, a cron job, a test).",
    ),
    extractor_name: str = typer.Option("rules", "--extractor", help=EXTRACTOR_HELP),
    writes: bool = typer.Option(
        True,
        "--writes/--no-writes",
        help=(
            "Also write the queued fields to the CRM, per workspace inside its API budget"
            " (--no-writes when workspace actors on Ray do the writing)."
        ),
    ),
    on_ray: bool = typer.Option(
        False,
        "--ray",
        help=(
            "Execute runs as Ray tasks across the cluster (RAY_ADDRESS, else a local Ray"
            " started here) in batches of CRM_AGENTS_WORKER__BATCH_SIZE, and write through"
            " one Ray actor per workspace. Without it, everything runs in this process."
        ),
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Execute agent runs as meetings arrive, until Ctrl-C or SIGTERM.

    Storing a meeting queues a run for each active agent whose call types include the
    meeting's; this process claims queued runs (any number of workers can share the queue,
    none takes a run another holds), runs the agent against the workspace's CRM connection
    (`crm-agents crm connect`), and records the activity log, the proposals, the inbox item
    for a human and the writes to make. A run left by a worker that died is taken over once
    its lease expires (CRM_AGENTS_WORKER__LEASE_S).

    With --writes (the default) it also writes the fields agents decided to write, and the
    ones people approved: merged per record into batches of up to 100, inside each
    workspace's HubSpot budget (CRM_AGENTS_WRITES__*), exactly once even across crashes.

    Prints what it did when it stops: runs completed and failed (a failed run is an activity
    with a message, e.g. no CRM connection) and records written. Examples:

        crm-agents worker                  # until Ctrl-C
        crm-agents worker --once --json    # drain the queue and report
        crm-agents worker --ray            # fan runs out over a Ray cluster
    """
    settings = load_settings()
    extractor = extractor_named(extractor_name)
    limit = concurrency or settings.worker.concurrency

    async def body() -> dict[str, Any]:
        async with (
            database(settings) as pool,
            run_processing(
                pool, settings, extractor=extractor, extractor_name=extractor_name, on_ray=on_ray
            ) as processing,
        ):
            written = 0
            if once:
                dispatcher = await _drain(pool, processing, settings, limit, quiet=as_json)
                if writes:
                    # A script's last step: write here, whoever executed the runs.
                    written = await processing.local.drain_all()
            else:
                stop = asyncio.Event()
                with stop_on_signals(stop):
                    dispatcher = await dispatch_until(
                        pool, processing, settings, limit, writes=writes, stop=stop, name="worker"
                    )
        return {
            "owner": dispatcher.owner,
            "completed": dispatcher.completed,
            "failed": dispatcher.failed,
            "records_written": written,
        }

    result = run(body)
    human = f"{result['completed']} run(s) completed, {result['failed']} failed"
    if once and writes:
        human += f"; {result['records_written']} record(s) written"
    emit(result, human, as_json=as_json)


@dataclass(frozen=True)
class RunProcessing:
    """How a long-running process (``worker``, ``serve``) executes and writes agent runs."""

    executor: RunExecutor
    local: InProcessWorkspaces  # writes in this process (``worker --once`` drains it)
    host: WorkspaceHost  # whoever writes for the dispatcher: ``local`` or Ray actors
    runner: BatchRunner | None  # None: batches run in this process


@asynccontextmanager
async def run_processing(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    extractor: Extractor,
    extractor_name: str,
    on_ray: bool,
) -> AsyncIterator[RunProcessing]:
    """The executor, writers and (``on_ray``) Ray runner of a process, its CRM clients
    closed when the block ends.

    With ``on_ray`` runs execute as Ray tasks across the cluster (``RAY_ADDRESS``, else a
    local Ray started here) and writes go through one Ray actor per workspace.
    """
    clock = SystemClock()
    keyring = KeyRing.from_settings(settings)
    # One budget per workspace, spent by its runs' reads and its writer alike.
    budgets = Budgets(settings.writes, clock=clock)
    crms = ConnectedCrms.from_settings(
        pool, settings, clock=clock, keyring=keyring, budgets=budgets
    )
    try:
        executor = RunExecutor(
            pool, crms, extractor=extractor, clock=clock, max_attempts=settings.worker.max_attempts
        )
        local = InProcessWorkspaces(
            pool, settings=settings, clock=clock, keyring=keyring, budgets=budgets
        )
        host: WorkspaceHost = local
        runner: BatchRunner | None = None
        if on_ray:
            # Imported here: runtime/ stays free of Ray; only this option needs it.
            from actors.cluster import ray_runner_and_host

            runner, host = ray_runner_and_host(settings, extractor=extractor_name)
        yield RunProcessing(executor=executor, local=local, host=host, runner=runner)
    finally:
        await crms.aclose()


async def dispatch_until(
    pool: asyncpg.Pool,
    processing: RunProcessing,
    settings: Settings,
    limit: int,
    *,
    writes: bool,
    stop: asyncio.Event,
    name: str,
) -> Dispatcher:
    """Dispatch runs (and, with ``writes``, write what they queue; and sweep expired inbox
    items every CRM_AGENTS_WORKER__EXPIRY_SWEEP_S) until ``stop`` is set;
    runs in hand get the worker's grace period (CRM_AGENTS_WORKER__GRACE_S). ``name`` is the
    command, for the line that says it started."""
    dispatcher = _dispatcher(pool, processing.executor, settings, limit, runner=processing.runner)
    coordinator = WriteCoordinator(pool, processing.host) if writes else None
    sys.stderr.write(
        f"{name} {dispatcher.owner}: dispatching agent runs ({limit} at a time); Ctrl-C stops\n"
    )
    writes_stop = asyncio.Event()
    writing = None if coordinator is None else asyncio.create_task(coordinator.run(writes_stop))
    # Items nobody decided in time get their agent's expiry policy (runtime.inbox.expiry);
    # the sweeper stops with the writer, once the dispatcher has.
    sweeping = asyncio.create_task(
        ExpirySweeper(pool, SystemClock()).run(
            writes_stop, interval_s=settings.worker.expiry_sweep_s
        )
    )
    stopping = asyncio.create_task(_stop_when(stop, dispatcher))
    try:
        await dispatcher.run()
    finally:
        stopping.cancel()
        writes_stop.set()
        if writing is not None:
            await writing
        await sweeping
    await processing.host.close()
    return dispatcher


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``stop`` (instead of killing the process) inside the block."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):
                loop.remove_signal_handler(signum)


async def _stop_when(stop: asyncio.Event, dispatcher: Dispatcher) -> None:
    await stop.wait()
    dispatcher.stop()


async def _drain(
    pool: asyncpg.Pool,
    processing: RunProcessing,
    settings: Settings,
    limit: int,
    *,
    quiet: bool,
) -> Dispatcher:
    queued = await RunRepo(pool).count_unfinished()
    with Progress(
        console=stderr, transient=True, disable=quiet or queued < 2 or not stderr.is_terminal
    ) as progress:
        task = progress.add_task("running agents", total=queued)
        dispatcher = _dispatcher(
            pool,
            processing.executor,
            settings,
            limit,
            runner=processing.runner,
            on_finished=lambda _run: progress.advance(task),
        )
        await dispatcher.drain()
    return dispatcher


def _dispatcher(
    pool: asyncpg.Pool,
    executor: RunExecutor,
    settings: Settings,
    limit: int,
    *,
    runner: BatchRunner | None,
    on_finished: Callable[[AgentRun], None] | None = None,
) -> Dispatcher:
    """A dispatcher as the worker settings (CRM_AGENTS_WORKER__*) describe it."""
    return Dispatcher(
        pool,
        executor,
        concurrency=limit,
        batch_size=settings.worker.batch_size,
        lease_s=settings.worker.lease_s,
        poll_s=settings.worker.poll_s,
        grace_s=settings.worker.grace_s,
        runner=runner,
        on_finished=on_finished,
    )
