"""The asyncpg pool factory: one pool per process, JSON columns as Python objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from runtime.db.dsn import redact
from runtime.errors import BackendUnavailableError, InvalidInputError
from runtime.settings import DatabaseSettings

__all__ = ["connection_errors", "create_pool", "init_connection"]


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode json/jsonb to Python values and encode Python values into them."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads
        )


@contextmanager
def connection_errors(dsn: str) -> Iterator[None]:
    """Turn the driver's connection failures into errors that say what to fix."""
    try:
        yield
    except (ValueError, asyncpg.ClientConfigurationError) as exc:
        raise InvalidInputError.one("DATABASE_URL", f"is not a usable DSN: {exc}") from exc
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise BackendUnavailableError(
            f"cannot connect to PostgreSQL at {redact(dsn)}: {exc}"
        ) from exc


async def create_pool(dsn: str, settings: DatabaseSettings) -> asyncpg.Pool:
    with connection_errors(dsn):
        pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            command_timeout=settings.command_timeout_s,
            timeout=settings.connect_timeout_s,
            init=init_connection,
        )
    assert pool is not None
    return pool
