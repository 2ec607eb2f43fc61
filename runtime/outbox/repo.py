"""The only module that runs write-outbox SQL (the writer of the next layer adds its own)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.inbox.models import Proposal
from runtime.outbox.models import OutboxRow

__all__ = ["OutboxRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


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
