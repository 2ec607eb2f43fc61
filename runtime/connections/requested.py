"""A workspace's CRM read on a person's behalf: a preview, the discovery of its properties.

Such a read gets a client of its own (not the run executor's cached one): it is rare and
interactive, and its audit entries must name who asked. Every call that reaches the CRM is
in the audit log under their name, also when the read fails; refused credentials and a spent
rate limit are the domain errors a person can act on (``crm_failures_named``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.connections.cipher import KeyRing
from runtime.connections.models import CrmType
from runtime.connections.service import crm_client, load_credentials
from runtime.crm.audited import AuditedCrm
from runtime.crm.client_errors import crm_failures_named
from runtime.errors import ConflictError
from runtime.settings import HubSpotSettings

__all__ = ["requested_crm"]


@asynccontextmanager
async def requested_crm(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    *,
    requested_by: UUID,
    keyring: KeyRing,
    hubspot: HubSpotSettings,
    clock: Clock,
    crm_type: CrmType = "hubspot",
    to_connect: str,
) -> AsyncIterator[AuditedCrm]:
    """The workspace's CRM for the length of the block, audited in ``requested_by``'s name.

    Raises:
        ConflictError: field ``crm_connection``: no active connection (the message ends with
            ``to_connect``, what to do), or the CRM refuses its credentials (reconnect).
        BudgetExceededError: the CRM's rate limit is spent; retry later.
    """
    async with pool.acquire() as conn:
        found = await load_credentials(conn, keyring, workspace_id, crm_type)
    if found is None:
        raise ConflictError(
            "crm_connection", f"the workspace has no active {crm_type} connection: {to_connect}"
        )
    connection, credentials = found
    client = crm_client(connection, credentials, hubspot, pool=pool, keyring=keyring, clock=clock)
    crm = AuditedCrm(client, workspace_id=workspace_id, clock=clock, actor_user_id=requested_by)
    try:
        with crm_failures_named():
            yield crm
    finally:
        await client.aclose()
        # Also when the read failed: a call that reached the CRM is logged either way.
        await AuditRepo(pool).insert_many(crm.drain())
