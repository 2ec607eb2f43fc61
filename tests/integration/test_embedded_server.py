"""The embedded server is shared by processes and always stoppable, even after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from runtime.db.embedded import EmbeddedPostgres
from tests.cli import REPO, crm_agents

pytestmark = pytest.mark.slow

_HOLDER = """
import sys
from pathlib import Path
from runtime.db.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]))
print(server.start(), flush=True)
sys.stdin.read()  # hold the server until the test closes our stdin
server.detach()
"""


@pytest.fixture
def home(scratch_home: Path) -> Path:
    return scratch_home


def _hold(pgdata: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(pgdata)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    dsn = process.stdout.readline().strip()
    assert dsn.startswith("postgresql://"), dsn
    return process, dsn


def _release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    code = process.wait(timeout=30)
    assert process.stdout is not None
    process.stdout.close()
    assert code == 0


async def _answers(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def test_a_second_process_attaches_and_the_last_one_out_stops_it(home: Path) -> None:
    pgdata = home / "pgdata"
    first, dsn = _hold(pgdata)
    second, same_dsn = _hold(pgdata)
    assert same_dsn == dsn
    state = EmbeddedPostgres(pgdata).state()
    assert set(state.attached_pids) == {first.pid, second.pid}
    _release(first)
    assert await _answers(dsn), "the server stopped while a process still used it"
    _release(second)
    assert not EmbeddedPostgres(pgdata).state().running
    assert not await _answers(dsn)


async def test_a_killed_process_does_not_leave_the_server_unstoppable(home: Path) -> None:
    pgdata = home / "pgdata"
    victim, dsn = _hold(pgdata)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    for pipe in (victim.stdin, victim.stdout):
        assert pipe is not None
        pipe.close()
    assert EmbeddedPostgres(pgdata).state().running  # orphaned, with a dead pid recorded

    survivor, _ = _hold(pgdata)  # attaching drops the dead pid
    assert await _answers(dsn)
    _release(survivor)
    assert not EmbeddedPostgres(pgdata).state().running


def test_db_stop_refuses_while_in_use_unless_forced(home: Path) -> None:
    env = {"CRM_AGENTS_HOME": str(home)}
    holder, _ = _hold(home / "pgdata")
    try:
        refused = crm_agents("db", "stop", env=env)
        assert refused.returncode == 1
        assert f"in use by process(es) {holder.pid}" in refused.stderr
        forced = crm_agents("db", "stop", "--force", env=env)
        assert forced.returncode == 0, forced.stderr
        assert not EmbeddedPostgres(home / "pgdata").state().running
    finally:
        _release(holder)


async def test_db_url_keeps_the_server_up_until_db_stop(home: Path) -> None:
    env = {"CRM_AGENTS_HOME": str(home)}
    printed = crm_agents("db", "url", env=env)
    assert printed.returncode == 0, printed.stderr
    dsn = printed.stdout.strip()
    assert await _answers(dsn)
    status = crm_agents("db", "status", env=env)  # another client comes and goes
    assert "kept_running: True" in status.stdout
    assert await _answers(dsn)
    stopped = crm_agents("db", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not await _answers(dsn)
