"""``python -m bench.tenancy --quick --json`` as a user runs it: a real subprocess with its own
PostgreSQL, emulator and Ray; every workspace writes its fields exactly once across its
passivations, and a passivated workspace leaves no process behind."""

from __future__ import annotations

import pytest

from tests.bench_run import run_quick_bench

pytestmark = pytest.mark.slow

KEYS = {
    "mode",
    "shape",
    "field_updates",
    "outbox",
    "traffic",
    "idle",
    "capacity",
    "exactly_once",
    "goals",
    "errors",
}
TRAFFIC = {"visits", "workspaces_per_s", "live_actors_max", "live_actors_mean", "live_samples"}
IDLE = {
    "live_actors_after_passivation",
    "actor_processes_left",
    "bytes_per_workspace",
    "row_bytes_per_workspace",
}
CAPACITY = {
    "active_at_once",
    "actor_uss_mib_mean",
    "actor_rss_mib_mean",
    "per_active_workspace_mib",
    "cpu_actors",
    "live_actors_after_stop",
}
GOALS = {"idle_workspace_costs_no_process", "active_workspaces_at_once"}


def test_the_quick_benchmark_writes_once_and_leaves_idle_workspaces_without_a_process() -> None:
    # ~60 actor processes start one after another on two cores; minutes on a busy machine.
    figures = run_quick_bench("bench.tenancy", timeout_s=600)
    assert figures.keys() >= KEYS
    assert figures["mode"] == "quick"
    assert figures["errors"] == []
    assert figures["exactly_once"] is True
    assert figures["outbox"] == {"done": figures["field_updates"]}
    traffic, idle, capacity = figures["traffic"], figures["idle"], figures["capacity"]
    assert traffic.keys() >= TRAFFIC
    assert idle.keys() >= IDLE
    assert capacity.keys() >= CAPACITY
    assert traffic["visits"] > figures["shape"]["workspaces"]  # some came back after passivating
    assert 0 < traffic["live_actors_max"] <= figures["shape"]["cap"]
    assert idle["live_actors_after_passivation"] == 0
    assert idle["actor_processes_left"] == 0
    assert idle["bytes_per_workspace"] > 0
    assert capacity["active_at_once"] == capacity["workspaces"] == figures["shape"]["capacity"]
    assert capacity["actor_uss_mib_mean"] > 0
    assert capacity["live_actors_after_stop"] == 0
    assert set(figures["goals"]) == GOALS
    for goal in figures["goals"].values():
        assert set(goal) == {"target", "value", "met"}
    assert figures["goals"]["idle_workspace_costs_no_process"]["met"] is True
