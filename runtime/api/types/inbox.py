"""``InboxItem`` and the inbox queries: ``inboxItems`` and ``inboxCount``.

A member sees only their own inbox, an admin any member's (``ApiContext.user``); an item is
always read within the token's workspace. The decisions on an item (approve, reject)
answer with this type too (``InboxItem.of``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from runtime.api.context import ApiContext
from runtime.api.errors import ApiError, ErrorCode
from runtime.api.ids import parse_id
from runtime.api.loaders import Shown, keyed_loader, load_ahead, shown, user_loader
from runtime.api.pagination import (
    Connection,
    PaginationInput,
    connection_of,
    node_fields,
    page_request,
)
from runtime.api.types.activity import ActivityLog, activity_loader
from runtime.api.types.common import JSON, InboxItemType, InboxStatus, User, enum_value
from runtime.api.types.proposals import Proposal, proposals_of_item_loader
from runtime.db.keyset import After
from runtime.inbox.models import InboxItem as StoredInboxItem
from runtime.inbox.repo import InboxRepo

__all__ = ["InboxItem", "Query", "inbox_item_loader"]

Info = strawberry.Info[ApiContext, None]


@strawberry.type(description="Something a person decides: proposed fields, a deal to pick, ...")
class InboxItem:
    stored: strawberry.Private[StoredInboxItem]
    id: strawberry.ID
    item_type: InboxItemType
    title: str
    description: str | None
    context: JSON | None = strawberry.field(
        description="The meeting, the agent, the deal and the match; per field its before,"
        " after, confidence, reason and evidence."
    )
    confidence: float | None = strawberry.field(description="The lowest of its fields'.")
    status: InboxStatus
    resolved_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, stored: StoredInboxItem) -> InboxItem:
        if stored.created_at is None:  # written by default; only a hand-made row lacks it
            raise LookupError(f"inbox item {stored.id} has no created_at")
        return cls(
            stored=stored,
            id=strawberry.ID(str(stored.id)),
            item_type=InboxItemType(stored.item_type),
            title=stored.title,
            description=stored.description,
            context=None if stored.context is None else JSON(stored.context),
            confidence=None if stored.confidence is None else float(stored.confidence),
            status=enum_value(InboxStatus, stored.status, "pending"),
            resolved_at=stored.resolved_at,
            created_at=stored.created_at,
        )

    @strawberry.field(description="Who decides it.")
    async def user(self, info: Info) -> User:
        found = await user_loader(info.context).load(self.stored.user_id)
        if found is None:  # the foreign key makes this impossible short of corruption
            raise LookupError(f"inbox item {self.id} has no user {self.stored.user_id}")
        return User.of(found)

    # Not async: a page of items loads their activities ahead (``shown``).
    @strawberry.field(
        graphql_type=ActivityLog | None, description="The agent run's activity the item is about."
    )
    def activity_log(self, info: Info) -> Shown[ActivityLog]:
        if self.stored.activity_log_id is None:
            return None
        return shown(activity_loader(info.context), self.stored.activity_log_id, ActivityLog.of)

    @strawberry.field(description="Who decided it; null while pending or decided by policy.")
    async def resolved_by(self, info: Info) -> User | None:
        if self.stored.resolved_by is None:
            return None
        found = await user_loader(info.context).load(self.stored.resolved_by)
        return None if found is None else User.of(found)

    @strawberry.field(description="The fields to decide, by field name.")
    async def proposals(self, info: Info) -> list[Proposal]:
        found = await proposals_of_item_loader(info.context).load(self.stored.id)
        return [Proposal.of(p) for p in found]


@strawberry.type
class Query:
    @strawberry.field(description="A user's inbox, newest first, paged by cursor.")
    async def inbox_items(
        self,
        info: Info,
        user_id: strawberry.ID,
        status: InboxStatus | None = None,
        pagination: PaginationInput | None = None,
    ) -> Connection[InboxItem]:
        context = info.context
        user = await context.user(user_id)
        request = page_request(pagination)
        workspace = context.principal.workspace_id
        wanted = None if status is None else status.value
        repo = InboxRepo(context.pool)
        rows = await repo.page_items(
            workspace, user, status=wanted, limit=request.size + 1, after=request.after
        )
        page = connection_of(
            [InboxItem.of(row) for row in rows],
            [_key(row) for row in rows],
            request,
            total=lambda: repo.count_items(workspace, user, status=wanted),
        )
        if "activityLog" in node_fields(info):
            items = [edge.node.stored for edge in page.edges]
            await load_ahead(activity_loader(context), [i.activity_log_id for i in items])
        return page

    @strawberry.field(
        description="One item by id: a member's own, or any of the workspace's for an admin"
        " (FORBIDDEN for another member's); null when the workspace has no such item."
    )
    async def inbox_item(self, info: Info, id: strawberry.ID) -> InboxItem | None:
        context = info.context
        found = await inbox_item_loader(context).load(parse_id(id, "id"))
        if found is None:
            return None
        principal = context.principal
        if not principal.is_admin and found.user_id != principal.user_id:
            raise ApiError(
                f"inbox item {found.id} is addressed to another member", ErrorCode.FORBIDDEN
            )
        return InboxItem.of(found)

    @strawberry.field(description="How many of a user's items wait for a decision.")
    async def inbox_count(self, info: Info, user_id: strawberry.ID) -> int:
        context = info.context
        user = await context.user(user_id)
        return await InboxRepo(context.pool).count_pending(context.principal.workspace_id, user)


def inbox_item_loader(context: ApiContext) -> DataLoader[UUID, StoredInboxItem | None]:
    """Items of the principal's workspace by id (another workspace's load as None)."""
    workspace_id = context.principal.workspace_id
    repo = InboxRepo(context.pool)
    return keyed_loader(
        context, "inbox_items", lambda ids: repo.get_items(workspace_id, ids), lambda i: i.id
    )


def _key(row: StoredInboxItem) -> After:
    assert row.created_at is not None  # page_inbox_items lists only rows that have one
    return After(row.created_at, row.id)
