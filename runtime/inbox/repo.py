"""The only module that runs inbox-item and proposal SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError
from runtime.inbox.models import InboxItem, Proposal
from runtime.runs.outcome import InboxDraft, ProposalDraft

__all__ = ["InboxRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class InboxRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert_item(
        self,
        draft: InboxDraft,
        *,
        workspace_id: UUID,
        user_id: UUID,
        activity_log_id: UUID,
    ) -> InboxItem:
        row = await self._db.fetchrow(
            _SQL["insert_inbox_item"],
            workspace_id,
            user_id,
            activity_log_id,
            draft.item_type,
            draft.title,
            draft.description,
            draft.context,
            _two_places(draft.confidence),
        )
        return InboxItem.model_validate(dict(row))

    async def get_item(self, item_id: UUID) -> InboxItem:
        row = await self._db.fetchrow(_SQL["get_inbox_item"], item_id)
        if row is None:
            raise NotFoundError("inbox item", str(item_id))
        return InboxItem.model_validate(dict(row))

    async def items_for_activity(self, activity_log_id: UUID) -> list[InboxItem]:
        rows = await self._db.fetch(_SQL["list_inbox_items_for_activity"], activity_log_id)
        return [InboxItem.model_validate(dict(row)) for row in rows]

    async def list_items(
        self,
        workspace_id: UUID,
        *,
        user_id: UUID | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[InboxItem]:
        """The workspace's items (one user's when given), newest first."""
        rows = await self._db.fetch(
            _SQL["list_workspace_inbox_items"], workspace_id, user_id, status, limit
        )
        return [InboxItem.model_validate(dict(row)) for row in rows]

    async def pending_for_user(self, workspace_id: UUID, user_id: UUID) -> list[InboxItem]:
        rows = await self._db.fetch(_SQL["list_pending_inbox_items"], workspace_id, user_id)
        return [InboxItem.model_validate(dict(row)) for row in rows]

    async def insert_proposals(
        self,
        drafts: Sequence[ProposalDraft],
        *,
        workspace_id: UUID,
        activity_log_id: UUID,
        crm_record_type: str,
        crm_record_id: str | None,
        inbox_item_id: UUID | None,
    ) -> list[Proposal]:
        """Store every proposal of one activity in one round trip; reviewed ones point at
        the inbox item."""
        if not drafts:
            return []
        rows = await self._db.fetch(
            _SQL["insert_proposals"],
            workspace_id,
            activity_log_id,
            crm_record_type,
            crm_record_id,
            [inbox_item_id if d.route == "review" else None for d in drafts],
            [d.field for d in drafts],
            [d.before for d in drafts],
            [d.proposed for d in drafts],
            [_two_places(d.confidence) for d in drafts],
            [d.route for d in drafts],
            [d.status for d in drafts],
            [d.reason for d in drafts],
            [json.dumps(d.evidence) for d in drafts],
        )
        return [_proposal(row) for row in rows]

    async def proposals_for_activity(self, activity_log_id: UUID) -> list[Proposal]:
        rows = await self._db.fetch(_SQL["list_proposals_for_activity"], activity_log_id)
        return [_proposal(row) for row in rows]

    # The writer's side (runtime.writes.writer) ------------------------------------------

    async def proposals_by_ids(self, workspace_id: UUID, ids: Sequence[UUID]) -> list[Proposal]:
        if not ids:
            return []
        rows = await self._db.fetch(_SQL["list_proposals_by_ids"], workspace_id, list(ids))
        return [_proposal(row) for row in rows]

    async def items_for_activities(
        self, workspace_id: UUID, activity_ids: Sequence[UUID]
    ) -> list[InboxItem]:
        if not activity_ids:
            return []
        rows = await self._db.fetch(
            _SQL["list_inbox_items_for_activities"], workspace_id, list(activity_ids)
        )
        return [InboxItem.model_validate(dict(row)) for row in rows]

    async def mark_written(
        self,
        workspace_id: UUID,
        written: Sequence[tuple[UUID, str, str | None]],
        *,
        now: datetime,
    ) -> int:
        """Queued proposals the CRM accepted, as (id, value stored, created record id)."""
        if not written:
            return 0
        rows = await self._db.fetch(
            _SQL["mark_proposals_written"],
            workspace_id,
            [proposal_id for proposal_id, _, _ in written],
            now,
            [value for _, value, _ in written],
            [record_id for _, _, record_id in written],
        )
        return len(rows)

    async def mark_failed(
        self, workspace_id: UUID, failures: Sequence[tuple[UUID, str]], *, now: datetime
    ) -> int:
        """Queued proposals the CRM refused, as (id, the CRM's message)."""
        if not failures:
            return 0
        rows = await self._db.fetch(
            _SQL["mark_proposals_failed"],
            workspace_id,
            [proposal_id for proposal_id, _ in failures],
            now,
            [message for _, message in failures],
        )
        return len(rows)

    async def mark_superseded(
        self, workspace_id: UUID, ids: Sequence[UUID], *, now: datetime
    ) -> int:
        """Queued proposals whose write a newer one for the same field replaced."""
        if not ids:
            return 0
        rows = await self._db.fetch(_SQL["mark_proposals_superseded"], workspace_id, list(ids), now)
        return len(rows)

    async def return_to_review(
        self,
        workspace_id: UUID,
        returned: Sequence[tuple[UUID, str, str | None]],
        *,
        now: datetime,
    ) -> int:
        """Queued proposals a human must decide again, as (id, reason, CRM's current value).

        Their decision is void, and their inbox items are pending again.
        """
        if not returned:
            return 0
        rows = await self._db.fetch(
            _SQL["return_proposals_to_review"],
            workspace_id,
            [proposal_id for proposal_id, _, _ in returned],
            now,
            [reason for _, reason, _ in returned],
            [before for _, _, before in returned],
        )
        items = list({row["inbox_item_id"] for row in rows if row["inbox_item_id"] is not None})
        if items:
            await self._db.fetch(_SQL["reopen_inbox_items"], workspace_id, items)
        return len(rows)


def _two_places(value: float | None) -> Decimal | None:
    """DECIMAL(3,2), rounded rather than truncated."""
    return None if value is None else Decimal(str(round(value, 2)))


def _proposal(row: Any) -> Proposal:
    return Proposal.model_validate(dict(row))
