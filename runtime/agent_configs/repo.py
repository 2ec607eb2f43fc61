"""The only module that runs agent config SQL."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from uuid import UUID

import asyncpg

from runtime.agent_configs.models import (
    AgentConfigCreate,
    AgentConfigUpdate,
    AgentStatus,
    StoredAgentConfig,
)
from runtime.agents.templates import AgentTemplate
from runtime.db import Executor
from runtime.db.constraints import ErrorFactory, domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError

__all__ = ["AgentConfigRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class AgentConfigRepo:
    """Agent configs of workspaces. ``workspace_id=None`` looks in every workspace."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert(
        self, workspace_id: UUID, created_by: UUID, new: AgentConfigCreate
    ) -> StoredAgentConfig:
        """Store a new (non-template) agent as a draft."""
        try:
            row = await self._db.fetchrow(
                _SQL["insert_agent_config"],
                workspace_id,
                created_by,
                new.name,
                new.config.crm_type,
                new.primary_call_type,
                new.config.model_dump(mode="json"),
                new.description,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(exc, _missing_owner(workspace_id, created_by)) from exc
        return StoredAgentConfig.from_row(row)

    async def materialise_templates(
        self, workspace_id: UUID, created_by: UUID, templates: Iterable[AgentTemplate]
    ) -> list[StoredAgentConfig]:
        """Insert the templates the workspace lacks as ``is_template`` rows; return those.

        Templates the workspace already has (by key) are left as they are, so calling this
        again, concurrently or not, inserts nothing.
        """
        payload = [
            {
                "template_key": template.call_type,
                "name": template.name,
                "crm_type": template.config.crm_type,
                "call_type": template.call_type,
                "config": template.config.model_dump(mode="json"),
                "description": template.description,
            }
            for template in templates
        ]
        try:
            rows = await self._db.fetch(
                _SQL["materialise_templates"], workspace_id, created_by, payload
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(exc, _missing_owner(workspace_id, created_by)) from exc
        return [StoredAgentConfig.from_row(row) for row in rows]

    async def get(self, workspace_id: UUID | None, agent_id: UUID) -> StoredAgentConfig:
        row = await self._db.fetchrow(_SQL["get_agent_config"], workspace_id, agent_id)
        if row is None:
            raise NotFoundError("agent config", str(agent_id))
        return StoredAgentConfig.from_row(row)

    async def get_many(self, workspace_id: UUID, ids: Sequence[UUID]) -> list[StoredAgentConfig]:
        """The workspace's agent configs among ``ids``, in no particular order."""
        rows = await self._db.fetch(_SQL["get_agent_configs"], workspace_id, list(ids))
        return [StoredAgentConfig.from_row(row) for row in rows]

    async def get_template(self, workspace_id: UUID, template_key: str) -> StoredAgentConfig | None:
        row = await self._db.fetchrow(_SQL["get_template"], workspace_id, template_key)
        return None if row is None else StoredAgentConfig.from_row(row)

    async def update(
        self, workspace_id: UUID | None, agent_id: UUID, change: AgentConfigUpdate
    ) -> StoredAgentConfig:
        """Change the name, config and/or description; ``updated_at`` moves either way.

        A new config also sets ``crm_type``, and ``call_type`` when the config no longer runs
        on the stored primary call type (it becomes the config's first).
        """
        config = change.config
        row = await self._db.fetchrow(
            _SQL["update_agent_config"],
            workspace_id,
            agent_id,
            change.name,
            None if config is None else config.model_dump(mode="json"),
            None if config is None else config.crm_type,
            None if config is None else config.call_types[0],
            change.description,
        )
        if row is None:
            raise NotFoundError("agent config", str(agent_id))
        return StoredAgentConfig.from_row(row)

    async def set_status(
        self,
        workspace_id: UUID | None,
        agent_id: UUID,
        *,
        to: AgentStatus,
        allowed_from: Collection[AgentStatus],
    ) -> StoredAgentConfig | None:
        """Move a non-template agent to ``to`` if its status is one of ``allowed_from``.

        Returns the updated row, or None when nothing changed (unknown id, a template, or
        another status): the caller reads the row again to say which.
        """
        row = await self._db.fetchrow(
            _SQL["set_agent_status"], workspace_id, agent_id, to, list(allowed_from)
        )
        return None if row is None else StoredAgentConfig.from_row(row)

    async def active_for_call_type(
        self, workspace_id: UUID, call_type: str
    ) -> list[StoredAgentConfig]:
        """The workspace's active agents (not templates) whose config runs on ``call_type``."""
        rows = await self._db.fetch(
            _SQL["active_for_call_type"], workspace_id, call_type.strip().lower()
        )
        return [StoredAgentConfig.from_row(row) for row in rows]

    async def list(
        self,
        workspace_id: UUID,
        *,
        include_templates: bool = False,
        status: AgentStatus | None = None,
    ) -> list[StoredAgentConfig]:
        """The workspace's agents, oldest first, then (when asked for) its templates."""
        rows = await self._db.fetch(
            _SQL["list_agent_configs"], workspace_id, include_templates, status
        )
        return [StoredAgentConfig.from_row(row) for row in rows]


def _missing_owner(workspace_id: UUID, created_by: UUID) -> dict[str, ErrorFactory]:
    return {
        "agent_configs_workspace_id_fkey": lambda: NotFoundError("workspace", str(workspace_id)),
        "agent_configs_created_by_fkey": lambda: NotFoundError("user", str(created_by)),
    }
