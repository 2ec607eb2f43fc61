"""The only module that runs activity-log SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from runtime.activity.models import ActivityLog
from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError

__all__ = ["ActivityRepo", "NewActivity"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


@dataclass(frozen=True, slots=True)
class NewActivity:
    """The columns of a new activity row (see ``runtime.runs.outcome``)."""

    workspace_id: UUID
    agent_config_id: UUID | None
    user_id: UUID | None
    meeting_id: UUID | None
    crm_record_id: str | None
    crm_record_type: str | None
    action_type: str
    fields_updated: dict[str, Any] | None
    overall_confidence: float | None
    status: str
    error_message: str | None
    agent_run_id: UUID | None
    details: dict[str, Any]

    def values(self) -> tuple[Any, ...]:
        """The insert's parameters, in the query's order."""
        confidence = self.overall_confidence
        return (
            self.workspace_id,
            self.agent_config_id,
            self.user_id,
            self.meeting_id,
            self.crm_record_id,
            self.crm_record_type,
            self.action_type,
            self.fields_updated,
            None if confidence is None else Decimal(str(round(confidence, 2))),
            self.status,
            self.error_message,
            self.agent_run_id,
            self.details,
        )


class ActivityRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert(self, new: NewActivity) -> ActivityLog:
        return _activity(await self._db.fetchrow(_SQL["insert_activity"], *new.values()))

    async def get(self, activity_id: UUID) -> ActivityLog:
        row = await self._db.fetchrow(_SQL["get_activity"], activity_id)
        if row is None:
            raise NotFoundError("activity log", str(activity_id))
        return _activity(row)

    async def for_run(self, run_id: UUID) -> ActivityLog | None:
        row = await self._db.fetchrow(_SQL["get_activity_for_run"], run_id)
        return None if row is None else _activity(row)

    async def list_recent(
        self, workspace_id: UUID, *, status: str | None = None, limit: int = 50
    ) -> list[ActivityLog]:
        """The workspace's activity, newest first."""
        rows = await self._db.fetch(_SQL["list_recent_activity"], workspace_id, status, limit)
        return [_activity(row) for row in rows]

    async def list_for_meeting(self, meeting_id: UUID) -> list[ActivityLog]:
        rows = await self._db.fetch(_SQL["list_activity_for_meeting"], meeting_id)
        return [_activity(row) for row in rows]

    # The writer's side (runtime.writes.writer) ------------------------------------------

    async def settle_written(
        self, workspace_id: UUID, ids: Sequence[UUID], *, now: datetime
    ) -> dict[UUID, str]:
        """Finish the pending activities among ``ids`` whose proposals are all final.

        ``failed`` (with a message naming each failed field and the CRM's message) when a
        field failed, else ``success``; the status change notifies listeners.

        Returns:
            The new status of each activity that changed.
        """
        if not ids:
            return {}
        rows = await self._db.fetch(
            _SQL["settle_written_activities"], workspace_id, list(set(ids)), now
        )
        return {row["id"]: row["status"] for row in rows}

    async def set_created_records(
        self, workspace_id: UUID, created: Sequence[tuple[UUID, str]], *, now: datetime
    ) -> int:
        """Activities whose proposed create exists now, as (activity id, new record id)."""
        if not created:
            return 0
        rows = await self._db.fetch(
            _SQL["set_created_records"],
            workspace_id,
            [activity_id for activity_id, _ in created],
            now,
            [record_id for _, record_id in created],
        )
        return len(rows)


def _activity(row: Any) -> ActivityLog:
    return ActivityLog.model_validate(dict(row))
