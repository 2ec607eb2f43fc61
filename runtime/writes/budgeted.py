"""A CRM port whose every call waits for the workspace's rate budget first.

HubSpot's burst and daily limits are the account's, shared by everything we send: the
agents' reads as much as the writer's batches. ``BudgetedCrm`` puts a port's calls inside
a ``runtime.writes.budget.RateBudget``: searches ask for a search slot (HubSpot limits them
apart), everything else for a standard one; a 429 that still comes back tells the budget
(``on_rate_limited``), and the call is sent again once the budget lets it (up to
``attempts`` sends; a 429 is a call HubSpot did not carry out, and a daily one is raised at
once). Put it behind a cache, so a cache hit costs
no budget, and in front of the audit recorder and the client. ``Budgets`` keeps one budget
per workspace in a process, so its runs and its writer spend the same one; on Ray, runs
in executor processes spend their workspace actor's budget instead
(``actors.workspace_actor.ActorBudgets``), the one its writer spends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar
from uuid import UUID

from runtime.clock import Clock
from runtime.crm.errors import CrmRateLimitedError
from runtime.crm.port import (
    BatchResult,
    CrmPort,
    CrmRecord,
    ObjectType,
    Page,
    Pipeline,
    PropertyDefinition,
    RecordCreate,
    RecordUpdate,
    SearchRequest,
)
from runtime.settings import WriteSettings
from runtime.writes.budget import CallKind, RateBudget

__all__ = ["BudgetSource", "BudgetedCrm", "Budgets", "CallBudget"]

_T = TypeVar("_T")


class CallBudget(Protocol):
    """What a call needs of a budget (``RateBudget`` here, a workspace actor's on Ray)."""

    async def acquire(self, kind: CallKind = "standard") -> None: ...

    def on_rate_limited(self, policy: str | None, retry_after_s: float | None) -> None: ...


class BudgetSource(Protocol):
    """Where a workspace's budget is found."""

    def for_workspace(self, workspace_id: UUID) -> CallBudget: ...


class Budgets:
    """One ``RateBudget`` per workspace in this process, shared by the agents' reads
    (``runtime.runs.crm_source``) and the workspace's writer (``WorkspaceRuntime``)."""

    def __init__(self, settings: WriteSettings, *, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._by_workspace: dict[UUID, RateBudget] = {}

    def for_workspace(self, workspace_id: UUID) -> RateBudget:
        budget = self._by_workspace.get(workspace_id)
        if budget is None:
            limits = self._settings.limits_for(workspace_id)
            budget = self._by_workspace[workspace_id] = RateBudget(limits, clock=self._clock)
        return budget


class BudgetedCrm:
    """Implements ``CrmPort`` over ``inner``, each call inside ``budget``."""

    def __init__(self, inner: CrmPort, budget: CallBudget, *, attempts: int = 3) -> None:
        """``attempts``: sends of a call that meets 429s, at most (each inside the budget)."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._inner = inner
        self.budget = budget
        self.attempts = attempts

    async def _within(self, call: Callable[[], Awaitable[_T]], kind: CallKind = "standard") -> _T:
        for attempt in range(1, self.attempts + 1):
            await self.budget.acquire(kind)
            try:
                return await call()
            except CrmRateLimitedError as exc:
                # Not carried out, so safe to send again: the budget now holds calls back
                # until the limit's window has passed, and the next acquire waits for that.
                # Two workspaces connected to one HubSpot account share its limits
                # without sharing a budget; this is where they meet.
                self.budget.on_rate_limited(exc.policy, exc.retry_after_s)
                if attempt == self.attempts or exc.policy == "DAILY":
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    async def get(
        self,
        object_type: ObjectType,
        record_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[ObjectType] = (),
    ) -> CrmRecord:
        return await self._within(
            lambda: self._inner.get(
                object_type, record_id, properties=properties, associations=associations
            )
        )

    async def list_page(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str] = (),
        after: str | None = None,
        limit: int = 100,
    ) -> Page:
        return await self._within(
            lambda: self._inner.list_page(
                object_type, properties=properties, after=after, limit=limit
            )
        )

    async def search(self, object_type: ObjectType, request: SearchRequest) -> Page:
        return await self._within(lambda: self._inner.search(object_type, request), "search")

    async def batch_read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str] = ()
    ) -> BatchResult:
        return await self._within(
            lambda: self._inner.batch_read(object_type, ids, properties=properties)
        )

    async def batch_create(
        self, object_type: ObjectType, inputs: Sequence[RecordCreate]
    ) -> BatchResult:
        return await self._within(lambda: self._inner.batch_create(object_type, inputs))

    async def batch_update(
        self, object_type: ObjectType, inputs: Sequence[RecordUpdate]
    ) -> BatchResult:
        return await self._within(lambda: self._inner.batch_update(object_type, inputs))

    async def associated_ids(
        self, from_type: ObjectType, record_id: str, to_type: ObjectType
    ) -> list[str]:
        return await self._within(lambda: self._inner.associated_ids(from_type, record_id, to_type))

    async def property_definitions(self, object_type: ObjectType) -> list[PropertyDefinition]:
        return await self._within(lambda: self._inner.property_definitions(object_type))

    async def pipelines(self, object_type: ObjectType = "deals") -> list[Pipeline]:
        return await self._within(lambda: self._inner.pipelines(object_type))
