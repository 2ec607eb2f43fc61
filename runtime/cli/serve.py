"""`crm-agents serve`: the GraphQL API on Ray Serve plus the run dispatcher, in one process;
`crm-agents schema`: the API's SDL."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from typing import TYPE_CHECKING, Any

import asyncpg
import typer

from runtime.api.schema import schema_sdl
from runtime.cli._common import load_settings, run
from runtime.cli.agents import EXTRACTOR_HELP, extractor_named
from runtime.cli.worker import RunProcessing, dispatch_until, run_processing, stop_on_signals
from runtime.db.connect import connect, open_pool, server_dsn
from runtime.db.migrate import discover, migrate
from runtime.errors import InvalidInputError
from runtime.runs.dispatcher import Dispatcher
from runtime.settings import Settings

if TYPE_CHECKING:
    from serve_app import ServeHost

__all__ = ["schema_command", "serve_command"]


def serve_command(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default CRM_AGENTS_API__HOST, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        help="Port to listen on (default CRM_AGENTS_API__PORT, 8000).",
    ),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        min=1,
        help="Agent runs executed at once (default CRM_AGENTS_WORKER__CONCURRENCY).",
    ),
    extractor_name: str = typer.Option("rules", "--extractor", help=EXTRACTOR_HELP),
    ray_runs: bool = typer.Option(
        False,
        "--ray-runs",
        help=(
            "Execute agent runs as Ray tasks across the cluster and write through one Ray"
            " actor per workspace (as `worker --ray`). Without it, runs execute in this"
            " process."
        ),
    ),
) -> None:
    """Serve the GraphQL API (and GraphiQL) at http://HOST:PORT/graphql until Ctrl-C or SIGTERM.

    One process runs everything a machine needs: the database (the embedded PostgreSQL, or
    DATABASE_URL), migrated first; Ray (RAY_ADDRESS, else a local Ray started here) with the
    API on Ray Serve (CRM_AGENTS_API__REPLICAS replicas); and the run dispatcher of
    `crm-agents worker`, which executes agent runs as meetings arrive and writes what they
    decide. Health: http://HOST:PORT/healthz.

    Requests need a token: `crm-agents token create --workspace W --user U` prints one; send
    it as `Authorization: Bearer <token>` (over a websocket: `{"token": ...}` in
    connection_init).

    Stopping (Ctrl-C, SIGTERM) stops Serve, lets running agent runs finish for
    CRM_AGENTS_WORKER__GRACE_S seconds, hands back the rest, and stops what it started.
    """
    settings = load_settings()
    api = settings.api.model_copy(
        update={"host": host or settings.api.host, "port": port or settings.api.port}
    )
    settings = settings.model_copy(update={"api": api})
    extractor = extractor_named(extractor_name)
    limit = concurrency or settings.worker.concurrency
    _check_free(api.host, api.port)

    async def body() -> dict[str, Any]:
        with server_dsn(settings) as dsn:
            conn = await connect(dsn, settings)
            try:
                await migrate(conn, discover())
            finally:
                await conn.close()
            async with open_pool(dsn, settings) as pool:
                serving = _serve_host(settings)
                stop = asyncio.Event()
                try:
                    sys.stderr.write("starting Ray and the API on Ray Serve...\n")
                    serving.start_ray()
                    # After Ray's start, which installs a SIGTERM handler of its own.
                    with stop_on_signals(stop):
                        serving.deploy()
                        async with run_processing(
                            pool,
                            settings,
                            extractor=extractor,
                            extractor_name=extractor_name,
                            on_ray=ray_runs,
                        ) as processing:
                            _announce(serving.url)
                            dispatcher = await _serve_until_stopped(
                                pool, processing, settings, limit, serving=serving, stop=stop
                            )
                finally:
                    serving.stop()
        return {"completed": dispatcher.completed, "failed": dispatcher.failed}

    result = run(body)
    sys.stderr.write(
        f"stopped: {result['completed']} agent run(s) completed, {result['failed']} failed\n"
    )


def schema_command() -> None:
    """Print the GraphQL schema (SDL): the seed's operations and types plus what the flows
    add. No database or server needed."""
    sys.stdout.write(schema_sdl())


def _serve_host(settings: Settings) -> ServeHost:
    # Imported here: runtime/ stays free of Ray; serve_app is the composition root.
    from serve_app import ServeHost

    return ServeHost(settings)


def _announce(url: str) -> None:
    sys.stderr.write(
        f"GraphQL API at {url} (GraphiQL in a browser); Ctrl-C stops\n"
        "create a token: crm-agents token create --workspace W --user U\n"
    )
    sys.stdout.write(url + "\n")
    sys.stdout.flush()


async def _serve_until_stopped(
    pool: asyncpg.Pool,
    processing: RunProcessing,
    settings: Settings,
    limit: int,
    *,
    serving: ServeHost,
    stop: asyncio.Event,
) -> Dispatcher:
    """Dispatch runs until ``stop`` (or until the dispatcher fails); then Serve stops
    taking requests while the runs in hand finish (Ray stays up for them)."""
    dispatching = asyncio.create_task(
        dispatch_until(pool, processing, settings, limit, writes=True, stop=stop, name="serve")
    )
    waiting = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({dispatching, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    stop.set()
    stopping = asyncio.create_task(asyncio.to_thread(serving.stop_serving))
    try:
        return await dispatching
    finally:
        await stopping


def _check_free(host: str, port: int) -> None:
    """A port in use is refused now, not after Ray and Serve spent seconds starting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InvalidInputError.one("--port", f"{host}:{port} is in use") from exc
            raise InvalidInputError.one("--host", f"cannot listen on {host}: {exc}") from exc
