"""`crm-agents demo` as a newcomer runs it: a real process with the embedded PostgreSQL, a
local Ray, the API on Ray Serve, the HubSpot emulator and the meeting feed; then SIGTERM.

One story, because starting Ray costs seconds: the printed token and URLs work; meetings
sent by the feed through the signed webhook become activity, a pending inbox item for the
admin and writes the emulator received (the values the API says were written); SIGTERM
ends it all with exit 0 and nothing left running. Then the same home is run again: the
workspace, its admin and its agent are reused, with a new token. Bad options are refused
(exit 2, naming the option) before anything starts.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from runtime.db.embedded import EmbeddedPostgres
from tests.cli import command_environment, crm_agents, free_port, log_tail, until_gone

STARTUP_S = 240.0  # Ray and Serve on a busy two-core machine
SETTLE_S = 90.0
STATE = """query($ws: ID!, $user: ID!) {
  activityLogs(workspaceId: $ws, pagination: {first: 50}) {
    totalCount
    edges { node { status crmRecordId meeting { externalId }
                   proposals { field route status written } } }
  }
  inboxItems(userId: $user, status: PENDING) { totalCount }
}"""


async def _start(home: Path, log: Path, *args: str) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "demo",
            "--json",
            *args,
            env=command_environment({"CRM_AGENTS_HOME": str(home)}),
            cwd=tempfile.gettempdir(),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


async def _event(process: asyncio.subprocess.Process, log: Path, timeout_s: float) -> Any:
    """The next line on stdout: every line there is JSON (Ray's own lines go to stderr)."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout_s)
    except TimeoutError:
        pytest.fail(f"the demo printed nothing in {timeout_s} s:\n{log_tail(log)}")
    assert line, f"the demo ended early:\n{log_tail(log)}"
    return json.loads(line)


async def _stop(process: asyncio.subprocess.Process, log: Path) -> list[Any]:
    """SIGTERM; the exit code must be 0. Returns the JSON lines printed until then."""
    process.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, log_tail(log)
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.slow
async def test_demo_shows_activity_inbox_items_and_crm_writes_then_stops_cleanly(
    scratch_home: Path,
) -> None:
    port, emulator_port = free_port(), free_port()
    log = scratch_home / "demo.log"
    process = await _start(
        scratch_home,
        log,
        *("--port", str(port), "--emulator-port", str(emulator_port), "--every", "0.5"),
    )
    try:
        ready = await _event(process, log, STARTUP_S)
        assert ready["event"] == "ready"
        assert ready["graphql_url"] == f"http://127.0.0.1:{port}/graphql"
        assert ready["emulator_url"] == f"http://127.0.0.1:{emulator_port}"
        assert ready["reused_workspace"] is False
        assert ready["token"] in ready["curl"]
        assert ready["token"] in ready["graphiql_url"]
        started = psutil.Process(process.pid).children(recursive=True)
        first = await _event(process, log, SETTLE_S)
        assert first["event"] == "meeting"
        assert first["status"] == 201, first
        assert first["external_id"].startswith("demo-")
        [run] = first["runs"]
        # Each sample meeting both writes and asks: the demo shows both paths.
        assert run["auto_applied"], first
        assert run["for_review"], first
        assert run["inbox_item_id"], first

        async with httpx.AsyncClient(timeout=30) as http:
            # The printed GraphiQL link opens the IDE (its query string fills it in).
            page = await http.get(ready["graphiql_url"], headers={"Accept": "text/html"})
            assert page.status_code == 200
            assert "parameters.headers" in page.text
            state = await _until_written(http, ready)
        assert state["activityLogs"]["totalCount"] >= 1
        assert state["inboxItems"]["totalCount"] >= 1
        lines = await _stop(process, log)
    finally:
        await _killed(process)
    assert lines[-1]["event"] == "stopped"
    assert lines[-1]["meetings_sent"] >= 1
    assert lines[-1]["runs_failed"] == 0
    await until_gone(started)
    assert not EmbeddedPostgres(scratch_home / "pgdata").state().running
    for used in (port, emulator_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            assert sock.connect_ex(("127.0.0.1", used)) != 0  # nobody listens there any more

    # Again on the same home: the same workspace, admin and agent; a new token.
    # (A new port: the last one may linger in the kernel for a while.)
    again = await _start(scratch_home, log, "--port", str(free_port()), "--meetings", "1")
    try:
        second = await _event(again, log, STARTUP_S)
        started = psutil.Process(again.pid).children(recursive=True)
        assert second["reused_workspace"] is True
        for key in ("workspace_id", "admin_user_id", "agent_id"):
            assert second[key] == ready[key]
        assert second["token"] != ready["token"]
        meeting = await _event(again, log, SETTLE_S)
        assert meeting["status"] == 201
        assert meeting["external_id"] != first["external_id"]
        await _stop(again, log)
    finally:
        await _killed(again)
    await until_gone(started)


async def _killed(process: asyncio.subprocess.Process) -> None:
    """Only after a failure: nothing may outlive the test."""
    if process.returncode is None:
        process.kill()
        await process.wait()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(
            ["--port", "{taken}"], "--port: 127.0.0.1:{taken} is in use", id="API port in use"
        ),
        pytest.param(
            ["--port", "{free}", "--emulator-port", "{taken}"],
            "--emulator-port: cannot listen on 127.0.0.1:{taken}",
            id="emulator port in use",
        ),
        pytest.param(
            ["--port", "{free}", "--emulator-port", "{free}"],
            "--emulator-port: must differ from the API's port ({free})",
            id="one port for both",
        ),
        pytest.param(["--every", "0"], "--every", id="no pause between meetings"),
    ],
)
def test_bad_input_is_refused_naming_the_option_before_anything_starts(
    scratch_home: Path, args: list[str], said: str
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = {"taken": str(taken.getsockname()[1]), "free": str(free_port())}
        result = crm_agents(
            "demo",
            *(arg.format(**ports) for arg in args),
            env={"CRM_AGENTS_HOME": str(scratch_home)},
        )
    assert result.returncode == 2, result.stderr
    assert said.format(**ports) in result.stderr
    assert not (scratch_home / "pgdata").exists()  # nothing was started


async def _until_written(http: httpx.AsyncClient, ready: dict[str, Any]) -> dict[str, Any]:
    """Poll the API until an auto-applied field is written; check it against the emulator."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        answer = await http.post(
            ready["graphql_url"],
            json={
                "query": STATE,
                "variables": {"ws": ready["workspace_id"], "user": ready["admin_user_id"]},
            },
            headers={"Authorization": f"Bearer {ready['token']}"},
        )
        body = answer.json()
        assert "errors" not in body, body
        state: dict[str, Any] = body["data"]
        written = [
            (node["crmRecordId"], proposal["field"], proposal["written"])
            for edge in state["activityLogs"]["edges"]
            for node in [edge["node"]]
            for proposal in node["proposals"]
            if proposal["route"] == "AUTO_APPLY" and proposal["status"] == "WRITTEN"
        ]
        if written:
            log = (await http.get(f"{ready['emulator_url']}/_emulator/write-log")).json()
            received = {
                (entry["id"], name, value)
                for entry in log["results"]
                if entry["objectType"] == "deals"
                for name, value in entry["properties"].items()
            }
            assert set(written) <= received, (written, log)
            return state
        await asyncio.sleep(0.5)
    raise AssertionError("no auto-applied field was written")
