"""The only module that runs activity-log SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from runtime.activity.models import ActivityLog
from runtime.db import Executor
from runtime.db.keyset import After, Conditions
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError

__all__ = ["ActivityFilter", "ActivityRepo", "AgentOutcomes", "NewActivity"]

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


@dataclass(frozen=True, slots=True)
class ActivityFilter:
    """Which of a workspace's activities to list; None means any. ``created_after`` is
    inclusive, ``created_before`` exclusive."""

    agent_config_id: UUID | None = None
    user_id: UUID | None = None
    status: str | None = None
    action_type: str | None = None
    crm_record_type: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def conditions(self, workspace_id: UUID) -> Conditions:
        """The filter as conditions of ``page_activity`` / ``count_activity``."""
        return (
            Conditions(workspace_id)
            .when(self.agent_config_id, "agent_config_id = {}")
            .when(self.user_id, "user_id = {}")
            .when(self.status, "status = {}")
            .when(self.action_type, "action_type = {}")
            .when(self.crm_record_type, "crm_record_type = {}")
            .when(self.created_after, "created_at >= {}")
            .when(self.created_before, "created_at < {}")
        )


@dataclass(frozen=True, slots=True)
class AgentOutcomes:
    """How an agent's finished activities ended over some window."""

    succeeded: int = 0
    failed: int = 0
    rejected: int = 0

    @property
    def success_rate(self) -> float | None:
        """success / (success + failed + rejected); None when nothing finished."""
        finished = self.succeeded + self.failed + self.rejected
        return self.succeeded / finished if finished else None


class ActivityRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert(self, new: NewActivity) -> ActivityLog:
        return _activity(await self._db.fetchrow(_SQL["insert_activity"], *new.values()))

    async def insert_many(self, new: Sequence[NewActivity]) -> list[ActivityLog]:
        """``insert`` for several activities in one statement; the rows, in order.

        Raises:
            ValueError: an activity has no ``agent_run_id``, or two have the same one (it is
                how the stored rows are told apart).
        """
        if not new:
            return []
        run_ids = [n.agent_run_id for n in new]
        if None in run_ids or len(set(run_ids)) != len(run_ids):
            raise ValueError("insert_many needs an agent_run_id of its own for each activity")
        columns = [list(column) for column in zip(*(n.values() for n in new), strict=True)]
        for index in _JSON_VALUES:
            columns[index] = [_json_text(value) for value in columns[index]]
        rows = await self._db.fetch(_SQL["insert_activities"], *columns)
        stored = {row["agent_run_id"]: _activity(row) for row in rows}
        return [stored[run_id] for run_id in run_ids]

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

    # The API's reads (runtime.api.types.activity) -------------------------------------

    async def get_many(self, workspace_id: UUID, ids: Sequence[UUID]) -> list[ActivityLog]:
        """The workspace's activities among ``ids``, in no particular order."""
        if not ids:
            return []
        rows = await self._db.fetch(_SQL["get_activities"], workspace_id, list(ids))
        return [_activity(row) for row in rows]

    async def page(
        self,
        workspace_id: UUID,
        where: ActivityFilter,
        *,
        limit: int,
        after: After | None = None,
    ) -> list[ActivityLog]:
        """Up to ``limit`` of the workspace's activities matching ``where``, newest first,
        strictly after ``after``."""
        sql, args = (
            where.conditions(workspace_id)
            .after(after)
            .statement(_SQL["page_activity"], limit=limit)
        )
        return [_activity(row) for row in await self._db.fetch(sql, *args)]

    async def count(self, workspace_id: UUID, where: ActivityFilter) -> int:
        """How many activities ``page`` lists over all its pages."""
        sql, args = where.conditions(workspace_id).statement(_SQL["count_activity"])
        return int(await self._db.fetchval(sql, *args))

    async def recent_for_agents(
        self, workspace_id: UUID, agent_ids: Sequence[UUID], *, limit: int
    ) -> dict[UUID, list[ActivityLog]]:
        """The newest ``limit`` activities of each agent (newest first), by agent; an agent
        without any maps to an empty list."""
        found: dict[UUID, list[ActivityLog]] = {agent_id: [] for agent_id in agent_ids}
        if not agent_ids:
            return found
        rows = await self._db.fetch(
            _SQL["recent_activity_for_agents"], workspace_id, list(set(agent_ids)), limit
        )
        for row in rows:
            found[row["agent_config_id"]].append(_activity(row))
        return found

    async def outcomes_for_agents(
        self, workspace_id: UUID, agent_ids: Sequence[UUID], *, since: datetime
    ) -> dict[UUID, AgentOutcomes]:
        """Each agent's finished activities created at or after ``since``, by agent (the
        workspace's agents among ``agent_ids``; the others map to no outcomes)."""
        found = {agent_id: AgentOutcomes() for agent_id in agent_ids}
        if not agent_ids:
            return found
        rows = await self._db.fetch(
            _SQL["outcomes_for_agents"], workspace_id, list(set(agent_ids)), since
        )
        for row in rows:
            found[row["agent_config_id"]] = AgentOutcomes(
                succeeded=row["succeeded"], failed=row["failed"], rejected=row["rejected"]
            )
        return found

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

    async def settle_decided(
        self, workspace_id: UUID, ids: Sequence[UUID], *, now: datetime
    ) -> None:
        """Finish the pending activities among ``ids`` after decisions on their proposals:
        ``rejected`` when none of them was or will be written, else as ``settle_written``
        says (which leaves an activity with fields still to write pending)."""
        if not ids:
            return
        rows = await self._db.fetch(
            _SQL["reject_unwritten_activities"], workspace_id, list(set(ids)), now
        )
        ended = {row["id"] for row in rows}
        await self.settle_written(workspace_id, [i for i in set(ids) if i not in ended], now=now)

    async def reroute(
        self,
        workspace_id: UUID,
        activity_id: UUID,
        *,
        crm_record_id: str | None,
        crm_record_type: str | None,
        action_type: str,
        fields_updated: dict[str, Any],
        overall_confidence: float | None,
        details: dict[str, Any],
        now: datetime,
    ) -> ActivityLog | None:
        """A question's activity once answered: the picked deal and what the agent now
        proposes; ``details`` are merged into the stored ones. None when the activity is no
        longer pending."""
        row = await self._db.fetchrow(
            _SQL["reroute_activity"],
            workspace_id,
            activity_id,
            crm_record_id,
            crm_record_type,
            action_type,
            fields_updated,
            None if overall_confidence is None else Decimal(str(round(overall_confidence, 2))),
            details,
            now,
        )
        return None if row is None else _activity(row)

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


_JSON_VALUES = (7, 12)
"""The positions of fields_updated and details in ``NewActivity.values()``."""


def _json_text(value: Any) -> str | None:
    """A JSON value as the text an array parameter carries (NULL stays NULL)."""
    return None if value is None else json.dumps(value)
