"""``python -m bench.throughput [--json] [--quick]``: meetings per second through the agent
pipeline (extract, match, route, persist, queue or inbox) on Ray and in one asyncio process.

One run, self-contained (everything it starts is stopped, even on Ctrl-C):

1. A scratch database (``bench.database``), a local Ray cluster (``bench.cluster``), and per
   tenant one HubSpot emulator over HTTP holding a dev-corpus case's CRM, a workspace
   connected to it and an active agent trusting enough to both auto-apply and ask a human
   (``runtime.agents.evaluation.runner.evaluation_config`` at 0.5).
2. Warm-up, not timed: a few meetings per tenant through each mode, so each process's CRM
   cache holds the tenants' records, schema and lookups (the issue's "CRM reads served by
   the workspace cache"); writes are not made (no writer runs: queueing is the last step).
3. Throughput: ``meetings`` meetings (each tenant's meeting under new external ids) are
   stored with their runs, then a dispatcher drains them, timed from its start to its
   last run recorded: first in this process (``RunExecutor.execute_batch``), then with
   batches as Ray tasks (``actors.executor.RayRunner``), with the same concurrency and
   batch size.
4. Latency on Ray: meetings are stored at a steady rate (half the Ray throughput measured,
   at most 300 per second) while a dispatcher runs as a worker does (woken by NOTIFY);
   latency is a run's ``finished_at`` (its outcome's transaction) minus its meeting's
   ``created_at`` (its storing transaction), both stamped by PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from rich.console import Console
from rich.table import Table

from bench.cluster import actor_env, local_ray
from bench.database import scratch_database
from bench.emulator import serve_emulator
from bench.formatting import at_least, at_most, goal_text
from bench.running import cancel_on_sigterm, json_and_quick, run_benchmark
from runtime.agent_configs.models import AgentConfigCreate, AgentStatus
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agents.evaluation.corpus import CorpusCase, load_corpus
from runtime.agents.evaluation.runner import evaluation_config
from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.db.pool import create_pool
from runtime.meetings.service import import_meeting
from runtime.runs.crm_source import ConnectedCrms
from runtime.runs.dispatcher import BatchRunner, Dispatcher
from runtime.runs.executor import RunExecutor
from runtime.settings import DatabaseSettings, HubSpotSettings, Settings, WriteSettings
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from runtime.writes.budgeted import Budgets

__all__ = ["main"]

_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus"
_CONCURRENCY = 64
_BATCH = 16
_GOAL_RPS = 300.0
_GOAL_RATIO = 0.7
_GOAL_P99_MS = 2000.0


@dataclass(frozen=True)
class Options:
    json: bool
    quick: bool
    tenants: int
    meetings: int
    latency_s: float
    warm_per_tenant: int


def parse_options(argv: Sequence[str] | None) -> Options:
    as_json, quick = json_and_quick(
        "python -m bench.throughput",
        (
            "Meetings per second through the agent pipeline on Ray and in one asyncio process,"
            " and the latency from a stored meeting to its stored proposals."
        ),
        argv,
    )
    if quick:
        return Options(as_json, True, tenants=2, meetings=60, latency_s=3.0, warm_per_tenant=4)
    return Options(as_json, False, tenants=8, meetings=2400, latency_s=20.0, warm_per_tenant=16)


@dataclass(frozen=True)
class Tenant:
    workspace_id: UUID
    case: CorpusCase


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: 0 measured (goals met or not), 1 the run broke."""
    options = parse_options(argv)
    return run_benchmark(
        lambda console, home, stack: _measure(options, console, home, stack),
        as_json=options.json,
        render=_table,
        console=Console(stderr=True),
    )


