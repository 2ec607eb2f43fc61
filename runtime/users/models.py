"""User and membership models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from runtime.validation import Email, NonEmptyStr

__all__ = ["Member", "Membership", "Role", "User", "UserCreate"]

Role = Literal["admin", "member"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email = Field(max_length=320)
    name: NonEmptyStr | None = Field(default=None, max_length=255)


class User(BaseModel):
    id: UUID
    email: str
    name: str | None
    created_at: datetime


class Membership(BaseModel):
    workspace_id: UUID
    user_id: UUID
    role: Role
    created_at: datetime


class Member(BaseModel):
    """A user as seen from one workspace."""

    user: User
    workspace_id: UUID
    role: Role
