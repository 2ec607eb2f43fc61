"""Composition root: settings, the database pool, and the HTTP app that Ray Serve hosts.

``build_http_app`` is a plain ASGI (FastAPI) app; ``build_serve_app`` wraps it in a Serve
deployment. Today it answers health checks; the GraphQL API, Slack and OAuth callbacks and
push subscriptions join it as they are built. Run it with ``serve run serve_app:app``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from runtime.db.connect import server_dsn
from runtime.db.migrate import discover, migration_status
from runtime.db.pool import create_pool
from runtime.settings import Settings

__all__ = ["app", "build_http_app", "build_serve_app"]


def build_http_app(settings: Settings) -> FastAPI:
    """The product's HTTP surface, with its database pool opened for its lifetime."""

    @asynccontextmanager
    async def lifespan(http: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            # Starting the embedded server blocks for up to a second: keep it off the loop.
            dsn = await asyncio.to_thread(stack.enter_context, server_dsn(settings))
            http.state.pool = await create_pool(dsn, settings.db)
            try:
                yield
            finally:
                await http.state.pool.close()

    http = FastAPI(title="crm-agents", lifespan=lifespan)

    @http.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the database answers and is fully migrated, else 503 with the reason."""
        pool: asyncpg.Pool = http.state.pool
        try:
            async with pool.acquire() as conn:
                status = await migration_status(conn, discover())
        except (OSError, asyncpg.PostgresError) as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)}, 503)
        body: dict[str, Any] = {
            "status": "ok" if not status.pending else "needs_migration",
            "migrations_applied": len(status.applied),
            "migrations_pending": [m.file_name for m in status.pending],
        }
        return JSONResponse(body, 200 if not status.pending else 503)

    return http


def build_serve_app(settings: Settings) -> Any:
    """The Serve application: one ingress deployment around ``build_http_app``."""
    from ray import serve

    class HttpIngress:
        """Serve replica hosting the HTTP app (built inside the replica, not the driver)."""

    # Serve needs a builder, not an app object: an app built in the driver and pickled
    # answers 422 to every query (runtime notes).
    ingress = serve.ingress(lambda: build_http_app(settings))(HttpIngress)
    deployment = serve.deployment(name="http", max_ongoing_requests=100)(ingress)
    return deployment.bind()


def app(args: dict[str, str]) -> Any:
    """Application builder for ``serve run serve_app:app`` (settings from the environment)."""
    return build_serve_app(Settings())
