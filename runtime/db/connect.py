"""Which PostgreSQL to use: the external one from DATABASE_URL, else the embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg

from runtime.db.embedded import EmbeddedPostgres
from runtime.db.migrate import discover, migration_status
from runtime.db.pool import connection_errors, create_pool, init_connection
from runtime.errors import StorageError
from runtime.settings import Settings

__all__ = ["connect", "open_pool", "server_dsn", "server_version"]


@contextmanager
def server_dsn(settings: Settings) -> Iterator[str]:
    """The DSN of the product's database, holding the embedded server open meanwhile."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    server = EmbeddedPostgres(settings.pgdata)
    dsn = server.start()
    try:
        yield dsn
    finally:
        server.detach()


async def connect(dsn: str, settings: Settings) -> asyncpg.Connection:
    """One connection, configured like the pool's; unreachable servers are clear errors."""
    with connection_errors(dsn):
        conn = await asyncpg.connect(dsn, timeout=settings.db.connect_timeout_s)
    await init_connection(conn)
    return conn


async def server_version(conn: asyncpg.Connection) -> str:
    """The server's version as it reports it, e.g. ``18.4``."""
    return str(await conn.fetchval("SHOW server_version"))


@asynccontextmanager
async def open_pool(dsn: str, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a migrated database; a database that needs migrating is a clear error."""
    pool = await create_pool(dsn, settings.db)
    try:
        async with pool.acquire() as conn:
            status = await migration_status(conn, discover())
        if status.pending:
            raise StorageError(
                f"the database needs {len(status.pending)} migration(s)"
                f" ({status.pending[0].file_name} first): run `crm-agents migrate`"
            )
        yield pool
    finally:
        await pool.close()
