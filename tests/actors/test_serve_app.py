"""The Serve application answers over real HTTP from a Ray Serve replica."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from runtime.settings import Settings
from serve_app import build_serve_app

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_health_through_ray_serve(ray_cluster: Any, database_dsn: str) -> None:
    from ray import serve

    settings = Settings(database_url=SecretStr(database_dsn), _env_file=None)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_serve_app(settings), name="health-test", route_prefix="/")
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ok"
    finally:
        serve.delete("health-test")
