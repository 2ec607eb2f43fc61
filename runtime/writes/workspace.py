"""One workspace's live state: its agents, its HubSpot budget, its write queue and metrics.

Plain asyncio; ``actors/workspace_actor.py`` hosts one per workspace on Ray, and a process
without Ray can host them itself (``WorkspaceHost``). Rules:

- Activation rebuilds everything from Postgres, so a passivated or crashed workspace comes
  back as it was: the active agent configs, the per-minute metrics of the last
  ``metrics_window_s`` recomputed from the rows (``runtime.metrics``), a budget with the
  workspace's limits (``CRM_AGENTS_WRITES__*``, large tenants their own) that starts from
  the CRM calls the audit log holds for the last window and the day, and the outbox
  writer, which first recovers any batch a crash left in flight (``OutboxWriter.recover``).
- Flushing: a full batch of pending fields (``batch_size``) is sent at once, and a backlog
  is flushed back to back; a partial batch waits at most ``flush_interval_s`` after its
  oldest row, so fields queued together leave together. ``wake()`` says new rows arrived.
- Idle: ``idle_s()`` is the time since the last work; with nothing pending, a host may
  passivate the workspace (``close``) and activate it again on the next wake-up, so an idle
  workspace costs a database row, not a process.
- The CRM client has retries off: every attempt goes through the budget, which learns from
  the ``X-HubSpot-RateLimit-*`` headers of each answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import polars as pl

from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.connections.cipher import KeyRing
from runtime.connections.service import crm_client, load_credentials
from runtime.crm.hubspot.client import HubSpotClient
from runtime.crm.hubspot.retry import NO_RETRIES
from runtime.crm.port import CrmPort
from runtime.metrics.book import MetricsBook, totals
from runtime.metrics.models import WindowTotals
from runtime.metrics.service import workspace_book
from runtime.outbox.repo import OutboxRepo
from runtime.runs.executor import NoCrmConnectionError
from runtime.settings import Settings
from runtime.waiting import first_of
from runtime.writes.budget import RateBudget
from runtime.writes.writer import FlushReport, OutboxWriter, RecoveryReport

__all__ = ["CrmOpener", "WorkspaceRuntime"]

_log = logging.getLogger(__name__)
_MAX_ROWS_PER_FLUSH = 100_000


class CrmOpener(Protocol):
    """Opens a workspace's CRM some other way than its stored connection (tests, benchmarks)."""

    async def __call__(self, workspace_id: UUID, budget: RateBudget) -> CrmPort: ...


@dataclass(frozen=True, slots=True)
class Activation:
    """What activation found: the agents, the metrics, and what recovery did."""

    agents: int
    metrics: WindowTotals
    recovered: RecoveryReport


