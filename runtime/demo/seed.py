"""The demo's workspace: made on the first run, found again on the next ones.

One transaction makes sure the workspace exists (``DEMO_WORKSPACE_NAME``, with
``DEMO_ADMIN`` as its admin), points its HubSpot connection at this run's emulator with a
private app token, makes sure its agent (``DEMO_AGENT_NAME``, from the ``demo`` template with
``demo_agent_config``) exists and is active, and issues what the run hands out: a fresh API
token for the admin and a fresh webhook secret for the meeting feed. Running it again reuses
the workspace, the admin and the agent (an agent paused meanwhile is activated again, its
config left as it was); earlier tokens stay valid, the earlier webhook secret does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg
from pydantic import SecretStr

from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agent_configs.service import activate, create_from_template, update_agent
from runtime.connections.cipher import KeyRing
from runtime.connections.service import connect_private_token
from runtime.demo.account import DEMO_TEMPLATE, demo_agent_config
from runtime.demo.repo import DemoRepo
from runtime.meeting_webhooks.service import set_secret
from runtime.tokens.service import issue_token
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo

__all__ = [
    "DEMO_ADMIN",
    "DEMO_AGENT_NAME",
    "DEMO_TOKEN_NAME",
    "DEMO_WORKSPACE_NAME",
    "DemoWorkspace",
    "seed_demo",
]

DEMO_WORKSPACE_NAME = "crm-agents demo"
DEMO_ADMIN = UserCreate(email="alex.morgan@ourco.example", name="Alex Morgan")
"""The admin who owns every sample meeting, so the inbox items are theirs."""
DEMO_AGENT_NAME = "Demo agent"
DEMO_TOKEN_NAME = "crm-agents demo"


@dataclass(frozen=True)
class DemoWorkspace:
    """What a run of the demo works with; ``token`` and ``webhook_secret`` are secrets."""

    workspace_id: UUID
    admin_id: UUID
    admin_email: str
    agent_id: UUID
    token: str
    webhook_secret: str
    reused: bool
    """The workspace was there from an earlier run."""


async def seed_demo(
    conn: asyncpg.Connection, keyring: KeyRing, *, crm_base_url: str, crm_token: str
) -> DemoWorkspace:
    """Make or find the demo workspace and connect it to the HubSpot at ``crm_base_url``.

    Raises:
        InvalidInputError: a malformed ``crm_base_url`` or ``crm_token``.
    """
    async with conn.transaction():
        demo = DemoRepo(conn)
        await demo.lock_seeding()
        found = await demo.find_workspace(DEMO_WORKSPACE_NAME, DEMO_ADMIN.email)
        workspace = found or await WorkspaceRepo(conn).create(
            WorkspaceCreate(name=DEMO_WORKSPACE_NAME)
        )
        admin, _ = await add_user_to_workspace(conn, workspace.id, DEMO_ADMIN, role="admin")
        await connect_private_token(
            conn,
            keyring,
            workspace.id,
            token=SecretStr(crm_token),
            base_url=crm_base_url,
            created_by=admin.user.id,
        )
        agent = await _demo_agent(conn, workspace.id, admin.user.id)
        await activate(conn, agent.id, workspace_id=workspace.id)
        issued = await issue_token(conn, workspace.id, admin.user.id, name=DEMO_TOKEN_NAME)
        secret = await set_secret(conn, keyring, workspace.id)
    return DemoWorkspace(
        workspace_id=workspace.id,
        admin_id=admin.user.id,
        admin_email=admin.user.email,
        agent_id=agent.id,
        token=issued.secret,
        webhook_secret=secret,
        reused=found is not None,
    )


async def _demo_agent(
    conn: asyncpg.Connection, workspace_id: UUID, admin_id: UUID
) -> StoredAgentConfig:
    """The workspace's demo agent; made from the template on the first run."""
    for agent in await AgentConfigRepo(conn).list(workspace_id):
        if agent.name == DEMO_AGENT_NAME:
            return agent
    draft = await create_from_template(
        conn, workspace_id, template_key=DEMO_TEMPLATE, created_by=admin_id, name=DEMO_AGENT_NAME
    )
    return await update_agent(conn, draft.id, config=demo_agent_config(), workspace_id=workspace_id)
