"""Building a tenant whose agent writes on its own: a workspace, its admin, an active
auto-applying agent, and meetings that give it something to say (for the write-path tests)."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg

from runtime.agents.config import AgentConfig, FieldPolicy
from runtime.clock import SystemClock
from runtime.crm.audited import AuditedCrm
from runtime.crm.port import CrmPort
from runtime.meetings.service import import_meeting
from runtime.runs.executor import NoCrmConnectionError, WorkspaceCrm
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.meetings import dialogue


class StaticCrms:
    """A CRM per workspace, as the tests set them; none for the others (a ``CrmSource``)."""

    def __init__(self) -> None:
        self.by_workspace: dict[UUID, CrmPort] = {}

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        try:
            crm = self.by_workspace[workspace_id]
        except KeyError:
            raise NoCrmConnectionError(workspace_id) from None
        audited = AuditedCrm(crm, workspace_id=workspace_id, clock=SystemClock())
        return WorkspaceCrm(port=audited, audit=audited)


FIELDS = ("dealstage", "amount", "closedate", "hs_next_step")
PRICE_AGREED = (
    ("Sam Lee", "So where did you land on price?"),
    ("Dana Ruiz", "Sixty thousand works for us. We'll sign by the end of next month."),
    ("Sam Lee", "Great. I'll send the order form tomorrow."),
)
"""With the example CRM, the agent proposes amount, close date and next step for deal 301."""


def auto_apply_config(**changes: Any) -> AgentConfig:
    """Trusted (not review-only) and confident enough for the rules' calibrated values;
    ``changes`` replace any of its fields."""
    values: dict[str, Any] = {
        "call_types": ("discovery",),
        "fields": {f: FieldPolicy(auto_apply_threshold=0.3) for f in FIELDS},
        "review_only": False,
        **changes,
    }
    return AgentConfig(**values)


async def insert_agent(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    created_by: UUID,
    config: AgentConfig,
    *,
    status: str = "active",
    is_template: bool = False,
) -> UUID:
    """An agent config row as the CLI would leave it (primary call type: the first)."""
    agent_id = await pool.fetchval(
        "INSERT INTO agent_configs (workspace_id, created_by, name, crm_type, call_type, config,"
        " status, is_template) VALUES ($1, $2, $3, 'hubspot', $4, $5, $6, $7) RETURNING id",
        workspace_id,
        created_by,
        f"agent-{uuid.uuid4().hex[:6]}",
        config.call_types[0],
        config.model_dump(mode="json"),
        status,
        is_template,
    )
    assert isinstance(agent_id, UUID)
    return agent_id


async def tenant_with_auto_agent(pool: asyncpg.Pool) -> tuple[UUID, UUID]:
    """A new workspace with an admin and an active auto-applying agent: (workspace, admin)."""
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=f"w-{uuid.uuid4().hex[:6]}"))
    async with pool.acquire() as conn:
        admin, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email="sam@ourco.example"), role="admin"
        )
    await insert_agent(pool, workspace.id, admin.user.id, auto_apply_config())
    return workspace.id, admin.user.id


async def import_price_meeting(
    pool: asyncpg.Pool, workspace_id: UUID, *, price: str = "Sixty"
) -> None:
    """A meeting where the customer agrees on ``price`` thousand (a new external id each)."""
    said = [(speaker, text.replace("Sixty", price)) for speaker, text in PRICE_AGREED]
    meeting = dialogue(*said, external_id=f"zoom-{uuid.uuid4().hex[:10]}")
    async with pool.acquire() as conn:
        await import_meeting(conn, workspace_id, meeting)
