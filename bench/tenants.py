"""``bench.tenancy``'s database side: many connected workspaces at once, each visit's queued
fields, and what the rows weigh. The SQL is in ``tenants.sql``; this is the only module that
runs it (the backlog itself is ``bench.database``'s).

Bytes are measured two ways, both reported: ``database_bytes`` is every table's
``pg_total_relation_size`` (indexes and TOAST included, in whole 8 KiB pages), so its growth
over many workspaces divided by their number is what one costs on disk; ``row_bytes`` is
``pg_column_size`` of the rows that make the workspaces exist, without pages or indexes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg

from bench.database import FieldUpdate, connected_workspace
from bench.emulator import deal_id
from runtime.connections.cipher import KeyRing
from runtime.db.named_sql import load_queries

__all__ = [
    "Visit",
    "backend_pids",
    "create_workspaces",
    "database_bytes",
    "flushed_workspaces",
    "max_connections",
    "outbox_statuses",
    "row_bytes",
    "visit_updates",
]

_SQL = load_queries(Path(__file__).with_name("tenants.sql"))
_SEEDED_AMOUNT = "1000"  # bench.emulator.deal_snapshot's
_FIRST_VALUE = 5_000


@dataclass(frozen=True, slots=True)
class Visit:
    """Traffic for one workspace: its fields are queued, it is woken, it writes them."""

    index: int
    workspace: int
    """Index of the workspace in the run's list."""
    updates: tuple[FieldUpdate, ...]
    after: int | None = None
    """The visit of the same workspace that must have ended (its process gone) first."""


def visit_updates(index: int, *, deals: int) -> tuple[FieldUpdate, ...]:
    """Visit ``index``'s fields: the amounts of ``deals`` deals of its own, so that every
    record of the emulator is written by exactly one visit, with a value of its own."""
    first = index * deals
    return tuple(
        FieldUpdate(deal_id(first + i), "amount", _SEEDED_AMOUNT, str(_FIRST_VALUE + first + i))
        for i in range(deals)
    )


async def create_workspaces(
    pool: asyncpg.Pool,
    keyring: KeyRing,
    *,
    count: int,
    base_url: str,
    token_of: Callable[[int], str],
    at_once: int,
    on_created: Callable[[], None] | None = None,
) -> list[UUID]:
    """``count`` workspaces, each with its stored HubSpot connection (``token_of(i)``),
    ``at_once`` created concurrently; their ids in order."""
    ids: list[UUID | None] = [None] * count
    gate = asyncio.Semaphore(at_once)

    async def create(i: int) -> None:
        async with gate:
            ids[i] = await connected_workspace(
                pool, keyring, token=token_of(i), base_url=base_url, name=f"bench.tenancy {i}"
            )
        if on_created is not None:
            on_created()

    await asyncio.gather(*(create(i) for i in range(count)))
    return [i for i in ids if i is not None]


async def database_bytes(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval(_SQL["database_bytes"]))


async def row_bytes(pool: asyncpg.Pool, workspaces: Sequence[UUID]) -> int:
    return int(await pool.fetchval(_SQL["workspace_row_bytes"], list(workspaces)))


async def outbox_statuses(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch(_SQL["outbox_statuses"])
    return {str(row["status"]): int(row["n"]) for row in rows}


async def flushed_workspaces(pool: asyncpg.Pool, workspaces: Sequence[UUID]) -> set[UUID]:
    rows = await pool.fetch(_SQL["flushed_workspaces"], list(workspaces))
    return {row["workspace_id"] for row in rows}


async def backend_pids(pool: asyncpg.Pool, application_name: str) -> list[int]:
    rows = await pool.fetch(_SQL["backend_pids"], application_name)
    return [int(row["pid"]) for row in rows]


async def max_connections(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval(_SQL["max_connections"]))
