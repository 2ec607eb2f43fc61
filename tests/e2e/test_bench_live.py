"""``python -m bench.live --quick --json`` as a user runs it: a real subprocess with its own
PostgreSQL, uvicorn process and websockets; rows inserted by yet another process reach
every subscriber, each exactly once."""

from __future__ import annotations

import pytest

from tests.bench_run import run_quick_bench

pytestmark = pytest.mark.slow


def test_the_quick_benchmark_delivers_every_event_to_every_subscriber() -> None:
    result = run_quick_bench("bench.live", timeout_s=300)
    assert result["mode"] == "quick"
    assert result["errors"] == []
    assert result["server"] == "uvicorn"
    assert result["open_file_limit"] >= 2 * 50

    phases = result["phases"]
    assert [phase["subscribers"] for phase in phases] == [10, 50]
    for phase in phases:
        assert phase["events"] == 40
        expected = phase["events"] * phase["subscribers"]
        assert phase["deliveries_expected"] == expected
        assert phase["deliveries_received"] == expected  # every subscriber got every event
        assert (phase["lost"], phase["duplicates"], phase["failures"]) == (0, 0, 0)
        latency = phase["latency"]
        assert latency["count"] == expected
        # Received after raised (one clock), and in the same order of magnitude as a run.
        assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"] < 60_000
        assert phase["raise_s"] >= (phase["events"] - 1) / phase["rate_per_s"]
        assert phase["cpu_s"]["server"] > 0  # the uvicorn process sent them
        assert phase["cpu_s"]["clients"] > 0
        assert phase["server_cpu_ms_per_delivery"] == pytest.approx(
            phase["cpu_s"]["server"] * 1000 / expected, abs=0.001
        )

    assert set(result["goals"]) == {"p99_ms_at_10", "p99_ms_at_50"}
    for name, goal in result["goals"].items():
        assert isinstance(goal["met"], bool)
        assert goal["value"] == phases[0 if name.endswith("_10") else 1]["latency"]["p99_ms"]
