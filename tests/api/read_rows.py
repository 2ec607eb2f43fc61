"""Rows for the read tests, inserted directly with the times and statuses a test needs
(the pipeline that writes them in production is tested elsewhere), and a way to count the
SQL statements the API runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from runtime.agent_configs.models import AgentConfigCreate
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.api.http import build_api_app
from runtime.db.pool import init_connection
from runtime.meetings.models import MeetingIn
from runtime.meetings.repo import MeetingRepo
from tests.api.conftest import api_settings
from tests.http_server import serve_asgi

__all__ = [
    "ActivityRow",
    "ItemRow",
    "StatementLog",
    "add_activities",
    "add_agent",
    "add_items",
    "add_meeting",
    "add_proposal",
]


@dataclass(frozen=True)
class ActivityRow:
    """The columns of an activity row a test chooses."""

    created_at: datetime
    agent_config_id: UUID | None = None
    user_id: UUID | None = None
    meeting_id: UUID | None = None
    status: str = "success"
    action_type: str = "update"
    crm_record_type: str | None = "deal"
    crm_record_id: str | None = "301"
    confidence: float | None = 0.9


@dataclass(frozen=True)
class ItemRow:
    """The columns of an inbox item a test chooses."""

    user_id: UUID
    created_at: datetime
    status: str = "pending"
    item_type: str = "approval"
    activity_log_id: UUID | None = None
    resolved_by: UUID | None = None
    title: str = "Update deal 301"


async def add_agent(pool: asyncpg.Pool, workspace_id: UUID, creator: UUID, name: str) -> UUID:
    """A draft agent with the config of the workspace's first template."""
    repo = AgentConfigRepo(pool)
    template = next(t for t in await repo.list(workspace_id, include_templates=True))
    stored = await repo.insert(
        workspace_id, creator, AgentConfigCreate(name=name, config=template.config)
    )
    return stored.id


async def add_meeting(pool: asyncpg.Pool, workspace_id: UUID, title: str) -> UUID:
    meeting = await MeetingRepo(pool).insert_if_absent(
        workspace_id,
        MeetingIn(external_id=f"ext-{title}", title=title, started_at="2025-03-01T10:00:00Z"),
    )
    assert meeting is not None
    return meeting.id


async def add_activities(
    pool: asyncpg.Pool, workspace_id: UUID, rows: list[ActivityRow]
) -> list[UUID]:
    """Insert ``rows`` (one statement each, in order) and return their ids."""
    ids = []
    for row in rows:
        ids.append(
            await pool.fetchval(
                "INSERT INTO activity_logs (workspace_id, agent_config_id, user_id, meeting_id,"
                " crm_record_id, crm_record_type, action_type, fields_updated,"
                " overall_confidence, status, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
                workspace_id,
                row.agent_config_id,
                row.user_id,
                row.meeting_id,
                row.crm_record_id,
                row.crm_record_type,
                row.action_type,
                {"amount": {"before": "1000", "after": "2000", "confidence": row.confidence}},
                None if row.confidence is None else Decimal(str(row.confidence)),
                row.status,
                row.created_at,
            )
        )
    return ids


async def add_items(pool: asyncpg.Pool, workspace_id: UUID, rows: list[ItemRow]) -> list[UUID]:
    """Insert inbox items (one statement each, in order) and return their ids."""
    ids = []
    for row in rows:
        ids.append(
            await pool.fetchval(
                "INSERT INTO inbox_items (workspace_id, user_id, activity_log_id, item_type,"
                " title, description, context, confidence, status, resolved_at, resolved_by,"
                " created_at)"
                " VALUES ($1, $2, $3, $4, $5, 'Two fields to review', $6, 0.6, $7,"
                " CASE WHEN $8::uuid IS NULL THEN NULL ELSE $9::timestamptz END, $8, $9)"
                " RETURNING id",
                workspace_id,
                row.user_id,
                row.activity_log_id,
                row.item_type,
                row.title,
                {"deal": {"id": "301"}},
                row.status,
                row.resolved_by,
                row.created_at,
            )
        )
    return ids


async def add_proposal(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    activity_id: UUID,
    field_name: str,
    *,
    item_id: UUID | None = None,
    before: str | None = None,
    proposed: str = "2000",
    status: str = "pending",
) -> UUID:
    proposal_id: UUID = await pool.fetchval(
        "INSERT INTO proposals (workspace_id, activity_log_id, inbox_item_id, crm_record_type,"
        " crm_record_id, field, before_value, proposed_value, confidence, route, status, reason,"
        " evidence) VALUES ($1, $2, $3, 'deal', '301', $4, $5, $6, 0.55, $7, $8,"
        " 'below the threshold', $9) RETURNING id",
        workspace_id,
        activity_id,
        item_id,
        field_name,
        before,
        proposed,
        "review" if item_id is not None else "auto_apply",
        status,
        [{"quote": "we agreed on 2000", "line": 4}],  # the pool's codec encodes JSON
    )
    return proposal_id


@dataclass
class StatementLog:
    """Every SQL statement the app runs through its pool, while ``recording``."""

    statements: list[str] = field(default_factory=list)
    _on: bool = False

    def opener(
        self, dsn: str
    ) -> Callable[[], Awaitable[tuple[asyncpg.Pool, Callable[[], Awaitable[None]]]]]:
        """A pool opener for ``build_api_app`` whose connections report to this log."""

        async def init(conn: asyncpg.Connection) -> None:
            await init_connection(conn)
            conn.add_query_logger(self._logged)

        async def open_pool() -> tuple[asyncpg.Pool, Callable[[], Awaitable[None]]]:
            pool = await asyncpg.create_pool(dsn, min_size=0, max_size=5, init=init)
            assert pool is not None
            return pool, pool.close

        return open_pool

    @contextmanager
    def serving(self, database_dsn: str) -> Iterator[str]:
        """The app on uvicorn (its URL) with a pool whose statements this log records."""
        app = build_api_app(api_settings(database_dsn), open_pool=self.opener(database_dsn))
        with serve_asgi(app) as url:
            yield url

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """The statements run inside the block."""
        self.statements = []
        self._on = True
        try:
            yield self.statements
        finally:
            self._on = False

    def _logged(self, record: Any) -> None:
        if self._on and not any(mark in record.query for mark in _DRIVER_STATEMENTS):
            self.statements.append(record.query)


# What asyncpg runs on its own: the pool's reset of a released connection, and the type
# introspection (with JIT switched off around it) a new connection does for a type it
# meets first. Not the app's queries.
_DRIVER_STATEMENTS = ("pg_advisory_unlock_all()", "typeinfo_tree", "set_config('jit'")
