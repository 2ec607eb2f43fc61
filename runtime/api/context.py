"""Per-request context: the pool, who is asking, and the checks every resolver makes.

Authorization rules (the API's contract, tested by the authorization matrix):

- Every operation needs a token (``UNAUTHENTICATED`` without one); a token speaks for one
  member of one workspace.
- A ``workspaceId`` argument other than the token's workspace is ``FORBIDDEN``.
- A ``userId`` argument: a member may name only themselves; an admin any member of the
  workspace. Anyone else is ``FORBIDDEN``.
- An object named by id outside the token's workspace is ``NOT_FOUND`` (nullable queries
  answer null): its existence is not another workspace's business.
- Admin-only operations (the audit log, a workspace's agents' configuration) answer
  ``FORBIDDEN`` to members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from graphql.error import GraphQLError
from strawberry.fastapi import BaseContext

from runtime.agents.extraction import Extractor
from runtime.agents.extractors import RulesExtractor
from runtime.api.errors import ApiError
from runtime.api.ids import parse_id
from runtime.clock import Clock
from runtime.connections.cipher import KeyRing
from runtime.runs.crm_source import ConnectedCrms
from runtime.settings import Settings
from runtime.tokens.models import Principal
from runtime.users.repo import UserRepo

__all__ = ["ApiContext", "Services"]


@dataclass
class Services:
    """What resolvers use, built once per process (``runtime.api.http.build_api_app``)."""

    pool: asyncpg.Pool
    settings: Settings
    clock: Clock
    extras: dict[str, Any] = field(default_factory=dict)

    def keyring(self) -> KeyRing:
        """The key ring sealing CRM credentials and secrets, built on first use."""
        found = self.extras.get("keyring")
        if not isinstance(found, KeyRing):
            found = self.extras["keyring"] = KeyRing.from_settings(self.settings)
        return found

    def extractor(self) -> Extractor:
        """The extractor this process's runs use (the serving process may set one), so a
        preview or a re-routed question proposes what a run would."""
        found = self.extras.get("extractor")
        if found is None:
            found = self.extras["extractor"] = RulesExtractor()
        extractor: Extractor = found
        return extractor

    def crms(self) -> ConnectedCrms:
        """Each workspace's CRM behind a cache, as runs reach it (property definitions and
        pipelines read once per cache lifetime); closed with the app."""
        found = self.extras.get("crms")
        if not isinstance(found, ConnectedCrms):
            found = self.extras["crms"] = ConnectedCrms.from_settings(
                self.pool, self.settings, clock=self.clock, keyring=self.keyring()
            )
        return found

    async def aclose(self) -> None:
        """Close what was built on first use (the CRM clients); the app is stopping."""
        crms = self.extras.pop("crms", None)
        if isinstance(crms, ConnectedCrms):
            await crms.aclose()


class ApiContext(BaseContext):
    """Strawberry's context object: one per HTTP request or websocket connection."""

    def __init__(self, services: Services, principal: Principal | None) -> None:
        super().__init__()
        self.services = services
        self.principal_or_none = principal
        self.loaders: dict[str, Any] = {}  # DataLoaders of this request, by name
        # Errors a resolver reports beside its data (``runtime.api.errors.report_error``),
        # added to the result by ``runtime.api.errors.ErrorCodes``.
        self.reported_errors: list[GraphQLError] = []

    @property
    def pool(self) -> asyncpg.Pool:
        return self.services.pool

    @property
    def principal(self) -> Principal:
        """Who is asking; ``UNAUTHENTICATED`` without a live token."""
        if self.principal_or_none is None:
            raise ApiError.unauthenticated()
        return self.principal_or_none

    def workspace(self, workspace_id: object, *, field: str = "workspaceId") -> UUID:
        """The token's workspace, if ``workspace_id`` names it; else ``FORBIDDEN``."""
        principal = self.principal
        wanted = parse_id(workspace_id, field)
        if wanted != principal.workspace_id:
            raise ApiError.forbidden("the token is not for this workspace", field=field)
        return wanted

    def admin(self, workspace_id: object | None = None, *, field: str = "workspaceId") -> Principal:
        """The principal, who must be an admin (of ``workspace_id`` when given)."""
        principal = self.principal
        if workspace_id is not None:
            self.workspace(workspace_id, field=field)
        if not principal.is_admin:
            raise ApiError.forbidden("only a workspace admin may do this")
        return principal

    async def user(self, user_id: object, *, field: str = "userId") -> UUID:
        """A user whose data the principal may see: themselves, or (admins) any member."""
        principal = self.principal
        wanted = parse_id(user_id, field)
        if wanted == principal.user_id:
            return wanted
        if not principal.is_admin:
            raise ApiError.forbidden("a member may only see their own data", field=field)
        membership = await UserRepo(self.pool).get_membership(principal.workspace_id, wanted)
        if membership is None:
            raise ApiError.forbidden("the user is not a member of this workspace", field=field)
        return wanted

    def owns(self, workspace_id: UUID) -> bool:
        """Whether a loaded object of ``workspace_id`` may be shown to the principal."""
        return workspace_id == self.principal.workspace_id
