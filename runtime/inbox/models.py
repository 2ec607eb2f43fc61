"""Inbox items (the seed's ``inbox_items``) and proposals, as stored."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

__all__ = ["InboxItem", "Proposal"]


class InboxItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    user_id: UUID
    activity_log_id: UUID | None
    item_type: str
    title: str
    description: str | None
    context: dict[str, Any] | None
    confidence: Decimal | None
    status: str | None
    resolved_at: datetime | None
    resolved_by: UUID | None
    created_at: datetime | None


class Proposal(BaseModel):
    """One field's proposal: before, proposed, approved and written values kept apart."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    activity_log_id: UUID
    inbox_item_id: UUID | None
    crm_record_type: str
    crm_record_id: str | None
    field: str
    before_value: str | None
    proposed_value: str
    approved_value: str | None
    written_value: str | None
    confidence: Decimal
    route: str
    status: str
    reason: str
    evidence: list[dict[str, Any]]
    error_message: str | None
    decided_by: UUID | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
