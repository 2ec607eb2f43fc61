"""``python -m bench.budget --quick --json`` as a user runs it: a real subprocess with its own
PostgreSQL, emulator and Ray; it writes every queued field exactly once in full batches."""

from __future__ import annotations

import pytest

from tests.bench_run import run_quick_bench

pytestmark = pytest.mark.slow

KEYS = {
    "mode",
    "backlog_field_updates",
    "records",
    "write_requests",
    "records_per_request",
    "drain_s",
    "drain_rate_rps",
    "steady_rate_rps",
    "physical_limit_rps",
    "share_of_limit",
    "steady_share_of_limit",
    "reuse_period_s",
    "rate_limited_429",
    "per_record_rate_rps",
    "per_record_429",
    "ratio",
    "exactly_once",
    "goals",
}
GOALS = {"records_per_request", "share_of_limit", "no_429_in_steady_state", "ratio_to_per_record"}


def test_the_quick_benchmark_writes_every_field_once_in_full_batches() -> None:
    figures = run_quick_bench("bench.budget", timeout_s=120)
    assert figures.keys() >= KEYS
    assert figures["mode"] == "quick"
    assert figures["errors"] == []
    assert figures["exactly_once"] is True
    assert figures["records"] == figures["backlog_field_updates"] == 2_000
    assert figures["records_per_request"] > 90
    assert figures["rate_limited_429"] == 0  # 20 requests stay inside the first window
    assert figures["physical_limit_rps"] == 1_900  # 100 records x 190 requests / 10 s
    assert 0 < figures["share_of_limit"] <= 2
    assert figures["per_record_rate_rps"] > 0
    assert figures["ratio"] > 5  # batching beats one record per request by far
    assert set(figures["goals"]) == GOALS
    for goal in figures["goals"].values():
        assert set(goal) == {"target", "value", "met"}
    assert figures["goals"]["records_per_request"]["met"] is True
