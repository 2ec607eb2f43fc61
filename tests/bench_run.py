"""Running a benchmark's smoke size the way a user runs it, for the ``tests/e2e`` checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from tests.cli import REPO

__all__ = ["run_quick_bench"]


def run_quick_bench(module: str, *, timeout_s: float) -> dict[str, Any]:
    """``python -m <module> --quick --json`` in a real subprocess with its own PostgreSQL,
    emulators and Ray; its one JSON object. A failed run fails the test with its stderr."""
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
        [sys.executable, "-m", module, "--quick", "--json"],
        env=env,
        # Away from the repository: a developer's .env there must not steer the benchmark.
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)  # one JSON object, nothing else on stdout
    return result
