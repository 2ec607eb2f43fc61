"""Each workspace's CRM, from its stored connection, behind a per-workspace cache.

A run asks ``ConnectedCrms.for_workspace``; the first ask builds a HubSpot client from the
workspace's connection (credentials opened with the key ring), an ``AuditedCrm`` over it
and a ``CachedCrm`` in front, so the records, property definitions and pipelines of one
workspace are read once across its runs, and every call that reaches HubSpot is audited
(and, given ``Budgets``, spends the workspace's rate budget, shared with its writer).
Each ask re-reads the connection row (one indexed lookup), so a reconnected or revoked
connection takes effect at the next run; the old client is closed then. An OAuth client
refreshes its own access token and stores the new grant (``crm_client``); a refresh leaves the
row's ``updated_at`` as it was, so the client that refreshed is kept, with its cache. A refresh
HubSpot refuses marks the connection ``error``, which moves ``updated_at``: the next ask builds
a client that fails every call, saying to reconnect HubSpot, without asking HubSpot again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from runtime.clock import Clock
from runtime.connections.cipher import KeyRing
from runtime.connections.service import crm_client, load_credentials
from runtime.crm.audited import AuditedCrm
from runtime.crm.cached import CachedCrm
from runtime.crm.hubspot.client import HubSpotClient
from runtime.crm.hubspot.retry import RetryPolicy
from runtime.crm.port import CrmPort
from runtime.runs.executor import NoCrmConnectionError, WorkspaceCrm
from runtime.settings import HubSpotSettings, Settings
from runtime.writes.budgeted import BudgetedCrm, BudgetSource

__all__ = ["ConnectedCrms"]


@dataclass(slots=True)
class _Connected:
    connection_id: UUID
    updated_at: datetime
    client: HubSpotClient
    crm: WorkspaceCrm


class ConnectedCrms:
    """Implements ``runtime.runs.executor.CrmSource`` from the ``crm_connections`` table."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        keyring: KeyRing,
        hubspot: HubSpotSettings,
        *,
        clock: Clock,
        cache_ttl_s: float = 300.0,
        lookup_ttl_s: float = 60.0,
        budgets: BudgetSource | None = None,
    ) -> None:
        self._pool = pool
        self._keyring = keyring
        self._hubspot = hubspot
        self._clock = clock
        self._cache_ttl_s = cache_ttl_s
        self._lookup_ttl_s = lookup_ttl_s
        self._budgets = budgets
        self._by_workspace: dict[UUID, _Connected] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        clock: Clock,
        keyring: KeyRing | None = None,
        budgets: BudgetSource | None = None,
    ) -> ConnectedCrms:
        """The connected CRMs a long-running process uses: its key ring (built from
        ``settings`` unless given), HubSpot settings and cache lifetimes
        (``CRM_AGENTS_WORKER__CRM_*_TTL_S``)."""
        return cls(
            pool,
            keyring or KeyRing.from_settings(settings),
            settings.hubspot,
            clock=clock,
            cache_ttl_s=settings.worker.crm_cache_ttl_s,
            lookup_ttl_s=settings.worker.crm_lookup_ttl_s,
            budgets=budgets,
        )

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        found = await load_credentials(self._pool, self._keyring, workspace_id)
        if found is None:
            await self._forget(workspace_id)
            raise NoCrmConnectionError(workspace_id)
        connection, credentials = found
        async with self._lock:
            current = self._by_workspace.get(workspace_id)
            if current is not None and (current.connection_id, current.updated_at) == (
                connection.id,
                connection.updated_at,
            ):
                return current.crm
            if current is not None:
                await current.client.aclose()
            # With a budget, a 429 is its to send again (counted); the client retries the rest.
            retry = RetryPolicy.from_settings(self._hubspot)
            if self._budgets is not None:
                retry = dataclasses.replace(retry, retry_rate_limited=False)
            client = crm_client(
                connection,
                credentials,
                self._hubspot,
                pool=self._pool,
                keyring=self._keyring,
                clock=self._clock,
                retry=retry,
            )
            audited = AuditedCrm(client, workspace_id=workspace_id, clock=self._clock)
            reads: CrmPort = audited
            if self._budgets is not None:
                reads = BudgetedCrm(audited, self._budgets.for_workspace(workspace_id))
            cached = CachedCrm(
                reads, clock=self._clock, ttl_s=self._cache_ttl_s, lookup_ttl_s=self._lookup_ttl_s
            )
            crm = WorkspaceCrm(port=cached, audit=audited)
            self._by_workspace[workspace_id] = _Connected(
                connection.id, connection.updated_at, client, crm
            )
            return crm

    async def aclose(self) -> None:
        """Close every client (the process is stopping)."""
        async with self._lock:
            for connected in self._by_workspace.values():
                await connected.client.aclose()
            self._by_workspace.clear()

    async def _forget(self, workspace_id: UUID) -> None:
        async with self._lock:
            gone = self._by_workspace.pop(workspace_id, None)
            if gone is not None:
                await gone.client.aclose()
