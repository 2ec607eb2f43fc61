"""`crm-agents serve` as a user runs it: a real process with the embedded PostgreSQL, a local
Ray and the API on Ray Serve, then SIGTERM.

One process per story (starting Ray costs tens of seconds here):

- one replica (on the API's port): the URL is printed, a token from `crm-agents token
  create` works over HTTP, a meeting ingested over HTTP is executed by the process's
  dispatcher and its activity arrives on a websocket subscription;
- two replicas (behind HAProxy), connected to the HubSpot emulator: a meeting ingested over
  HTTP becomes an inbox item on the member's subscription, part of it is approved with an
  edit (a retried approval is a CONFLICT), the emulator's write log shows each approved
  value written once, and the activity log says success.

Each ends with SIGTERM: exit 0, no process of its own left, the database released.
"""

from __future__ import annotations

import asyncio
import json
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
from tests.cli import command_environment, crm_agents, free_port, log_tail, until_gone
from tests.hubspot_emulator import TOKEN, running_emulator
from tests.meetings import dialogue, example_meeting
from tests.pipeline_setup import PRICE_AGREED

STARTUP_S = 240.0  # Ray and Serve on a busy two-core machine
ACTIVITY = """subscription($ws: ID!) {
  activityLogCreated(workspaceId: $ws) { id status errorMessage meeting { externalId } }
}"""
INGEST = """mutation($ws: ID!, $in: JSON!) {
  ingestMeeting(workspaceId: $ws, input: $in) { meeting { id } }
}"""
INBOX = """subscription($user: ID!) {
  inboxItemCreated(userId: $user) {
    id itemType status activityLog { crmRecordId }
    proposals { field before proposed status }
  }
}"""
CREATE_AGENT = """mutation($in: CreateAgentConfigInput!) {
  createAgentConfig(input: $in) { id }
}"""
ACTIVATE = "mutation($id: ID!) { activateAgent(id: $id) { id status } }"
APPROVE = """mutation($id: ID!, $fields: [FieldApprovalInput!]) {
  approveInboxItem(id: $id, fields: $fields) { id status }
}"""
ITEM_ACTIVITY = """query($id: ID!) {
  inboxItem(id: $id) {
    activityLog { status errorMessage proposals { field proposed approved written status } }
  }
}"""


def _ok(*args: str, env: dict[str, str]) -> str:
    result = crm_agents(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def _url_line(process: asyncio.subprocess.Process, log: Path) -> str:
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_S)
    except TimeoutError:
        pytest.fail(f"serve printed no URL in {STARTUP_S} s:\n{log_tail(log)}")
    assert line, f"serve ended before it served:\n{log_tail(log)}"
    return line.decode().strip()


@pytest.mark.slow
async def test_serve_answers_http_and_websockets_runs_agents_and_stops_cleanly(
    scratch_home: Path,
) -> None:
    env = {"CRM_AGENTS_HOME": str(scratch_home), "CRM_AGENTS_WORKER__POLL_S": "0.5"}
    port = free_port()
    log = scratch_home / "serve.log"
    process = await _start_serve(env, port, log)
    try:
        url = await _url_line(process, log)
        assert url == f"http://127.0.0.1:{port}/graphql"
        assert "crm-agents token create --workspace W --user U" in log.read_text()
        started = psutil.Process(process.pid).children(recursive=True)
        # No Serve proxy in the way: the replica itself listens on the port.
        listener = _listener(port)
        assert "ServeRepli" in listener, listener

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

        await _stop(process)
    finally:
        await _kill(process)
    await _stopped_cleanly(process, log, started, scratch_home, port)


