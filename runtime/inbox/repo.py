"""The only module that runs inbox-item and proposal SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def _two_places(value: float | None) -> Decimal | None:
    """DECIMAL(3,2), rounded rather than truncated."""
    return None if value is None else Decimal(str(round(value, 2)))


def _proposal(row: Any) -> Proposal:
    return Proposal.model_validate(dict(row))
