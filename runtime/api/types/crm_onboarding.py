"""Connecting the workspace's CRM and discovering what to configure agents with (admins).

- ``startCrmOAuth``: an authorize URL for the admin's browser; HubSpot sends it back to
  ``GET /oauth/hubspot/callback`` (``runtime.api.oauth_callback``), which stores the grant.
- ``connectCrmPrivateToken``: a private app token, checked against HubSpot before it is
  stored (a refused token is ``BAD_USER_INPUT`` on ``token``; no answer at the base URL,
  ``BAD_USER_INPUT`` on ``baseUrl``); ``disconnectCrm`` revokes the connection.
- ``crmDealProperties`` and ``crmDealPipelines``: read live from the connected CRM (each read
  is in the audit log under the admin's name); without a connection, or when HubSpot refuses
  its credentials, ``CONFLICT`` on ``crmConnection``.

Connecting replaces the workspace's existing HubSpot connection, whatever its kind; no
credential is ever part of an answer. Status: ``crmConnection`` (``types.crm_connection``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar

import strawberry

from runtime.api.context import ApiContext
from runtime.api.errors import ApiError, ErrorCode
from runtime.api.inputs import input_path, service_errors
from runtime.api.types.crm_connection import CRMConnectionStatus
from runtime.connections.discovery import DealProperty, deal_pipelines, deal_properties
from runtime.connections.oauth import start_oauth
from runtime.connections.service import connect_verified_private_token, disconnect
from runtime.connections.verify import CrmCheckError
from runtime.crm.port import Pipeline

__all__ = [
    "CRMDealPipeline",
    "CRMDealProperty",
    "CRMOAuthStart",
    "CRMPipelineStage",
    "CRMPropertyOption",
    "Mutation",
    "Query",
]

Info = strawberry.Info[ApiContext, None]
T = TypeVar("T")


@strawberry.type(
    name="CRMOAuthStart",
    description="Where to send the admin's browser to grant HubSpot access; usable once.",
)
class CRMOAuthStart:
    authorize_url: str = strawberry.field(
        description="HubSpot's authorize page; it redirects back to the API's callback."
    )
    expires_at: datetime = strawberry.field(description="The URL's state is refused after this.")


@strawberry.type(name="CRMPropertyOption", description="One allowed value of an enumeration.")
class CRMPropertyOption:
    value: str
    label: str
    display_order: int
    hidden: bool


@strawberry.type(name="CRMDealProperty", description="A deal property defined in the CRM.")
class CRMDealProperty:
    name: str = strawberry.field(description="The internal name an agent config uses.")
    label: str
    type: str = strawberry.field(
        description="The value type: string, number, date, datetime, enumeration, bool."
    )
    field_type: str = strawberry.field(description="The input the CRM shows (text, select, ...).")
    description: str
    options: list[CRMPropertyOption] = strawberry.field(
        description="The allowed values of an enumeration; empty otherwise."
    )
    read_only: bool = strawberry.field(
        description="The CRM computes the value (calculated or system): it cannot be written."
    )
    proposable: bool = strawberry.field(
        description="The agents can propose values for it: a field an agent config may manage."
    )

    @classmethod
    def of(cls, found: DealProperty) -> CRMDealProperty:
        d = found.definition
        return cls(
            name=d.name,
            label=d.label,
            type=d.type,
            field_type=d.field_type,
            description=d.description,
            options=[
                CRMPropertyOption(
                    value=o.value, label=o.label, display_order=o.display_order, hidden=o.hidden
                )
                for o in d.options
            ],
            read_only=d.read_only,
            proposable=found.proposable,
        )


@strawberry.type(name="CRMPipelineStage", description="A stage of a deal pipeline.")
class CRMPipelineStage:
    id: str = strawberry.field(description="The value `dealstage` takes in this stage.")
    label: str
    display_order: int
    probability: float | None = strawberry.field(
        description="The win probability the CRM gives the stage, 0 to 1, when set."
    )
    is_closed: bool = strawberry.field(description="Deals in this stage are closed.")
    is_won: bool = strawberry.field(
        description="Closed won: a closed stage with probability 1 (closed lost has 0)."
    )


@strawberry.type(name="CRMDealPipeline", description="A deal pipeline and its stages, in order.")
class CRMDealPipeline:
    id: str
    label: str
    display_order: int
    stages: list[CRMPipelineStage]

    @classmethod
    def of(cls, pipeline: Pipeline) -> CRMDealPipeline:
        return cls(
            id=pipeline.id,
            label=pipeline.label,
            display_order=pipeline.display_order,
            stages=[
                CRMPipelineStage(
                    id=s.id,
                    label=s.label,
                    display_order=s.display_order,
                    probability=s.probability,
                    is_closed=s.is_closed,
                    is_won=s.is_closed and s.probability == 1.0,
                )
                for s in pipeline.stages
            ],
        )


@strawberry.type
class Query:
    @strawberry.field(
        description="The connected CRM's deal properties, read live (admins; audited)."
    )
    async def crm_deal_properties(
        self, info: Info, workspace_id: strawberry.ID
    ) -> list[CRMDealProperty]:
        found = await _discover(info, workspace_id, deal_properties)
        return [CRMDealProperty.of(p) for p in found]

    @strawberry.field(
        description="The connected CRM's deal pipelines and stages, read live (admins; audited)."
    )
    async def crm_deal_pipelines(
        self, info: Info, workspace_id: strawberry.ID
    ) -> list[CRMDealPipeline]:
        found = await _discover(info, workspace_id, deal_pipelines)
        return [CRMDealPipeline.of(p) for p in found]


async def _discover(
    info: Info, workspace_id: strawberry.ID, read: Callable[..., Awaitable[list[T]]]
) -> list[T]:
    """``read`` (a discovery of ``runtime.connections.discovery``) for the admin's workspace."""
    principal = info.context.admin(workspace_id)
    services = info.context.services
    with service_errors(_argument):
        return await read(
            services.pool,
            principal.workspace_id,
            requested_by=principal.user_id,
            keyring=services.keyring(),
            hubspot=services.settings.hubspot,
            clock=services.clock,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        name="startCrmOAuth",
        description="Start connecting HubSpot with OAuth: open `authorizeUrl` in the admin's"
        " browser; HubSpot sends it back to the API, which stores the grant (admins).",
    )
    async def start_crm_oauth(self, info: Info, workspace_id: strawberry.ID) -> CRMOAuthStart:
        principal = info.context.admin(workspace_id)
        services = info.context.services
        with service_errors(_argument):
            started = await start_oauth(
                services.pool,
                services.settings.hubspot,
                principal.workspace_id,
                started_by=principal.user_id,
                now=services.clock.now(),
            )
        return CRMOAuthStart(authorize_url=started.authorize_url, expires_at=started.expires_at)

    @strawberry.mutation(
        description="Connect HubSpot with a private app token, once HubSpot accepts it;"
        " replaces the workspace's connection (admins)."
    )
    async def connect_crm_private_token(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        token: str,
        base_url: Annotated[
            str | None,
            strawberry.argument(description="HubSpot's API URL; default: the server's setting."),
        ] = None,
    ) -> CRMConnectionStatus:
        principal = info.context.admin(workspace_id)
        services = info.context.services
        hubspot = services.settings.hubspot
        try:
            with service_errors(_argument):
                connection = await connect_verified_private_token(
                    services.pool,
                    services.keyring(),
                    principal.workspace_id,
                    token=token,
                    base_url=hubspot.base_url if base_url is None else base_url,
                    hubspot=hubspot,
                    created_by=principal.user_id,
                )
        except CrmCheckError as exc:
            raise ApiError(
                f"baseUrl: {exc}; nothing was stored", ErrorCode.BAD_USER_INPUT, field="baseUrl"
            ) from exc
        return CRMConnectionStatus.of(connection)

    @strawberry.mutation(
        description="Revoke the workspace's HubSpot connection: agents stop using it. The"
        " token stays valid in HubSpot (admins)."
    )
    async def disconnect_crm(self, info: Info, workspace_id: strawberry.ID) -> CRMConnectionStatus:
        principal = info.context.admin(workspace_id)
        async with info.context.pool.acquire() as conn, conn.transaction():
            with service_errors(_argument):
                connection = await disconnect(
                    conn, principal.workspace_id, "hubspot", actor=principal.user_id
                )
        return CRMConnectionStatus.of(connection)


def _argument(field: str) -> str:
    """A service's field as the operation's argument: ``base_url`` -> ``baseUrl``; the
    workspace's missing connection -> ``workspaceId``."""
    if field == "workspace":
        return "workspaceId"
    return input_path(field, root="")
