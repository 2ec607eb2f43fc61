"""An activity log row: the seed's columns plus the run it records and its details."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

__all__ = ["ActivityLog", "WorkspaceMetrics"]


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


class WorkspaceMetrics(BaseModel):
    """A workspace's counters over a window, from its activity and proposal rows."""

    model_config = ConfigDict(frozen=True)

    since: datetime
    runs: int = 0
    runs_failed: int = 0
    fields_proposed: int = 0
    auto_applied: int = 0
    sent_to_review: int = 0
    writes_ok: int = 0
    writes_failed: int = 0
    mean_confidence: float | None = None
