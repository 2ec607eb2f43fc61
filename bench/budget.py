"""``python -m bench.budget [--json] [--quick]``: how close the workspace actor's writes come
to HubSpot's rate limit, and how they compare with writing one record per request.

One run, self-contained (everything it starts is stopped, even on Ctrl-C):

1. A scratch database (``bench.database``), the HubSpot emulator over HTTP on 127.0.0.1 with
   its default limits (190 calls per 10 s per app) and default latency (``bench.emulator``),
   seeded with the deals, and a local Ray cluster (``bench.cluster``).
2. A workspace whose stored HubSpot connection is the writer's token; its actor (one
   ``RayWorkspaces`` actor with the product's write settings) is woken once with an empty
   outbox, so that activation is not timed.
3. The backlog (``bench.workload``: 60,000 deals x 1 field, and why) is queued in one
   transaction as auto-applied runs would queue it; the actor is woken, and the drain is timed
   from then to the last outbox row ``done``.
4. Exactly once: the emulator's write log holds one entry per deal with exactly the queued
   fields, the CRM holds the queued values, and every outbox row is ``done``.
5. The per-record baseline (``bench.baseline``) writes a sample of the same updates with the
   official SDK under another token, so that its burst is its own app's.

``bench.report`` says how each figure is measured.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench.baseline import PerRecordRun, run_per_record
from bench.cluster import actor_env, actor_errors, local_ray
from bench.database import (
    connected_workspace,
    drain_state,
    insert_backlog,
    scratch_database,
    workspace_figures,
)
from bench.emulator import RunningEmulator, deal_snapshot, serve_emulator
from bench.figures import drain_figures
from bench.report import BenchError, exactly_once_problems, render_table, result_of
from bench.running import cancel_on_sigterm, run_benchmark
from bench.workload import Options, backlog, parse_options, sample
from runtime.connections.cipher import KeyRing
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.crm.hubspot.emulator.limits import INTERVAL_MS
from runtime.db.pool import create_pool
from runtime.settings import DatabaseSettings, Settings

__all__ = ["WINDOW_S", "main"]

WINDOW_S = INTERVAL_MS / 1000
"""HubSpot's burst window (10 s): the figures' time unit."""
_WRITER_TOKEN = "pat-na1-bench-0000-writer"
_SDK_TOKEN = "pat-na1-bench-0000-sdk"
_POLL_S = 0.5
_STALL_S = 90.0


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 measured (goals met or not), 1 the run broke, 2 cannot run."""
    options = parse_options(argv)
    console = Console(stderr=True)
    try:
        import hubspot  # noqa: F401  (the baseline's SDK)
    except ImportError:
        console.print("the per-record baseline needs hubspot-api-client: ./dev install test")
        return 2
    return run_benchmark(
        lambda console, home, stack: _run(options, console, home, stack),
        as_json=options.json,
        render=render_table,
        console=console,
    )


