"""The HTTP app's health check, served in-process (no Ray)."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from runtime.settings import Settings
from serve_app import build_http_app


async def _get_health(dsn: str) -> httpx.Response:
    http = build_http_app(Settings(database_url=SecretStr(dsn), _env_file=None))
    async with http.router.lifespan_context(http):
        transport = httpx.ASGITransport(app=http)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/healthz")


async def test_healthy_when_the_database_is_migrated(database_dsn: str) -> None:
    response = await _get_health(database_dsn)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["migrations_pending"] == []


async def test_unhealthy_while_migrations_are_pending(empty_database_dsn: str) -> None:
    response = await _get_health(empty_database_dsn)
    assert response.status_code == 503
    assert response.json()["status"] == "needs_migration"
    assert "0001_create_workspaces.sql" in response.json()["migrations_pending"]
