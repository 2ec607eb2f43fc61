"""``python -m bench.live [--json] [--quick]``: how long an event raised in another process
takes to reach the clients subscribed to it over a websocket, with 100 and with 1,000 of
them at once.

One run, self-contained (everything it starts is stopped, even on Ctrl-C):

1. A scratch database (``bench.database``) with one workspace and its admin, whose one API
   token every subscriber uses: subscribers of one workspace are what the event hub fans
   out to, and with one token the per-event token check (``auth_cache_s``) stays the cached
   lookup it is for a busy user; the rate limit is raised out of the way (``server_env``).
2. The API app on plain uvicorn in a process of its own (``bench.api_http.uvicorn_server``):
   the same app (``serve_app.build_http_app``) a Serve replica runs, with the same event
   path (one LISTEN connection per process, ``runtime/api/events_hub.py``), without Ray's
   start-up and memory in a measurement of the fan-out. The process's open-file limit is
   raised to its hard limit first (the server inherits it): each socket is a file.
3. Per phase (100 then 1,000 subscribers; ``--quick``: 10 then 50), that many websockets
   from this process (asyncio and the ``websockets`` package, graphql-transport-ws:
   ``connection_init`` with the token, then ``activityLogCreated(workspaceId)`` selecting
   ``id createdAt``). Warm-up rows are inserted until every subscriber has received one
   (NOTIFY reaches only listeners already listening, and a client cannot see when its
   subscription starts to). Then another process (``python -m bench.live_raise``) inserts
   rows at a fixed rate, each stamped ``created_at = clock_timestamp()``: the moment it is
   raised. Each message's receive time is ``time.time()`` as the client reads it (same
   machine, same clock); its latency is that minus its ``createdAt``, over every (event,
   subscriber) pair: p50 / p99. A delivery that never came (the hub drops a slow
   subscriber's oldest events) is counted as lost and makes the measurement invalid.
4. ``server_cpu_ms_per_delivery``: the server process's CPU over the phase per delivery,
   what one more subscriber costs whatever else the machine runs. The selection is the
   event's own fields, so the server executes and encodes it once per event for everyone
   (``runtime/api/fanout.py``); per subscriber remain its token check and the websocket
   send (framing, permessage-deflate as the client offers it, one write).

Goals (issue 10): p99 <= 100 ms with 100 subscribers, <= 500 ms with 1,000.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import psutil
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from bench.api_http import cpu_seconds, postgres_processes, server_env, uvicorn_server
from bench.api_queries import latency_figures
from bench.database import scratch_database
from bench.formatting import at_most, goal_text, shown
from bench.live_raise import INSERT_ACTIVITY
from bench.report import BenchError
from bench.running import json_and_quick, run_benchmark
from runtime.db.pool import init_connection
from runtime.settings import Settings
from runtime.tokens.service import issue_token
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["main"]

_GOAL_P99_MS = {100: 100.0, 1_000: 500.0}
_GOAL_P99_MS_OTHERWISE = 100.0  # quick runs' small phases are held to the 100 ms goal
_REPO = Path(__file__).resolve().parents[1]
_SUBSCRIPTION = """
subscription Live($workspaceId: ID!) {
  activityLogCreated(workspaceId: $workspaceId) { id createdAt }
}
"""
_OPENING_AT_ONCE = 50  # websocket handshakes in flight: a burst of 1,000 overflows backlogs
_WARMUP_TRIES = 60
_WARMUP_WAIT_S = 0.5
_SETTLE_S = 1.0  # after warm-up: the last warm-up events are delivered before measuring
_STALLED_S = 5.0  # after the raiser ends: no new delivery for this long and the rest are lost
_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class Phase:
    subscribers: int
    events: int
    rate_per_s: float


@dataclass(frozen=True)
class Options:
    json: bool
    quick: bool
    phases: tuple[Phase, ...]


def parse_options(argv: Sequence[str] | None) -> Options:
    as_json, quick = json_and_quick(
        "python -m bench.live",
        (
            "p50/p99 from an activity row inserted by another process to each websocket"
            " subscriber of activityLogCreated, with 100 and with 1,000 subscribers."
        ),
        argv,
    )
    if quick:
        return Options(as_json, True, (Phase(10, 40, 20.0), Phase(50, 40, 20.0)))
    # The same deliveries per second in both phases (2,000): what one event costs to fan out
    # to 1,000 is measured, not a server pushed past what its one process can send.
    return Options(as_json, False, (Phase(100, 200, 20.0), Phase(1_000, 20, 2.0)))


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: 0 measured (goals met or not), 1 the run broke."""
    options = parse_options(argv)
    return run_benchmark(
        lambda console, home, stack: _measure(options, console, home, stack),
        as_json=options.json,
        render=_table,
        console=Console(stderr=True),
    )


