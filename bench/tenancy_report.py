"""``bench.tenancy``'s result: what each phase measured, the JSON object, the table for people.

How each figure is measured:

- ``traffic.live_actors_max`` / ``_mean``: actors not ``DEAD`` in Ray's state API
  (``ray.util.state.list_actors``), sampled every 0.5 s while the visits run.
- ``traffic.workspaces_per_s``: visits over the phase's wall time; a visit is active from
  its wake-up until its actor's process is gone and Ray has let go of its name.
  ``wake_s``: the wake-up call (waiting for Ray to start the actor's process behind the
  others being started, state rebuilt from Postgres, HubSpot connection opened);
  ``active_s``: the whole visit, ``idle_s`` of passivation included. ``actor_cpu_s``: user +
  system CPU seconds of the visit's actor process over its life (psutil, polled every
  0.1 s until it ends): on two cores, 2 / actor_cpu_s bounds the visits per second.
- ``idle.live_actors_after_passivation``: the state API once every visit has ended;
  ``actor_processes_left``: visits' actor processes still running (psutil; a process is its
  pid and start time, since pids are reused).
- ``idle.bytes_per_workspace``: growth of every table's ``pg_total_relation_size``
  (indexes, TOAST, whole pages) over creating the workspaces and their connections, per
  workspace; ``row_bytes_per_workspace``: ``pg_column_size`` of those rows (workspace,
  connection, audit entry); ``history_bytes_per_visit``: growth over the traffic (activity,
  proposals, outbox, audit), per visit. ``ray_uss_growth_*``: USS growth of Ray's own
  processes (GCS, raylet, dashboard, agents, idle workers) over the traffic, in all, per
  visit and by process name; the GCS keeps a record of each dead actor, up to
  ``dead_actors_kept`` (``RAY_maximum_gcs_destroyed_actor_cached_count``), and the first
  hundreds of actors also warm caches up, so the per-visit figure means something only
  at full size.
- ``capacity.active_at_once``: actors ``ALIVE`` in the state API at the same moment whose
  workspace's every outbox row is ``done``. Memory: USS / PSS / RSS of each actor process
  (psutil, ``/proc/<pid>/smaps``); ``postgres_backends``: server processes of the actors'
  connections (``pg_stat_activity`` by application name) and their USS;
  ``per_active_workspace_mib`` = (actors' USS + their backends' USS) / live actors.
  ``ray_uss_mib``: Ray's own processes, paid once per node. ``actor_cpu_s_to_active``: CPU
  seconds each actor process had used when the idle measurement began (started, activated,
  written, settled).
- ``capacity.cpu_*``: user + system CPU seconds of the group over ``cpu_window_s`` while the
  workspaces sit active with nothing to write, as a share of one core (``cpu_actors`` 0.5 =
  half a core); ``cpu_machine``: busy share of all the machine's cores.
- ``goals``: ``idle_workspace_costs_no_process`` (no live actor and no actor process left
  once passivated) and ``active_workspaces_at_once`` (at least 100), each
  ``{target, value, met}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.table import Table

from bench.figures import Goal
from bench.fleet import ProcessId, ProcessMemory, mib
from bench.formatting import goal_text, rounded, shown
from runtime.settings import DatabaseSettings

__all__ = ["Capacity", "Idle", "Options", "Traffic", "render_table", "result_of"]

_ACTIVE_TARGET = 100
_MIB = 1024 * 1024


@dataclass(frozen=True)
class Options:
    workspaces: int
    cap: int
    revisit_every: int
    deals_per_visit: int
    idle_s: float
    capacity: int
    cpu_window_s: float
    mode: str
    """``full`` or ``quick`` with the documented sizes, else ``custom``."""
    json: bool


@dataclass(frozen=True, slots=True)
class Traffic:
    visits: int
    elapsed_s: float
    wake_s: tuple[float, ...]
    active_s: tuple[float, ...]
    cpu_s: tuple[float, ...]
    """CPU seconds of each visit's actor process over its whole life."""
    processes: tuple[ProcessId, ...]
    live_max: int | None
    live_mean: float | None
    samples: int


@dataclass(frozen=True, slots=True)
class Idle:
    live_actors_after: int
    processes_left: int
    bytes_per_workspace: float
    row_bytes_per_workspace: float
    history_bytes_per_visit: float
    ray_uss_before: Mapping[str, int]
    """USS of Ray's own processes by process name, before the traffic and after it."""
    ray_uss_after: Mapping[str, int]
    dead_actors_kept: int | None


@dataclass(frozen=True, slots=True)
class Capacity:
    workspaces: int
    live_actors: int
    flushed: int
    at_once: int
    activated_s: float
    flushed_s: float
    actors: tuple[ProcessMemory, ...]
    backends: tuple[ProcessMemory, ...]
    ray_uss: int
    started_cpu_s: tuple[float, ...]
    """CPU seconds each actor process had used once started, activated and written."""
    cpu_window_s: float
    cpu_actors: float
    cpu_ray: float
    cpu_postgres: float
    cpu_machine: float
    cores: int
    stopped_s: float
    live_after_stop: int


