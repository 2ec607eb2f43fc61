"""The only module that runs write-outbox SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.inbox.models import Proposal
from runtime.outbox.models import OutboxRow

__all__ = ["OutboxRepo", "PendingSummary"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


@dataclass(frozen=True, slots=True)
class PendingSummary:
    count: int
    oldest: datetime | None


class OutboxRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def enqueue(self, workspace_id: UUID, proposals: Sequence[Proposal]) -> list[int]:
        """One outbox row per proposal to write, in one round trip; their ids, in order."""
        if not proposals:
            return []
        rows = await self._db.fetch(
            _SQL["insert_outbox_rows"],
            workspace_id,
            [p.id for p in proposals],
            ["create" if p.crm_record_id is None else "update" for p in proposals],
            [p.crm_record_type for p in proposals],
            [p.crm_record_id for p in proposals],
            [p.field for p in proposals],
            [p.approved_value or p.proposed_value for p in proposals],
        )
        return [int(row["id"]) for row in rows]

    async def unsent(self, workspace_id: UUID, *, limit: int = 1000) -> list[OutboxRow]:
        rows = await self._db.fetch(_SQL["list_unsent"], workspace_id, limit)
        return [OutboxRow.model_validate(dict(row)) for row in rows]

    # The writer's side (runtime.writes.writer) ------------------------------------------

    async def pending_summary(self, workspace_id: UUID) -> PendingSummary:
        """How many rows wait to be sent, and when the oldest was queued."""
        row = await self._db.fetchrow(_SQL["pending_summary"], workspace_id)
        return PendingSummary(count=int(row["count"]), oldest=row["oldest"])

    async def workspaces_with_unsent(self) -> list[UUID]:
        """Every workspace with rows pending or left in flight."""
        rows = await self._db.fetch(_SQL["workspaces_with_unsent"])
        return [row["workspace_id"] for row in rows]

    async def writable(self, workspace_id: UUID, *, limit: int = 10_000) -> list[OutboxRow]:
        """Pending rows, oldest first, but none of a record with a row in flight."""
        rows = await self._db.fetch(_SQL["list_writable"], workspace_id, limit)
        return [OutboxRow.model_validate(dict(row)) for row in rows]

    async def in_flight(
        self, workspace_id: UUID, *, batch_ids: Sequence[UUID] | None = None
    ) -> list[OutboxRow]:
        """Rows left in flight: every one of the workspace's, or those of ``batch_ids``."""
        batches = None if batch_ids is None else list(batch_ids)
        rows = await self._db.fetch(_SQL["list_in_flight"], workspace_id, batches)
        return [OutboxRow.model_validate(dict(row)) for row in rows]

    async def claim(
        self, workspace_id: UUID, ids: Sequence[int], *, batch_id: UUID, sent_at: datetime
    ) -> set[int]:
        """Mark pending rows in flight in ``batch_id``; the ids actually claimed.

        Run it inside a transaction: claims of one workspace take turns until it ends.
        """
        if not ids:
            return set()
        await self._db.execute(_SQL["lock_workspace_claims"], workspace_id)
        rows = await self._db.fetch(_SQL["claim_rows"], workspace_id, batch_id, sent_at, list(ids))
        return {int(row["id"]) for row in rows}

    async def mark_done(
        self,
        workspace_id: UUID,
        ids: Sequence[int],
        *,
        done_at: datetime,
        record_ids: Sequence[str | None] | None = None,
    ) -> int:
        """In-flight rows confirmed by the CRM; ``record_ids`` gives created records' ids."""
        if not ids:
            return 0
        created = list(record_ids) if record_ids is not None else [None] * len(ids)
        rows = await self._db.fetch(
            _SQL["mark_rows_done"], workspace_id, list(ids), done_at, created
        )
        return len(rows)

    async def mark_failed(
        self, workspace_id: UUID, failures: Sequence[tuple[int, str]], *, done_at: datetime
    ) -> int:
        """In-flight rows the CRM refused, as (id, message) pairs."""
        if not failures:
            return 0
        rows = await self._db.fetch(
            _SQL["mark_rows_failed"],
            workspace_id,
            [row_id for row_id, _ in failures],
            done_at,
            [message for _, message in failures],
        )
        return len(rows)

    async def release(self, workspace_id: UUID, ids: Sequence[int]) -> int:
        """In-flight rows that were not carried out go back to pending."""
        if not ids:
            return 0
        rows = await self._db.fetch(_SQL["release_rows"], workspace_id, list(ids))
        return len(rows)

    async def cancel(
        self, workspace_id: UUID, reasons: Sequence[tuple[int, str]], *, done_at: datetime
    ) -> int:
        """Pending rows that will not be sent, as (id, reason) pairs."""
        if not reasons:
            return 0
        rows = await self._db.fetch(
            _SQL["cancel_rows"],
            workspace_id,
            [row_id for row_id, _ in reasons],
            done_at,
            [reason for _, reason in reasons],
        )
        return len(rows)
