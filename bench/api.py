"""``python -m bench.api [--json] [--quick]``: the GraphQL API's reads on a database of a
product that has run for months, in process and over HTTP on Ray Serve and plain uvicorn.

One run, self-contained (everything it starts is stopped, even on Ctrl-C):

1. A scratch database (``bench.database``) loaded with 1M activity rows and 200k inbox items
   over 50 workspaces, one holding 30% (``bench.api_data``: generated inside PostgreSQL,
   indexes and keys built after the rows, then ``VACUUM ANALYZE``); the load is timed.
2. In process (``bench.api_queries``): the first page of a busy user's pending inbox, the
   first page of the big tenant's activity under twelve filters in turn, and
   ``inboxCount``, each executed through the schema with a request's context (resolvers
   and database, no HTTP), one at a time after a warm-up, with the garbage collector set
   up as a serving process's (``runtime.api.gc_tuning``): p50 / p99 per operation, and
   each call's CPU time in this process.
3. Over HTTP (``bench.api_http``): the same operations, interleaved, sent by 32 clients with
   keep-alive connections for a fixed time, first to the app on plain uvicorn (its own
   process), then to the same app on Ray Serve as ``crm-agents serve`` runs it (one
   replica; Serve's direct ingress on a Ray it starts), then to uvicorn again: requests
   per second of each, and Serve's over the two uvicorn runs' mean (the machine's other
   load weighs on both sides), and the same by each side's server CPU per request. The
   clients run in this process; every process's CPU seconds are reported.

Goals (issue 9): p99 <= 15 ms for each page and <= 3 ms for ``inboxCount`` in process;
Serve >= 0.6 x uvicorn.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from bench.api_data import DataSet, DataShape, load_data_set
from bench.api_http import (
    ServerProcesses,
    drive,
    postgres_processes,
    serve_on_ray,
    server_env,
    uvicorn_server,
)
from bench.api_queries import INBOX_USERS, Call, call_mix, in_process_latency
from bench.database import scratch_database
from bench.formatting import at_least, at_most, goal_text, rounded, shown
from bench.running import cancel_on_sigterm, json_and_quick, run_benchmark
from runtime.api.context import Services
from runtime.api.gc_tuning import freeze_startup_objects, unfreeze
from runtime.api.schema import build_schema
from runtime.clock import SystemClock
from runtime.db.pool import create_pool
from runtime.settings import Settings

__all__ = ["main"]

_GOAL_PAGE_P99_MS = 15.0
_GOAL_COUNT_P99_MS = 3.0
_GOAL_RATIO = 0.6
_MIB = 1024 * 1024
_INGRESS = {"direct": "direct ingress", "haproxy": "HAProxy", "proxy": "Serve's proxy"}


@dataclass(frozen=True)
class Options:
    json: bool
    quick: bool
    shape: DataShape
    iterations: int
    warmup: int
    concurrency: int
    duration_s: float
    http_warmup_s: float


def parse_options(argv: Sequence[str] | None) -> Options:
    as_json, quick = json_and_quick(
        "python -m bench.api",
        (
            "p50/p99 of the GraphQL API's inbox and activity pages and inboxCount on 1M"
            " activity rows, executed in process; requests per second on Ray Serve and on"
            " plain uvicorn, and their ratio."
        ),
        argv,
    )
    if quick:
        shape = DataShape(
            workspaces=10, meetings=5_000, activities_per_meeting=4, inbox_items=4_000
        )
        return Options(as_json, True, shape, 100, 20, 32, 3.0, 1.0)
    shape = DataShape(
        workspaces=50, meetings=250_000, activities_per_meeting=4, inbox_items=200_000
    )
    return Options(as_json, False, shape, 1_000, 100, 32, 20.0, 3.0)


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
    load_before = os.getloadavg()
    embedded = Settings().database_url is None  # else DATABASE_URL's server (scratch_database)
    console.log("starting PostgreSQL and migrating a scratch database")
    dsn = await stack.enter_async_context(scratch_database(home, Settings()))

    shape = options.shape
    console.log(
        f"loading {shape.activity_logs:,} activity rows and {shape.inbox_items:,} inbox items"
        f" over {shape.workspaces} workspaces"
    )
    data = await load_data_set(dsn, shape)
    console.log(
        f"loaded in {data.load_s:.1f} s, vacuumed and analyzed in {data.vacuum_analyze_s:.1f} s"
    )

    # The servers' settings, in this process's environment as in `crm-agents serve`'s: the
    # uvicorn process and Ray's processes inherit it; the in-process schema reads it too.
    os.environ.update(server_env(dsn, home))
    settings = Settings()
    pool = await create_pool(dsn, settings.db)
    stack.push_async_callback(pool.close)
    services = Services(pool=pool, settings=settings, clock=SystemClock())
    schema = build_schema(settings.api)
    console.log(f"in process: {options.iterations:,} calls of each operation")
    # As the app does once it is built and connected (runtime.api.http's lifespan).
    freeze_startup_objects()
    try:
        in_process = await in_process_latency(
            schema, services, data, iterations=options.iterations, warmup=options.warmup
        )
    finally:
        unfreeze()
    await pool.close()

    load = _Load(options, call_mix(data), postgres_processes(home) if embedded else list)
    http: dict[str, Any] = {}
    console.log(f"uvicorn: {options.concurrency} clients for {options.duration_s:g} s")
    async with uvicorn_server(home) as server:
        http["uvicorn"] = await load.drive(server)
    console.log("starting Ray and the API on Ray Serve")
    async with serve_on_ray(home, on_ray_started=cancel_on_sigterm) as server:
        console.log(f"Serve: {options.concurrency} clients for {options.duration_s:g} s")
        http["serve"] = {"ingress": server.ingress} | await load.drive(server)
    # uvicorn again: the machine's other load may have changed meanwhile (the ratio compares
    # Serve with both uvicorn runs' mean).
    console.log(f"uvicorn again: {options.concurrency} clients for {options.duration_s:g} s")
    async with uvicorn_server(home) as server:
        http["uvicorn_again"] = await load.drive(server)
    return _result(options, data, in_process, http, load_before)


@dataclass(frozen=True)
class _Load:
    options: Options
    calls: Sequence[Call]
    postgres: Callable[[], list[psutil.Process]]

    async def drive(self, server: ServerProcesses) -> dict[str, Any]:
        return await drive(
            server,
            self.calls,
            concurrency=self.options.concurrency,
            duration_s=self.options.duration_s,
            warmup_s=self.options.http_warmup_s,
            postgres=self.postgres,
        )


def _result(
    options: Options,
    data: DataSet,
    in_process: dict[str, Any],
    http: dict[str, Any],
    load_before: tuple[float, float, float],
) -> dict[str, Any]:
    uvicorn_cpu = [http[name]["server_cpu_ms_per_request"] for name in ("uvicorn", "uvicorn_again")]
    serve_cpu = http["serve"]["server_cpu_ms_per_request"]
    cpu_ratio = (
        round(sum(uvicorn_cpu) / len(uvicorn_cpu) / serve_cpu, 2)
        if serve_cpu and None not in uvicorn_cpu
        else None
    )
    uvicorn_rps = [http[name]["requests_per_s"] for name in ("uvicorn", "uvicorn_again")]
    serve_rps = http["serve"]["requests_per_s"]
    baseline = sum(uvicorn_rps) / len(uvicorn_rps) if None not in uvicorn_rps else None
    ratio = round(serve_rps / baseline, 2) if baseline and serve_rps is not None else None
    errors = [
        f"{name}: {figures['failed']} of {figures['requests']} requests failed"
        f" (first: {figures['first_failure']})"
        for name, figures in http.items()
        if figures["failed"]
    ]
    workspaces = data.workspaces
    return {
        "mode": "quick" if options.quick else "full",
        "cpus": os.cpu_count(),
        "load_average": {
            "before": [round(v, 2) for v in load_before],
            "after": [round(v, 2) for v in os.getloadavg()],
        },
        "data": {
            "workspaces": len(workspaces),
            "members": sum(len(w.members) for w in workspaces),
            "agents": sum(len(w.agent_ids) for w in workspaces),
            "meetings": data.meetings,
            "activity_logs": data.activity_logs,
            "inbox_items": data.inbox_items,
            "big_tenant_activity_logs": data.big_activity_logs,
            "big_tenant_pending_inboxes": list(data.big_pending_items[:INBOX_USERS]),
            "setup_s": round(data.setup_s, 2),
            "rows_s": round(data.rows_s, 2),
            "load_s": round(data.load_s, 2),
            "vacuum_analyze_s": round(data.vacuum_analyze_s, 2),
            "table_mib": {name: round(size / _MIB, 1) for name, size in data.table_bytes.items()},
        },
        "in_process": {"iterations": options.iterations, "warmup": options.warmup, **in_process},
        "http": {
            "concurrency": options.concurrency,
            "duration_s": options.duration_s,
            "warmup_s": options.http_warmup_s,
            **http,
            "uvicorn_mean_requests_per_s": rounded(baseline, 1),
            "serve_to_uvicorn": ratio,
            # The same comparison by the server's CPU per request (uvicorn's over Serve's):
            # what the ratio is when each side gets the same share of the cores.
            "serve_to_uvicorn_by_cpu": cpu_ratio,
        },
        "goals": {
            "inbox_items_p99_ms": at_most(in_process["inbox_items"]["p99_ms"], _GOAL_PAGE_P99_MS),
            "activity_logs_p99_ms": at_most(
                in_process["activity_logs"]["p99_ms"], _GOAL_PAGE_P99_MS
            ),
            "inbox_count_p99_ms": at_most(in_process["inbox_count"]["p99_ms"], _GOAL_COUNT_P99_MS),
            "serve_to_uvicorn": at_least(ratio, _GOAL_RATIO),
        },
        "errors": errors,
    }


def _table(result: Mapping[str, Any]) -> Table:
    data, in_process, http = result["data"], result["in_process"], result["http"]
    table = Table(
        title=(
            f"bench.api ({result['mode']}, {data['activity_logs']:,} activity rows,"
            f" {data['inbox_items']:,} inbox items)"
        )
    )
    for column in ("figure", "value", "goal"):
        table.add_column(column)
    goals = result["goals"]

    def goal(name: str) -> str:
        return goal_text(goals, name)

    def p50_p99(figures: Mapping[str, Any]) -> str:
        return f"{shown(figures['p50_ms'])} / {shown(figures['p99_ms'])}"

    table.add_row(
        "load (s): rows / with indexes / VACUUM",
        f"{data['rows_s']} / {data['load_s']} / {data['vacuum_analyze_s']}",
        "",
    )
    for kind, name in (
        ("inbox_items", "inboxItems"),
        ("activity_logs", "activityLogs"),
        ("inbox_count", "inboxCount"),
    ):
        figures = in_process[kind]
        table.add_row(f"{name} p50 / p99 (ms)", p50_p99(figures), goal(f"{kind}_p99_ms"))
        table.add_row("  its CPU time p50 / p99 (ms)", p50_p99(figures["cpu"]), "")
        if kind == "activity_logs":
            for label, figures in in_process[kind]["by_filter"].items():
                table.add_row(f"  {label}", p50_p99(figures), "")
    ingress = _INGRESS.get(http["serve"]["ingress"], http["serve"]["ingress"])
    for name, label in (
        ("uvicorn", "uvicorn"),
        ("serve", f"Serve ({ingress})"),
        ("uvicorn_again", "uvicorn again"),
    ):
        figures = http[name]
        table.add_row(f"{label} (requests/s)", shown(figures["requests_per_s"]), "")
        table.add_row("  p50 / p99 (ms)", p50_p99(figures["latency"]), "")
        table.add_row(
            "  server CPU per request (ms)", shown(figures["server_cpu_ms_per_request"]), ""
        )
    table.add_row("Serve / uvicorn", shown(http["serve_to_uvicorn"]), goal("serve_to_uvicorn"))
    table.add_row("  by server CPU per request", shown(http["serve_to_uvicorn_by_cpu"]), "")
    return table


if __name__ == "__main__":
    sys.exit(main())
