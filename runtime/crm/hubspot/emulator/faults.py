"""Failures on purpose: seeded fault draws, the hold switch, and dropped connections.

Dropping a connection means no HTTP answer at all. An ASGI app cannot say that: uvicorn
answers 500 when an app returns without starting a response. So ``serve_with_drops`` runs
the app, swallows the answer of a call marked for dropping and closes the socket through
uvicorn's transport (reachable from its ``send``), which clients see as the server
disconnecting without a response (httpx: ``RemoteProtocolError``). Under another server it
falls back to starting an answer and never finishing it, which servers abort.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.crm.hubspot.emulator.config import FaultShares

__all__ = ["FaultDraw", "FaultInjector", "HoldSwitch", "mark_for_dropping", "serve_with_drops"]

FaultKind = Literal["rate_limited", "server_error", "dropped"]
_DROP_KEY = "crm_agents.emulator.drop"


@dataclass(frozen=True)
class FaultDraw:
    """What goes wrong with one call: at most one kind, plus optional extra delay."""

    kind: FaultKind | None = None
    extra_delay_s: float = 0.0
    server_status: int = 503


class FaultInjector:
    """Draws faults from a seeded generator; shares can change while the emulator runs."""

    def __init__(self, shares: FaultShares, rng: random.Random) -> None:
        self.shares = shares
        self._rng = rng

    def draw(self) -> FaultDraw:
        shares = self.shares
        if not shares.any:
            # No draw at all, so that enabling faults later sees the same seeded sequence.
            return FaultDraw()
        roll = self._rng.random()
        kind: FaultKind | None = None
        if roll < shares.rate_limited:
            kind = "rate_limited"
        elif roll < shares.rate_limited + shares.server_error:
            kind = "server_error"
        elif roll < shares.rate_limited + shares.server_error + shares.dropped:
            kind = "dropped"
        extra_delay_s = 0.0
        if shares.slow and self._rng.random() < shares.slow:
            low_ms, high_ms = shares.slow_extra_ms
            extra_delay_s = self._rng.uniform(low_ms, high_ms) / 1000
        status = self._rng.choice((502, 503)) if kind == "server_error" else 503
        return FaultDraw(kind=kind, extra_delay_s=extra_delay_s, server_status=status)


class HoldSwitch:
    """While on, write answers wait (the writes are applied) until it is switched off."""

    def __init__(self) -> None:
        self.on = False
        self._waiting: list[asyncio.Future[None]] = []

    @property
    def held(self) -> int:
        return sum(1 for future in self._waiting if not future.done())

    def set(self, on: bool) -> None:
        self.on = on
        if not on:
            for future in self._waiting:
                if not future.done():
                    future.set_result(None)
            self._waiting.clear()

    async def wait(self) -> None:
        if not self.on:
            return
        # A future per waiter binds to the running loop, whichever loop serves the app.
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            await future
        finally:
            if future in self._waiting:
                self._waiting.remove(future)


def mark_for_dropping(scope: Scope) -> None:
    """Ask ``serve_with_drops`` to close this call's connection instead of answering."""
    scope[_DROP_KEY] = True


async def serve_with_drops(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app``; if it marked the call for dropping, close the connection unanswered.

    Must get the server's own ``send``: middleware that wraps ``send`` hides the transport.
    """
    if scope["type"] != "http":
        await app(scope, receive, send)
        return

    body_read = False

    async def tracked_receive() -> Message:
        nonlocal body_read
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            body_read = True
        return message

    async def guarded_send(message: Message) -> None:
        if not scope.get(_DROP_KEY):
            await send(message)

    await app(scope, tracked_receive, guarded_send)
    if scope.get(_DROP_KEY):
        # Closing with request bytes unread (or still arriving) makes the kernel send a
        # reset instead of a clean close; read them first so the client sees a disconnect.
        while not body_read:
            await tracked_receive()
        await _close_connection(send)


async def _close_connection(send: Send) -> None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    # Duck-typed: uvloop's transports are not asyncio.BaseTransport subclasses.
    close = getattr(transport, "close", None)
    if callable(close):
        close()
        # Let the server notice the lost connection before the app returns, or it would
        # try to answer 500 on it.
        await asyncio.sleep(0)
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
    )
