"""The HubSpot emulator over real HTTP on loopback, with every API call it answers counted.

``serve_emulator`` runs ``create_app`` with uvicorn in a thread of this process (as the tests
do) behind ``CountingApp``, an ASGI wrapper that notes each call: which app's token made it,
the status, how many inputs a batch body held, and when it arrived and was answered. That
log is the benchmark's server-side truth for write requests, records per request and 429s;
the emulator itself logs only applied writes, not the requests that carried them.

The wrapper hides uvicorn's transport from the emulator's fault injection, which needs it to
drop connections; the benchmark injects no faults.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.crm.hubspot.emulator import EmulatorApp, EmulatorConfig, create_app
from runtime.crm.snapshot import CrmSnapshot, SnapshotRecord

__all__ = [
    "CountedRequest",
    "CountingApp",
    "RequestKind",
    "RunningEmulator",
    "deal_id",
    "deal_snapshot",
    "serve_emulator",
]

RequestKind = Literal["batch_update", "update", "other"]
_FIRST_DEAL_ID = 100_001
_SEEDED_AMOUNT = "1000"


@dataclass(frozen=True, slots=True)
class CountedRequest:
    """One API call as the emulator answered it; times are ``time.monotonic()`` seconds."""

    app: str
    """The label of the token that made it (``writer``, ``sdk``), else ``other``."""
    kind: RequestKind
    status: int
    inputs: int
    """Inputs in a batch body; 1 for a single-record call."""
    started_s: float
    ended_s: float


class CountingApp:
    """Wraps an ASGI app and notes every ``/crm/`` call it answers (thread-safe reads)."""

    def __init__(self, app: ASGIApp, *, labels: Mapping[str, str]) -> None:
        """Args:
        app: the emulator.
        labels: token to the label its calls are counted under.
        """
        self._app = app
        self._labels = dict(labels)
        self._requests: list[CountedRequest] = []
        self._lock = threading.Lock()

    def requests(self, app: str | None = None) -> list[CountedRequest]:
        """The calls so far, oldest first; only ``app``'s when given."""
        with self._lock:
            requests = list(self._requests)
        return [r for r in requests if app is None or r.app == app]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/crm/"):
            await self._app(scope, receive, send)
            return
        started_s = time.monotonic()
        body: list[bytes] = []
        status = 0

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receiving, sending)
        finally:
            kind = _kind(str(scope["method"]), str(scope["path"]))
            call = CountedRequest(
                app=self._labels.get(_token(scope), "other"),
                kind=kind,
                status=status,
                inputs=_inputs(kind, b"".join(body)),
                started_s=started_s,
                ended_s=time.monotonic(),
            )
            with self._lock:
                self._requests.append(call)


@dataclass
class RunningEmulator:
    url: str
    app: EmulatorApp
    counter: CountingApp


@contextmanager
def serve_emulator(
    config: EmulatorConfig,
    *,
    snapshot: CrmSnapshot,
    labels: Mapping[str, str],
    startup_timeout_s: float = 30.0,
) -> Iterator[RunningEmulator]:
    """The emulator on a free port of 127.0.0.1 until the block ends (then stopped)."""
    app = create_app(config, snapshot=snapshot)
    counter = CountingApp(app, labels=labels)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(counter, log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="hubspot-emulator", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HubSpot emulator did not start")
            time.sleep(0.01)
        yield RunningEmulator(url=f"http://127.0.0.1:{port}", app=app, counter=counter)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def deal_id(index: int) -> str:
    """The id of the ``index``-th seeded deal (0-based)."""
    return str(_FIRST_DEAL_ID + index)


def deal_snapshot(deals: int) -> CrmSnapshot:
    """A CRM holding ``deals`` open deals in HubSpot's default pipeline."""
    return CrmSnapshot(
        deals=[
            SnapshotRecord(
                id=deal_id(i),
                properties={
                    "dealname": f"Benchmark deal {i}",
                    "pipeline": "default",
                    "dealstage": "appointmentscheduled",
                    "amount": _SEEDED_AMOUNT,
                },
            )
            for i in range(deals)
        ]
    )


def _kind(method: str, path: str) -> RequestKind:
    if method == "POST" and path.endswith("/batch/update"):
        return "batch_update"
    if method == "PATCH":
        return "update"
    return "other"


def _inputs(kind: RequestKind, body: bytes) -> int:
    if kind == "update":
        return 1
    if kind != "batch_update":
        return 0
    try:
        inputs = json.loads(body or b"{}").get("inputs")
    except (ValueError, AttributeError):
        return 0
    return len(inputs) if isinstance(inputs, list) else 0


def _token(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""
