"""Audit entries: one per CRM call or human decision, written in batches by the caller.

``details`` says what was touched and how it went, never the data itself: object types,
record ids, property names, counts, the outcome and an error's class name. No tokens, no
property values, no search text (they may hold personal data the log must not copy).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

__all__ = ["AuditCursor", "AuditEntry", "StoredAuditEntry"]


class AuditEntry(BaseModel):
    """One action to log; ``actor_user_id`` is None when the agent acted on its own."""

    model_config = ConfigDict(frozen=True)

    workspace_id: UUID
    actor_user_id: UUID | None = None
    action: str = Field(min_length=1, max_length=100, examples=["crm.read", "decision.approve"])
    target_type: str | None = Field(default=None, max_length=50, examples=["deals"])
    target_id: str | None = Field(default=None, max_length=255)
    details: dict[str, JsonValue] = Field(default_factory=dict)
    created_at: AwareDatetime


class StoredAuditEntry(AuditEntry):
    """An entry as the log holds it."""

    id: UUID

    def cursor(self) -> AuditCursor:
        """Where the next page of older entries starts."""
        return AuditCursor(created_at=self.created_at, id=self.id)


class AuditCursor(BaseModel):
    """A position in a workspace's log, newest first: entries strictly older come next.

    Entries logged in the same instant are told apart by id, so no page skips or repeats one.
    """

    model_config = ConfigDict(frozen=True)

    created_at: datetime
    id: UUID