async def _run(
    options: Options, console: Console, home: Path, stack: AsyncExitStack
) -> dict[str, Any]:
    key = os.urandom(32)
    updates = backlog(options)

    console.log("starting PostgreSQL and migrating a scratch database")
    dsn = await stack.enter_async_context(scratch_database(home, Settings()))
    pool = await create_pool(dsn, DatabaseSettings(pool_min_size=1, pool_max_size=4))
    stack.push_async_callback(pool.close)

    console.log(f"starting the HubSpot emulator with {options.deals:,} deals")
    config = EmulatorConfig(tokens=(_WRITER_TOKEN, _SDK_TOKEN))  # default limits and latency
    emulator = stack.enter_context(
        serve_emulator(
            config,
            snapshot=deal_snapshot(options.deals),
            labels={_WRITER_TOKEN: "writer", _SDK_TOKEN: "sdk"},
        )
    )
    store = emulator.app.emulator.store
    workspace = await connected_workspace(
        pool, KeyRing([("bench", key)]), token=_WRITER_TOKEN, base_url=emulator.url
    )

    console.log("starting Ray and the workspace actor")
    stack.enter_context(local_ray(home / "ray"))
    cancel_on_sigterm()  # again: the driver's Ray installs a SIGTERM handler that aborts
    from actors.workspace_actor import RayWorkspaces

    env = actor_env(dsn=dsn, home=home, key=key, flush_interval_s=options.flush_interval_s)
    workspaces = RayWorkspaces(idle_s=options.timeout_s + 600, env_vars=env)
    await workspaces.wake(workspace)  # activation, outside the timed drain

    console.log(f"queueing {len(updates):,} field updates")
    rows = await insert_backlog(pool, workspace, updates, analyze=options.analyze)
    started_at = datetime.now(UTC)
    await workspaces.wake(workspace)
    try:
        await _wait_drained(pool, workspace, rows, options.timeout_s, console)
    except BenchError as exc:
        raise BenchError(f"{exc}{actor_errors(home / 'ray')}") from None
    state = await drain_state(pool, workspace)
    if state.last_done_at is None:
        raise BenchError("no outbox row was done")
    drain_s = (state.last_done_at - started_at).total_seconds()
    actor = await workspaces.handle(workspace).snapshot.remote()
    drained_upto = len(store.write_log)
    problems = exactly_once_problems(store, updates, state.statuses, written=(0, drained_upto))
    figures = await workspace_figures(pool, workspace)

    records = sample(updates, options.sample)
    console.log(f"per-record baseline: {len(records)} records, {options.sdk_threads} at once")
    per_record = await _per_record(emulator, records, threads=options.sdk_threads)
    sampled = {record_id for record_id, _ in records}
    per_record_problems = exactly_once_problems(
        store,
        [u for u in updates if u.record_id in sampled],
        None,
        written=(drained_upto, len(store.write_log)),
    )
    return result_of(
        options=options,
        config=config,
        field_updates=len(updates),
        drain_s=drain_s,
        drain=drain_figures(
            emulator.counter.requests("writer"), window_s=WINDOW_S, burst=config.ten_second_limit
        ),
        per_record=per_record,
        per_record_requests=emulator.counter.requests("sdk"),
        actor=actor,
        figures=figures,
        problems=problems,
        per_record_problems=per_record_problems,
    )


async def _wait_drained(
    pool: asyncpg.Pool, workspace: UUID, rows: int, timeout_s: float, console: Console
) -> None:
    """Until no outbox row is pending or in flight, with a progress bar on stderr.

    Raises:
        BenchError: ``timeout_s`` passed, or ``_STALL_S`` in which no row changed status.
    """
    deadline_s = time.monotonic() + timeout_s
    last: dict[str, int] = {}
    moved_s = time.monotonic()
    columns = (
        TextColumn("draining"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} fields"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("drain", total=rows)
        while True:
            state = await drain_state(pool, workspace)
            progress.update(task, completed=state.done)
            if state.unsent == 0:
                return
            now_s = time.monotonic()
            if state.statuses != last:
                last, moved_s = state.statuses, now_s
            elif now_s - moved_s > _STALL_S:
                raise BenchError(f"no outbox row moved for {_STALL_S:.0f} s: {state.statuses}")
            if now_s > deadline_s:
                raise BenchError(f"the drain took over {timeout_s:.0f} s: {state.statuses}")
            await asyncio.sleep(_POLL_S)


async def _per_record(
    emulator: RunningEmulator, records: list[tuple[str, dict[str, str]]], *, threads: int
) -> PerRecordRun:
    stop = threading.Event()
    try:
        return await asyncio.to_thread(
            run_per_record, emulator.url, _SDK_TOKEN, records, threads=threads, stop=stop
        )
    finally:
        stop.set()  # when cancelled (Ctrl-C): the SDK's threads start no more calls


if __name__ == "__main__":
    sys.exit(main())