class WorkspaceRuntime:
    """A workspace's agents, budget, write queue and metrics (see the module docstring)."""

    def __init__(
        self,
        workspace_id: UUID,
        pool: asyncpg.Pool,
        *,
        settings: Settings,
        clock: Clock,
        keyring: KeyRing | None = None,
        open_crm: CrmOpener | None = None,
        budget: RateBudget | None = None,
        metrics_window_s: int = 3600,
    ) -> None:
        self.workspace_id = workspace_id
        self._pool = pool
        self._settings = settings
        self._clock = clock
        self._keyring = keyring
        self._open_crm = open_crm
        self._shared_budget = budget
        self._metrics_window_s = metrics_window_s
        self._agents: list[StoredAgentConfig] = []
        self._metrics: WindowTotals | None = None
        # Built on the first read; a cache of the rows, rebuilt by a new activation.
        self._metrics_book: MetricsBook | None = None
        self._budget: RateBudget | None = None
        self._client: HubSpotClient | None = None
        self._writer: OutboxWriter | None = None
        self._wake = asyncio.Event()
        self._last_work_s = clock.monotonic_s()
        self._flushes: list[FlushReport] = []

    @property
    def active(self) -> bool:
        return self._writer is not None

    async def activate(self) -> Activation:
        """Rebuild the workspace from Postgres and recover an interrupted batch."""
        budget = self._shared_budget
        if budget is None:
            budget = RateBudget(
                self._settings.writes.limits_for(self.workspace_id), clock=self._clock
            )
            await self._restore(budget)
        crm = await self._crm(budget)
        writer = OutboxWriter(
            self._pool,
            self.workspace_id,
            crm,
            budget,
            clock=self._clock,
            batch_size=self._settings.writes.batch_size,
            max_in_flight=self._settings.writes.max_in_flight,
            # One flush takes a large backlog whole: each flush ends by waiting for its last
            # requests, a pause the budget could have filled.
            max_rows=_MAX_ROWS_PER_FLUSH,
        )
        recovered = await writer.recover()
        self._agents = await AgentConfigRepo(self._pool).list(self.workspace_id, status="active")
        self._metrics = await self._load_metrics()
        self._budget, self._writer = budget, writer
        self._last_work_s = self._clock.monotonic_s()
        _log.info("workspace %s active (%d agents)", self.workspace_id, len(self._agents))
        return Activation(len(self._agents), self._metrics, recovered)

    def wake(self) -> None:
        """New outbox rows arrived (or a decision approved fields): look at the queue."""
        self._wake.set()

    async def flush_due(self) -> FlushReport | None:
        """Send what is due: a full batch, or a partial one whose oldest row waited long
        enough. None when nothing was due."""
        report, _ = await self._flush_if_due()
        return report

    async def _flush_if_due(self) -> tuple[FlushReport | None, int]:
        """``flush_due``, and how many rows are pending afterwards."""
        writer = self._require_writer()
        outbox = OutboxRepo(self._pool)
        pending = await outbox.pending_summary(self.workspace_id)
        if pending.count == 0:
            return None, 0
        waited = (self._clock.now() - pending.oldest).total_seconds() if pending.oldest else 0.0
        if pending.count < self._settings.writes.batch_size and (
            waited < self._settings.writes.flush_interval_s
        ):
            return None, pending.count
        report = await writer.flush()
        self._last_work_s = self._clock.monotonic_s()
        self._flushes.append(report)
        self._metrics = await self._load_metrics()
        return report, (await outbox.pending_summary(self.workspace_id)).count

    async def drain(self, *, max_rounds: int = 100) -> list[FlushReport]:
        """Flush until nothing is pending or a round makes no progress (a script's
        ``worker --once``; rate-limited rounds wait for the budget inside the writer)."""
        writer = self._require_writer()
        reports: list[FlushReport] = []
        outbox = OutboxRepo(self._pool)
        pending = (await outbox.pending_summary(self.workspace_id)).count
        for _ in range(max_rounds):
            if pending == 0:
                break
            reports.append(await writer.flush())
            before, pending = pending, (await outbox.pending_summary(self.workspace_id)).count
            if pending >= before:
                break  # nothing moved (rows waiting on an in-flight record, or refused)
        self._flushes.extend(reports)
        self._last_work_s = self._clock.monotonic_s()
        self._metrics = await self._load_metrics()
        return reports

    async def run(self, stop: asyncio.Event, *, idle_s: float | None = None) -> None:
        """Flush as work arrives until ``stop`` is set, or until idle for ``idle_s``."""
        interval = self._settings.writes.flush_interval_s
        while not stop.is_set():
            self._wake.clear()
            report, pending = await self._flush_if_due()
            moved = report is not None and report.records_written + report.records_failed > 0
            if moved and pending >= self._settings.writes.batch_size:
                continue  # a backlog: the next full batch goes at once, not after a pause
            idle = report is None and idle_s is not None and self.idle_s() >= idle_s
            if idle and pending == 0:
                return
            await first_of(self._wake.wait(), stop.wait(), timeout_s=interval)

    def idle_s(self) -> float:
        return self._clock.monotonic_s() - self._last_work_s

    def snapshot(self) -> dict[str, Any]:
        """What the workspace holds now, for operators and the data team (JSON-ready)."""
        return {
            "workspace_id": str(self.workspace_id),
            "active": self.active,
            "agents": [
                {"id": str(a.id), "name": a.name, "call_types": list(a.config.call_types)}
                for a in self._agents
            ],
            "budget": None if self._budget is None else _plain(self._budget.snapshot()),
            "metrics": None if self._metrics is None else self._metrics.model_dump(mode="json"),
            "flushes": len(self._flushes),
            "idle_s": round(self.idle_s(), 3),
        }

    @property
    def budget(self) -> RateBudget | None:
        """The workspace's HubSpot budget while active: its writer spends it, and so do its
        runs' CRM reads wherever they execute (``actors.workspace_actor.ActorBudgets``)."""
        return self._budget

    @property
    def metrics(self) -> WindowTotals | None:
        """The counters of the last ``metrics_window_s``, as of the last flush."""
        return self._metrics

    @property
    def flushes(self) -> Sequence[FlushReport]:
        return tuple(self._flushes)

    async def close(self) -> None:
        """Passivate: drop the client and the in-memory state (Postgres keeps the truth)."""
        if self._client is not None:
            await self._client.aclose()
        self._client = None
        self._writer = None
        self._budget = None
        _log.info("workspace %s passivated", self.workspace_id)

    async def _crm(self, budget: RateBudget) -> CrmPort:
        if self._open_crm is not None:
            port = await self._open_crm(self.workspace_id, budget)
            if isinstance(port, HubSpotClient):
                self._client = port  # ours to close on passivation
            return port
        if self._keyring is None:
            raise ValueError("a workspace needs a key ring or a CRM opener")
        found = await load_credentials(self._pool, self._keyring, self.workspace_id)
        if found is None:
            raise NoCrmConnectionError(self.workspace_id)
        connection, credentials = found
        self._client = crm_client(
            connection,
            credentials,
            self._settings.hubspot,
            pool=self._pool,
            keyring=self._keyring,
            clock=self._clock,
            retry=NO_RETRIES,
            on_rate_limit_headers=budget.observe,
        )
        return self._client

    async def _restore(self, budget: RateBudget) -> None:
        """Give a fresh budget the calls HubSpot still counts: the audit log's CRM calls of
        the last window and of the day (a shared budget is live and needs none)."""
        now = self._clock.now()
        audit = AuditRepo(self._pool)
        lookback = timedelta(seconds=budget.limits.window_s + budget.limits.window_margin_s)
        recent = await audit.crm_calls_since(self.workspace_id, now - lookback)
        # The day began one day before the next reset (an approximation on the two days
        # a year a daylight-saving zone's day is not 24 hours long).
        day_began = budget.snapshot().daily_resets_at - timedelta(days=1)
        budget.restore(
            [(at, "search" if action == "crm.search" else "standard") for at, action in recent],
            daily_used=await audit.count_crm_calls_since(self.workspace_id, day_began),
        )

    async def _load_metrics(self) -> WindowTotals:
        return totals(await self.metrics_frame(self._metrics_window_s))

    def _require_writer(self) -> OutboxWriter:
        if self._writer is None:
            raise RuntimeError(f"workspace {self.workspace_id} is not active: activate() first")
        return self._writer

    async def metrics_frame(self, window_s: int) -> pl.DataFrame:
        """The workspace's counters per minute over the last ``window_s`` seconds (whole
        minutes, at most ``MAX_WINDOW_S``), oldest first; past minutes are loaded once.
        Needs only the pool, not ``activate()`` (the data team's ``metrics(window)``)."""
        if self._metrics_book is None:
            self._metrics_book = workspace_book(self._pool, self.workspace_id)
        return await self._metrics_book.read(window_s, now=self._clock.now())


def _plain(value: Any) -> Any:
    """A budget snapshot as JSON-ready values, whatever its class."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value if isinstance(value, int | float | str | type(None)) else str(value)
