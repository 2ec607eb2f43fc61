"""`crm-agents serve`: the GraphQL API on Ray Serve plus the run dispatcher, in one process;
`crm-agents schema`: the API's SDL."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import asyncpg
import typer

from runtime.agents.extraction import Extractor
from runtime.cli._common import load_settings, result_line, results_only_on_stdout, run
from runtime.cli.agents import EXTRACTOR_HELP, extractor_named
from runtime.cli.worker import RunProcessing, dispatch_until, run_processing, stop_on_signals
from runtime.db.connect import connect, open_pool, server_dsn
from runtime.db.migrate import discover, migrate
from runtime.errors import InvalidInputError
from runtime.runs.dispatcher import Dispatcher
from runtime.settings import Settings

if TYPE_CHECKING:
    from serve_app import ServeHost

__all__ = [
    "check_port_free",
    "migrated_database",
    "schema_command",
    "serve_command",
    "serve_until_stopped",
]


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
    check_port_free(api.host, api.port)

    async def body() -> dict[str, Any]:
        async with migrated_database(settings) as pool:
            dispatcher = await serve_until_stopped(
                pool,
                settings,
                extractor=extractor,
                extractor_name=extractor_name,
                ray_runs=ray_runs,
                limit=limit,
                announce=_announce,
            )
        return {"completed": dispatcher.completed, "failed": dispatcher.failed}

    with results_only_on_stdout():  # Ray's driver prints to stdout too
        result = run(body)
    sys.stderr.write(
        f"stopped: {result['completed']} agent run(s) completed, {result['failed']} failed\n"
    )


def schema_command() -> None:
    """Print the GraphQL schema (SDL): the seed's operations and types plus what the flows
    add. No database or server needed."""
    from runtime.api.schema import schema_sdl  # the API's imports cost 0.5 s: only here

    sys.stdout.write(schema_sdl())


@asynccontextmanager
async def migrated_database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The database (the embedded one, or DATABASE_URL) migrated, and a pool on it for the
    block."""
    with server_dsn(settings) as dsn:
        conn = await connect(dsn, settings)
        try:
            await migrate(conn, discover())
        finally:
            await conn.close()
        async with open_pool(dsn, settings) as pool:
            yield pool


async def serve_until_stopped(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    extractor: Extractor,
    extractor_name: str,
    ray_runs: bool,
    limit: int,
    announce: Callable[[str], None],
    alongside: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> Dispatcher:
    """Ray, the API on Ray Serve and the run dispatcher (with writers and the expiry sweeper)
    until Ctrl-C or SIGTERM; then everything this started is stopped.

    ``announce`` gets the API's URL once it answers. ``alongside`` (``crm-agents demo``'s
    meeting feed) runs from then on next to the dispatcher; it may end on its own, it is
    cancelled when the process stops, and its failure stops the process and is raised.
    """
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
                announce(serving.url)
                return await _serve_until_stopped(
                    pool,
                    processing,
                    settings,
                    limit,
                    serving=serving,
                    stop=stop,
                    alongside=alongside,
                )
    finally:
        serving.stop()


def _serve_host(settings: Settings) -> ServeHost:
    # Imported here: runtime/ stays free of Ray; serve_app is the composition root.
    from serve_app import ServeHost

    return ServeHost(settings)


def _announce(url: str) -> None:
    sys.stderr.write(
        f"GraphQL API at {url} (GraphiQL in a browser); Ctrl-C stops\n"
        "create a token: crm-agents token create --workspace W --user U\n"
    )
    result_line(url)


async def _serve_until_stopped(
    pool: asyncpg.Pool,
    processing: RunProcessing,
    settings: Settings,
    limit: int,
    *,
    serving: ServeHost,
    stop: asyncio.Event,
    alongside: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> Dispatcher:
    """Dispatch runs until ``stop`` (or until the dispatcher fails); then Serve stops
    taking requests while the runs in hand finish (Ray stays up for them)."""
    dispatching = asyncio.create_task(
        dispatch_until(pool, processing, settings, limit, writes=True, stop=stop, name="serve")
    )
    extra = None if alongside is None else asyncio.create_task(alongside())
    if extra is not None:
        extra.add_done_callback(lambda task: _stop_on_failure(task, stop))
    waiting = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({dispatching, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        if extra is not None:
            # Before Serve stops: what runs alongside may be talking to it.
            extra.cancel()
            await asyncio.gather(extra, return_exceptions=True)
    stop.set()
    stopping = asyncio.create_task(asyncio.to_thread(serving.stop_serving))
    try:
        dispatcher = await dispatching
    finally:
        await stopping
    failure = None if extra is None else _failure(extra)
    if failure is not None:
        raise failure
    return dispatcher


def _failure(task: asyncio.Task[None]) -> BaseException | None:
    return None if task.cancelled() else task.exception()


def _stop_on_failure(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    if _failure(task) is not None:
        stop.set()


def check_port_free(host: str, port: int) -> None:
    """A port in use is refused now, not after Ray and Serve spent seconds starting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InvalidInputError.one("--port", f"{host}:{port} is in use") from exc
            raise InvalidInputError.one("--host", f"cannot listen on {host}: {exc}") from exc
