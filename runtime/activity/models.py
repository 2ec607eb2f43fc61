"""An activity log row: the seed's columns plus the run it records and its details."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

__all__ = ["ActivityLog"]


class ActivityLog(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    agent_config_id: UUID | None
    user_id: UUID | None
    meeting_id: UUID | None
    crm_record_id: str | None
    crm_record_type: str | None
    action_type: str
    fields_updated: dict[str, Any] | None
    overall_confidence: Decimal | None
    status: str | None
    error_message: str | None
    agent_run_id: UUID | None
    details: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime
