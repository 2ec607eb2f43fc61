"""``python -m bench.throughput --quick --json`` as a user runs it: a real subprocess with its
own PostgreSQL, emulators and Ray; every meeting of both modes is executed and measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

from tests.cli import REPO

pytestmark = pytest.mark.slow


def test_the_quick_benchmark_measures_both_modes_and_the_latency() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CRM_AGENTS_") and k != "DATABASE_URL"
    }
    external = os.environ.get("CRM_AGENTS_TEST_DATABASE_URL")
    if external:
        env["DATABASE_URL"] = external  # the benchmark makes (and drops) a database there
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "bench.throughput", "--quick", "--json"],
        env=env,
        # Away from the repository: a developer's .env there must not steer the benchmark.
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
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
