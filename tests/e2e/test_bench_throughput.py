"""``python -m bench.throughput --quick --json`` as a user runs it: a real subprocess with its
own PostgreSQL, emulators and Ray; every meeting of both modes is executed and measured."""

from __future__ import annotations

import pytest

from tests.bench_run import run_quick_bench

pytestmark = pytest.mark.slow


def test_the_quick_benchmark_measures_both_modes_and_the_latency() -> None:
    result = run_quick_bench("bench.throughput", timeout_s=300)
    assert result["mode"] == "quick"
    assert result["errors"] == []
    for mode in ("single_process", "ray"):
        assert result[mode]["meetings"] == 60  # every meeting's run executed, none failed
        assert result[mode]["meetings_per_s"] > 0
    latency = result["latency_on_ray"]
    assert latency["meetings"] >= 1
    assert 0 < latency["p50_ms"] <= latency["p99_ms"]
    assert set(result["goals"]) == {"meetings_per_s", "ray_to_single", "p99_ms"}
    assert all(isinstance(goal["met"], bool) for goal in result["goals"].values())
