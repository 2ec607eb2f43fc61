"""``AgentConfig`` and the queries that read agents and templates.

Any member may read the workspace's agents and templates; changing them is for admins
(``types/agent_mutations.py``).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.api.context import ApiContext
from runtime.api.ids import parse_id
from runtime.api.loaders import agent_config_loader, user_loader
from runtime.api.types.activity import (
    DEFAULT_RECENT,
    DEFAULT_SUCCESS_DAYS,
    ActivityLog,
    recent_activity,
    success_rate,
)
from runtime.api.types.common import JSON, AgentStatus, CRMType, User

__all__ = ["AgentConfig", "Query"]

Info = strawberry.Info[ApiContext, None]


def _config_json(root: AgentConfig) -> JSON:
    """``AgentConfig.config``, dumped when a client asks for it rather than by ``of``: a page
    of activity shows each row's agent, by its name."""
    return JSON(root.stored.config.model_dump(mode="json"))


@strawberry.type(description="An agent: what it reads, which fields it may change, and how.")
class AgentConfig:
    stored: strawberry.Private[StoredAgentConfig]
    id: strawberry.ID
    name: str
    crm_type: CRMType
    call_type: str | None = strawberry.field(description="The primary call type.")
    config: JSON = strawberry.field(resolver=_config_json)
    status: AgentStatus
    is_template: bool
    template_key: str | None = strawberry.field(
        description="The built-in template a template row materialises."
    )
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: StoredAgentConfig) -> AgentConfig:
        return cls(
            stored=stored,
            id=strawberry.ID(str(stored.id)),
            name=stored.name,
            crm_type=CRMType(stored.crm_type),
            call_type=stored.call_type,
            status=AgentStatus(stored.status),
            is_template=stored.is_template,
            template_key=stored.template_key,
            description=stored.description,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )

    @strawberry.field
    async def created_by(self, info: Info) -> User:
        user = await user_loader(info.context).load(self.stored.created_by)
        if user is None:  # the foreign key makes this impossible short of corruption
            raise LookupError(f"agent config {self.id} has no creator {self.stored.created_by}")
        return User.of(user)

    @strawberry.field(description="The agent's newest activities, newest first (1 to 100).")
    async def recent_activity(self, info: Info, limit: int = DEFAULT_RECENT) -> list[ActivityLog]:
        return await recent_activity(info, self.stored.id, limit)

    @strawberry.field(
        description="success / (success + failed + rejected) over the agent's activities of"
        " the last `days` days (1 to 365; pending ones have no outcome yet); null when none"
        " finished."
    )
    async def success_rate(self, info: Info, days: int = DEFAULT_SUCCESS_DAYS) -> float | None:
        return await success_rate(info, self.stored.id, days)


@strawberry.type
class Query:
    @strawberry.field(description="The workspace's agents (templates excluded), oldest first.")
    async def agent_configs(self, info: Info, workspace_id: strawberry.ID) -> list[AgentConfig]:
        workspace = info.context.workspace(workspace_id)
        stored = await AgentConfigRepo(info.context.pool).list(workspace)
        return [AgentConfig.of(s) for s in stored]

    @strawberry.field(description="One agent or template of the token's workspace, or null.")
    async def agent_config(self, info: Info, id: strawberry.ID) -> AgentConfig | None:
        found = await agent_config_loader(info.context).load(parse_id(id, "id"))
        return None if found is None else AgentConfig.of(found)

    @strawberry.field(
        description="The workspace's templates (built-in and its own), optionally of one call type."
    )
    async def agent_templates(self, info: Info, call_type: str | None = None) -> list[AgentConfig]:
        workspace = info.context.principal.workspace_id
        stored = await AgentConfigRepo(info.context.pool).list(workspace, include_templates=True)
        wanted = None if call_type is None else call_type.strip().lower()
        return [
            AgentConfig.of(s)
            for s in stored
            if s.is_template and (wanted is None or wanted in s.config.call_types)
        ]
