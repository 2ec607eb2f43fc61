"""An API token as stored (never its secret), and who a presented token speaks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from runtime.users.models import Role

__all__ = ["ApiToken", "IssuedToken", "Principal"]


class ApiToken(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    user_id: UUID
    role: Role
    name: str | None
    token_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``secret`` is shown once and never stored."""

    token: ApiToken
    secret: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request speaks for: a member of one workspace, with the role its token allows."""

    token_id: UUID
    workspace_id: UUID
    user_id: UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
