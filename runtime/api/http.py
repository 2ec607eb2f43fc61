"""The ASGI app: GraphQL over HTTP and graphql-transport-ws at ``/graphql`` (GraphiQL in a
browser), the signed meeting webhook at ``/webhooks/meetings`` (``runtime.api.webhooks``),
HubSpot's OAuth callback at ``/oauth/hubspot/callback`` (``runtime.api.oauth_callback``),
and ``/healthz``.

``serve_app.py`` hosts it on Ray Serve; ``bench.api`` also runs it on plain uvicorn. It is
built by a function, inside the process that serves it (Serve pickles builders, not apps).

HTTP conventions (GraphQL over HTTP): queries by GET or POST, mutations by POST only (405
otherwise); a document that does not parse is 400; a bad bearer token 401 with
``WWW-Authenticate``; too many requests 429 with ``Retry-After``. Errors of an executed
operation come back with status 200 and ``extensions.code`` (``runtime.api.errors``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from cross_web import HTTPException
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from graphql import GraphQLError, parse
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from runtime.api.auth import Authenticator, BadTokenError, bearer_token
from runtime.api.context import ApiContext, Services
from runtime.api.errors import ErrorCode
from runtime.api.events_hub import EventHub
from runtime.api.fanout import SHARED_PAYLOADS, SharedFramesHandler, SharedPayloads
from runtime.api.gc_tuning import freeze_startup_objects, unfreeze
from runtime.api.oauth_callback import oauth_callback_router
from runtime.api.ratelimit import RateLimiter, retry_after_header
from runtime.api.schema import build_schema
from runtime.api.types.subscriptions import event_loaders
from runtime.api.webhooks import meeting_webhook_router
from runtime.clock import SystemClock
from runtime.db.connect import server_dsn
from runtime.db.migrate import discover, migration_status
from runtime.db.pool import create_pool
from runtime.settings import Settings

__all__ = ["ApiHttpError", "build_api_app"]

PoolOpener = Callable[[], Awaitable[tuple[asyncpg.Pool, Callable[[], Awaitable[None]]]]]


class ApiHttpError(Exception):
    """A request refused before any GraphQL runs (bad token, rate limit)."""

    def __init__(
        self, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


class _Router(GraphQLRouter[ApiContext, None]):
    """Strawberry's router with the token check of websockets (``connection_init``)."""

    # An event shared by many sockets is executed and encoded once (``runtime.api.fanout``).
    graphql_transport_ws_handler_class = SharedFramesHandler[ApiContext, None]

    async def on_ws_connect(self, context: ApiContext) -> Any:
        authenticator: Authenticator = context.services.extras["authenticator"]
        try:
            context.principal_or_none = await authenticator.from_connection_params(
                context.connection_params
            )
        except BadTokenError as exc:
            raise ConnectionRejectionError({"reason": str(exc)}) from exc
        if context.principal_or_none is None:
            raise ConnectionRejectionError({"reason": "connection_init payload needs a token"})
        return None

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: ApiContext,
        root_value: None,
        request_data: Any,
    ) -> ExecutionResult:
        """Strawberry's, with the status codes of GraphQL over HTTP: 405 (and ``Allow``) for
        a mutation by GET, where strawberry says 400; 400 for a document that does not parse,
        where strawberry says 200."""
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise ApiHttpError(
                    405,
                    ErrorCode.GRAPHQL_VALIDATION_FAILED,
                    exc.reason,
                    {"Allow": "POST" if request_adapter.method == "GET" else "GET, POST"},
                ) from exc
            raise
        if result.data is None and result.errors and _unparsable(request_data.query):
            sub_response.status_code = 400
        return result


def build_api_app(settings: Settings, *, open_pool: PoolOpener | None = None) -> FastAPI:
    """The app; its database pool opens with the app's lifespan.

    Args:
        settings: the product's settings (``api`` limits, ``db`` pool).
        open_pool: how to get a pool and its closer; default: the settings' database
            (embedded server or ``DATABASE_URL``).
    """
    state: dict[str, Any] = {}
    clock = SystemClock()

    @asynccontextmanager
    async def lifespan(http: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if open_pool is None:
                # Starting the embedded server blocks for up to a second: keep it off the loop.
                dsn = await asyncio.to_thread(stack.enter_context, server_dsn(settings))
                pool = await create_pool(dsn, settings.db)
                stack.push_async_callback(pool.close)
            else:
                pool, close = await open_pool()
                stack.push_async_callback(close)
            services = Services(pool=pool, settings=settings, clock=clock)
            stack.push_async_callback(services.aclose)
            services.extras["authenticator"] = Authenticator(
                pool, clock, cache_s=settings.api.auth_cache_s
            )
            # Subscriptions' events: one LISTEN connection, taken on the first subscription.
            hub = EventHub(pool.acquire, loaders=event_loaders(pool))
            services.extras["events"] = hub
            services.extras[SHARED_PAYLOADS] = SharedPayloads()
            stack.push_async_callback(hub.close)
            state["services"] = services
            state["limiter"] = RateLimiter(
                settings.api.rate_limit_per_s, settings.api.rate_limit_burst, now=time.monotonic
            )
            # Built and connected: keep the garbage collector off what lives as long as the
            # app (``runtime.api.gc_tuning``).
            freeze_startup_objects()
            stack.callback(unfreeze)
            yield

    async def context(connection: HTTPConnection) -> ApiContext:
        services: Services = state["services"]
        if connection.scope["type"] == "websocket":
            return ApiContext(services, None)  # the token comes in connection_init
        authenticator: Authenticator = services.extras["authenticator"]
        try:
            token = bearer_token(connection.headers.get("authorization"))
            principal = await authenticator.principal(token)
        except BadTokenError as exc:
            raise ApiHttpError(
                401,
                ErrorCode.UNAUTHENTICATED,
                str(exc),
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from exc
        caller: bytes | str = (
            principal.token_id.bytes if principal else f"ip:{_client_host(connection)}"
        )
        wait_s = state["limiter"].acquire(caller)
        if wait_s is not None:
            raise ApiHttpError(
                429,
                ErrorCode.RATE_LIMITED,
                f"too many requests: retry in {wait_s:.1f} s",
                {"Retry-After": retry_after_header(wait_s)},
            )
        return ApiContext(services, principal)

    router = _Router(
        build_schema(settings.api),
        context_getter=context,
        graphql_ide="graphiql",
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=10),
    )
    http = FastAPI(title="crm-agents", lifespan=lifespan)
    http.include_router(router, prefix="/graphql")
    http.include_router(meeting_webhook_router(state))
    http.include_router(oauth_callback_router(state))

    @http.exception_handler(ApiHttpError)
    async def refused(_: Request, exc: ApiHttpError) -> JSONResponse:
        body = {"errors": [{"message": str(exc), "extensions": {"code": exc.code.value}}]}
        return JSONResponse(body, exc.status, headers=exc.headers)

    @http.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the database answers and is fully migrated, else 503 with the reason."""
        pool: asyncpg.Pool = state["services"].pool
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


def _unparsable(query: str | None) -> bool:
    """Whether a failed document failed to parse (the rare path: only failures come here)."""
    try:
        parse(query or "")
    except GraphQLError:
        return True
    return False


def _client_host(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else "unknown"
