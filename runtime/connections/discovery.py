"""What an admin configures agents from: the connected CRM's deal properties and pipelines.

Read live through the workspace's connection, as a preview reads (``runtime.agent_configs.
preview``): each CRM call is in the audit log under the admin who asked. A property is
*proposable* when the agents can propose values for it: the properties the built-in templates
manage, which are the ones the extractors have rules for (``runtime.agents.extractors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from runtime.agents.templates import all_templates
from runtime.clock import Clock
from runtime.connections.cipher import KeyRing
from runtime.connections.requested import requested_crm
from runtime.crm.port import Pipeline, PropertyDefinition
from runtime.settings import HubSpotSettings

__all__ = ["PROPOSABLE_FIELDS", "DealProperty", "deal_pipelines", "deal_properties"]

PROPOSABLE_FIELDS: frozenset[str] = frozenset(
    name for template in all_templates() for name in template.config.fields
)
"""Deal properties the agents can propose values for."""
_TO_CONNECT = "connect HubSpot first (startCrmOAuth or connectCrmPrivateToken)"


@dataclass(frozen=True)
class DealProperty:
    definition: PropertyDefinition
    proposable: bool


async def deal_properties(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    *,
    requested_by: UUID,
    keyring: KeyRing,
    hubspot: HubSpotSettings,
    clock: Clock,
) -> list[DealProperty]:
    """The deal property definitions of the workspace's CRM, in the CRM's order.

    Raises:
        ConflictError: field ``crm_connection``: no active connection, or the CRM refuses
            its credentials (reconnect).
        BudgetExceededError: the CRM's rate limit is spent; retry later.
        runtime.crm.errors.CrmError: the CRM failed otherwise (down, 5xx).
    """
    async with requested_crm(
        pool,
        workspace_id,
        requested_by=requested_by,
        keyring=keyring,
        hubspot=hubspot,
        clock=clock,
        to_connect=_TO_CONNECT,
    ) as crm:
        definitions = await crm.property_definitions("deals")
    return [DealProperty(d, d.name in PROPOSABLE_FIELDS and not d.read_only) for d in definitions]


async def deal_pipelines(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    *,
    requested_by: UUID,
    keyring: KeyRing,
    hubspot: HubSpotSettings,
    clock: Clock,
) -> list[Pipeline]:
    """The deal pipelines of the workspace's CRM with their stages in display order.

    Raises:
        The errors of ``deal_properties``.
    """
    async with requested_crm(
        pool,
        workspace_id,
        requested_by=requested_by,
        keyring=keyring,
        hubspot=hubspot,
        clock=clock,
        to_connect=_TO_CONNECT,
    ) as crm:
        pipelines = await crm.pipelines("deals")
    return sorted(pipelines, key=lambda p: p.display_order)
