"""``python -m bench.budget [--json] [--quick]``: how close the workspace actor's writes come
to HubSpot's rate limit, and how they compare with writing one record per request.

One run, self-contained (everything it starts is stopped, even on Ctrl-C):

1. A scratch database (``bench.database``), the HubSpot emulator over HTTP on 127.0.0.1 with
   its default limits (190 calls per 10 s per app) and default latency (``bench.emulator``),
   seeded with the deals, and a local Ray cluster.
2. A workspace whose stored HubSpot connection is the writer's token; its actor (one
   ``RayWorkspaces`` actor, product settings) is woken once with an empty outbox, so that
   activation is not timed.
3. The backlog is queued in one transaction as auto-applied runs would queue it; the actor is
   woken, and the drain is timed from then to the last outbox row ``done``.
4. Exactly once: the emulator's write log holds one entry per deal with exactly the queued
   fields, the CRM holds the queued values, and every outbox row is ``done``.
5. The per-record baseline (``bench.baseline``) writes a sample of the same updates with the
   official SDK under another token, so its burst is its own app's.

Shape: by default 60,000 deals x 1 field. HubSpot counts requests, and a request carries up
to 100 records whatever their fields, so records, not fields, decide how many requests a
drain needs: 60,000 records are 600 requests, about three 10-second windows past the
initial burst of 190 even at the full limit; 20,000 deals x 3 fields would be 200 requests,
nearly all inside the burst, and would measure the burst instead of the steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench.baseline import PerRecordRun, run_per_record
from bench.database import (
    FieldUpdate,
    connected_workspace,
    drain_state,
    insert_backlog,
    scratch_database,
    workspace_figures,
)
from bench.emulator import RunningEmulator, deal_id, deal_snapshot, serve_emulator
from bench.figures import drain_figures
from bench.report import BenchError, exactly_once_problems, render_table, result_of
from runtime.connections.cipher import KeyRing
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.crm.hubspot.emulator.limits import INTERVAL_MS
from runtime.db.pool import create_pool
from runtime.settings import DatabaseSettings, Settings

__all__ = ["Options", "main", "run"]

WRITER_TOKEN = "pat-na1-bench-0000-writer"
SDK_TOKEN = "pat-na1-bench-0000-sdk"
FIELDS = (("amount", "1000"), ("hs_next_step", None), ("description", None))
"""Fields a deal's updates set, in order, with the value the seeded deal holds."""
WINDOW_S = INTERVAL_MS / 1000
"""HubSpot's burst window (10 s): the figures' time unit."""
_POLL_S = 0.5


@dataclass(frozen=True)
class Options:
    deals: int
    fields_per_deal: int
    sample: int
    sdk_threads: int
    flush_interval_s: float
    timeout_s: float
    mode: str


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = _options(args)
    console = Console(stderr=True)
    out = sys.stdout
    try:
        # Libraries that print must not spoil the one JSON object on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            result = asyncio.run(run(options, console))
    except KeyboardInterrupt:
        console.print("interrupted; everything started was stopped")
        return 130
    except BenchError as exc:
        console.print(f"[red]the benchmark broke:[/red] {exc}")
        return 1
    if args.json:
        out.write(json.dumps(result) + "\n")
    else:
        Console(file=out).print(render_table(result))
    for error in result["errors"]:
        console.print(f"[red]{error}[/red]")
    return 1 if result["errors"] else 0


async def run(options: Options, console: Console) -> dict[str, Any]:
    """One whole benchmark run (see the module docstring); the result as JSON-ready values."""
    home = Path(tempfile.mkdtemp(prefix="crm-agents-bench-"))
    try:
        async with AsyncExitStack() as stack:
            return await _run(options, console, home, stack)
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def _run(
    options: Options, console: Console, home: Path, stack: AsyncExitStack
) -> dict[str, Any]:
    settings = Settings()
    key = os.urandom(32)
    keyring = KeyRing([("bench", key)])
    updates = _backlog(options)

    console.log("starting PostgreSQL and migrating a scratch database")
    dsn = await stack.enter_async_context(scratch_database(home, settings))
    pool = await create_pool(dsn, DatabaseSettings(pool_min_size=1, pool_max_size=4))
    stack.push_async_callback(pool.close)

    console.log(f"starting the HubSpot emulator with {options.deals:,} deals")
    config = EmulatorConfig(tokens=(WRITER_TOKEN, SDK_TOKEN))
    emulator = stack.enter_context(
        serve_emulator(
            config,
            snapshot=deal_snapshot(options.deals),
            labels={WRITER_TOKEN: "writer", SDK_TOKEN: "sdk"},
        )
    )
    workspace = await connected_workspace(pool, keyring, token=WRITER_TOKEN, base_url=emulator.url)

    console.log("starting Ray and the workspace actor")
    stack.enter_context(_local_ray(home / "ray"))
    from actors.workspace_actor import RayWorkspaces

    env = {
        "DATABASE_URL": dsn,
        "CRM_AGENTS_HOME": str(home),
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": "bench:" + base64.urlsafe_b64encode(key).decode(),
        "CRM_AGENTS_WRITES__FLUSH_INTERVAL_S": str(options.flush_interval_s),
        "CRM_AGENTS_LOG_LEVEL": "WARNING",
    }
    workspaces = RayWorkspaces(idle_s=options.timeout_s + 600, env_vars=env)
    await workspaces.wake(workspace)  # activation, outside the timed drain

    console.log(f"queueing {len(updates):,} field updates")
    rows = await insert_backlog(pool, workspace, updates)
    started_at = datetime.now(UTC)
    await workspaces.wake(workspace)
    await _wait_drained(pool, workspace, rows, options.timeout_s, console)
    state = await drain_state(pool, workspace)
    if state.last_done_at is None:
        raise BenchError("no outbox row was done")
    drain_s = (state.last_done_at - started_at).total_seconds()
    actor = await workspaces.handle(workspace).snapshot.remote()
    written_upto = len(emulator.app.emulator.store.write_log)
    problems = exactly_once_problems(
        emulator.app.emulator.store, updates, state.statuses, written=(0, written_upto)
    )
    figures = await workspace_figures(pool, workspace)

    sample = _sample(updates, options.sample)
    sampled = {record_id for record_id, _ in sample}
    console.log(f"per-record baseline: {len(sample)} records, {options.sdk_threads} threads")
    baseline = await _per_record(emulator, sample, threads=options.sdk_threads)
    baseline_problems = exactly_once_problems(
        emulator.app.emulator.store,
        [u for u in updates if u.record_id in sampled],
        None,
        written=(written_upto, len(emulator.app.emulator.store.write_log)),
    )
    return result_of(
        options=options,
        config=config,
        field_updates=len(updates),
        drain_s=drain_s,
        drain=drain_figures(emulator.counter.requests("writer"), window_s=WINDOW_S),
        per_record=baseline,
        per_record_requests=emulator.counter.requests("sdk"),
        actor=actor,
        figures=figures,
        problems=problems,
        per_record_problems=baseline_problems,
    )