@dataclass(frozen=True)
class _Tenant:
    workspace_id: UUID
    user_id: UUID
    token: str


async def _measure(
    options: Options, console: Console, home: Path, stack: AsyncExitStack
) -> dict[str, Any]:
    load_before = os.getloadavg()
    open_files = _raise_open_file_limit()
    most = max(phase.subscribers for phase in options.phases)
    if open_files < 2 * most + 200:  # the clients' sockets and, in the server, theirs
        raise BenchError(f"the open-file limit is {open_files}: too low for {most} websockets")
    embedded = Settings().database_url is None
    console.log("starting PostgreSQL and migrating a scratch database")
    dsn = await stack.enter_async_context(scratch_database(home, Settings()))
    tenant = await _tenant(dsn)
    os.environ.update(server_env(dsn, home))  # the uvicorn process inherits it
    console.log("starting the API on uvicorn")
    server = await stack.enter_async_context(uvicorn_server(home))
    server_processes = server.find()["uvicorn"]
    find_postgres = postgres_processes(home) if embedded else list
    ws_url = server.url.replace("http://", "ws://")
    conn = await asyncpg.connect(dsn)
    stack.push_async_callback(conn.close)
    phases = []
    for phase in options.phases:
        console.log(
            f"{phase.subscribers:,} subscribers: {phase.events} events at"
            f" {phase.rate_per_s:g}/s from another process"
        )
        # PostgreSQL's backends as the phase starts (the server's and this process's).
        processes = {"server": server_processes, "postgres": find_postgres()}
        figures = await _run_phase(phase, ws_url, tenant, dsn, home, conn, processes)
        console.log(
            f"  p50 {shown(figures['latency']['p50_ms'])} ms, p99"
            f" {shown(figures['latency']['p99_ms'])} ms, lost {figures['lost']}"
        )
        phases.append(figures)
    return _result(options, phases, open_files, load_before)


def _raise_open_file_limit() -> int:
    """The soft limit on open files raised to the hard one; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


async def _tenant(dsn: str) -> _Tenant:
    conn = await asyncpg.connect(dsn)
    try:
        await init_connection(conn)
        workspace = await WorkspaceRepo(conn).create(WorkspaceCreate(name="bench.live"))
        admin, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email="admin@bench-live.example"), role="admin"
        )
        token = await issue_token(conn, workspace.id, admin.user.id, name="bench.live")
    finally:
        await conn.close()
    return _Tenant(workspace.id, admin.user.id, token.secret)


@dataclass
class _Subscriber:
    """One websocket's messages as read: (``time.time()``, raw text)."""

    messages: list[tuple[float, str]] = field(default_factory=list)
    closed: str | None = None


async def _run_phase(
    phase: Phase,
    ws_url: str,
    tenant: _Tenant,
    dsn: str,
    home: Path,
    conn: asyncpg.Connection,
    processes: Mapping[str, Sequence[psutil.Process]],
) -> dict[str, Any]:
    subscribers = [_Subscriber() for _ in range(phase.subscribers)]
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        opening = asyncio.Semaphore(_OPENING_AT_ONCE)
        started = time.perf_counter()

        async def open_one(subscriber: _Subscriber) -> None:
            async with opening:
                ws = await _subscribed(ws_url, tenant, sockets)
            readers.append(asyncio.create_task(_read(ws, subscriber)))

        try:
            # A task group: one failed handshake stops the others from opening more sockets.
            async with asyncio.TaskGroup() as opening_all:
                for subscriber in subscribers:
                    opening_all.create_task(open_one(subscriber))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        connect_s = time.perf_counter() - started
        await _until_everyone_receives(subscribers, conn, tenant)
        await asyncio.sleep(_SETTLE_S)

        marks = [len(s.messages) for s in subscribers]
        cpu_before = cpu_seconds(processes)
        client_before = time.process_time()
        raise_started = time.perf_counter()
        raised = await _raise_elsewhere(dsn, tenant, phase, home)
        raise_s = time.perf_counter() - raise_started
        await _until_delivered(subscribers, marks, len(raised))
        client_cpu_s = time.process_time() - client_before
        cpu_after = cpu_seconds(processes)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    cpu_s = {role: round(cpu_after[role] - cpu_before[role], 2) for role in cpu_after}
    deliveries = _deliveries(subscribers, raised)
    received = deliveries["deliveries_received"]
    server_cpu_s = cpu_s.get("server")
    return {
        "subscribers": phase.subscribers,
        "events": len(raised),
        "rate_per_s": phase.rate_per_s,
        "connect_s": round(connect_s, 2),
        "raise_s": round(raise_s, 2),
        **deliveries,
        "cpu_s": {"clients": round(client_cpu_s, 2), **cpu_s},
        # What one delivery costs the server whatever else the machine runs: the machine's
        # other load moves the latency, not this.
        "server_cpu_ms_per_delivery": (
            round(server_cpu_s * 1000 / received, 3) if server_cpu_s and received else None
        ),
    }


