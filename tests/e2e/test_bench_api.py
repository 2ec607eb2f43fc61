"""``python -m bench.api --quick --json`` as a user runs it: a real subprocess with its own
PostgreSQL, uvicorn process and Ray; the generated data is loaded, every operation executed
in process, and both servers answered every request of the load."""

from __future__ import annotations

import pytest

from tests.bench_run import run_quick_bench

pytestmark = pytest.mark.slow

_KINDS = ("inbox_items", "activity_logs", "inbox_count")


def test_the_quick_benchmark_loads_the_data_and_measures_in_process_and_over_http() -> None:
    result = run_quick_bench("bench.api", timeout_s=600)
    assert result["mode"] == "quick"
    assert result["errors"] == []

    data = result["data"]
    assert (data["activity_logs"], data["inbox_items"], data["workspaces"]) == (20_000, 4_000, 10)
    assert data["meetings"] * 4 == data["activity_logs"]  # a meeting's records, one row each
    # The big tenant holds the largest share, and its busiest members have pending items.
    assert data["activity_logs"] // 5 < data["big_tenant_activity_logs"] < data["activity_logs"]
    assert all(pending > 0 for pending in data["big_tenant_pending_inboxes"])
    assert 0 < data["rows_s"] <= data["load_s"]

    in_process = result["in_process"]
    for kind in _KINDS:
        figures = in_process[kind]
        assert figures["count"] == in_process["iterations"] == 100
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert figures["cpu"]["count"] == 100
        assert 0 < figures["cpu"]["p50_ms"] <= figures["cpu"]["p99_ms"]
    by_filter = in_process["activity_logs"]["by_filter"]
    assert len(by_filter) == 12  # every filter was asked
    assert sum(f["count"] for f in by_filter.values()) == 100

    http = result["http"]
    for server in ("uvicorn", "serve", "uvicorn_again"):
        figures = http[server]
        assert figures["failed"] == 0
        assert figures["requests"] > 0
        assert figures["requests_per_s"] > 0
        assert figures["cpu_s"]["clients"] > 0
        assert figures["server_cpu_ms_per_request"] > 0
    assert http["serve"]["ingress"] in {"direct", "haproxy", "proxy"}
    assert http["serve"]["cpu_s"]["serve_replica"] > 0  # Serve's replica answered
    assert http["uvicorn"]["cpu_s"]["uvicorn"] > 0
    assert http["uvicorn_again"]["cpu_s"]["uvicorn"] > 0
    mean = (http["uvicorn"]["requests_per_s"] + http["uvicorn_again"]["requests_per_s"]) / 2
    assert http["uvicorn_mean_requests_per_s"] == pytest.approx(mean, abs=0.1)
    assert http["serve_to_uvicorn"] == pytest.approx(
        http["serve"]["requests_per_s"] / mean, abs=0.01
    )
    assert http["serve_to_uvicorn_by_cpu"] > 0

    assert set(result["goals"]) == {
        "inbox_items_p99_ms",
        "activity_logs_p99_ms",
        "inbox_count_p99_ms",
        "serve_to_uvicorn",
    }
    assert all(isinstance(goal["met"], bool) for goal in result["goals"].values())
