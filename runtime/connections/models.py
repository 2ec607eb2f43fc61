"""A workspace's CRM connection, and the credentials kept sealed beside it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "AuthKind",
    "ConnectionStatus",
    "CrmConnection",
    "CrmCredentials",
    "CrmType",
    "OAuthAttempt",
]

CrmType = Literal["hubspot", "salesforce"]
AuthKind = Literal["private_token", "oauth"]
ConnectionStatus = Literal["active", "revoked", "error"]


class CrmConnection(BaseModel):
    """A stored connection, without its credentials: safe to print and to return."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    workspace_id: UUID
    crm_type: CrmType
    auth_kind: AuthKind
    base_url: str
    key_id: str = Field(description="The key that sealed the credentials.")
    access_expires_at: datetime | None = Field(
        description="When the OAuth access token expires; None for private app tokens."
    )
    hub_id: str | None = Field(description="The CRM account id, when the grant tells it.")
    scopes: list[str]
    status: ConnectionStatus
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime


class CrmCredentials(BaseModel):
    """What is sealed: tokens stay masked in repr, str and dumps until ``revealed_json``."""

    # The input of a validation error would be a token.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime | None = None

    def revealed_json(self) -> bytes:
        """The plaintext to seal, tokens in clear: never log or store it unsealed."""
        return json.dumps(
            {
                "access_token": self.access_token.get_secret_value(),
                "refresh_token": (
                    None if self.refresh_token is None else self.refresh_token.get_secret_value()
                ),
                "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            },
            separators=(",", ":"),
        ).encode()


class OAuthAttempt(BaseModel):
    """An OAuth connect started by an admin: what its state is bound to (never the state)."""

    model_config = ConfigDict(frozen=True)

    workspace_id: UUID
    crm_type: CrmType
    started_by: UUID = Field(description="The admin the grant is stored and audited for.")
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = Field(description="When the callback used its state.")
