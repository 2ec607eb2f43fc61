"""``ActivityLog``, the workspace's activity dashboard (``activityLogs``) and the agent's
computed fields ``recentActivity`` and ``successRate``.

Any member may read the workspace's activity (it is the workspace's dashboard); filtering
by ``userId`` follows the rule of every ``userId`` argument: a member may name only
themselves (``FORBIDDEN`` otherwise), an admin any member.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from runtime.activity.models import ActivityLog as StoredActivity
from runtime.activity.repo import ActivityFilter, ActivityRepo, AgentOutcomes
from runtime.api.context import ApiContext
from runtime.api.errors import ApiError
from runtime.api.ids import parse_id
from runtime.api.loaders import (
    Shown,
    agent_config_loader,
    keyed_loader,
    load_ahead,
    mapped_loader,
    meeting_loader,
    shown,
    user_loader,
)
from runtime.api.pagination import (
    Connection,
    PaginationInput,
    connection_of,
    node_fields,
    page_request,
)
from runtime.api.types.common import JSON, ActionType, ActivityStatus, Meeting, User, enum_value
from runtime.api.types.proposals import Proposal, proposals_of_activity_loader
from runtime.db.keyset import After

if TYPE_CHECKING:
    from runtime.api.types.agents import AgentConfig

__all__ = [
    "DEFAULT_RECENT",
    "DEFAULT_SUCCESS_DAYS",
    "ActivityLog",
    "ActivityLogFilters",
    "Query",
    "activity_loader",
    "date_range",
    "load_relations_ahead",
    "recent_activity",
    "success_rate",
]

Info = strawberry.Info[ApiContext, None]

DEFAULT_RECENT = 10
MAX_RECENT = 100
DEFAULT_SUCCESS_DAYS = 30
MAX_SUCCESS_DAYS = 365
_RECORD_TYPE_MAX = 50  # the column is VARCHAR(50)


@strawberry.type(description="What one agent run did to one CRM record, and how it ended.")
class ActivityLog:
    stored: strawberry.Private[StoredActivity]
    id: strawberry.ID
    crm_record_id: str | None
    crm_record_type: str | None
    action_type: ActionType
    fields_updated: JSON | None = strawberry.field(
        description="Per proposed field: {before, after, confidence}."
    )
    overall_confidence: float | None
    status: ActivityStatus
    error_message: str | None
    details: JSON = strawberry.field(
        description="The run's match, warnings, skipped fields and skip reason."
    )
    created_at: datetime
    updated_at: datetime = strawberry.field(description="When its status last changed.")

    @classmethod
    def of(cls, stored: StoredActivity) -> ActivityLog:
        if stored.created_at is None:  # written by default; only a hand-made row lacks it
            raise LookupError(f"activity log {stored.id} has no created_at")
        confidence = stored.overall_confidence
        return cls(
            stored=stored,
            id=strawberry.ID(str(stored.id)),
            crm_record_id=stored.crm_record_id,
            crm_record_type=stored.crm_record_type,
            action_type=ActionType(stored.action_type),
            fields_updated=None if stored.fields_updated is None else JSON(stored.fields_updated),
            overall_confidence=None if confidence is None else float(confidence),
            status=enum_value(ActivityStatus, stored.status, "pending"),
            error_message=stored.error_message,
            details=JSON(stored.details),
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )

    # Not async: a page that loaded its rows' agents, users and meetings ahead
    # (``load_relations_ahead``) gets them without a coroutine per row (``shown``).
    @strawberry.field(
        graphql_type=Annotated["AgentConfig", strawberry.lazy("runtime.api.types.agents")] | None
    )
    def agent_config(self, info: Info) -> Shown[AgentConfig]:
        # Imported here: the agents module imports this one for its activity fields.
        from runtime.api.types.agents import AgentConfig

        if self.stored.agent_config_id is None:
            return None
        loader = agent_config_loader(info.context)
        return shown(loader, self.stored.agent_config_id, AgentConfig.of)

    @strawberry.field(graphql_type=User | None, description="The user whose data was affected.")
    def user(self, info: Info) -> Shown[User]:
        if self.stored.user_id is None:
            return None
        return shown(user_loader(info.context), self.stored.user_id, User.of)

    @strawberry.field(graphql_type=Meeting | None)
    def meeting(self, info: Info) -> Shown[Meeting]:
        if self.stored.meeting_id is None:
            return None
        return shown(meeting_loader(info.context), self.stored.meeting_id, Meeting.of)

    @strawberry.field(description="Each proposed field, by field name.")
    async def proposals(self, info: Info) -> list[Proposal]:
        found = await proposals_of_activity_loader(info.context).load(self.stored.id)
        return [Proposal.of(p) for p in found]


@strawberry.input(description="Which activities to list; every filter given must hold.")
class ActivityLogFilters:
    agent_config_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Whose data; a member may name only themselves."
    )
    status: ActivityStatus | None = None
    action_type: ActionType | None = None
    crm_record_type: str | None = strawberry.field(default=None, description="e.g. `deal`.")
    created_after: datetime | None = strawberry.field(
        default=None, description="Created at or after this time (with a time zone)."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Created before this time (with a time zone)."
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The workspace's activity, newest first, filtered and paged by cursor."
    )
    async def activity_logs(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        filters: ActivityLogFilters | None = None,
        pagination: PaginationInput | None = None,
    ) -> Connection[ActivityLog]:
        context = info.context
        workspace = context.workspace(workspace_id)
        where = await _checked(context, filters)
        request = page_request(pagination)
        repo = ActivityRepo(context.pool)
        rows = await repo.page(workspace, where, limit=request.size + 1, after=request.after)
        page = connection_of(
            [ActivityLog.of(row) for row in rows],
            [_key(row) for row in rows],
            request,
            total=lambda: repo.count(workspace, where),
        )
        await load_relations_ahead(info, [edge.node.stored for edge in page.edges])
        return page


async def load_relations_ahead(info: Info, rows: Sequence[StoredActivity]) -> None:
    """Load the agents, users and meetings of a page's ``rows`` that the client selects,
    one query per kind as the rows' fields would, before the rows' fields resolve."""
    selected = node_fields(info)
    context = info.context
    loads = []
    if "agentConfig" in selected:
        loads.append(load_ahead(agent_config_loader(context), [r.agent_config_id for r in rows]))
    if "user" in selected:
        loads.append(load_ahead(user_loader(context), [r.user_id for r in rows]))
    if "meeting" in selected:
        loads.append(load_ahead(meeting_loader(context), [r.meeting_id for r in rows]))
    await asyncio.gather(*loads)


def activity_loader(context: ApiContext) -> DataLoader[UUID, StoredActivity | None]:
    """Activities of the principal's workspace by id (another workspace's load as None)."""
    workspace_id = context.principal.workspace_id
    repo = ActivityRepo(context.pool)
    return keyed_loader(
        context, "activities", lambda ids: repo.get_many(workspace_id, ids), lambda a: a.id
    )


async def recent_activity(info: Info, agent_id: UUID, limit: int) -> list[ActivityLog]:
    """``AgentConfig.recentActivity``: one query for every agent of the request."""
    if not 1 <= limit <= MAX_RECENT:
        raise ApiError.bad_input("limit", f"must be between 1 and {MAX_RECENT}")
    context = info.context
    workspace_id = context.principal.workspace_id
    repo = ActivityRepo(context.pool)

    async def fetch(ids: list[UUID]) -> dict[UUID, list[StoredActivity]]:
        return await repo.recent_for_agents(workspace_id, ids, limit=limit)

    loader: DataLoader[UUID, list[StoredActivity]] = mapped_loader(
        context, f"recent_activity:{limit}", fetch, missing=list
    )
    return [ActivityLog.of(row) for row in await loader.load(agent_id)]


async def success_rate(info: Info, agent_id: UUID, days: int) -> float | None:
    """``AgentConfig.successRate``: one query for every agent of the request."""
    if not 1 <= days <= MAX_SUCCESS_DAYS:
        raise ApiError.bad_input("days", f"must be between 1 and {MAX_SUCCESS_DAYS}")
    context = info.context
    workspace_id = context.principal.workspace_id
    since = context.services.clock.now() - timedelta(days=days)
    repo = ActivityRepo(context.pool)

    async def fetch(ids: list[UUID]) -> dict[UUID, AgentOutcomes]:
        return await repo.outcomes_for_agents(workspace_id, ids, since=since)

    loader = mapped_loader(context, f"agent_outcomes:{days}", fetch, missing=AgentOutcomes)
    return (await loader.load(agent_id)).success_rate


async def _checked(context: ApiContext, filters: ActivityLogFilters | None) -> ActivityFilter:
    """The filters as the repository takes them; bad ones name their input field."""
    if filters is None:
        return ActivityFilter()
    record_type = None
    if filters.crm_record_type is not None:
        record_type = filters.crm_record_type.strip()
        if not 1 <= len(record_type) <= _RECORD_TYPE_MAX:
            raise ApiError.bad_input(
                "filters.crmRecordType", f"must be 1 to {_RECORD_TYPE_MAX} characters"
            )
    after, before = date_range(filters.created_after, filters.created_before, field="filters")
    return ActivityFilter(
        agent_config_id=(
            None
            if filters.agent_config_id is None
            else parse_id(filters.agent_config_id, "filters.agentConfigId")
        ),
        user_id=(
            None
            if filters.user_id is None
            else await context.user(filters.user_id, field="filters.userId")
        ),
        status=None if filters.status is None else filters.status.value,
        action_type=None if filters.action_type is None else filters.action_type.value,
        crm_record_type=record_type,
        created_after=after,
        created_before=before,
    )


def date_range(
    after: datetime | None, before: datetime | None, *, field: str
) -> tuple[datetime | None, datetime | None]:
    """A checked ``createdAfter`` / ``createdBefore`` pair of the input ``field``."""
    bounds: dict[str, datetime | None] = {"createdAfter": after, "createdBefore": before}
    for name, moment in bounds.items():
        if moment is not None and moment.utcoffset() is None:
            raise ApiError.bad_input(
                f"{field}.{name}", "needs a time zone, e.g. 2025-01-31T00:00:00Z"
            )
    if after is not None and before is not None and after >= before:
        raise ApiError.bad_input(f"{field}.createdBefore", "must be later than createdAfter")
    return after, before


def _key(row: StoredActivity) -> After:
    assert row.created_at is not None  # page_activity lists only rows that have one
    return After(row.created_at, row.id)