async def _subscribed(
    ws_url: str, tenant: _Tenant, sockets: list[ClientConnection]
) -> ClientConnection:
    """A websocket past ``connection_ack`` with the subscription sent (kept in ``sockets``
    to be closed)."""
    try:
        ws = await connect(
            ws_url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            open_timeout=30,
            max_queue=None,  # the client reads everything; never push back on the server
        )
        sockets.append(ws)
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": tenant.token}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if ack.get("type") != "connection_ack":
            raise BenchError(f"connection_init was answered {ack}")
        await ws.send(
            json.dumps(
                {
                    "id": "live",
                    "type": "subscribe",
                    "payload": {
                        "query": _SUBSCRIPTION,
                        "variables": {"workspaceId": str(tenant.workspace_id)},
                    },
                }
            )
        )
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise BenchError(f"a subscriber could not connect: {type(exc).__name__}: {exc}") from exc
    return ws


async def _read(ws: ClientConnection, subscriber: _Subscriber) -> None:
    """Every message as it is read, stamped; parsed only after the measurement, so the
    client's own work stays out of the next message's time."""
    try:
        while True:
            raw = await ws.recv()
            subscriber.messages.append((time.time(), str(raw)))
    except ConnectionClosed as exc:
        subscriber.closed = f"{type(exc).__name__}: {exc}"


async def _until_everyone_receives(
    subscribers: Sequence[_Subscriber], conn: asyncpg.Connection, tenant: _Tenant
) -> None:
    """Warm-up rows, from this process, until every subscription is live."""
    for n in range(_WARMUP_TRIES):
        await conn.fetchval(INSERT_ACTIVITY, tenant.workspace_id, tenant.user_id, f"warm-up-{n}")
        await asyncio.sleep(_WARMUP_WAIT_S)
        if all(s.messages for s in subscribers):
            return
        _raise_if_closed(subscribers)
    waiting = sum(1 for s in subscribers if not s.messages)
    raise BenchError(f"{waiting} of {len(subscribers)} subscriptions never received an event")


def _raise_if_closed(subscribers: Sequence[_Subscriber]) -> None:
    closed = [s for s in subscribers if s.closed is not None]
    if closed:
        last = closed[0].messages[-1][1][:300] if closed[0].messages else "no message"
        raise BenchError(
            f"{len(closed)} websocket(s) closed by the server: {closed[0].closed} ({last})"
        )


async def _raise_elsewhere(dsn: str, tenant: _Tenant, phase: Phase, home: Path) -> list[str]:
    """``bench.live_raise`` in a process of its own; the ids of the rows it inserted."""
    path = os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.live_raise", dsn),
        *(str(tenant.workspace_id), str(tenant.user_id)),
        *("--events", str(phase.events), "--rate", str(phase.rate_per_s)),
        env={**os.environ, "PYTHONPATH": path},
        cwd=home,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        timeout_s = phase.events / phase.rate_per_s + 60
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise BenchError(f"bench.live_raise failed:\n{err.decode(errors='replace')[-3000:]}")
    ids: list[str] = json.loads(out)
    return ids


async def _until_delivered(
    subscribers: Sequence[_Subscriber], marks: Sequence[int], events: int
) -> None:
    """Until every subscriber has read ``events`` messages since its mark, or nothing new
    has arrived for ``_STALLED_S`` (what is missing then is lost)."""
    last_total, last_change = -1, time.monotonic()
    while True:
        counts = [len(s.messages) - mark for s, mark in zip(subscribers, marks, strict=True)]
        if all(count >= events for count in counts):
            return
        total = sum(counts)
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > _STALLED_S:
            return
        await asyncio.sleep(0.05)


