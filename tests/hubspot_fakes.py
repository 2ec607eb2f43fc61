"""A HubSpot played by ``httpx.MockTransport``, for unit tests of the client's requests.

Behaviour against a full HubSpot is proven with the emulator (tests/integration).
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from runtime.clock import FakeClock
from runtime.crm.hubspot import HubSpotClient, PrivateAppToken, RetryPolicy

__all__ = ["BASE", "TOKEN", "Handler", "Recorder", "connect", "record"]

BASE = "https://hubspot.test"
TOKEN = "pat-na1-0000-secret"
Handler = Callable[[httpx.Request], httpx.Response]


def record(record_id: str, **properties: str | None) -> dict[str, Any]:
    return {
        "id": record_id,
        "properties": {"hs_object_id": record_id, **properties},
        "createdAt": "2026-01-02T03:04:05.678Z",
        "updatedAt": "2026-01-03T00:00:00Z",
        "archived": False,
    }


class Recorder:
    """A HubSpot stand-in: records every request, answers through ``answer``."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., HubSpotClient]]:
    opened: list[httpx.AsyncClient] = []

    def make(handler: Handler, **options: Any) -> HubSpotClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        opened.append(http)
        options.setdefault("clock", FakeClock())
        options.setdefault("retry", RetryPolicy(rng=random.Random(1)))
        return HubSpotClient(PrivateAppToken(TOKEN), base_url=BASE, http=http, **options)

    yield make
    for http in opened:
        await http.aclose()
