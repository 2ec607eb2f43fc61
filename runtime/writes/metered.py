"""The writer's CRM: every call inside the workspace's rate budget, and noted for the audit log.

Rules:

- A call waits for the budget first (``acquire``; ``BudgetExceededError`` when the day is
  spent). A write asks before its rows are marked in flight and then calls with
  ``acquired=True``, so a row is in flight only while its request is on its way.
- After every answer the budget sees the ``X-HubSpot-RateLimit-*`` headers, when the client
  exposes them (``HubSpotClient.last_rate_limit``), each reading once; a 429 is reported with
  ``on_rate_limited(policy, retry_after_s)`` and raised on.
- Every call is noted by ``AuditedCrm``; ``drain()`` hands the entries to the transaction
  that records what the calls did.
- Property definitions are read once per object type and kept, to compare values by
  meaning; when they cannot be read the mapping is empty (and not kept).
- ``requests`` and ``rate_limited`` count the calls made and the 429s met since creation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol, TypeVar
from uuid import UUID

from runtime.audit.models import AuditEntry
from runtime.clock import Clock
from runtime.crm.audited import AuditedCrm
from runtime.crm.errors import CrmAuthError, CrmError, CrmRateLimitedError
from runtime.crm.hubspot.rate_limits import RateLimitHeaders
from runtime.crm.port import CrmPort, ObjectType, PropertyDefinition

__all__ = ["BudgetKind", "MeteredCrm", "WriteBudget"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

BudgetKind = Literal["standard", "search"]


class WriteBudget(Protocol):
    """What the writer asks of the workspace's rate budget (``runtime.writes.budget``)."""

    async def acquire(self, kind: BudgetKind) -> None: ...

    def delay_s(self, kind: BudgetKind) -> float: ...

    def observe(self, headers: RateLimitHeaders) -> None: ...

    def on_rate_limited(self, policy: str | None, retry_after_s: float | None) -> None: ...


class MeteredCrm:
    """A CRM port's calls, each inside ``budget`` and noted for the audit log."""

    def __init__(
        self, crm: CrmPort, budget: WriteBudget, *, workspace_id: UUID, clock: Clock
    ) -> None:
        """Args:
        crm: the bare client, retries off (``NO_RETRIES``): every attempt is a call here.
        budget: the workspace's rate budget.
        workspace_id: whose audit log the entries go to.
        clock: stamps the audit entries.
        """
        self._raw = crm
        self.port = AuditedCrm(crm, workspace_id=workspace_id, clock=clock)
        self.budget = budget
        self._workspace_id = workspace_id
        self._definitions: dict[ObjectType, dict[str, PropertyDefinition]] = {}
        self._seen_limits: RateLimitHeaders | None = None
        self.requests = 0
        self.rate_limited = 0

    async def acquire(self) -> None:
        """Wait until a call may go, and count it in the budget."""
        await self.budget.acquire("standard")

    async def call(self, call: Callable[[], Awaitable[_T]], *, acquired: bool = False) -> _T:
        """Make one call through ``port`` inside the budget (``acquired``: asked already)."""
        if not acquired:
            await self.acquire()
        self.requests += 1
        try:
            return await call()
        except CrmRateLimitedError as exc:
            self.rate_limited += 1
            self.budget.on_rate_limited(exc.policy, exc.retry_after_s)
            raise
        finally:
            self._observe_limits()

    async def definitions(self, object_type: ObjectType) -> Mapping[str, PropertyDefinition]:
        """The type's property definitions by name (read once); empty when unreadable."""
        known = self._definitions.get(object_type)
        if known is not None:
            return known
        try:
            found = await self.call(lambda: self.port.property_definitions(object_type))
        except CrmAuthError:
            raise
        except CrmError as exc:
            _log.warning("outbox %s: no property definitions: %s", self._workspace_id, exc)
            return {}
        self._definitions[object_type] = {d.name: d for d in found}
        return self._definitions[object_type]

    def drain(self) -> list[AuditEntry]:
        """The audit entries of the calls made since the last drain."""
        return self.port.drain()

    def _observe_limits(self) -> None:
        limits = getattr(self._raw, "last_rate_limit", None)
        if isinstance(limits, RateLimitHeaders) and limits is not self._seen_limits:
            self._seen_limits = limits
            self.budget.observe(limits)