async def _measure(
    options: Options, console: Console, home: Path, stack: AsyncExitStack
) -> dict[str, Any]:
    key = os.urandom(32)
    keyring = KeyRing([("bench", key)])
    cases = [c for c in load_corpus(_CORPUS) if c.expected.deal_id][: options.tenants]

    console.log("starting PostgreSQL and migrating a scratch database")
    dsn = await stack.enter_async_context(scratch_database(home, Settings()))
    pool = await create_pool(dsn, DatabaseSettings(pool_min_size=2, pool_max_size=16))
    stack.push_async_callback(pool.close)

    console.log(f"starting {len(cases)} HubSpot emulators, one per tenant")
    tenants = []
    for index, case in enumerate(cases):
        token = f"pat-na1-bench-tenant-{index:04d}"
        emulator = stack.enter_context(
            serve_emulator(EmulatorConfig(tokens=(token,)), snapshot=case.snapshot, labels={})
        )
        tenants.append(await _tenant(pool, keyring, case, token=token, url=emulator.url))

    console.log("starting Ray")
    stack.enter_context(local_ray(home / "ray"))
    cancel_on_sigterm()  # again: the driver's Ray installs a SIGTERM handler that aborts
    from actors.executor import RayRunner

    env = actor_env(dsn=dsn, home=home, key=key, flush_interval_s=3600.0)
    env["CRM_AGENTS_WORKER__CRM_LOOKUP_TTL_S"] = "3600"
    ray_runner = RayRunner(env_vars=env)
    crms = ConnectedCrms(
        pool,
        keyring,
        HubSpotSettings(),
        clock=SystemClock(),
        lookup_ttl_s=3600.0,
        budgets=Budgets(WriteSettings(), clock=SystemClock()),
    )
    stack.push_async_callback(crms.aclose)
    executor = RunExecutor(pool, crms, extractor=RulesExtractor(), clock=SystemClock())

    warm = options.warm_per_tenant * len(tenants)
    console.log(f"warming both modes' CRM caches ({warm} meetings each, not timed)")
    await _store(pool, tenants, warm, tag="warm-local")
    await _drain(pool, executor, None)
    await _store(pool, tenants, warm, tag="warm-ray")
    await _drain(pool, executor, ray_runner, batch_size=2)

    results: dict[str, Any] = {}
    for mode, runner in (("single_process", None), ("ray", ray_runner)):
        console.log(f"{mode}: storing {options.meetings:,} meetings, then draining their runs")
        await _store(pool, tenants, options.meetings, tag=mode)
        elapsed, done, failed = await _drain(pool, executor, runner)
        results[mode] = {
            "meetings": done + failed,
            "failed": failed,
            "elapsed_s": round(elapsed, 2),
            "meetings_per_s": round((done + failed) / elapsed, 1),
        }
        console.log(f"{mode}: {results[mode]['meetings_per_s']} meetings/s")

    rate = min(_GOAL_RPS, results["ray"]["meetings_per_s"] / 2)
    console.log(f"latency on Ray: {rate:.0f} meetings/s for {options.latency_s:.0f} s")
    latency = await _latency(pool, executor, ray_runner, tenants, rate, options.latency_s)
    return _result(options, tenants, results, latency)


async def _tenant(
    pool: asyncpg.Pool, keyring: KeyRing, case: CorpusCase, *, token: str, url: str
) -> Tenant:
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"bench {case.name}"))
    async with pool.acquire() as conn:
        owner = case.meeting.owner_email or "owner@bench.example"
        admin, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email=owner), role="admin"
        )
    config = evaluation_config(case.meeting.call_type, threshold=0.5)
    repo = AgentConfigRepo(pool)
    agent = await repo.insert(
        workspace.id, admin.user.id, AgentConfigCreate(name="bench agent", config=config)
    )
    drafts: tuple[AgentStatus, ...] = ("draft",)
    await repo.set_status(workspace.id, agent.id, to="active", allowed_from=drafts)
    await connect_private_token(pool, keyring, workspace.id, token=token, base_url=url)
    return Tenant(workspace.id, case)


async def _store(pool: asyncpg.Pool, tenants: Sequence[Tenant], count: int, *, tag: str) -> None:
    """``count`` meetings, round robin over the tenants, each its tenant's under a new id."""
    async with pool.acquire() as conn:
        for index in range(count):
            await _store_one(conn, tenants[index % len(tenants)], f"{tag}-{index}")


async def _store_one(conn: asyncpg.Connection, tenant: Tenant, external_id: str) -> None:
    meeting = tenant.case.meeting.model_copy(update={"external_id": external_id})
    await import_meeting(conn, tenant.workspace_id, meeting)


async def _drain(
    pool: asyncpg.Pool,
    executor: RunExecutor,
    runner: BatchRunner | None,
    *,
    batch_size: int = _BATCH,
) -> tuple[float, int, int]:
    dispatcher = Dispatcher(
        pool, executor, concurrency=_CONCURRENCY, batch_size=batch_size, runner=runner
    )
    started = time.perf_counter()
    await dispatcher.drain()
    return time.perf_counter() - started, dispatcher.completed, dispatcher.failed


