"""Run the real ``crm-agents`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def crm_agents(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """``crm-agents ARGS`` with exactly these CRM_AGENTS_*/DATABASE_URL variables."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CRM_AGENTS_") and k != "DATABASE_URL"
    }
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        env={**base, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        # Away from the repository: a developer's .env there must not steer the tests.
        cwd=tempfile.gettempdir(),
        check=False,
    )
