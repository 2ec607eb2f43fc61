"""One outbox row: a field to write to one CRM record."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

__all__ = ["OutboxRow"]


class OutboxRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    workspace_id: UUID
    proposal_id: UUID
    operation: Literal["update", "create"]
    crm_record_type: str
    crm_record_id: str | None
    property: str
    value: str
    status: Literal["pending", "in_flight", "done", "failed", "cancelled"]
    attempts: int
    batch_id: UUID | None
    error_message: str | None
    created_at: datetime
    sent_at: datetime | None
    done_at: datetime | None
