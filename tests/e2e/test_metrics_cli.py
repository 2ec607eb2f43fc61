"""`crm-agents metrics` as a user runs it: the table, --json and --csv tell the same numbers
as the frame a workspace actor answers."""

from __future__ import annotations

import csv
import io
import json
import uuid

import asyncpg
import pytest

from runtime.clock import SystemClock
from runtime.metrics.book import FRAME_SCHEMA, totals
from runtime.metrics.service import workspace_frame
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.activity_setup import ActiveWorkspace
from tests.cli import crm_agents

EXPECTED = {
    "runs": 4,
    "runs_failed": 2,
    "approved": 1,
    "rejected": 1,
    "writes_ok": 2,
    "writes_failed": 1,
}


@pytest.fixture(scope="module")
def env(database_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "DATABASE_URL": database_dsn,
        "CRM_AGENTS_HOME": str(tmp_path_factory.mktemp("crm-home")),
    }


@pytest.fixture(scope="module")
async def workspace(pool: asyncpg.Pool) -> str:
    """One meeting run by both agents, one whose runs failed, two decisions, three writes."""
    active = await ActiveWorkspace.create(pool)
    await active.meeting("Sixty")
    await active.meeting("Eighty", connected=False)
    await active.decide(approve=1, reject=1)
    await active.answer_writes(ok=2, failed=1)
    return str(active.workspace_id)


def _ok(*args: str, env: dict[str, str]) -> str:
    result = crm_agents(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_json_prints_the_window_its_totals_and_every_minute(
    env: dict[str, str], workspace: str, pool: asyncpg.Pool
) -> None:
    document = json.loads(_ok("metrics", "--workspace", workspace, "--window", "1h", "--json",
                              env=env))  # fmt: skip

    assert (document["workspace_id"], document["window"], document["window_s"]) == (
        workspace,
        "1h",
        3600,
    )
    assert len(document["minutes"]) == 60
    assert document["minutes"][0]["minute"] == document["since"]
    assert {k: document["totals"][k] for k in EXPECTED} == EXPECTED
    assert sum(m["runs"] for m in document["minutes"]) == 4
    # The numbers a workspace actor answers: the same code over the same rows.
    frame = await workspace_frame(pool, uuid.UUID(workspace), 3600, now=SystemClock().now())
    assert document["totals"] == totals(frame).model_dump()


def test_the_table_shows_busy_minutes_and_the_totals(env: dict[str, str], workspace: str) -> None:
    lines = _ok("metrics", "--workspace", workspace, "--window", "15m", env=env).splitlines()

    assert lines[0].startswith(f"workspace {workspace}, last 15m (")
    assert lines[1].split()[:3] == ["minute", "(UTC)", "runs"]
    total = lines[-1].split()
    assert total[0] == "total"
    # runs, failed, proposed, auto, review, approved, rejected, written, write failed
    counts = [int(cell) for cell in total[1:10]]
    assert (counts[0], counts[1], counts[5], counts[6], counts[7], counts[8]) == (4, 2, 1, 1, 2, 1)
    assert counts[2] == counts[3] + counts[4] > 0  # every proposed field: auto or review
    minutes = lines[2:-1]
    assert minutes
    assert sum(int(line.split()[2]) for line in minutes) == 4  # date, time, runs


def test_csv_prints_every_minute_of_the_frame(env: dict[str, str], workspace: str) -> None:
    output = _ok("metrics", "--workspace", workspace, "--window", "2h", "--csv", env=env)

    rows = list(csv.DictReader(io.StringIO(output)))
    assert len(rows) == 120
    assert list(rows[0]) == list(FRAME_SCHEMA.names())
    assert rows[0]["minute"].endswith("Z")
    assert sum(int(r["runs"]) for r in rows) == 4
    assert sum(int(r["writes_failed"]) for r in rows) == 1


async def test_a_quiet_workspace_says_so(env: dict[str, str], pool: asyncpg.Pool) -> None:
    quiet = await WorkspaceRepo(pool).create(WorkspaceCreate(name="Quiet"))
    output = _ok("metrics", "--workspace", str(quiet.id), env=env)
    assert output.strip().endswith("no activity")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--window", "5x"), "error: --window: '5x' is not a duration like 15m, 1h or 7d"),
        (("--window", "8d"), "error: --window: '8d' is longer than the longest window, 7d"),
        (("--json", "--csv"), "error: --json/--csv: choose one output format, not both"),
    ],
)
def test_bad_options_are_bad_input_naming_the_option(
    env: dict[str, str], workspace: str, args: tuple[str, ...], message: str
) -> None:
    result = crm_agents("metrics", "--workspace", workspace, *args, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == message


def test_an_unknown_workspace_is_bad_input(env: dict[str, str]) -> None:
    missing = str(uuid.uuid4())
    result = crm_agents("metrics", "--workspace", missing, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --workspace: no workspace {missing}"
