"""Run the HubSpot emulator over real HTTP on loopback, timed by a FakeClock, for tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runtime.clock import FakeClock
from runtime.crm.hubspot.emulator import EmulatorApp, EmulatorConfig, LatencyConfig, create_app
from runtime.crm.snapshot import CrmSnapshot, load_snapshot
from tests.http_server import serve_asgi

TEST_SNAPSHOT = Path(__file__).parent / "data" / "crm.json"
TOKEN = "pat-na1-00000000-test"
NO_LATENCY = LatencyConfig(scale=0.0)


@dataclass
class RunningEmulator:
    url: str
    clock: FakeClock
    app: EmulatorApp

    def client(self, token: str | None = TOKEN, **kwargs: Any) -> httpx.Client:
        """An httpx client on the emulator, authenticated with ``token`` unless None."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, **kwargs)

    def write_log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = httpx.get(f"{self.url}/_emulator/write-log").json()[
            "results"
        ]
        return entries

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/_emulator/{path}", json=body)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@contextmanager
def running_emulator(
    config: EmulatorConfig | None = None,
    *,
    snapshot: CrmSnapshot | None = None,
    empty: bool = False,
    clock: FakeClock | None = None,
) -> Iterator[RunningEmulator]:
    """An emulator with ``tests/data/crm.json`` (unless ``empty``), answering at once."""
    config = config or EmulatorConfig(latency=NO_LATENCY)
    if snapshot is None and not empty:
        snapshot = load_snapshot(TEST_SNAPSHOT)
    clock = clock or FakeClock()
    app = create_app(config, snapshot=snapshot, clock=clock)
    with serve_asgi(app) as url:
        yield RunningEmulator(url=url, clock=clock, app=app)