def _deliveries(subscribers: Sequence[_Subscriber], raised: Sequence[str]) -> dict[str, Any]:
    """Latency over every (event, subscriber) pair; what was lost, repeated or refused."""
    wanted = set(raised)
    latencies: list[float] = []
    received = duplicates = 0
    errors: list[str] = []
    for subscriber in subscribers:
        seen: set[str] = set()
        for received_at, raw in subscriber.messages:
            message = json.loads(raw)
            payload = message.get("payload") or {}
            if message.get("type") != "next" or payload.get("errors"):
                errors.append(raw[:300])
                continue
            row = payload["data"]["activityLogCreated"]
            if row["id"] not in wanted:
                continue  # a warm-up event
            if row["id"] in seen:
                duplicates += 1
                continue
            seen.add(row["id"])
            received += 1
            raised_at = datetime.fromisoformat(row["createdAt"]).timestamp()
            latencies.append((received_at - raised_at) * 1000)
        if subscriber.closed is not None:
            errors.append(f"closed: {subscriber.closed}")
    expected = len(wanted) * len(subscribers)
    return {
        "deliveries_expected": expected,
        "deliveries_received": received,
        "lost": expected - received,
        "duplicates": duplicates,
        "failures": len(errors),
        "first_failures": errors[:_ERRORS_SHOWN],
        "latency": latency_figures(latencies),
    }


def _result(
    options: Options,
    phases: Sequence[dict[str, Any]],
    open_files: int,
    load_before: tuple[float, float, float],
) -> dict[str, Any]:
    errors = []
    for phase in phases:
        name = f"{phase['subscribers']} subscribers"
        if phase["lost"]:
            errors.append(
                f"{name}: {phase['lost']} of {phase['deliveries_expected']} deliveries lost"
                " (the measurement is not valid)"
            )
        if phase["duplicates"]:
            errors.append(f"{name}: {phase['duplicates']} deliveries repeated")
        if phase["failures"]:
            errors.append(
                f"{name}: {phase['failures']} failures (first: {phase['first_failures'][0]})"
            )
    goals = {}
    for phase in phases:
        target = _GOAL_P99_MS.get(phase["subscribers"], _GOAL_P99_MS_OTHERWISE)
        goals[f"p99_ms_at_{phase['subscribers']}"] = at_most(phase["latency"]["p99_ms"], target)
    return {
        "mode": "quick" if options.quick else "full",
        "cpus": os.cpu_count(),
        "open_file_limit": open_files,
        "server": "uvicorn",
        "load_average": {
            "before": [round(v, 2) for v in load_before],
            "after": [round(v, 2) for v in os.getloadavg()],
        },
        "phases": list(phases),
        "goals": goals,
        "errors": errors,
    }


def _table(result: Mapping[str, Any]) -> Table:
    table = Table(
        title=(
            f"bench.live ({result['mode']}, activityLogCreated over websockets,"
            f" open-file limit {result['open_file_limit']:,})"
        )
    )
    for column in ("figure", "value", "goal"):
        table.add_column(column)
    goals = result["goals"]
    for phase in result["phases"]:
        n = phase["subscribers"]
        latency = phase["latency"]
        table.add_row(
            f"{n:,} subscribers: p50 / p99 (ms)",
            f"{shown(latency['p50_ms'])} / {shown(latency['p99_ms'])}",
            goal_text(goals, f"p99_ms_at_{n}"),
        )
        table.add_row(
            "  max / mean (ms)", f"{shown(latency['max_ms'])} / {shown(latency['mean_ms'])}", ""
        )
        table.add_row(
            "  events (rate/s) / deliveries / lost",
            f"{phase['events']} ({phase['rate_per_s']:g}) /"
            f" {phase['deliveries_received']:,} / {phase['lost']:,}",
            "",
        )
        cpu = phase["cpu_s"]
        table.add_row(
            "  CPU s: server / clients / PostgreSQL",
            f"{shown(cpu.get('server'))} / {shown(cpu['clients'])} / {shown(cpu.get('postgres'))}",
            "",
        )
        table.add_row(
            "  server CPU per delivery (ms)", shown(phase["server_cpu_ms_per_delivery"]), ""
        )
        table.add_row("  connecting (s)", shown(phase["connect_s"]), "")
    before, after = result["load_average"]["before"], result["load_average"]["after"]
    table.add_row("load average before / after", f"{before[0]} / {after[0]}", "")
    return table


if __name__ == "__main__":
    sys.exit(main())
