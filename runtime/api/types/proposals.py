"""``Proposal``: one field an agent proposed, as an inbox item or activity log shows it.

Not in the seed's schema (which stops at ``fieldsUpdated: JSON``); it keeps apart what the
decision flow keeps apart: the CRM's value when the agent read it, the agent's proposal, a
person's (possibly edited) approval and what the CRM accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from runtime.api.context import ApiContext
from runtime.api.loaders import mapped_loader, user_loader
from runtime.api.types.common import JSON, User
from runtime.inbox.models import Proposal as StoredProposal
from runtime.inbox.repo import InboxRepo

__all__ = [
    "Proposal",
    "ProposalRoute",
    "ProposalStatus",
    "proposals_of_activity_loader",
    "proposals_of_item_loader",
]

Info = strawberry.Info[ApiContext, None]


@strawberry.enum(description="Where a proposal stands.")
class ProposalStatus(Enum):
    PENDING = "pending"  # a person decides
    QUEUED = "queued"  # in the workspace's write queue
    WRITTEN = "written"
    REJECTED = "rejected"
    FAILED = "failed"  # the CRM refused the write
    SUPERSEDED = "superseded"  # a newer meeting proposed the same field
    EXPIRED = "expired"


@strawberry.enum(description="How the agent routed a proposal.")
class ProposalRoute(Enum):
    AUTO_APPLY = "auto_apply"
    REVIEW = "review"


@strawberry.type(description="One field an agent proposed to change, and what became of it.")
class Proposal:
    stored: strawberry.Private[StoredProposal]
    id: strawberry.ID
    field: str = strawberry.field(description="The CRM property.")
    crm_record_type: str
    crm_record_id: str | None = strawberry.field(
        description="Null while a proposed create has no CRM id yet."
    )
    before: str | None = strawberry.field(
        description="The CRM's value when the agent read it (what an approval is checked against)."
    )
    proposed: str = strawberry.field(description="The agent's value.")
    approved: str | None = strawberry.field(
        description="The value approved (the proposed one, or a person's edit, in the CRM's"
        " form); null until approved."
    )
    written: str | None = strawberry.field(description="The value the CRM accepted.")
    confidence: float
    route: ProposalRoute
    status: ProposalStatus
    reason: str = strawberry.field(description="Why the agent routed it so.")
    evidence: JSON = strawberry.field(description="Where in the meeting the value was found.")
    error_message: str | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: StoredProposal) -> Proposal:
        return cls(
            stored=stored,
            id=strawberry.ID(str(stored.id)),
            field=stored.field,
            crm_record_type=stored.crm_record_type,
            crm_record_id=stored.crm_record_id,
            before=stored.before_value,
            proposed=stored.proposed_value,
            approved=stored.approved_value,
            written=stored.written_value,
            confidence=float(stored.confidence),
            route=ProposalRoute(stored.route),
            status=ProposalStatus(stored.status),
            reason=stored.reason,
            evidence=JSON(stored.evidence),
            error_message=stored.error_message,
            decided_at=stored.decided_at,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )

    @strawberry.field(description="Who decided it; null while undecided or decided by policy.")
    async def decided_by(self, info: Info) -> User | None:
        if self.stored.decided_by is None:
            return None
        user = await user_loader(info.context).load(self.stored.decided_by)
        return None if user is None else User.of(user)


def proposals_of_activity_loader(context: ApiContext) -> DataLoader[UUID, list[StoredProposal]]:
    """Every proposal of an activity, by field; one query per batch of activities."""
    workspace_id = context.principal.workspace_id
    repo = InboxRepo(context.pool)

    async def fetch(ids: list[UUID]) -> dict[UUID, list[StoredProposal]]:
        return _grouped(await repo.proposals_for_activities(workspace_id, ids), by_item=False)

    return mapped_loader(context, "proposals_of_activity", fetch, missing=list)


def proposals_of_item_loader(context: ApiContext) -> DataLoader[UUID, list[StoredProposal]]:
    """The proposals an inbox item holds (the reviewed ones), by field; one query per batch."""
    workspace_id = context.principal.workspace_id
    repo = InboxRepo(context.pool)

    async def fetch(ids: list[UUID]) -> dict[UUID, list[StoredProposal]]:
        return _grouped(await repo.proposals_for_items(workspace_id, ids), by_item=True)

    return mapped_loader(context, "proposals_of_item", fetch, missing=list)


def _grouped(
    proposals: Sequence[StoredProposal], *, by_item: bool
) -> dict[UUID, list[StoredProposal]]:
    grouped: dict[UUID, list[StoredProposal]] = {}
    for proposal in proposals:
        key = proposal.inbox_item_id if by_item else proposal.activity_log_id
        if key is not None:
            grouped.setdefault(key, []).append(proposal)
    return grouped
