"""bench.api over HTTP: the API on Ray Serve and on plain uvicorn, and the clients' load.

Both servers run the product's app (``serve_app.build_http_app``) with the same settings,
which this process's environment carries (``server_env``), as ``crm-agents serve``'s does:
the scratch database, and a rate limit so high it never answers 429 (the load is a few
tokens asking as fast as they can; the limiter's own cost per request stays in).

- uvicorn: ``python -m bench.api_uvicorn`` in a process of its own, uvicorn's defaults
  (uvloop, httptools), no access log: one server process, as Serve's one replica.
- Serve: ``serve_app.ServeHost``, exactly as ``crm-agents serve`` starts it (one replica; on
  a Ray it starts itself, Serve's direct ingress: the replica listens on the API's port,
  no proxy in the path; ``RAY_SERVE_ENABLE_DIRECT_INGRESS=0`` keeps the proxy). Not on
  ``bench.cluster.local_ray``: ``ServeHost`` chooses direct ingress only on a Ray it starts
  itself (its processes must inherit the setting). Ray's session files go to the scratch
  home all the same (``RAY_TMPDIR``).

``drive`` is the load: ``concurrency`` clients in this process (one ``httpx.AsyncClient``,
a keep-alive connection each), each sending the next call of the mix as soon as its last
one is answered, for a warm-up and then ``duration_s``. A request counts as failed unless
it is answered 200 without GraphQL errors. CPU seconds are read per process over the
measured window (this process: the clients; the server's processes; PostgreSQL's when it
is the embedded one) to show where the time went.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.api_queries import Call, latency_figures
from bench.report import BenchError
from runtime.settings import Settings

__all__ = [
    "LOOPBACK",
    "ServerProcesses",
    "cpu_seconds",
    "drive",
    "free_port",
    "postgres_processes",
    "serve_on_ray",
    "server_env",
    "uvicorn_server",
]

LOOPBACK = "127.0.0.1"
_REPO = Path(__file__).resolve().parents[1]
_RATE_UNLIMITED = 1_000_000_000
_READY_TIMEOUT_S = 120.0
_FAILURE_SHOWN = 300  # characters of a failed answer kept for the report


def server_env(dsn: str, home: Path) -> dict[str, str]:
    """The servers' settings as environment variables."""
    return {
        "DATABASE_URL": dsn,
        "CRM_AGENTS_HOME": str(home),
        "CRM_AGENTS_LOG_LEVEL": "WARNING",
        "CRM_AGENTS_API__HOST": LOOPBACK,
        "CRM_AGENTS_API__REPLICAS": "1",
        "CRM_AGENTS_API__RATE_LIMIT_PER_S": str(_RATE_UNLIMITED),
        "CRM_AGENTS_API__RATE_LIMIT_BURST": str(_RATE_UNLIMITED),
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class ServerProcesses:
    """How to find the server's processes when a measurement starts, by role."""

    url: str
    find: Callable[[], dict[str, list[psutil.Process]]]
    ingress: str | None = None  # Serve only: how requests reach it (serve_app.Ingress)


@asynccontextmanager
async def uvicorn_server(home: Path) -> AsyncIterator[ServerProcesses]:
    """The app on uvicorn in a process of its own until the block ends (then stopped)."""
    port = free_port()
    path = os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    log_path = home / "uvicorn.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench.api_uvicorn", "--host", LOOPBACK, "--port", str(port)),
            env=env,
            cwd=home,  # away from any .env of the working directory
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://{LOOPBACK}:{port}"

            def log_tail() -> str:
                return log_path.read_text(errors="replace")[-3000:]

            await _until_ready(
                base, ended=lambda: process.returncode is not None, log_tail=log_tail
            )
            server = psutil.Process(process.pid)
            yield ServerProcesses(f"{base}/graphql", lambda: {"uvicorn": [server]})
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(asyncio.shield(process.wait()), timeout=15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@asynccontextmanager
async def serve_on_ray(
    home: Path, *, on_ray_started: Callable[[], None]
) -> AsyncIterator[ServerProcesses]:
    """The app on Ray Serve as ``crm-agents serve`` deploys it, until the block ends (then
    Serve and Ray are stopped). ``on_ray_started`` runs between Ray's start and the deploy
    (Ray installs signal handlers of its own)."""
    from serve_app import ServeHost

    os.environ["RAY_TMPDIR"] = str(home)  # Ray's session files: <home>/ray
    settings = Settings()
    api = settings.api.model_copy(update={"host": LOOPBACK, "port": free_port()})
    host = ServeHost(settings.model_copy(update={"api": api}))
    try:
        host.start_ray()
        on_ray_started()
        host.deploy()
        await _until_ready(
            host.url.removesuffix("/graphql"), ended=lambda: False, log_tail=lambda: ""
        )
        yield ServerProcesses(host.url, _ray_processes, ingress=host.ingress)
    finally:
        host.stop()


def _ray_processes() -> dict[str, list[psutil.Process]]:
    """This process's descendants (Ray's), by role: Serve's replica, proxy and controller,
    and the rest of Ray (raylet, GCS, idle workers)."""
    roles: dict[str, list[psutil.Process]] = {}
    for process in psutil.Process().children(recursive=True):
        try:
            line = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if "ServeReplica" in line:
            role = "serve_replica"
        elif "ProxyActor" in line:
            role = "serve_proxy"
        elif "ServeController" in line:
            role = "serve_controller"
        elif "postgres" in line or "pg_ctl" in line:
            continue  # the embedded PostgreSQL is counted as itself
        else:
            role = "ray_other"
        roles.setdefault(role, []).append(process)
    return roles


async def _until_ready(
    base: str, *, ended: Callable[[], bool], log_tail: Callable[[], str]
) -> None:
    """Until ``base``/healthz answers 200. The server's end or a timeout breaks the run
    (with the end of the server's log)."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    last = "no answer"
    async with httpx.AsyncClient(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if ended():
                raise BenchError(f"the server at {base} ended before it answered:\n{log_tail()}")
            try:
                answer = await client.get(f"{base}/healthz")
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.HTTPError as exc:
                last = str(exc) or type(exc).__name__
            await asyncio.sleep(0.2)
    raise BenchError(f"the server at {base} did not answer /healthz in time: {last}\n{log_tail()}")


async def drive(
    server: ServerProcesses,
    calls: Sequence[Call],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    postgres: Callable[[], list[psutil.Process]],
) -> dict[str, Any]:
    """The load (see the module docstring): requests per second, latency, failures, CPU."""
    bodies = [json.dumps({"query": c.query, "variables": c.variables}).encode() for c in calls]
    headers = [
        {"Authorization": f"Bearer {c.member.token}", "Content-Type": "application/json"}
        for c in calls
    ]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        next_call = itertools.count()

        async def clients(seconds: float, answered: _Answers) -> float:
            started = time.perf_counter()
            deadline = started + seconds

            async def one_client() -> None:
                while time.perf_counter() < deadline:
                    index = next(next_call) % len(calls)
                    sent = time.perf_counter()
                    try:
                        response = await client.post(
                            server.url, content=bodies[index], headers=headers[index]
                        )
                    except httpx.HTTPError as exc:  # refused, reset, timed out: a failure
                        answered.failure(f"{type(exc).__name__}: {exc}")
                        continue
                    answered.note(response, (time.perf_counter() - sent) * 1000)

            await asyncio.gather(*(one_client() for _ in range(concurrency)))
            return time.perf_counter() - started

        await clients(warmup_s, _Answers())
        server_processes = server.find()
        server_roles = set(server_processes)
        processes = {**server_processes, "postgres": postgres()}
        cpu_before = cpu_seconds(processes)
        client_before = time.process_time()
        answered = _Answers()
        elapsed_s = await clients(duration_s, answered)
        client_cpu_s = time.process_time() - client_before
        cpu_after = cpu_seconds(processes)
    served = answered.count - answered.failed
    used = {role: cpu_after[role] - cpu_before[role] for role in cpu_before if role in cpu_after}
    server_cpu_s = sum(seconds for role, seconds in used.items() if role in server_roles)
    return {
        "requests": answered.count,
        "failed": answered.failed,
        "first_failure": answered.first_failure,
        "elapsed_s": round(elapsed_s, 2),
        "requests_per_s": round(served / elapsed_s, 1) if elapsed_s > 0 else None,
        "latency": latency_figures(answered.latencies_ms),
        # What a request costs the server's processes, whatever share of the cores they got.
        "server_cpu_ms_per_request": round(server_cpu_s * 1000 / served, 2) if served else None,
        "cpu_s": {
            "clients": round(client_cpu_s, 2),
            **{role: round(seconds, 2) for role, seconds in used.items()},
        },
    }


class _Answers:
    def __init__(self) -> None:
        self.count = 0
        self.failed = 0
        self.first_failure: str | None = None
        self.latencies_ms: list[float] = []

    def note(self, response: httpx.Response, elapsed_ms: float) -> None:
        self.count += 1
        self.latencies_ms.append(elapsed_ms)
        if response.status_code != 200 or b'"errors"' in response.content:
            self.failed += 1
            self._first(f"{response.status_code} {response.text}")

    def failure(self, reason: str) -> None:
        """A request that got no answer."""
        self.count += 1
        self.failed += 1
        self._first(reason)

    def _first(self, reason: str) -> None:
        if self.first_failure is None:
            self.first_failure = reason[:_FAILURE_SHOWN]


def cpu_seconds(processes: Mapping[str, Sequence[psutil.Process]]) -> dict[str, float]:
    """User and system CPU seconds so far per role; roles with no live process are left
    out."""
    found: dict[str, float] = {}
    for role, members in processes.items():
        total, alive = 0.0, False
        for process in members:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
            alive = True
        if alive:
            found[role] = total
    return found


def postgres_processes(home: Path) -> Callable[[], list[psutil.Process]]:
    """The embedded server's processes (its postmaster names the data directory in ``home``,
    its backends are the postmaster's children); none for an external server."""

    def find() -> list[psutil.Process]:
        marker = str(home / "pgdata")
        for process in psutil.process_iter(["cmdline"]):
            line = " ".join(process.info["cmdline"] or [])
            if marker in line and "postgres" in line and "pg_ctl" not in line:
                try:
                    return [process, *process.children(recursive=True)]
                except psutil.Error:
                    return []
        return []

    return find
