"""The benchmark's database: a scratch database, a workspace, its backlog, and what the drain
left behind.

``scratch_database`` creates a fresh database named after this process and migrates it: on
the server of ``DATABASE_URL`` when set (its user must be allowed to create databases),
else on an embedded server in a temporary home. It is dropped (and the embedded server
stopped) when the block ends. The SQL is in ``backlog.sql``; this is the only module that
runs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token
from runtime.db.dsn import with_database
from runtime.db.embedded import EmbeddedPostgres
from runtime.db.migrate import discover, migrate
from runtime.db.named_sql import load_queries
from runtime.inbox.models import Proposal
from runtime.outbox.repo import OutboxRepo
from runtime.settings import Settings
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

__all__ = [
    "DrainState",
    "FieldUpdate",
    "WorkspaceFigures",
    "connected_workspace",
    "drain_state",
    "insert_backlog",
    "scratch_database",
    "workspace_figures",
]

_SQL = load_queries(Path(__file__).with_name("backlog.sql"))
_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """One field the agent decided to write: deal ``record_id``'s ``field`` becomes ``value``."""

    record_id: str
    field: str
    before: str | None
    value: str


@dataclass(frozen=True, slots=True)
class DrainState:
    """Outbox rows by status, and when the last one was done."""

    statuses: dict[str, int]
    last_done_at: datetime | None

    @property
    def unsent(self) -> int:
        return self.statuses.get("pending", 0) + self.statuses.get("in_flight", 0)

    @property
    def done(self) -> int:
        return self.statuses.get("done", 0)


@dataclass(frozen=True, slots=True)
class WorkspaceFigures:
    """What the rows say after the drain (the writer's own record of it)."""

    proposals_written: int
    proposals_not_written: int
    written_otherwise: int
    activities: dict[str, int]
    audited_updates_ok: int
    audited_updates_429: int
    audited_updates_failed: int


@asynccontextmanager
async def scratch_database(
    home: Path, settings: Settings, *, max_connections: int | None = None
) -> AsyncIterator[str]:
    """A fresh, migrated database until the block ends; yields its DSN.

    ``max_connections``: the embedded server's, when more processes than its default 100
    connections allow hold a pool at once (it is restarted to take it); an external server
    keeps its own.
    """
    server: EmbeddedPostgres | None = None
    if settings.database_url is not None:
        admin_dsn = settings.database_url.get_secret_value()
    else:
        server = EmbeddedPostgres(home / "pgdata")
        admin_dsn = server.start()
        if max_connections is not None:
            admin_dsn = await _restart_with(server, max_connections=max_connections)
    name = f"crm_agents_bench_{os.getpid()}"
    try:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        dsn = with_database(admin_dsn, name)
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn, discover())
        finally:
            await conn.close()
        yield dsn
    finally:
        try:
            admin = await asyncpg.connect(admin_dsn)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
        finally:
            if server is not None:
                server.stop(force=True)


async def _restart_with(server: EmbeddedPostgres, *, max_connections: int) -> str:
    """Restart the embedded server (this process its only user) with ``max_connections``."""
    admin = await asyncpg.connect(server.dsn())
    try:
        # A server setting: ALTER SYSTEM writes it to the data directory for the next start.
        await admin.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
    finally:
        await admin.close()
    server.detach()  # the last handle stops the server
    return server.start()


async def connected_workspace(
    pool: asyncpg.Pool,
    keyring: KeyRing,
    *,
    token: str,
    base_url: str,
    name: str = "bench.budget",
) -> UUID:
    """A new workspace whose stored HubSpot connection is ``token`` at ``base_url``."""
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=name))
    await connect_private_token(pool, keyring, workspace.id, token=token, base_url=base_url)
    return workspace.id


async def insert_backlog(
    pool: asyncpg.Pool, workspace_id: UUID, updates: Sequence[FieldUpdate], *, analyze: bool
) -> int:
    """Queue ``updates`` in one transaction, as auto-applied runs would; the outbox rows made.

    One activity per deal (a meeting about it), one proposal and one outbox row per field.
    ``analyze``: then gather the tables' statistics, as autovacuum would have for a backlog
    that built up over time. Without them the writer's queries for pending rows probe every
    unsent row of the workspace once per candidate row, which takes minutes at 60,000 rows.
    """
    by_record: dict[str, list[FieldUpdate]] = {}
    for update in updates:
        by_record.setdefault(update.record_id, []).append(update)
    fields_updated = [
        json.dumps(
            {
                u.field: {"before": u.before, "after": u.value, "confidence": _CONFIDENCE}
                for u in group
            }
        )
        for group in by_record.values()
    ]
    async with pool.acquire() as conn, conn.transaction():
        activities = await conn.fetch(
            _SQL["insert_activities"], workspace_id, list(by_record), fields_updated
        )
        activity_of = {row["crm_record_id"]: row["id"] for row in activities}
        rows = await conn.fetch(
            _SQL["insert_proposals"],
            workspace_id,
            [activity_of[u.record_id] for u in updates],
            [u.record_id for u in updates],
            [u.field for u in updates],
            [u.before for u in updates],
            [u.value for u in updates],
        )
        proposals = [Proposal.model_validate(dict(row)) for row in rows]
        ids = await OutboxRepo(conn).enqueue(workspace_id, proposals)
        if analyze:
            # In the same transaction: the running writer must never see the rows without
            # their statistics (ANALYZE counts the transaction's own rows).
            await conn.execute(_SQL["analyze_backlog"])
    return len(ids)


async def drain_state(pool: asyncpg.Pool, workspace_id: UUID) -> DrainState:
    async with pool.acquire() as conn:
        rows = await conn.fetch(_SQL["outbox_statuses"], workspace_id)
        last = await conn.fetchval(_SQL["last_done_at"], workspace_id)
    return DrainState({row["status"]: int(row["n"]) for row in rows}, last)


async def workspace_figures(pool: asyncpg.Pool, workspace_id: UUID) -> WorkspaceFigures:
    async with pool.acquire() as conn:
        proposals = await conn.fetchrow(_SQL["proposal_outcomes"], workspace_id)
        activities = await conn.fetch(_SQL["activity_statuses"], workspace_id)
        audited = await conn.fetch(_SQL["audited_updates"], workspace_id)
    ok = sum(int(r["n"]) for r in audited if r["outcome"] in ("ok", "partial"))
    limited = sum(int(r["n"]) for r in audited if r["error"] == "CrmRateLimitedError")
    return WorkspaceFigures(
        proposals_written=int(proposals["written"]),
        proposals_not_written=int(proposals["not_written"]),
        written_otherwise=int(proposals["written_otherwise"]),
        activities={str(r["status"]): int(r["n"]) for r in activities},
        audited_updates_ok=ok,
        audited_updates_429=limited,
        audited_updates_failed=sum(int(r["n"]) for r in audited) - ok - limited,
    )
