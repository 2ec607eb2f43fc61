"""The only module that runs agent-run SQL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError
from runtime.meetings.models import Meeting
from runtime.runs.models import AgentRun, RunStatus

__all__ = ["RunRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class RunRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def create_for_meeting(self, meeting: Meeting) -> list[AgentRun]:
        """A pending run for each active agent in scope of the meeting; none twice."""
        if not meeting.call_type or not meeting.call_type.strip():
            return []  # an agent runs on call types; a meeting without one is in no scope
        rows = await self._db.fetch(
            _SQL["insert_runs_for_meeting"], meeting.workspace_id, meeting.id, meeting.call_type
        )
        return [_run(row) for row in rows]

    async def claim(self, owner: str, *, limit: int, lease_s: float) -> list[AgentRun]:
        """Take up to ``limit`` runs for ``owner`` with a lease of ``lease_s`` seconds."""
        rows = await self._db.fetch(_SQL["claim_runs"], owner, limit, lease_s)
        return sorted((_run(row) for row in rows), key=lambda r: (r.created_at, str(r.id)))

    async def extend_lease(self, run_id: UUID, owner: str, *, lease_s: float) -> bool:
        """Keep holding a run; False when the lease was lost (taken over or finished)."""
        return await self._db.fetchval(_SQL["extend_lease"], run_id, owner, lease_s) is not None

    async def finish(
        self, run_id: UUID, owner: str, status: RunStatus, error_message: str | None = None
    ) -> bool:
        """Mark the run done or failed; False when ``owner`` no longer holds it."""
        found = await self._db.fetchval(_SQL["finish_run"], run_id, owner, status, error_message)
        return found is not None

    async def finish_many(
        self, owner: str, runs: Sequence[tuple[UUID, RunStatus, str | None]]
    ) -> set[UUID]:
        """``finish`` for (run id, status, error message) of many runs in one statement;
        the ids ``owner`` still held (and finished)."""
        if not runs:
            return set()
        rows = await self._db.fetch(
            _SQL["finish_runs"],
            owner,
            [run_id for run_id, _, _ in runs],
            [status for _, status, _ in runs],
            [error for _, _, error in runs],
        )
        return {row["id"] for row in rows}

    async def extend_leases(
        self, run_ids: Sequence[UUID], owner: str, *, lease_s: float
    ) -> set[UUID]:
        """``extend_lease`` for many runs in one statement; the ids still held."""
        rows = await self._db.fetch(_SQL["extend_leases"], list(run_ids), owner, lease_s)
        return {row["id"] for row in rows}

    async def abandon(self, run_ids: Sequence[UUID], owner: str) -> set[UUID]:
        """End the leases of runs whose executing process died, attempts kept; the ids."""
        rows = await self._db.fetch(_SQL["abandon_runs"], list(run_ids), owner)
        return {row["id"] for row in rows}

    async def release(self, run_id: UUID, owner: str) -> bool:
        """Hand an unfinished run back to the queue (a clean shutdown)."""
        return await self._db.fetchval(_SQL["release_run"], run_id, owner) is not None

    async def get(self, run_id: UUID) -> AgentRun:
        row = await self._db.fetchrow(_SQL["get_run"], run_id)
        if row is None:
            raise NotFoundError("agent run", str(run_id))
        return _run(row)

    async def list_for_meeting(self, meeting_id: UUID) -> list[AgentRun]:
        return [
            _run(row) for row in await self._db.fetch(_SQL["list_runs_for_meeting"], meeting_id)
        ]

    async def count_unfinished(self) -> int:
        return int(await self._db.fetchval(_SQL["count_unfinished_runs"]))

    async def inputs_of(self, runs: Sequence[AgentRun]) -> list[dict[str, Any]]:
        """What executing ``runs`` reads, one row per run in their order (one statement):
        the meeting's columns (``id`` None when it is gone), the agent's as ``agent_id``,
        ``agent_name``, ``agent_created_by``, ``agent_status``, ``agent_is_template`` and
        ``agent_config`` (``agent_id`` None when it is gone), and ``owner_member_id``: the
        meeting owner's user id when the owner is a member of the run's workspace."""
        if not runs:
            return []
        rows = await self._db.fetch(
            _SQL["get_run_inputs"],
            [run.workspace_id for run in runs],
            [run.meeting_id for run in runs],
            [run.agent_config_id for run in runs],
        )
        return [dict(row) for row in rows]

    async def agent_of(self, agent_config_id: UUID) -> dict[str, Any]:
        """The agent config row a run executes (config JSON still raw)."""
        row = await self._db.fetchrow(_SQL["get_run_agent"], agent_config_id)
        if row is None:
            raise NotFoundError("agent config", str(agent_config_id))
        return dict(row)


def _run(row: Any) -> AgentRun:
    return AgentRun.model_validate(dict(row))