def result_of(
    *,
    options: Options,
    setup_s: float,
    traffic: Traffic,
    idle: Idle,
    capacity: Capacity,
    field_updates: int,
    statuses: Mapping[str, int],
    rate_limited: int,
    postgres_max_connections: int,
    actor_pool: DatabaseSettings,
    problems: Sequence[str],
) -> dict[str, Any]:
    """The JSON object (see the module docstring for how each figure is measured)."""
    live = capacity.live_actors or None
    ray_growth = {
        name: idle.ray_uss_after.get(name, 0) - idle.ray_uss_before.get(name, 0)
        for name in {*idle.ray_uss_before, *idle.ray_uss_after}
    }
    actors_uss = sum(m.uss for m in capacity.actors)
    backends_uss = sum(m.uss for m in capacity.backends)
    errors = [f"writes: {p}" for p in problems]
    if traffic.live_max is not None and traffic.live_max > options.cap:
        errors.append(f"{traffic.live_max} actors were live at once, over the cap {options.cap}")
    if capacity.live_after_stop:
        errors.append(f"{capacity.live_after_stop} actors still live after being ended")
    idle_goal = Goal(
        "== 0 live actors and processes after passivation",
        idle.live_actors_after + idle.processes_left,
        idle.live_actors_after == 0 and idle.processes_left == 0,
    )
    active_goal = Goal(
        f">= {_ACTIVE_TARGET} active at once, all written",
        capacity.at_once,
        capacity.at_once >= _ACTIVE_TARGET,
    )
    return {
        "mode": options.mode,
        "shape": {
            "workspaces": options.workspaces,
            "cap": options.cap,
            "revisited_every": options.revisit_every,
            "deals_per_visit": options.deals_per_visit,
            "idle_s": options.idle_s,
            "capacity": options.capacity,
            "actor_pool": [actor_pool.pool_min_size, actor_pool.pool_max_size],
            "postgres_max_connections": postgres_max_connections,
            "emulator_apps": "one token per workspace",
        },
        "setup_s": rounded(setup_s, 1),
        "field_updates": field_updates,
        "outbox": dict(statuses),
        "rate_limited_429": rate_limited,
        "traffic": {
            "visits": traffic.visits,
            "elapsed_s": rounded(traffic.elapsed_s, 1),
            "workspaces_per_s": rounded(_per(traffic.visits, traffic.elapsed_s), 2),
            "live_actors_max": traffic.live_max,
            "live_actors_mean": rounded(traffic.live_mean, 1),
            "live_samples": traffic.samples,
            "wake_s_p50": rounded(_quantile(traffic.wake_s, 0.5), 2),
            "wake_s_p95": rounded(_quantile(traffic.wake_s, 0.95), 2),
            "active_s_p50": rounded(_quantile(traffic.active_s, 0.5), 2),
            "active_s_p95": rounded(_quantile(traffic.active_s, 0.95), 2),
            "actor_cpu_s_mean": rounded(_mean(traffic.cpu_s), 2),
            "actor_cpu_s_p95": rounded(_quantile(traffic.cpu_s, 0.95), 2),
        },
        "idle": {
            "live_actors_after_passivation": idle.live_actors_after,
            "actor_processes_left": idle.processes_left,
            "bytes_per_workspace": round(idle.bytes_per_workspace),
            "row_bytes_per_workspace": round(idle.row_bytes_per_workspace),
            "history_bytes_per_visit": round(idle.history_bytes_per_visit),
            "ray_uss_growth_mib": rounded(mib(sum(ray_growth.values())), 1),
            "ray_uss_growth_kib_per_visit": rounded(
                sum(ray_growth.values()) / 1024 / traffic.visits, 1
            ),
            "ray_uss_growth_mib_by_process": {
                name: round(mib(grew), 1)
                for name, grew in sorted(ray_growth.items(), key=lambda item: -item[1])
                if abs(grew) >= _MIB
            },
            "dead_actors_kept": idle.dead_actors_kept,
        },
        "capacity": {
            "workspaces": capacity.workspaces,
            "live_actors": capacity.live_actors,
            "flushed": capacity.flushed,
            "active_at_once": capacity.at_once,
            "activated_s": rounded(capacity.activated_s, 1),
            "flushed_s": rounded(capacity.flushed_s, 1),
            "actor_uss_mib_mean": rounded(_mean_mib(capacity.actors, "uss"), 1),
            "actor_pss_mib_mean": rounded(_mean_mib(capacity.actors, "pss"), 1),
            "actor_rss_mib_mean": rounded(_mean_mib(capacity.actors, "rss"), 1),
            "actors_uss_mib_total": rounded(mib(actors_uss), 1),
            "postgres_backends": len(capacity.backends),
            "postgres_backends_uss_mib_total": rounded(mib(backends_uss), 1),
            "per_active_workspace_mib": rounded(
                None if live is None else mib(actors_uss + backends_uss) / live, 1
            ),
            "ray_uss_mib": rounded(mib(capacity.ray_uss), 1),
            "actor_cpu_s_to_active": rounded(_mean(capacity.started_cpu_s), 2),
            "cpu_window_s": capacity.cpu_window_s,
            "cpu_actors": rounded(capacity.cpu_actors, 3),
            "cpu_per_actor": rounded(None if live is None else capacity.cpu_actors / live, 4),
            "cpu_ray": rounded(capacity.cpu_ray, 3),
            "cpu_postgres": rounded(capacity.cpu_postgres, 3),
            "cpu_machine": rounded(capacity.cpu_machine, 3),
            "cores": capacity.cores,
            "stopped_s": rounded(capacity.stopped_s, 1),
            "live_actors_after_stop": capacity.live_after_stop,
        },
        "exactly_once": not problems,
        "goals": {
            "idle_workspace_costs_no_process": asdict(idle_goal),
            "active_workspaces_at_once": asdict(active_goal),
        },
        "errors": errors,
    }


