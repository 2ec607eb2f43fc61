"""The only module that runs meeting SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError
from runtime.meetings.models import Meeting, MeetingIn, MeetingSummary

__all__ = ["MeetingRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class MeetingRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert_if_absent(self, workspace_id: UUID, meeting: MeetingIn) -> Meeting | None:
        """Store the meeting unless its external id is known; None when it was."""
        data = meeting.model_dump(mode="json")
        try:
            row = await self._db.fetchrow(
                _SQL["insert_meeting_if_absent"],
                workspace_id,
                meeting.external_id,
                meeting.title,
                meeting.call_type,
                meeting.started_at,
                meeting.duration_s,
                meeting.owner_email,
                data["attendees"],
                data["transcript"],
                meeting.notes,
                meeting.fingerprint(),
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "meetings_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", str(workspace_id)
                    )
                },
            ) from exc
        return None if row is None else _meeting(row)

    async def get(self, workspace_id: UUID, meeting_id: UUID) -> Meeting:
        row = await self._db.fetchrow(_SQL["get_meeting"], workspace_id, meeting_id)
        if row is None:
            raise NotFoundError("meeting", str(meeting_id))
        return _meeting(row)

    async def get_summaries(self, workspace_id: UUID, ids: Sequence[UUID]) -> list[MeetingSummary]:
        """The workspace's meetings among ``ids``, in no particular order, without their
        transcripts and notes."""
        rows = await self._db.fetch(_SQL["get_meeting_summaries"], workspace_id, list(ids))
        return [MeetingSummary.model_validate(dict(row)) for row in rows]

    async def get_by_external_id(self, workspace_id: UUID, external_id: str) -> Meeting | None:
        row = await self._db.fetchrow(_SQL["get_meeting_by_external_id"], workspace_id, external_id)
        return None if row is None else _meeting(row)

    async def list_recent(self, workspace_id: UUID, *, limit: int = 50) -> list[Meeting]:
        rows = await self._db.fetch(_SQL["list_meetings"], workspace_id, limit)
        return [_meeting(row) for row in rows]

    async def page(
        self,
        workspace_id: UUID,
        *,
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[Meeting]:
        """Up to ``limit`` meetings, newest start first, after the (started_at, id) given."""
        started_at, meeting_id = after if after is not None else (None, None)
        rows = await self._db.fetch(
            _SQL["page_meetings"], workspace_id, limit, started_at, meeting_id
        )
        return [_meeting(row) for row in rows]

    async def count(self, workspace_id: UUID) -> int:
        found: int = await self._db.fetchval(_SQL["count_meetings"], workspace_id)
        return found


def _meeting(row: Any) -> Meeting:
    return Meeting.model_validate(dict(row))
