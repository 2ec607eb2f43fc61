"""Previewing a stored agent on a stored meeting, against the workspace's connected CRM.

The rule is the CLI preview's (``crm-agents preview``): the agent runs as a real run would
(``runtime.agents.preview.preview_meeting``) and nothing of the run is stored: no agent
run, activity, proposal, inbox item or outbox row, and nothing is sent to the CRM but
reads. The one thing left behind is what every CRM call leaves (ARCHITECTURE, "Security"):
the reads that reached the CRM are in the audit log, under the name of the user who asked.
(The CLI reads a snapshot file, not a CRM, so it leaves nothing at all.)

The CRM is reached through a client of its own per preview (``runtime.connections.
requested``), not through the run executor's cached one: a preview is rare and interactive,
and its audit entries must name who asked, not the agent.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agents.extraction import Extractor
from runtime.agents.preview import preview_meeting
from runtime.agents.results import AgentPreviewResult
from runtime.clock import Clock
from runtime.connections.cipher import KeyRing
from runtime.connections.requested import requested_crm
from runtime.errors import NotFoundError
from runtime.meetings.repo import MeetingRepo
from runtime.settings import HubSpotSettings

__all__ = ["preview_stored_agent"]


async def preview_stored_agent(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    *,
    agent_id: UUID,
    meeting_id: UUID,
    requested_by: UUID,
    keyring: KeyRing,
    hubspot: HubSpotSettings,
    extractor: Extractor,
    clock: Clock,
) -> AgentPreviewResult:
    """What the workspace's agent ``agent_id`` would propose for its meeting ``meeting_id``.

    Any agent of the workspace may be previewed, drafts and templates included (a preview
    is how an admin decides to activate one). A meeting of a call type the agent does not
    run on is answered with the skip and its reason among the warnings.

    Raises:
        NotFoundError: no such agent (field ``agent_config_id``) or meeting (``meeting_id``)
            in the workspace.
        ConflictError: the workspace has no active CRM connection, or the CRM refuses its
            credentials (field ``crm_connection``).
        BudgetExceededError: the CRM's rate limit is spent; retry later.
        runtime.crm.errors.CrmError: the CRM failed otherwise (down, 5xx).
        runtime.errors.ExtractionError: the extractor's endpoint failed.
    """
    async with pool.acquire() as conn:
        try:
            agent = await AgentConfigRepo(conn).get(workspace_id, agent_id)
        except NotFoundError as exc:
            raise NotFoundError("agent config", str(agent_id), "agent_config_id") from exc
        try:
            meeting = await MeetingRepo(conn).get(workspace_id, meeting_id)
        except NotFoundError as exc:
            raise NotFoundError("meeting", str(meeting_id), "meeting_id") from exc
    async with requested_crm(
        pool,
        workspace_id,
        requested_by=requested_by,
        keyring=keyring,
        hubspot=hubspot,
        clock=clock,
        crm_type=agent.crm_type,
        to_connect="connect its CRM before previewing an agent",
    ) as crm:
        return await preview_meeting(meeting, crm=crm, config=agent.config, extractor=extractor)
