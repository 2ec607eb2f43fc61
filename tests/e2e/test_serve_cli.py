"""`crm-agents serve` as a user runs it: a real process with the embedded PostgreSQL, a local
Ray and the API on Ray Serve, then SIGTERM.

One process, one story (starting Ray costs tens of seconds here), with one replica (on the
API's port) and with two (behind HAProxy): the URL is printed, a token from
`crm-agents token create` works over HTTP, a meeting ingested over HTTP is executed by the
process's dispatcher and its activity arrives on a websocket subscription, and SIGTERM
stops it all: exit 0, no process of its own left, the database released.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from runtime.db.embedded import EmbeddedPostgres
from tests.api.graphql_ws import receive, session, subscribe
from tests.cli import REPO, crm_agents
from tests.meetings import example_meeting

STARTUP_S = 240.0  # Ray and Serve on a busy two-core machine
ACTIVITY = """subscription($ws: ID!) {
  activityLogCreated(workspaceId: $ws) { id status errorMessage meeting { externalId } }
}"""
INGEST = """mutation($ws: ID!, $in: JSON!) {
  ingestMeeting(workspaceId: $ws, input: $in) { meeting { id } }
}"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _ok(*args: str, env: dict[str, str]) -> str:
    result = crm_agents(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _environment(env: dict[str, str]) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRM_AGENTS_", "RAY_")) and k != "DATABASE_URL"
    }
    return {**base, **env, "PYTHONPATH": str(REPO)}


async def _url_line(process: asyncio.subprocess.Process, log: Path) -> str:
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_S)
    except TimeoutError:
        pytest.fail(f"serve printed no URL in {STARTUP_S} s:\n{_tail(log)}")
    assert line, f"serve ended before it served:\n{_tail(log)}"
    return line.decode().strip()


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    "replicas",
    [
        pytest.param(1, id="one replica on the port"),
        pytest.param(2, id="two replicas behind haproxy"),
    ],
)
async def test_serve_answers_http_and_websockets_runs_agents_and_stops_cleanly(
    scratch_home: Path, replicas: int
) -> None:
    env = {
        "CRM_AGENTS_HOME": str(scratch_home),
        "CRM_AGENTS_WORKER__POLL_S": "0.5",
        "CRM_AGENTS_API__REPLICAS": str(replicas),
    }
    port = _free_port()
    log = scratch_home / "serve.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "serve",
            "--port",
            str(port),
            env=_environment(env),
            cwd=tempfile.gettempdir(),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    try:
        url = await _url_line(process, log)
        assert url == f"http://127.0.0.1:{port}/graphql"
        assert "crm-agents token create --workspace W --user U" in log.read_text()
        started = psutil.Process(process.pid).children(recursive=True)
        # No Serve proxy in the way: the replica itself, or HAProxy before two of them.
        listener = _listener(port)
        assert ("ServeRepli" if replicas == 1 else "haproxy") in listener, listener

        # A workspace with an active agent and no CRM connection: its runs fail, visibly.
        workspace = _ok("workspace", "create", "--name", "Acme", env=env)
        _ok("user", "create", "--workspace", workspace, "--email", "sam@ourco.example",
            "--role", "admin", env=env)  # fmt: skip
        token = _ok("token", "create", "--workspace", workspace, "--user", "sam@ourco.example",
                    env=env)  # fmt: skip
        create = ("agent", "create", "--workspace", workspace, "--template", "discovery", "--json")
        agent = json.loads(_ok(*create, env=env))
        _ok("agent", "activate", agent["id"], env=env)

        async with httpx.AsyncClient(timeout=30) as http:
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert (health.status_code, health.json()["status"]) == (200, "ok")
            agents = await http.post(
                url,
                json={"query": "{ agentTemplates { name } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert agents.status_code == 200
            assert agents.json()["data"]["agentTemplates"]

            async with session(f"http://127.0.0.1:{port}", token) as ws:
                await subscribe(ws, "a", ACTIVITY, {"ws": workspace})
                node = await _activity_of_an_ingested_meeting(http, url, token, workspace, ws)
        assert node["status"] == "FAILED"
        assert "no CRM connection" in node["errorMessage"]
        assert node["meeting"]["externalId"].startswith("zoom-serve-")

        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    said = log.read_text()
    assert code == 0, said[-3000:]
    assert "stopped:" in said
    assert "agent run(s) completed" in said
    await _until_gone(started)
    assert not EmbeddedPostgres(scratch_home / "pgdata").state().running
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nobody listens there any more


def test_a_port_in_use_is_refused_before_anything_starts(scratch_home: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        began = time.monotonic()
        result = crm_agents(
            "serve", "--port", str(port), env={"CRM_AGENTS_HOME": str(scratch_home)}
        )
    assert result.returncode == 2
    assert f"--port: 127.0.0.1:{port} is in use" in result.stderr
    assert time.monotonic() - began < 30
    assert not (scratch_home / "pgdata").exists()  # nothing was started


async def _activity_of_an_ingested_meeting(
    http: httpx.AsyncClient, url: str, token: str, workspace: str, ws: Any
) -> dict[str, Any]:
    """Ingest meetings until the subscription (live only after a moment) shows one's run."""
    for _ in range(20):
        meeting = example_meeting(external_id=f"zoom-serve-{uuid.uuid4().hex[:8]}")
        ingested = await http.post(
            url,
            json={"query": INGEST, "variables": {"ws": workspace, "in": meeting}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert "errors" not in ingested.json(), ingested.json()
        try:
            message = await receive(ws, timeout_s=5)
        except TimeoutError:
            continue
        assert message["type"] == "next", message
        node: dict[str, Any] = message["payload"]["data"]["activityLogCreated"]
        return node
    raise AssertionError("no activity arrived on the subscription")


def _listener(port: int) -> str:
    """The name of the process listening on ``port``."""
    for conn in psutil.net_connections(kind="tcp"):
        listening = conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr[1] == port
        if listening and conn.pid:
            return psutil.Process(conn.pid).name()
    raise AssertionError(f"nothing listens on {port}")


async def _until_gone(processes: list[psutil.Process], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"processes left behind: {[p.name() for p in alive]}")
