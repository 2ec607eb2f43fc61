"""Meetings: ingesting one (as ``crm-agents meetings import`` does) and finding them.

Any member of a workspace may ingest a meeting into it and read its meetings (an admin
previews agents on them: ``previewAgentRun``). Ingesting follows the CLI's rules
(``runtime.meetings.service.import_meeting``): the meeting is validated against the
contract (``meeting.json``, whose keys keep their spelling: a problem is named
``input.transcript.1.speaker``), stored once with a run queued per active agent in scope, in
one transaction; the same external id with the same content answers with the stored meeting
and queues nothing; different content under a known external id is ``CONFLICT``.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from runtime.api.context import ApiContext
from runtime.api.ids import parse_id
from runtime.api.inputs import input_path, json_object, problems_error, service_errors
from runtime.api.loaders import agent_config_loader, meeting_loader
from runtime.api.pagination import (
    Connection,
    PaginationInput,
    connection_of,
    page_request,
)
from runtime.api.types.agents import AgentConfig
from runtime.api.types.common import JSON, Meeting
from runtime.db.keyset import After
from runtime.errors import InvalidInputError
from runtime.meetings.repo import MeetingRepo
from runtime.meetings.service import import_meeting, parse_meeting
from runtime.runs.models import AgentRun as StoredAgentRun

__all__ = ["AgentRun", "AgentRunStatus", "IngestMeetingResult", "Mutation", "Query"]

Info = strawberry.Info[ApiContext, None]


@strawberry.enum(description="Where an agent run stands.")
class AgentRunStatus(Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@strawberry.type(description="One agent applied to one meeting; its outcome is an ActivityLog.")
class AgentRun:
    stored: strawberry.Private[StoredAgentRun]
    id: strawberry.ID
    status: AgentRunStatus
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, run: StoredAgentRun) -> AgentRun:
        return cls(
            stored=run,
            id=strawberry.ID(str(run.id)),
            status=AgentRunStatus(run.status),
            created_at=run.created_at,
            finished_at=run.finished_at,
        )

    @strawberry.field
    async def agent_config(self, info: Info) -> AgentConfig | None:
        found = await agent_config_loader(info.context).load(self.stored.agent_config_id)
        return None if found is None else AgentConfig.of(found)


@strawberry.type(description="A meeting ingested, or found already stored with the same content.")
class IngestMeetingResult:
    meeting: Meeting
    created: bool = strawberry.field(description="False when it was already stored.")
    runs: list[AgentRun] = strawberry.field(
        description="The runs queued for the workspace's active agents (none when not created)."
    )


@strawberry.type
class Query:
    @strawberry.field(description="One meeting of the token's workspace, or null.")
    async def meeting(self, info: Info, id: strawberry.ID) -> Meeting | None:
        found = await meeting_loader(info.context).load(parse_id(id, "id"))
        return None if found is None else Meeting.of(found)

    @strawberry.field(description="The workspace's meetings, latest start first.")
    async def meetings(
        self, info: Info, workspace_id: strawberry.ID, pagination: PaginationInput | None = None
    ) -> Connection[Meeting]:
        workspace = info.context.workspace(workspace_id)
        request = page_request(pagination)
        repo = MeetingRepo(info.context.pool)
        after = None if request.after is None else (request.after.created_at, request.after.id)
        rows = await repo.page(workspace, limit=request.size + 1, after=after)

        async def total() -> int:
            return await repo.count(workspace)

        return connection_of(
            [Meeting.of(m) for m in rows],
            [After(m.started_at, m.id) for m in rows],
            request,
            total=total,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Store a meeting (the contract's meeting.json as JSON) and queue its runs;"
        " idempotent on its external_id (different content under it is a CONFLICT)."
    )
    async def ingest_meeting(
        self, info: Info, workspace_id: strawberry.ID, input: JSON
    ) -> IngestMeetingResult:
        workspace = info.context.workspace(workspace_id)
        try:
            meeting = parse_meeting(json_object(input, "input"))
        except InvalidInputError as exc:
            raise problems_error(exc, _contract_path) from exc
        async with info.context.pool.acquire() as conn:
            with service_errors(_contract_path):
                result = await import_meeting(conn, workspace, meeting)
        return IngestMeetingResult(
            meeting=Meeting.of(result.meeting),
            created=result.created,
            runs=[AgentRun.of(run) for run in result.runs],
        )


def _contract_path(field: str) -> str:
    """The contract's keys keep their spelling: ``transcript[1].speaker`` -> ``input.
    transcript.1.speaker``."""
    return input_path(field, camel=False)
