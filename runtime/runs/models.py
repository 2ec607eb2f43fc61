"""An agent run as stored (``agent_runs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

__all__ = ["AgentRun", "RunStatus"]

RunStatus = Literal["pending", "running", "done", "failed"]


class AgentRun(BaseModel):
    """One agent config applied to one meeting, and where that work stands."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    agent_config_id: UUID
    meeting_id: UUID
    status: RunStatus
    attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    error_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
