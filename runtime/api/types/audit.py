"""``auditLog``: who did what to which object, for the workspace's admins only."""

from __future__ import annotations

from datetime import datetime

import strawberry

from runtime.api.context import ApiContext
from runtime.api.errors import ApiError
from runtime.api.ids import parse_id
from runtime.api.loaders import user_loader
from runtime.api.pagination import Connection, PaginationInput, connection_of, page_request
from runtime.api.types.activity import date_range
from runtime.api.types.common import JSON, User
from runtime.audit.models import StoredAuditEntry
from runtime.audit.repo import AuditFilter, AuditRepo
from runtime.db.keyset import After

__all__ = ["AuditEntry", "AuditLogFilters", "Query"]

Info = strawberry.Info[ApiContext, None]

# The columns' lengths (audit_log: action VARCHAR(100), target_type 50, target_id 255).
_LENGTHS = {"action": 100, "targetType": 50, "targetId": 255}


@strawberry.type(description="One CRM call or human decision, as the audit log keeps it.")
class AuditEntry:
    stored: strawberry.Private[StoredAuditEntry]
    id: strawberry.ID
    action: str = strawberry.field(description="e.g. `crm.update`, `decision.approve`.")
    target_type: str | None
    target_id: str | None
    details: JSON = strawberry.field(
        description="What was touched and how it went (never the values themselves)."
    )
    created_at: datetime

    @classmethod
    def of(cls, stored: StoredAuditEntry) -> AuditEntry:
        return cls(
            stored=stored,
            id=strawberry.ID(str(stored.id)),
            action=stored.action,
            target_type=stored.target_type,
            target_id=stored.target_id,
            details=JSON(stored.details),
            created_at=stored.created_at,
        )

    @strawberry.field(description="Who acted; null when the agent acted on its own.")
    async def actor(self, info: Info) -> User | None:
        if self.stored.actor_user_id is None:
            return None
        found = await user_loader(info.context).load(self.stored.actor_user_id)
        return None if found is None else User.of(found)


@strawberry.input(description="Which entries to list; every filter given must hold.")
class AuditLogFilters:
    action: str | None = strawberry.field(default=None, description="e.g. `crm.update`.")
    actor_user_id: strawberry.ID | None = None
    target_type: str | None = strawberry.field(default=None, description="e.g. `deals`.")
    target_id: str | None = strawberry.field(default=None, description="e.g. a deal's CRM id.")
    created_after: datetime | None = strawberry.field(
        default=None, description="Logged at or after this time (with a time zone)."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Logged before this time (with a time zone)."
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The workspace's audit log, newest first, paged by cursor (admins only)."
    )
    async def audit_log(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        filters: AuditLogFilters | None = None,
        pagination: PaginationInput | None = None,
    ) -> Connection[AuditEntry]:
        context = info.context
        workspace = context.admin(workspace_id).workspace_id
        where = _checked(filters)
        request = page_request(pagination)
        repo = AuditRepo(context.pool)
        rows = await repo.page(workspace, where, limit=request.size + 1, after=request.after)
        return connection_of(
            [AuditEntry.of(row) for row in rows],
            [After(row.created_at, row.id) for row in rows],
            request,
            total=lambda: repo.count(workspace, where),
        )


def _checked(filters: AuditLogFilters | None) -> AuditFilter:
    """The filters as the repository takes them; bad ones name their input field."""
    if filters is None:
        return AuditFilter()
    texts = {
        "action": _text(filters.action, "action"),
        "targetType": _text(filters.target_type, "targetType"),
        "targetId": _text(filters.target_id, "targetId"),
    }
    after, before = date_range(filters.created_after, filters.created_before, field="filters")
    return AuditFilter(
        action=texts["action"],
        actor_user_id=(
            None
            if filters.actor_user_id is None
            else parse_id(filters.actor_user_id, "filters.actorUserId")
        ),
        target_type=texts["targetType"],
        target_id=texts["targetId"],
        created_after=after,
        created_before=before,
    )


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    if not 1 <= len(stripped) <= _LENGTHS[name]:
        raise ApiError.bad_input(f"filters.{name}", f"must be 1 to {_LENGTHS[name]} characters")
    return stripped
