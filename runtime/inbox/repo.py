"""The only module that runs inbox-item and proposal SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from runtime.db import Executor
from runtime.db.keyset import After, Conditions
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError
from runtime.inbox.models import InboxItem, Proposal
from runtime.runs.outcome import InboxDraft, ProposalDraft

__all__ = ["InboxRepo", "LockedItem", "NewInboxItem", "NewProposals"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


@dataclass(frozen=True, slots=True)
class LockedItem:
    """An inbox item locked for a decision, with who resolved it and why, if anyone did."""

    item: InboxItem
    resolved_by_email: str | None
    resolution_reason: str | None


@dataclass(frozen=True, slots=True)
class NewInboxItem:
    """An inbox item to insert (``InboxRepo.insert_item``'s arguments)."""

    draft: InboxDraft
    workspace_id: UUID
    user_id: UUID
    activity_log_id: UUID


@dataclass(frozen=True, slots=True)
class NewProposals:
    """One activity's proposals to insert (``InboxRepo.insert_proposals``'s arguments)."""

    drafts: Sequence[ProposalDraft]
    workspace_id: UUID
    activity_log_id: UUID
    crm_record_type: str
    crm_record_id: str | None
    inbox_item_id: UUID | None


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

    async def insert_items(self, new: Sequence[NewInboxItem]) -> list[InboxItem]:
        """``insert_item`` for several activities, one item each, in one statement; the
        items, in order.

        Raises:
            ValueError: two items are about the same activity (it is how the stored rows
                are told apart).
        """
        if not new:
            return []
        activity_ids = [n.activity_log_id for n in new]
        if len(set(activity_ids)) != len(activity_ids):
            raise ValueError("insert_items takes one item per activity")
        rows = await self._db.fetch(
            _SQL["insert_inbox_items"],
            [n.workspace_id for n in new],
            [n.user_id for n in new],
            activity_ids,
            [n.draft.item_type for n in new],
            [n.draft.title for n in new],
            [n.draft.description for n in new],
            [json.dumps(n.draft.context) for n in new],
            [_two_places(n.draft.confidence) for n in new],
        )
        stored = {row["activity_log_id"]: InboxItem.model_validate(dict(row)) for row in rows}
        return [stored[activity_id] for activity_id in activity_ids]

    async def insert_proposals_of_activities(
        self, new: Sequence[NewProposals]
    ) -> list[list[Proposal]]:
        """``insert_proposals`` for several activities in one statement (none when there is
        no draft at all); each one's proposals, in its drafts' order."""
        inserted, _ = await self.insert_proposals_and_find_rivals(new)
        return inserted

    async def insert_proposals_and_find_rivals(
        self, new: Sequence[NewProposals]
    ) -> tuple[list[list[Proposal]], bool]:
        """``insert_proposals_of_activities``, and whether any new proposal may supersede,
        or be superseded by, another (``supersede_stale``) in the same statement: one pending
        before for the same record and field from a meeting that started at another time,
        or two new ones from such meetings."""
        drafts = [(n, d) for n in new for d in n.drafts]
        if not drafts:
            return [[] for _ in new], False
        rows = await self._db.fetch(
            _SQL["insert_proposals_of_activities"],
            [n.workspace_id for n, _ in drafts],
            [n.activity_log_id for n, _ in drafts],
            [n.inbox_item_id if d.route == "review" else None for n, d in drafts],
            [n.crm_record_type for n, _ in drafts],
            [n.crm_record_id for n, _ in drafts],
            [d.field for _, d in drafts],
            [d.before for _, d in drafts],
            [d.proposed for _, d in drafts],
            [_two_places(d.confidence) for _, d in drafts],
            [d.route for _, d in drafts],
            [d.status for _, d in drafts],
            [d.reason for _, d in drafts],
            [json.dumps(d.evidence) for _, d in drafts],
        )
        stored = {(p.activity_log_id, p.field): p for p in map(_proposal, rows)}
        started: dict[tuple[Any, ...], set[datetime]] = {}
        for row in rows:
            if row["crm_record_id"] is not None and row["meeting_started_at"] is not None:
                key = (row["workspace_id"], row["crm_record_type"], row["crm_record_id"])
                started.setdefault((*key, row["field"]), set()).add(row["meeting_started_at"])
        rivals = any(row["has_pending_rival"] for row in rows) or any(
            len(times) > 1 for times in started.values()
        )
        return [[stored[n.activity_log_id, d.field] for d in n.drafts] for n in new], rivals

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

    # The API's reads (runtime.api.types.inbox) ----------------------------------------

    async def get_items(self, workspace_id: UUID, ids: Sequence[UUID]) -> list[InboxItem]:
        """The workspace's items among ``ids``, in no particular order."""
        if not ids:
            return []
        rows = await self._db.fetch(_SQL["get_inbox_items"], workspace_id, list(ids))
        return [InboxItem.model_validate(dict(row)) for row in rows]

    async def page_items(
        self,
        workspace_id: UUID,
        user_id: UUID,
        *,
        status: str | None = None,
        limit: int,
        after: After | None = None,
    ) -> list[InboxItem]:
        """Up to ``limit`` of a user's items (of one status when given), newest first,
        strictly after ``after``."""
        where = Conditions(workspace_id, user_id).when(status, "status = {}").after(after)
        sql, args = where.statement(_SQL["page_inbox_items"], limit=limit)
        rows = await self._db.fetch(sql, *args)
        return [InboxItem.model_validate(dict(row)) for row in rows]

    async def count_items(
        self, workspace_id: UUID, user_id: UUID, *, status: str | None = None
    ) -> int:
        """How many items ``page_items`` lists over all its pages."""
        sql, args = (
            Conditions(workspace_id, user_id)
            .when(status, "status = {}")
            .statement(_SQL["count_inbox_items"])
        )
        return int(await self._db.fetchval(sql, *args))

    async def count_pending(self, workspace_id: UUID, user_id: UUID) -> int:
        """How many items wait for the user's decision."""
        return int(
            await self._db.fetchval(_SQL["count_pending_inbox_items"], workspace_id, user_id)
        )

    async def proposals_for_items(
        self, workspace_id: UUID, item_ids: Sequence[UUID]
    ) -> list[Proposal]:
        """The proposals several items hold, by item then field."""
        if not item_ids:
            return []
        rows = await self._db.fetch(_SQL["list_proposals_for_items"], workspace_id, list(item_ids))
        return [_proposal(row) for row in rows]

    async def proposals_for_activities(
        self, workspace_id: UUID, activity_ids: Sequence[UUID]
    ) -> list[Proposal]:
        """Every proposal of several activities, by activity then field."""
        if not activity_ids:
            return []
        rows = await self._db.fetch(
            _SQL["list_proposals_for_activities"], workspace_id, list(activity_ids)
        )
        return [_proposal(row) for row in rows]

    # Decisions (runtime.inbox.decisions) ------------------------------------------------

    async def lock_for_decision(self, workspace_id: UUID, item_id: UUID) -> LockedItem | None:
        """The workspace's item, locked until the caller's transaction ends (None when the
        workspace has no such item): a racing decision waits, then sees this one's result."""
        row = await self._db.fetchrow(_SQL["lock_inbox_item_for_decision"], workspace_id, item_id)
        if row is None:
            return None
        fields = dict(row)
        email, reason = fields.pop("resolved_by_email"), fields.pop("resolution_reason")
        return LockedItem(InboxItem.model_validate(fields), email, reason)

    async def lock_pending_proposals(self, workspace_id: UUID, item_id: UUID) -> list[Proposal]:
        """The item's proposals waiting for a human, locked until the transaction ends."""
        rows = await self._db.fetch(_SQL["lock_pending_proposals_of_item"], workspace_id, item_id)
        return [_proposal(row) for row in rows]

    async def resolve_item(
        self,
        workspace_id: UUID,
        item_id: UUID,
        *,
        status: str,
        resolved_by: UUID | None,
        resolved_at: datetime,
        reason: str | None,
        snapshot: dict[str, Any],
    ) -> InboxItem | None:
        """Decide a pending item; None (nothing changed) when it is no longer pending."""
        row = await self._db.fetchrow(
            _SQL["resolve_inbox_item"],
            workspace_id,
            item_id,
            status,
            resolved_by,
            resolved_at,
            reason,
            snapshot,
        )
        return None if row is None else InboxItem.model_validate(dict(row))

    async def decide_proposals(
        self,
        workspace_id: UUID,
        decisions: Sequence[tuple[UUID, str, str | None]],
        *,
        decided_by: UUID | None,
        decided_at: datetime,
    ) -> list[Proposal]:
        """Pending proposals decided, as (id, ``queued`` or ``rejected``, approved value);
        the ones that were still pending, as they are now."""
        if not decisions:
            return []
        rows = await self._db.fetch(
            _SQL["decide_proposals"],
            workspace_id,
            [proposal_id for proposal_id, _, _ in decisions],
            [status for _, status, _ in decisions],
            [value for _, _, value in decisions],
            decided_by,
            decided_at,
        )
        return sorted((_proposal(row) for row in rows), key=lambda p: p.field)

    async def reroute_proposals(
        self,
        workspace_id: UUID,
        rerouted: Sequence[tuple[UUID, ProposalDraft, str]],
        *,
        crm_record_id: str | None,
        inbox_item_id: UUID | None,
        now: datetime,
    ) -> list[Proposal]:
        """A question's pending proposals moved to the picked deal, as (id, what routing now
        says of the field, new status): ``pending`` ones join ``inbox_item_id``, ``queued``
        ones are to be written, ``superseded`` ones are no longer proposed. The ones that
        were still pending, as they are now."""
        if not rerouted:
            return []
        rows = await self._db.fetch(
            _SQL["reroute_proposals"],
            workspace_id,
            [proposal_id for proposal_id, _, _ in rerouted],
            [crm_record_id] * len(rerouted),
            [d.before for _, d, _ in rerouted],
            [d.proposed for _, d, _ in rerouted],
            [_two_places(d.confidence) for _, d, _ in rerouted],
            [d.route for _, d, _ in rerouted],
            [status for _, _, status in rerouted],
            [d.reason for _, d, _ in rerouted],
            [json.dumps(d.evidence) for _, d, _ in rerouted],
            [inbox_item_id if status == "pending" else None for _, _, status in rerouted],
            now,
        )
        return sorted((_proposal(row) for row in rows), key=lambda p: p.field)

    # Supersession (runtime.runs.executor) -----------------------------------------------

    async def supersede_stale(
        self, new_ids: Sequence[UUID], *, now: datetime
    ) -> dict[UUID, set[UUID]]:
        """Supersede the pending proposals that the just-inserted proposals ``new_ids`` make
        stale (the same record and field from a meeting that started later; see
        ``lock_items_of_superseded_proposals``), and their items left with nothing pending.

        Two statements whatever the number of proposals, one when nothing is stale. A
        decision that committed first wins: its proposals are no longer pending and stay
        as it left them.

        Returns:
            The activities of the proposals superseded, by workspace (to settle).
        """
        if not new_ids:
            return {}
        stale = await self._db.fetch(_SQL["lock_items_of_superseded_proposals"], list(new_ids))
        if not stale:
            return {}
        rows = await self._db.fetch(
            _SQL["supersede_pending_proposals"], [row["id"] for row in stale], now
        )
        activities: dict[UUID, set[UUID]] = {}
        for row in rows:
            activities.setdefault(row["workspace_id"], set()).add(row["activity_log_id"])
        return activities

    # Expiry (runtime.inbox.expiry) ------------------------------------------------------

    async def agents_with_pending_items(self) -> list[tuple[UUID, Any]]:
        """(agent id, raw config) of each agent with a pending inbox item."""
        rows = await self._db.fetch(_SQL["list_agents_with_pending_items"])
        return [(row["id"], row["config"]) for row in rows]

    async def due_items(
        self, agent_id: UUID, *, created_by: datetime, unreminded: bool, limit: int
    ) -> list[tuple[UUID, UUID]]:
        """(workspace id, item id) of up to ``limit`` pending items of the agent created at
        or before ``created_by``, oldest first; with ``unreminded``, only those never
        reminded."""
        rows = await self._db.fetch(
            _SQL["list_due_inbox_items"], agent_id, created_by, unreminded, limit
        )
        return [(row["workspace_id"], row["id"]) for row in rows]

    async def mark_reminded(
        self, item_ids: Sequence[UUID], *, now: datetime
    ) -> list[dict[str, Any]]:
        """Remind the pending, never-reminded items among ``item_ids`` (once per item); the
        ones reminded here (id, workspace_id, user_id, activity_log_id)."""
        if not item_ids:
            return []
        rows = await self._db.fetch(_SQL["mark_inbox_items_reminded"], list(item_ids), now)
        return [dict(row) for row in rows]


def _two_places(value: float | None) -> Decimal | None:
    """DECIMAL(3,2), rounded rather than truncated."""
    return None if value is None else Decimal(str(round(value, 2)))


def _proposal(row: Any) -> Proposal:
    return Proposal.model_validate(dict(row))