async def _latency(
    pool: asyncpg.Pool,
    executor: RunExecutor,
    runner: BatchRunner,
    tenants: Sequence[Tenant],
    rate: float,
    duration_s: float,
) -> dict[str, Any]:
    dispatcher = Dispatcher(
        pool, executor, concurrency=_CONCURRENCY, batch_size=_BATCH, runner=runner, poll_s=0.5
    )
    serving = asyncio.create_task(dispatcher.run())
    count = int(rate * duration_s)
    try:
        async with pool.acquire() as conn:
            started = time.perf_counter()
            for index in range(count):
                # On schedule, not back to back: a late meeting is stored at once.
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await _store_one(conn, tenants[index % len(tenants)], f"latency-{index}")
            offered = count / (time.perf_counter() - started)
        await _until_all_finished(pool)
    finally:
        dispatcher.stop()
        await serving
    rows = await pool.fetch(
        "SELECT extract(epoch FROM r.finished_at - m.created_at) * 1000 AS ms"
        " FROM agent_runs r JOIN meetings m ON m.id = r.meeting_id"
        " WHERE m.external_id LIKE 'latency-%' ORDER BY ms"
    )
    values = [float(row["ms"]) for row in rows]
    return {
        "meetings": len(values),
        "offered_per_s": round(offered, 1),
        "p50_ms": round(_quantile(values, 0.50), 1),
        "p99_ms": round(_quantile(values, 0.99), 1),
        "max_ms": round(values[-1], 1) if values else None,
    }


async def _until_all_finished(pool: asyncpg.Pool, *, timeout_s: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        unfinished = await pool.fetchval(
            "SELECT count(*) FROM agent_runs WHERE status IN ('pending', 'running')"
        )
        if not unfinished:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"runs still unfinished after {timeout_s:.0f} s")


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(int(q * len(sorted_values)), len(sorted_values) - 1)
    return sorted_values[index]


def _result(
    options: Options,
    tenants: Sequence[Tenant],
    modes: dict[str, Any],
    latency: dict[str, Any],
) -> dict[str, Any]:
    single, ray = modes["single_process"]["meetings_per_s"], modes["ray"]["meetings_per_s"]
    ratio = round(ray / single, 2) if single else None
    errors = [
        f"{mode}: {figures['failed']} run(s) failed"
        for mode, figures in modes.items()
        if figures["failed"]
    ]
    return {
        "mode": "quick" if options.quick else "full",
        "tenants": len(tenants),
        "cases": [t.case.name for t in tenants],
        "concurrency": _CONCURRENCY,
        "batch_size": _BATCH,
        "cpus": os.cpu_count(),
        "single_process": modes["single_process"],
        "ray": modes["ray"],
        "ray_to_single": ratio,
        "latency_on_ray": latency,
        "goals": {
            "meetings_per_s": at_least(ray, _GOAL_RPS),
            "ray_to_single": at_least(ratio, _GOAL_RATIO),
            "p99_ms": at_most(latency["p99_ms"], _GOAL_P99_MS),
        },
        "errors": errors,
    }


def _table(result: Mapping[str, Any]) -> Table:
    table = Table(title=f"bench.throughput ({result['mode']}, {result['tenants']} tenants)")
    for column in ("figure", "value", "goal"):
        table.add_column(column)
    goals = result["goals"]

    def goal(name: str) -> str:
        return goal_text(goals, name)

    single, ray, latency = result["single_process"], result["ray"], result["latency_on_ray"]
    table.add_row("one asyncio process (meetings/s)", str(single["meetings_per_s"]), "")
    table.add_row("Ray tasks (meetings/s)", str(ray["meetings_per_s"]), goal("meetings_per_s"))
    table.add_row("Ray / one process", str(result["ray_to_single"]), goal("ray_to_single"))
    table.add_row("latency offered rate (meetings/s)", str(latency["offered_per_s"]), "")
    table.add_row("  p50 stored -> proposals (ms)", str(latency["p50_ms"]), "")
    table.add_row("  p99 stored -> proposals (ms)", str(latency["p99_ms"]), goal("p99_ms"))
    return table


if __name__ == "__main__":
    sys.exit(main())
