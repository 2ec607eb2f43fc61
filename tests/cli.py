"""Run the real ``crm-agents`` command in a subprocess, as a user would; and what the tests
of long-running commands (``serve``, ``demo``) share."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

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


def free_port() -> int:
    """A port nothing listens on now (on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def command_environment(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without CRM_AGENTS_*, RAY_* and DATABASE_URL, plus ``env``
    and the repository on the import path: a long-running command started as a subprocess."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRM_AGENTS_", "RAY_")) and k != "DATABASE_URL"
    }
    return {**base, **env, "PYTHONPATH": str(REPO)}


def log_tail(log: Path) -> str:
    """The end of a command's log, for a failure's message."""
    return log.read_text()[-3000:]


async def until_gone(processes: list[psutil.Process], timeout_s: float = 30.0) -> None:
    """Wait until none of ``processes`` runs any more (zombies count as gone)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"processes left behind: {[p.name() for p in alive]}")