def render_table(result: Mapping[str, Any]) -> Table:
    """The figures people read first, with the goals beside them."""
    shape, traffic, idle, cap = (
        result["shape"],
        result["traffic"],
        result["idle"],
        result["capacity"],
    )
    goal = result["goals"]
    table = Table(title=f"bench.tenancy ({result['mode']})", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("goal")
    rows: list[tuple[str, str, str]] = [
        (
            f"traffic: {traffic['visits']:,} visits to {shape['workspaces']:,} workspaces,"
            f" {shape['cap']} at a time, idle_s {shape['idle_s']:g}",
            f"{shown(traffic['elapsed_s'])} s",
            "",
        ),
        ("  workspaces done per second", shown(traffic["workspaces_per_s"]), ""),
        (
            "  live actors (state API), max / mean",
            f"{shown(traffic['live_actors_max'])} / {shown(traffic['live_actors_mean'])}",
            f"<= {shape['cap']}",
        ),
        (
            "  wake-up, process start queued, p50 / p95 (s)",
            f"{shown(traffic['wake_s_p50'])} / {shown(traffic['wake_s_p95'])}",
            "",
        ),
        (
            "  active p50 / p95 (s)",
            f"{shown(traffic['active_s_p50'])} / {shown(traffic['active_s_p95'])}",
            "",
        ),
        (
            "  actor process CPU per visit, mean / p95 (s)",
            f"{shown(traffic['actor_cpu_s_mean'])} / {shown(traffic['actor_cpu_s_p95'])}",
            "",
        ),
        (
            "idle: live actors / processes after passivation",
            f"{idle['live_actors_after_passivation']} / {idle['actor_processes_left']}",
            goal_text(goal, "idle_workspace_costs_no_process"),
        ),
        ("  bytes per idle workspace (tables + indexes)", f"{idle['bytes_per_workspace']:,}", ""),
        ("  bytes of its rows", f"{idle['row_bytes_per_workspace']:,}", ""),
        ("  history bytes per visit", f"{idle['history_bytes_per_visit']:,}", ""),
        (
            "  Ray's own processes grew, MiB (GCS) / KiB per visit",
            f"{shown(idle['ray_uss_growth_mib'])}"
            f" ({shown(idle['ray_uss_growth_mib_by_process'].get('gcs_server', 0.0))})"
            f" / {shown(idle['ray_uss_growth_kib_per_visit'])}",
            "",
        ),
        (
            f"capacity: active at once, all written (of {cap['workspaces']})",
            str(cap["active_at_once"]),
            goal_text(goal, "active_workspaces_at_once"),
        ),
        ("  all woken / all written (s)", f"{cap['activated_s']} / {cap['flushed_s']}", ""),
        (
            "  actor process USS / PSS / RSS (MiB, mean)",
            f"{shown(cap['actor_uss_mib_mean'])} / {shown(cap['actor_pss_mib_mean'])}"
            f" / {shown(cap['actor_rss_mib_mean'])}",
            "",
        ),
        (
            f"  Postgres backends ({cap['postgres_backends']}), USS total (MiB)",
            shown(cap["postgres_backends_uss_mib_total"]),
            "",
        ),
        ("  CPU to start, activate and write (s, mean)", shown(cap["actor_cpu_s_to_active"]), ""),
        ("  memory per active workspace (MiB)", shown(cap["per_active_workspace_mib"]), ""),
        ("  Ray's own processes (MiB, once)", shown(cap["ray_uss_mib"]), ""),
        (
            f"  idle CPU, cores: actors / Ray / Postgres ({cap['cpu_window_s']:g} s)",
            f"{shown(cap['cpu_actors'])} / {shown(cap['cpu_ray'])} / {shown(cap['cpu_postgres'])}",
            "",
        ),
        ("  machine busy", f"{cap['cpu_machine']:.0%} of {cap['cores']} cores", ""),
        (
            "  ended: live actors after / seconds",
            f"{cap['live_actors_after_stop']} / {shown(cap['stopped_s'])}",
            "",
        ),
        ("exactly once", "yes" if result["exactly_once"] else "NO", ""),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _mean_mib(memory: Sequence[ProcessMemory], field: str) -> float | None:
    if not memory:
        return None
    return mib(sum(getattr(m, field) for m in memory) / len(memory))


def _per(count: int, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None
