"""The workspace's CRM connection, as its members may see it: whether and how it is connected.

Read-only, for any member (the onboarding screens show it). It comes from the connection row
without its sealed credentials (``runtime.connections.models.CrmConnection``): no token,
refresh token or key is ever part of it; the base URL is reduced to its host.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import httpx
import strawberry

from runtime.api.context import ApiContext
from runtime.api.types.common import CRMType
from runtime.connections.models import CrmConnection
from runtime.connections.repo import CrmConnectionRepo

__all__ = ["CRMAuthKind", "CRMConnectionState", "CRMConnectionStatus", "Query"]

Info = strawberry.Info[ApiContext, None]


@strawberry.enum(name="CRMAuthKind", description="How the workspace authorizes with its CRM.")
class CRMAuthKind(Enum):
    OAUTH = "oauth"
    PRIVATE_TOKEN = "private_token"


@strawberry.enum(name="CRMConnectionState", description="The stored connection's state.")
class CRMConnectionState(Enum):
    ACTIVE = "active"
    REVOKED = "revoked"
    ERROR = "error"


@strawberry.type(
    name="CRMConnectionStatus",
    description="Whether the workspace's agents can reach its CRM; never any secret.",
)
class CRMConnectionStatus:
    connected: bool = strawberry.field(description="An active connection is stored.")
    crm_type: CRMType
    state: CRMConnectionState | None = strawberry.field(
        description="The stored connection's state; null when there is none."
    )
    auth_kind: CRMAuthKind | None
    base_url_host: str | None = strawberry.field(description="The host the CRM is reached at.")
    hub_id: str | None = strawberry.field(description="The CRM account id, when known.")
    scopes: list[str] = strawberry.field(description="The OAuth scopes granted (OAuth only).")
    connected_at: datetime | None = strawberry.field(description="When it was first connected.")
    updated_at: datetime | None = strawberry.field(
        description="When it was last reconnected or changed state."
    )
    access_token_expires_at: datetime | None = strawberry.field(
        description="When the OAuth access token expires; null for private app tokens."
    )

    @classmethod
    def of(cls, connection: CrmConnection | None) -> CRMConnectionStatus:
        if connection is None:
            return cls(
                connected=False,
                crm_type=CRMType.HUBSPOT,
                state=None,
                auth_kind=None,
                base_url_host=None,
                hub_id=None,
                scopes=[],
                connected_at=None,
                updated_at=None,
                access_token_expires_at=None,
            )
        return cls(
            connected=connection.status == "active",
            crm_type=CRMType(connection.crm_type),
            state=CRMConnectionState(connection.status),
            auth_kind=CRMAuthKind(connection.auth_kind),
            base_url_host=httpx.URL(connection.base_url).host or None,
            hub_id=connection.hub_id,
            scopes=list(connection.scopes),
            connected_at=connection.created_at,
            updated_at=connection.updated_at,
            access_token_expires_at=connection.access_expires_at,
        )


@strawberry.type
class Query:
    @strawberry.field(
        description="The workspace's HubSpot connection (never null: `connected` is false"
        " when there is none)."
    )
    async def crm_connection(
        self, info: Info, workspace_id: strawberry.ID
    ) -> CRMConnectionStatus | None:
        workspace = info.context.workspace(workspace_id)
        found = await CrmConnectionRepo(info.context.pool).get(workspace, "hubspot")
        return CRMConnectionStatus.of(found)
