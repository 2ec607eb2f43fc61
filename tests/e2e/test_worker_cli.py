"""The whole path as a user drives it: connect, activate an agent, import, `worker --once`.

Real CLI processes, the embedded PostgreSQL, and the HubSpot emulator over loopback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from runtime.crm.hubspot.emulator import EmulatorConfig
from tests.cli import REPO, crm_agents
from tests.hubspot_emulator import NO_LATENCY, TOKEN, RunningEmulator, running_emulator
from tests.meetings import example_meeting, transcript
from tests.pipeline_setup import PRICE_AGREED

KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
SAID = transcript(*PRICE_AGREED)


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(tokens=(TOKEN,), latency=NO_LATENCY)) as running:
        yield running


@pytest.fixture(scope="module")
def env(database_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "DATABASE_URL": database_dsn,
        "CRM_AGENTS_HOME": str(tmp_path_factory.mktemp("crm-home")),
        "CRM_AGENTS_SECRETS__ENCRYPTION_KEYS": f"k1:{KEY}",
        "CRM_AGENTS_WORKER__LEASE_S": "2",
        "CRM_AGENTS_WORKER__POLL_S": "0.2",
    }


@pytest.fixture
async def db(database_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_dsn)
    yield conn
    await conn.close()


def _ok(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    result = crm_agents(*args, env=env, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _workspace(
    env: dict[str, str],
    emulator: RunningEmulator,
    *,
    connect: bool = True,
    auto_apply: bool = False,
) -> str:
    workspace = _ok("workspace", "create", "--name", "Acme", env=env).strip()
    _ok("user", "create", "--workspace", workspace, "--email", "sam@ourco.example",
        "--role", "admin", env=env)  # fmt: skip
    if connect:
        _ok("crm", "connect", "--workspace", workspace, "--base-url", emulator.url,
            "--token", "-", env=env, stdin=TOKEN)  # fmt: skip
    create = ("agent", "create", "--workspace", workspace, "--template", "discovery", "--json")
    agent = json.loads(_ok(*create, env=env))
    if auto_apply:
        # Trusted and confident enough: this agent writes without a human.
        config = json.loads(_ok("agent", "show", agent["id"], env=env))
        config["review_only"] = False
        for policy in config["fields"].values():
            policy.update(auto_apply_threshold=0.3, always_review=False)
        _ok("agent", "update", agent["id"], "--config", "-", env=env, stdin=json.dumps(config))
    _ok("agent", "activate", agent["id"], env=env)
    return workspace


def _import(
    env: dict[str, str], workspace: str, tmp_path: Path, external_id: str
) -> dict[str, object]:
    path = tmp_path / f"{external_id}.json"
    path.write_text(json.dumps(example_meeting(external_id=external_id, transcript=SAID)))
    imported: dict[str, object] = json.loads(
        _ok("meetings", "import", str(path), "--workspace", workspace, "--json", env=env)
    )
    return imported


async def test_an_imported_meeting_becomes_an_inbox_item_for_its_owner(
    env: dict[str, str], emulator: RunningEmulator, db: asyncpg.Connection, tmp_path: Path
) -> None:
    workspace = _workspace(env, emulator)
    imported = _import(env, workspace, tmp_path, "zoom-e2e-1")
    assert imported["runs_queued"] == 1

    report = json.loads(_ok("worker", "--once", "--json", env=env))

    assert (report["completed"], report["failed"]) == (1, 0)
    activity = await db.fetchrow(
        "SELECT id, action_type, status, crm_record_id, fields_updated FROM activity_logs"
        " WHERE meeting_id = $1",
        imported["id"],
    )
    assert activity is not None
    assert (activity["action_type"], activity["status"], activity["crm_record_id"]) == (
        "update",
        "pending",
        "301",
    )
    fields = json.loads(activity["fields_updated"])
    assert fields["amount"]["after"] == "60000"
    item = await db.fetchrow(
        "SELECT i.item_type, i.status, u.email FROM inbox_items i JOIN users u ON u.id = i.user_id"
        " WHERE i.activity_log_id = $1",
        activity["id"],
    )
    assert item is not None
    assert (item["item_type"], item["status"], item["email"]) == (
        "approval",
        "pending",
        "sam@ourco.example",
    )  # the discovery template is review-only: a human decides
    workspace_id = await db.fetchval(
        "SELECT workspace_id FROM activity_logs WHERE id = $1", activity["id"]
    )
    reads = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE workspace_id = $1 AND action <> 'crm.connect'"
        " AND action LIKE 'crm.%'",
        workspace_id,
    )
    assert reads > 0  # the run's CRM reads are in the audit log
    # Nothing was written: writes are the next layer's, and this agent only proposes.
    assert emulator.write_log() == []
    listed = json.loads(_ok("activity", "list", "--workspace", workspace, "--json", env=env))
    assert [a["id"] for a in listed] == [str(activity["id"])]
    human = _ok("inbox", "list", "--workspace", workspace, "--user", "sam@ourco.example", env=env)
    assert "approval" in human
    assert "Review 3 changes to Acme Expansion" in human


async def test_an_auto_applying_agent_writes_to_hubspot_once(
    env: dict[str, str], emulator: RunningEmulator, db: asyncpg.Connection, tmp_path: Path
) -> None:
    emulator.admin("reset", {})
    workspace = _workspace(env, emulator, auto_apply=True)
    imported = _import(env, workspace, tmp_path, "zoom-e2e-4")

    report = json.loads(_ok("worker", "--once", "--json", env=env))

    assert (report["completed"], report["records_written"]) == (1, 1)
    [entry] = emulator.write_log()
    assert (entry["id"], entry["properties"]["amount"]) == ("301", "60000")
    status = await db.fetchval(
        "SELECT status FROM activity_logs WHERE meeting_id = $1", imported["id"]
    )
    assert status == "success"
    again = json.loads(_ok("worker", "--once", "--json", env=env))
    assert (again["completed"], again["records_written"]) == (0, 0)
    assert len(emulator.write_log()) == 1


async def test_on_ray_runs_execute_as_tasks_and_read_through_the_workspace_actor(
    env: dict[str, str], emulator: RunningEmulator, db: asyncpg.Connection, tmp_path: Path
) -> None:
    emulator.admin("reset", {})
    workspace = _workspace(env, emulator, auto_apply=True)
    imported = [_import(env, workspace, tmp_path, f"zoom-e2e-ray-{i}") for i in range(3)]

    # A local Ray of the command's own (no RAY_ADDRESS); it ends with the command.
    report = json.loads(_ok("worker", "--once", "--ray", "--json", env=env))

    assert (report["completed"], report["failed"]) == (3, 0)
    runs = await db.fetch(
        "SELECT status, attempts FROM agent_runs WHERE meeting_id = ANY($1::uuid[])",
        [m["id"] for m in imported],
    )
    assert [(r["status"], r["attempts"]) for r in runs] == [("done", 1)] * 3
    # The three meetings change one deal: merged into one write, once.
    assert report["records_written"] == 1
    assert [entry["id"] for entry in emulator.write_log()] == ["301"]


async def test_a_workspace_without_a_connection_gets_a_failed_activity(
    env: dict[str, str], emulator: RunningEmulator, db: asyncpg.Connection, tmp_path: Path
) -> None:
    workspace = _workspace(env, emulator, connect=False)
    imported = _import(env, workspace, tmp_path, "zoom-e2e-2")

    report = json.loads(_ok("worker", "--once", "--json", env=env))

    assert (report["completed"], report["failed"]) == (0, 1)
    message = await db.fetchval(
        "SELECT error_message FROM activity_logs WHERE meeting_id = $1", imported["id"]
    )
    assert "no CRM connection" in message
    assert "crm-agents crm connect" in message
    failed = _ok("activity", "list", "--workspace", workspace, "--status", "failed", env=env)
    assert "no CRM connection" in failed
    assert _ok("inbox", "list", "--workspace", workspace, env=env).strip() == "nothing waiting"


def test_a_bad_extractor_is_bad_input(env: dict[str, str]) -> None:
    result = crm_agents("worker", "--once", "--extractor", "magic", env=env)
    assert result.returncode == 2
    assert "--extractor" in result.stderr


async def test_a_killed_worker_leaves_its_run_to_the_next_one(
    env: dict[str, str], emulator: RunningEmulator, db: asyncpg.Connection, tmp_path: Path
) -> None:
    workspace = _workspace(env, emulator)
    # The emulator holds every CRM call, so the worker is mid-run when it is killed.
    emulator.admin("hold", {"on": True})
    try:
        imported = _import(env, workspace, tmp_path, "zoom-e2e-3")
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "worker",
            env={**_base_env(), **env},
            cwd=tempfile.gettempdir(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                status = await db.fetchval(
                    "SELECT status FROM agent_runs WHERE meeting_id = $1", imported["id"]
                )
                if status == "running":
                    break
                await asyncio.sleep(0.05)
            assert status == "running"
        finally:
            worker.send_signal(signal.SIGKILL)
            await asyncio.wait_for(worker.wait(), timeout=30)
    finally:
        emulator.admin("hold", {"on": False})
    await asyncio.sleep(2.5)  # the dead worker's lease (CRM_AGENTS_WORKER__LEASE_S) runs out

    report = json.loads(_ok("worker", "--once", "--json", env=env))

    assert report["completed"] == 1
    run = await db.fetchrow(
        "SELECT status, attempts FROM agent_runs WHERE meeting_id = $1", imported["id"]
    )
    assert (run["status"], run["attempts"]) == ("done", 2)
    count = await db.fetchval(
        "SELECT count(*) FROM activity_logs WHERE meeting_id = $1", imported["id"]
    )
    assert count == 1


def _base_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CRM_AGENTS_") and k != "DATABASE_URL"
    } | {"PYTHONPATH": str(REPO)}
