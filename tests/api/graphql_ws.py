"""A graphql-transport-ws client over a real websocket (the ``websockets`` package), for
the subscription tests and the authorization matrix.

NOTIFY reaches only listeners already listening, and a client cannot see when its
subscription starts listening: ``until_live`` raises events until the first arrives; after
that, every event is expected, in commit order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

__all__ = [
    "close_code",
    "error_codes_of",
    "receive",
    "send",
    "session",
    "socket",
    "subscribe",
    "until_live",
]


@asynccontextmanager
async def socket(api_url: str) -> AsyncIterator[ClientConnection]:
    """A websocket to ``/graphql`` speaking graphql-transport-ws, before ``connection_init``."""
    async with connect(
        api_url.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        open_timeout=10,
    ) as ws:
        yield ws


@asynccontextmanager
async def session(api_url: str, token: str) -> AsyncIterator[ClientConnection]:
    """A socket past ``connection_init`` (with ``token``) and ``connection_ack``."""
    async with socket(api_url) as ws:
        await send(ws, {"type": "connection_init", "payload": {"token": token}})
        assert (await receive(ws))["type"] == "connection_ack"
        yield ws


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection, timeout_s: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
    return message


async def subscribe(ws: ClientConnection, op: str, query: str, variables: dict[str, Any]) -> None:
    await send(
        ws, {"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )


async def close_code(ws: ClientConnection) -> int | None:
    """The code the server closes the socket with (the next receive must fail)."""
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def until_live(
    ws: ClientConnection, raise_event: Callable[[], Awaitable[UUID]]
) -> tuple[dict[str, Any], list[UUID]]:
    """Raise events until one arrives; the message and the ids raised."""
    raised = []
    for _ in range(40):
        raised.append(await raise_event())
        try:
            return await receive(ws, timeout_s=0.5), raised
        except TimeoutError:
            continue
    raise AssertionError("the subscription never received an event")


def error_codes_of(message: dict[str, Any]) -> list[str]:
    """The codes of an operation's errors (a ``next`` with errors, or an ``error``)."""
    assert message["type"] in ("next", "error"), message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    return [error["extensions"]["code"] for error in errors]
