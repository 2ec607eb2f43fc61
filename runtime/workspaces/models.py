"""Workspace models."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from runtime.validation import NonEmptyStr

__all__ = ["Workspace", "WorkspaceCreate"]


class WorkspaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonEmptyStr = Field(max_length=255)


class Workspace(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    updated_at: datetime