async def _wait_drained(
    pool: Any, workspace: UUID, rows: int, timeout_s: float, console: Console
) -> None:
    """Until no outbox row is pending or in flight; ``BenchError`` after ``timeout_s``."""
    deadline_s = time.monotonic() + timeout_s
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
            if time.monotonic() > deadline_s:
                raise BenchError(
                    f"the drain did not finish within {timeout_s:.0f} s: outbox {state.statuses}"
                )
            await asyncio.sleep(_POLL_S)


async def _per_record(
    emulator: RunningEmulator, sample: list[tuple[str, dict[str, str]]], *, threads: int
) -> PerRecordRun:
    stop = threading.Event()
    try:
        return await asyncio.to_thread(
            run_per_record, emulator.url, SDK_TOKEN, sample, threads=threads, stop=stop
        )
    finally:
        stop.set()  # on cancellation: the SDK's threads send nothing more


@contextlib.contextmanager
def _local_ray(temp_dir: Path) -> Iterator[None]:
    """A local Ray cluster of our own (never a stale one), its files under ``temp_dir``."""
    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _temp_dir=str(temp_dir),
    )
    try:
        yield
    finally:
        ray.shutdown()


def _backlog(options: Options) -> list[FieldUpdate]:
    """Deal ``i`` gets its first ``fields_per_deal`` fields set to values unique to it."""
    values = {
        "amount": lambda i: str(2000 + i),
        "hs_next_step": lambda i: f"Send the order form to deal {i}",
        "description": lambda i: f"Benchmark update of deal {i}",
    }
    return [
        FieldUpdate(deal_id(i), field, before, values[field](i))
        for i in range(options.deals)
        for field, before in FIELDS[: options.fields_per_deal]
    ]


def _sample(updates: list[FieldUpdate], size: int) -> list[tuple[str, dict[str, str]]]:
    """``size`` deals spread over the backlog, each with its queued fields."""
    by_record: dict[str, dict[str, str]] = {}
    for update in updates:
        by_record.setdefault(update.record_id, {})[update.field] = update.value
    records = list(by_record.items())
    step = max(len(records) // max(size, 1), 1)
    return records[::step][:size]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.budget",
        description=(
            "Drain a backlog of field updates through one workspace actor against the HubSpot"
            " emulator at its default limits and latency, and compare with the official SDK"
            " writing one record per request. Run it through ../shared/tools/loopback-only."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a smoke test (2,000 deals)"
    )
    parser.add_argument("--deals", type=int, help="deals in the backlog (60,000; quick 2,000)")
    parser.add_argument(
        "--fields-per-deal", type=int, choices=(1, 2, 3), default=1, help="fields per deal"
    )
    parser.add_argument("--sample", type=int, help="records the SDK writes (300; quick 40)")
    parser.add_argument(
        "--sdk-threads",
        type=int,
        default=4,
        help="SDK calls at once (4: the writer's requests in flight)",
    )
    parser.add_argument(
        "--flush-interval-s",
        type=float,
        help="the writer's CRM_AGENTS_WRITES__FLUSH_INTERVAL_S (default: the product's)",
    )
    parser.add_argument("--timeout-s", type=float, help="give up on the drain after this")
    return parser


def _options(args: argparse.Namespace) -> Options:
    quick = bool(args.quick)
    deals = args.deals or (2_000 if quick else 60_000)
    sample = args.sample or (40 if quick else 300)
    custom = args.deals is not None or args.sample is not None or args.fields_per_deal != 1
    mode = "custom" if custom else "quick" if quick else "full"
    flush = args.flush_interval_s
    if flush is None:
        flush = Settings().writes.flush_interval_s
    # Generous: ten times the time the drain takes at the physical limit, at least 2 minutes.
    timeout_s = args.timeout_s or max(120.0, 10 * deals / 1900)
    if deals < 1 or sample < 1 or args.sdk_threads < 1:
        raise SystemExit("--deals, --sample and --sdk-threads must be at least 1")
    return Options(
        deals=deals,
        fields_per_deal=args.fields_per_deal,
        sample=min(sample, deals),
        sdk_threads=args.sdk_threads,
        flush_interval_s=flush,
        timeout_s=timeout_s,
        mode=mode,
    )


if __name__ == "__main__":
    sys.exit(main())
