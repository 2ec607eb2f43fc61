"""Meeting ingestion: validate against the contract, store once, detect conflicts, queue runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from runtime.errors import ConflictError, parse_json_model
from runtime.meetings.models import Meeting, MeetingIn
from runtime.meetings.repo import MeetingRepo
from runtime.runs.models import AgentRun
from runtime.runs.repo import RunRepo

__all__ = ["ImportResult", "import_meeting", "parse_meeting"]


@dataclass(frozen=True)
class ImportResult:
    meeting: Meeting
    created: bool
    runs: list[AgentRun] = field(default_factory=list)
    """The runs queued for the meeting's active agents (none when it was already stored)."""


def parse_meeting(raw: str | bytes | dict[str, Any], *, source: str | None = None) -> MeetingIn:
    """Validate a meeting; every problem is reported with its field path.

    Raises:
        InvalidInputError: the text is not JSON, or the meeting breaks the contract.
    """
    return parse_json_model(MeetingIn, raw, source=source)


async def import_meeting(
    conn: asyncpg.Connection, workspace_id: UUID, meeting: MeetingIn
) -> ImportResult:
    """Store a meeting once and queue a run per active agent in scope, in one transaction.

    The same external id with the same content answers with the stored meeting and changes
    nothing; different content under a known external id is a conflict naming it. Because
    the runs are inserted with the meeting, a crash cannot leave a stored meeting unqueued.
    """
    async with conn.transaction():
        repo = MeetingRepo(conn)
        stored = await repo.insert_if_absent(workspace_id, meeting)
        if stored is not None:
            runs = await RunRepo(conn).create_for_meeting(stored)
            return ImportResult(stored, created=True, runs=runs)
        existing = await repo.get_by_external_id(workspace_id, meeting.external_id)
    if existing is None:  # deleted between the two statements: rare enough to ask for a retry
        raise ConflictError("external_id", "the meeting changed concurrently; try again")
    if existing.content_sha256 != meeting.fingerprint():
        raise ConflictError(
            "external_id",
            f"{meeting.external_id!r} is already stored (meeting {existing.id})"
            " with different content",
        )
    return ImportResult(existing, created=False)
