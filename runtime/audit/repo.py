"""The only module that runs audit-log SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from runtime.audit.models import AuditCursor, AuditEntry, StoredAuditEntry
from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.keyset import After, Conditions
from runtime.db.named_sql import load_queries
from runtime.errors import InvalidInputError, NotFoundError

__all__ = ["AuditFilter", "AuditRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which of a workspace's entries to list; None means any. ``created_after`` is
    inclusive, ``created_before`` exclusive."""

    action: str | None = None
    actor_user_id: UUID | None = None
    target_type: str | None = None
    target_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def conditions(self, workspace_id: UUID) -> Conditions:
        """The filter as conditions of ``page_audit_entries`` / ``count_audit_entries``."""
        return (
            Conditions(workspace_id)
            .when(self.action, "action = {}")
            .when(self.actor_user_id, "actor_user_id = {}")
            .when(self.target_type, "target_type = {}")
            .when(self.target_id, "target_id = {}")
            .when(self.created_after, "created_at >= {}")
            .when(self.created_before, "created_at < {}")
        )


class AuditRepo:
    def __init__(self, db: Executor) -> None:
        """Args:
        db: a pool, or a connection inside the caller's transaction (the run executor
            writes a run's entries together with its results).
        """
        self._db = db

    async def insert_many(self, entries: Sequence[AuditEntry]) -> int:
        """Append entries in one statement (one round trip, whatever their number).

        Returns:
            How many rows were written.

        Raises:
            NotFoundError: an entry names a workspace or user that does not exist.
        """
        if not entries:
            return 0
        try:
            status = await self._db.execute(
                _SQL["insert_audit_entries"],
                [e.workspace_id for e in entries],
                [e.actor_user_id for e in entries],
                [e.action for e in entries],
                [e.target_type for e in entries],
                [e.target_id for e in entries],
                [e.details for e in entries],
                [e.created_at for e in entries],
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "audit_log_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", _ids(e.workspace_id for e in entries)
                    ),
                    "audit_log_actor_user_id_fkey": lambda: NotFoundError(
                        "user", _ids(e.actor_user_id for e in entries)
                    ),
                },
            ) from exc
        # The status tag reads "INSERT 0 <rows>".
        return int(status.rsplit(" ", 1)[-1])

    async def list_recent(
        self,
        workspace_id: UUID,
        *,
        limit: int = 50,
        before: AuditCursor | None = None,
        action: str | None = None,
    ) -> list[StoredAuditEntry]:
        """A workspace's entries, newest first.

        Args:
            limit: at most this many entries (1..1000).
            before: continue after this entry (``StoredAuditEntry.cursor()`` of a page's last).
            action: only entries of this action, e.g. ``"crm.update"``.
        """
        if not 1 <= limit <= 1000:
            raise InvalidInputError.one("limit", "must be within 1..1000")
        rows = await self._db.fetch(
            _SQL["list_audit_entries"],
            workspace_id,
            action,
            before.created_at if before else None,
            before.id if before else None,
            limit,
        )
        return [_entry(row) for row in rows]

    async def page(
        self, workspace_id: UUID, where: AuditFilter, *, limit: int, after: After | None = None
    ) -> list[StoredAuditEntry]:
        """Up to ``limit`` of the workspace's entries matching ``where``, newest first,
        strictly after ``after`` (the API's audit log)."""
        sql, args = (
            where.conditions(workspace_id)
            .after(after)
            .statement(_SQL["page_audit_entries"], limit=limit)
        )
        return [_entry(row) for row in await self._db.fetch(sql, *args)]

    async def count(self, workspace_id: UUID, where: AuditFilter) -> int:
        """How many entries ``page`` lists over all its pages."""
        sql, args = where.conditions(workspace_id).statement(_SQL["count_audit_entries"])
        return int(await self._db.fetchval(sql, *args))

    async def crm_calls_since(
        self, workspace_id: UUID, since: datetime, *, limit: int = 10_000
    ) -> list[tuple[datetime, str]]:
        """The CRM calls the workspace sent after ``since`` as (sent at, action), oldest
        first; at most ``limit`` (a rate budget needs a window's worth, not a day's)."""
        rows = await self._db.fetch(_SQL["crm_calls_since"], workspace_id, since, limit)
        return [(row["created_at"], row["action"]) for row in rows]

    async def count_crm_calls_since(self, workspace_id: UUID, since: datetime) -> int:
        """How many CRM calls the workspace sent after ``since``."""
        return int(await self._db.fetchval(_SQL["count_crm_calls_since"], workspace_id, since))


def _ids(values: Any) -> str:
    """The distinct ids an insert named, for the not-found message."""
    return ", ".join(sorted({str(v) for v in values if v is not None}))


def _entry(row: Any) -> StoredAuditEntry:
    return StoredAuditEntry.model_validate(dict(row))
