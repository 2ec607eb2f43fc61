"""``python -m bench.tenancy [--json] [--quick]``: many workspaces on one machine, one Ray actor
each while active and no process while idle.

One run, self-contained (everything it starts is stopped, even on Ctrl-C):

1. Setup: a scratch database whose server takes enough connections for every active
   actor's pool (``bench.database``); the HubSpot emulator over HTTP on 127.0.0.1 with one
   deal per queued field; N workspaces (1,000), each with its stored HubSpot connection
   under a token of its own (each token is an app to the emulator, with its own 10-second
   window, like separate HubSpot accounts; they share the emulator's one daily limit of
   1,000,000 calls, of which the run makes a few thousand) and a few queued field updates
   (outbox rows, as auto-applied runs queue them); a local Ray cluster with its dashboard,
   which serves Ray's state API.
2. Traffic with a cap: every workspace is visited, some twice (their second fields are queued
   once the first visit's process has ended), at most ``cap`` (20) at a time. A visit wakes
   the workspace through ``RayWorkspaces`` with a short ``idle_s`` and counts as active
   until its actor's process has ended and Ray has let go of its name (``bench.fleet``);
   the actor ends itself after writing (passivation). Live actors are sampled from the
   state API meanwhile.
3. Idle: live actors once every visit has ended (the goal: 0, an idle workspace costs no
   process); what an idle workspace costs instead: its rows (``bench.tenants``), and the
   growth of Ray's own processes over all those passivations (GCS keeps a record of each
   dead actor, up to a cap).
4. Capacity: ``capacity`` (120) workspaces woken at once with a long ``idle_s``, each with a
   field to write; once all have written: live actors, each actor process's memory, its
   Postgres connections' memory, CPU while they sit idle; then they are ended
   (``ray.kill``) and live actors must be back to 0.
5. Exactly once: the emulator's write log holds one entry per queued field (across the
   passivations and re-activations), with its value, and every outbox row is ``done``.

``bench.tenancy_report`` says how each figure is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rich.console import Console

from bench.cluster import actor_env, actor_errors, local_ray
from bench.database import scratch_database
from bench.emulator import deal_snapshot, serve_emulator
from bench.fleet import live_actors, ray_system_pids, running, uss_by_name
from bench.report import BenchError, exactly_once_problems
from bench.running import CannotRunError, cancel_on_sigterm, run_benchmark
from bench.tenancy_phases import progress, queue_visits, run_capacity, run_traffic
from bench.tenancy_report import Idle, Options, render_table, result_of
from bench.tenants import (
    Visit,
    create_workspaces,
    database_bytes,
    max_connections,
    outbox_statuses,
    row_bytes,
    visit_updates,
)
from runtime.connections.cipher import KeyRing
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.db.pool import create_pool
from runtime.settings import DatabaseSettings, Settings

__all__ = ["main", "parse_options"]

_FULL = {"workspaces": 1_000, "capacity": 120, "cpu_window_s": 10.0}
_QUICK = {"workspaces": 40, "capacity": 10, "cpu_window_s": 3.0}
_CAP = 20
_REVISIT_EVERY = 5  # every 5th workspace gets a second visit: a re-activation after passivation
_DEALS_PER_VISIT = 3
_IDLE_S = 1.0
_CAPACITY_IDLE_S = 3_600.0  # kept active until ended on purpose
_ACTOR_POOL = DatabaseSettings(pool_min_size=1, pool_max_size=2)
_DRIVER_POOL = DatabaseSettings(pool_min_size=1, pool_max_size=8)
_CONNECTION_MARGIN = 20  # psql, the migration, the admin connection of scratch_database
_ACTOR_APP = "bench.tenancy actor"
"""The actors' ``application_name`` in Postgres, to find their connections."""
_SETUP_AT_ONCE = 8


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 measured (goals met or not), 1 the run broke, 2 cannot run."""
    options = parse_options(argv)
    console = Console(stderr=True)
    if importlib.util.find_spec("requests") is None:
        console.print("Ray's state API needs ray[default] (requests): ./dev install")
        return 2
    return run_benchmark(
        lambda console, home, stack: _run(options, console, home, stack),
        as_json=options.json,
        render=render_table,
        console=console,
    )


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tenancy",
        description="Many workspaces on one machine: one Ray actor each while active, no"
        " process while idle. Run it through ../shared/tools/loopback-only on this project's"
        " machines.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick", action="store_true", help="the CI smoke size: 40 workspaces, 10 at once"
    )
    parser.add_argument("--workspaces", type=int, help="workspaces with traffic (1,000)")
    parser.add_argument("--cap", type=int, default=_CAP, help="most active at a time (20)")
    parser.add_argument("--capacity", type=int, help="workspaces kept active at once (120)")
    parser.add_argument(
        "--idle-s", type=float, default=_IDLE_S, help="idle seconds before an actor ends (1)"
    )
    args = parser.parse_args(argv)
    sizes = _QUICK if args.quick else _FULL
    workspaces = args.workspaces or int(sizes["workspaces"])
    capacity = args.capacity or int(sizes["capacity"])
    if workspaces < 1 or args.cap < 1 or capacity < 1 or args.idle_s <= 0:
        parser.error("--workspaces, --cap, --capacity and --idle-s must be positive")
    if capacity > workspaces:
        parser.error("--capacity cannot exceed --workspaces")
    custom = (
        args.workspaces is not None
        or args.capacity is not None
        or args.cap != _CAP
        or args.idle_s != _IDLE_S
    )
    return Options(
        workspaces=workspaces,
        cap=args.cap,
        revisit_every=_REVISIT_EVERY,
        deals_per_visit=_DEALS_PER_VISIT,
        idle_s=args.idle_s,
        capacity=capacity,
        cpu_window_s=float(sizes["cpu_window_s"]),
        mode="custom" if custom else ("quick" if args.quick else "full"),
        json=bool(args.json),
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    traffic: tuple[Visit, ...]
    capacity: tuple[Visit, ...]

    @property
    def deals(self) -> int:
        return sum(len(v.updates) for v in (*self.traffic, *self.capacity))


def _plan(options: Options) -> _Plan:
    """Each workspace's first visit, every ``revisit_every``-th one's second, then one visit
    for each of the first ``capacity`` workspaces."""
    n, per = options.workspaces, options.deals_per_visit
    traffic = [Visit(i, i, visit_updates(i, deals=per)) for i in range(n)]
    for w in range(0, n, options.revisit_every):
        index = len(traffic)
        traffic.append(Visit(index, w, visit_updates(index, deals=per), after=w))
    first = len(traffic)
    capacity = tuple(
        Visit(first + w, w, visit_updates(first + w, deals=per)) for w in range(options.capacity)
    )
    return _Plan(tuple(traffic), capacity)


async def _run(
    options: Options, console: Console, home: Path, stack: AsyncExitStack
) -> dict[str, Any]:
    key = os.urandom(32)
    keyring = KeyRing([("bench", key)])
    plan = _plan(options)
    # Every actor of the capacity phase holds a pool of its own at once.
    needed = max(options.cap, options.capacity) * _ACTOR_POOL.pool_max_size
    needed += _DRIVER_POOL.pool_max_size + _CONNECTION_MARGIN

    console.log(f"starting PostgreSQL (max_connections {needed}) and migrating a scratch database")
    dsn = await stack.enter_async_context(
        scratch_database(home, Settings(), max_connections=needed)
    )
    pool = await create_pool(dsn, _DRIVER_POOL)
    stack.push_async_callback(pool.close)
    limit = await max_connections(pool)
    if limit < needed:
        raise CannotRunError(
            f"the server allows {limit} connections and the actors may open {needed}:"
            " raise its max_connections, or run on the embedded server (unset DATABASE_URL)"
        )

    console.log(f"starting the HubSpot emulator with {plan.deals:,} deals")
    emulator = stack.enter_context(
        serve_emulator(EmulatorConfig(), snapshot=deal_snapshot(plan.deals), labels={})
    )
    store = emulator.app.emulator.store

    bytes_before = await database_bytes(pool)
    setup_started_s = time.monotonic()
    with progress(console, "workspaces", options.workspaces) as advance:
        ids = await create_workspaces(
            pool,
            keyring,
            count=options.workspaces,
            base_url=emulator.url,
            token_of=lambda i: f"pat-na1-bench-tenant-{i:05d}",
            at_once=_SETUP_AT_ONCE,
            on_created=advance,
        )
    setup_s = time.monotonic() - setup_started_s
    idle_bytes = await database_bytes(pool) - bytes_before
    idle_row_bytes = await row_bytes(pool, ids)
    history_before = await database_bytes(pool)
    first_visits = [v for v in plan.traffic if v.after is None]
    await queue_visits(pool, ids, first_visits, console, "queueing")
    console.log(
        f"{options.workspaces:,} workspaces in {setup_s:.1f} s,"
        f" {sum(len(v.updates) for v in first_visits):,} field updates queued"
    )

    console.log("starting Ray (with its dashboard, for the state API)")
    stack.enter_context(local_ray(home / "ray", dashboard=True))
    cancel_on_sigterm()  # again: the driver's Ray installs a SIGTERM handler that aborts
    import ray

    from actors.workspace_actor import RayWorkspaces

    address = str(ray.get_runtime_context().gcs_address)
    env = {
        **actor_env(
            dsn=_with_application_name(dsn, _ACTOR_APP),
            home=home,
            key=key,
            flush_interval_s=Settings().writes.flush_interval_s,
        ),
        "CRM_AGENTS_DB__POOL_MIN_SIZE": str(_ACTOR_POOL.pool_min_size),
        "CRM_AGENTS_DB__POOL_MAX_SIZE": str(_ACTOR_POOL.pool_max_size),
    }
    ray_before = uss_by_name(ray_system_pids(()))
    try:
        traffic = await run_traffic(
            plan.traffic,
            ids,
            pool=pool,
            host=RayWorkspaces(idle_s=options.idle_s, env_vars=env),
            address=address,
            cap=options.cap,
            idle_s=options.idle_s,
            console=console,
        )
        live_after = await asyncio.to_thread(live_actors, address)
        idle = Idle(
            live_actors_after=len(live_after),
            processes_left=sum(1 for process in traffic.processes if running(process)),
            bytes_per_workspace=idle_bytes / options.workspaces,
            row_bytes_per_workspace=idle_row_bytes / options.workspaces,
            history_bytes_per_visit=(await database_bytes(pool) - history_before)
            / len(plan.traffic),
            ray_uss_before=ray_before,
            ray_uss_after=uss_by_name(ray_system_pids(())),
            dead_actors_kept=_dead_actors_kept(),
        )
        capacity = await run_capacity(
            plan.capacity,
            ids,
            pool=pool,
            host=RayWorkspaces(idle_s=_CAPACITY_IDLE_S, env_vars=env),
            address=address,
            window_s=options.cpu_window_s,
            application_name=_ACTOR_APP,
            console=console,
        )
    except BenchError as exc:
        raise BenchError(f"{exc}{actor_errors(home / 'ray')}") from None

    statuses = await outbox_statuses(pool)
    updates = [u for v in (*plan.traffic, *plan.capacity) for u in v.updates]
    problems = exactly_once_problems(store, updates, statuses, written=(0, len(store.write_log)))
    limited = sum(1 for r in emulator.counter.requests() if r.status == 429)
    return result_of(
        options=options,
        setup_s=setup_s,
        traffic=traffic,
        idle=idle,
        capacity=capacity,
        field_updates=len(updates),
        statuses=statuses,
        rate_limited=limited,
        postgres_max_connections=limit,
        actor_pool=_ACTOR_POOL,
        problems=problems,
    )


def _dead_actors_kept() -> int | None:
    """How many dead actors the GCS keeps a record of (Ray's setting
    ``RAY_maximum_gcs_destroyed_actor_cached_count``), when this Ray tells."""
    import ray

    try:
        return int(ray._config.maximum_gcs_destroyed_actor_cached_count())
    except AttributeError:  # a private accessor: gone in some Ray, then unknown
        return None


def _with_application_name(dsn: str, name: str) -> str:
    """The DSN with ``application_name`` (asyncpg passes unknown DSN parameters to the
    server as settings), so that ``pg_stat_activity`` tells the actors' connections apart."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if k != "application_name"]
    query.append(("application_name", name))
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


if __name__ == "__main__":
    sys.exit(main())