@pytest.mark.slow
async def test_a_partial_edited_approval_over_two_replicas_is_written_to_hubspot_once(
    scratch_home: Path,
) -> None:
    env = {
        "CRM_AGENTS_HOME": str(scratch_home),
        "CRM_AGENTS_WORKER__POLL_S": "0.5",
        "CRM_AGENTS_API__REPLICAS": "2",
        "CRM_AGENTS_WRITES__FLUSH_INTERVAL_S": "0.2",
    }
    port = free_port()
    log = scratch_home / "serve.log"
    with running_emulator() as emulator:
        process = await _start_serve(env, port, log)
        try:
            url = await _url_line(process, log)
            started = psutil.Process(process.pid).children(recursive=True)
            assert "haproxy" in _listener(port)  # two replicas behind Serve's HAProxy
            workspace = _ok("workspace", "create", "--name", "Acme", env=env)
            admin_token = _tenant_token(workspace, "lee@ourco.example", "admin", env)
            owner_id = _ok("user", "create", "--workspace", workspace, "--email",
                           "sam@ourco.example", "--role", "member", env=env)  # fmt: skip
            member_token = _ok("token", "create", "--workspace", workspace, "--user",
                               "sam@ourco.example", env=env)  # fmt: skip
            _ok("crm", "connect", "--workspace", workspace, "--base-url", emulator.url,
                "--token", TOKEN, env=env)  # fmt: skip

            async with httpx.AsyncClient(timeout=30) as http:
                admin = _Client(http, url, admin_token)
                member = _Client(http, url, member_token)
                # Every field waits for a person, so the decision is theirs.
                config = {
                    "call_types": ["discovery"],
                    "fields": {
                        f: {"always_review": True} for f in ("amount", "closedate", "hs_next_step")
                    },
                }
                created = await admin.data(
                    CREATE_AGENT, {"in": {"name": "Reviewer", "config": config}}
                )
                await admin.data(ACTIVATE, {"id": created["createAgentConfig"]["id"]})

                async with session(f"http://127.0.0.1:{port}", member_token) as ws:
                    await subscribe(ws, "i", INBOX, {"user": owner_id})
                    item = await _item_of_an_ingested_meeting(member, workspace, ws)
                    fields = {p["field"]: p for p in item["proposals"]}
                    assert {"amount", "closedate"} <= set(fields), fields
                    seen_writes = len(emulator.write_log())

                    # Approve the amount, edited, and the close date as proposed; reject the rest.
                    approval = {
                        "id": item["id"],
                        "fields": [
                            {"field": "amount", "value": "65,000"},
                            {"field": "closedate"},
                        ],
                    }
                    approved = (await member.data(APPROVE, approval))["approveInboxItem"]
                    assert approved["status"] == "APPROVED"
                    # A retried request changes nothing and says so.
                    again = await member.query(APPROVE, approval)
                    assert [e["extensions"]["code"] for e in again["errors"]] == ["CONFLICT"]

                    activity = await _settled_activity(member, item["id"])
            assert activity["status"] == "SUCCESS", activity
            by_field = {p["field"]: p for p in activity["proposals"]}
            assert (by_field["amount"]["proposed"], by_field["amount"]["approved"]) == (
                fields["amount"]["proposed"],
                "65000",
            )
            assert by_field["amount"]["written"] == "65000"
            # The written value is the CRM's answer: HubSpot gives a date back as a date-time.
            assert by_field["closedate"]["written"].startswith(fields["closedate"]["proposed"])
            rejected = {f for f, p in by_field.items() if p["status"] == "REJECTED"}
            assert rejected == set(fields) - {"amount", "closedate"}

            writes = [w for w in emulator.write_log() if w["seq"] > seen_writes]
            written = [(w["id"], name) for w in writes for name in w["properties"]]
            deal = item["activityLog"]["crmRecordId"]
            assert sorted(written) == [(deal, "amount"), (deal, "closedate")]  # each once
            assert {w["properties"].get("amount") for w in writes} - {None} == {"65000"}
            await _stop(process)
        finally:
            await _kill(process)
    await _stopped_cleanly(process, log, started, scratch_home, port)


async def _start_serve(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "serve",
            "--port",
            str(port),
            env=command_environment(env),
            cwd=tempfile.gettempdir(),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 120)


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


async def _stopped_cleanly(
    process: asyncio.subprocess.Process,
    log: Path,
    started: list[psutil.Process],
    home: Path,
    port: int,
) -> None:
    said = await asyncio.to_thread(log.read_text)
    assert process.returncode == 0, said[-3000:]
    assert "stopped:" in said
    assert "agent run(s) completed" in said
    await until_gone(started)
    assert not EmbeddedPostgres(home / "pgdata").state().running
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nobody listens there any more


def _tenant_token(workspace: str, email: str, role: str, env: dict[str, str]) -> str:
    _ok("user", "create", "--workspace", workspace, "--email", email, "--role", role, env=env)
    return _ok("token", "create", "--workspace", workspace, "--user", email, env=env)


class _Client:
    """GraphQL over HTTP as one token holder."""

    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self._http, self._url = http, url
        self._headers = {"Authorization": f"Bearer {token}"}

    async def query(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = await self._http.post(
            self._url, json={"query": document, "variables": variables}, headers=self._headers
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def data(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = await self.query(document, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


async def _item_of_an_ingested_meeting(member: _Client, workspace: str, ws: Any) -> dict[str, Any]:
    """Ingest the meeting until the subscription (live only after a moment) shows its item."""
    for _ in range(20):
        meeting = dialogue(*PRICE_AGREED, external_id=f"zoom-e2e-{uuid.uuid4().hex[:8]}")
        await member.data(INGEST, {"ws": workspace, "in": meeting.model_dump(mode="json")})
        try:
            message = await receive(ws, timeout_s=10)
        except TimeoutError:
            continue
        assert message["type"] == "next", message
        item: dict[str, Any] = message["payload"]["data"]["inboxItemCreated"]
        return item
    raise AssertionError("no inbox item arrived on the subscription")


async def _settled_activity(member: _Client, item_id: str) -> dict[str, Any]:
    """The item's activity once the writer has settled it (pending until then)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = await member.data(ITEM_ACTIVITY, {"id": item_id})
        activity: dict[str, Any] = data["inboxItem"]["activityLog"]
        if activity["status"] != "PENDING":
            return activity
        await asyncio.sleep(0.5)
    raise AssertionError("the activity was not settled within 60 s")


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
