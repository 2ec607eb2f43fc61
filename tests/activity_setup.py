"""A workspace with real activity for the metrics tests: runs executed by the pipeline
(auto-applied fields, fields for review, failed runs), decisions, and writes the CRM
answered both ways."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from runtime.agents.extractors.rules import RulesExtractor
from runtime.clock import SystemClock
from runtime.crm.audited import AuditedCrm
from runtime.crm.memory import InMemoryCrm
from runtime.crm.snapshot import load_snapshot
from runtime.inbox.repo import InboxRepo
from runtime.outbox.repo import OutboxRepo
from runtime.runs.dispatcher import Dispatcher
from runtime.runs.executor import NoCrmConnectionError, RunExecutor, WorkspaceCrm
from tests.meetings import EXAMPLE_PATH
from tests.pipeline_setup import (
    auto_apply_config,
    import_price_meeting,
    insert_agent,
    tenant_with_auto_agent,
)

CRM_SNAPSHOT = EXAMPLE_PATH.with_name("crm.json")


@dataclass
class SnapshotCrms:
    """Runs read the example CRM in memory; workspaces in ``unconnected`` have no CRM."""

    unconnected: set[UUID] = field(default_factory=set)

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        if workspace_id in self.unconnected:
            raise NoCrmConnectionError(workspace_id)
        crm = InMemoryCrm.from_snapshot(load_snapshot(CRM_SNAPSHOT))
        audited = AuditedCrm(crm, workspace_id=workspace_id, clock=SystemClock())
        return WorkspaceCrm(port=audited, audit=audited)


@dataclass
class ActiveWorkspace:
    """A workspace with two active agents, one auto-applying and one review-only, so each
    meeting makes one run of each."""

    pool: asyncpg.Pool
    workspace_id: UUID
    admin_id: UUID
    crms: SnapshotCrms

    @classmethod
    async def create(cls, pool: asyncpg.Pool) -> ActiveWorkspace:
        workspace_id, admin_id = await tenant_with_auto_agent(pool)
        await insert_agent(pool, workspace_id, admin_id, auto_apply_config(review_only=True))
        return cls(pool, workspace_id, admin_id, SnapshotCrms())

    async def meeting(self, price: str, *, connected: bool = True) -> None:
        """Import a meeting and execute its runs; without a CRM connection they fail."""
        if connected:
            self.crms.unconnected.discard(self.workspace_id)
        else:
            self.crms.unconnected.add(self.workspace_id)
        await import_price_meeting(self.pool, self.workspace_id, price=price)
        executor = RunExecutor(
            self.pool, self.crms, extractor=RulesExtractor(), clock=SystemClock()
        )
        await Dispatcher(self.pool, executor).drain()

    async def decide(self, *, approve: int, reject: int) -> None:
        """A person approves and rejects pending fields, oldest first. There is no decision
        API yet: this leaves what one will (the writer's tests do the same), and approved
        fields join the write queue."""
        pending = await self.pool.fetch(
            "SELECT id FROM proposals WHERE workspace_id = $1 AND status = 'pending'"
            " ORDER BY created_at, field LIMIT $2",
            self.workspace_id,
            approve + reject,
        )
        assert len(pending) == approve + reject
        ids = [row["id"] for row in pending]
        await self.pool.execute(
            "UPDATE proposals SET status = 'queued', approved_value = proposed_value,"
            " decided_by = $2, decided_at = now(), updated_at = now() WHERE id = ANY($1::uuid[])",
            ids[:approve],
            self.admin_id,
        )
        await self.pool.execute(
            "UPDATE proposals SET status = 'rejected', decided_by = $2, decided_at = now(),"
            " updated_at = now() WHERE id = ANY($1::uuid[])",
            ids[approve:],
            self.admin_id,
        )
        approved = await InboxRepo(self.pool).proposals_by_ids(self.workspace_id, ids[:approve])
        await OutboxRepo(self.pool).enqueue(self.workspace_id, approved)

    async def answer_writes(self, *, ok: int, failed: int) -> None:
        """Send the oldest queued writes as the writer does (claimed in one batch) and
        record the CRM's answer: the first ``ok`` written, the next ``failed`` refused."""
        outbox = OutboxRepo(self.pool)
        rows = (await outbox.writable(self.workspace_id))[: ok + failed]
        assert len(rows) == ok + failed
        now = SystemClock().now()
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await OutboxRepo(conn).claim(
                self.workspace_id, [r.id for r in rows], batch_id=uuid.uuid4(), sent_at=now
            )
        assert claimed == {r.id for r in rows}
        done, refused = rows[:ok], rows[ok:]
        await outbox.mark_done(self.workspace_id, [r.id for r in done], done_at=now)
        await outbox.mark_failed(
            self.workspace_id, [(r.id, "INVALID_OPTION") for r in refused], done_at=now
        )
        inbox = InboxRepo(self.pool)
        await inbox.mark_written(
            self.workspace_id, [(r.proposal_id, r.value, None) for r in done], now=now
        )
        await inbox.mark_failed(
            self.workspace_id, [(r.proposal_id, "INVALID_OPTION") for r in refused], now=now
        )
