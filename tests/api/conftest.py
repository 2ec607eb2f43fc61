"""The API over real HTTP: the app on uvicorn (loopback), a module's database, two tenants.

Each tenant is a workspace with an admin and a member and a token for each, so a test can
act as any of {no token, other workspace, member, admin} (the authorization matrix).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from runtime.api.http import build_api_app
from runtime.connections.cipher import KeyRing
from runtime.settings import ApiSettings, SecretsSettings, Settings
from runtime.tokens.service import issue_token
from runtime.users.models import UserCreate
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo
from tests.http_server import serve_asgi


@dataclass(frozen=True)
class Tenant:
    workspace_id: UUID
    admin_id: UUID
    member_id: UUID
    admin_token: str
    member_token: str


@dataclass(frozen=True)
class Tenants:
    home: Tenant
    other: Tenant


class GraphQL:
    """A client of the API under test: ``query`` posts a document as a token holder."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.http.post("/graphql", json=body, headers=headers)

    def query(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The response body of a request answered with 200 (GraphQL errors included)."""
        response = self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a request that must succeed without errors."""
        body = self.query(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def api_settings(database_dsn: str, **api: Any) -> Settings:
    limits = {"rate_limit_per_s": 10_000.0, "rate_limit_burst": 10_000, **api}
    return Settings(database_url=SecretStr(database_dsn), api=ApiSettings(**limits), _env_file=None)


class ModuleKeys:
    """A key ring of a test module's own, and the settings that make the API use it: what
    the module seals (a CRM connection it stores) the API opens."""

    def __init__(self) -> None:
        key = os.urandom(32)
        self.keyring = KeyRing([("k1", key)])
        encoded = base64.urlsafe_b64encode(key).decode()
        self.secrets = SecretsSettings(encryption_keys=SecretStr(f"k1:{encoded}"))

    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"secrets": self.secrets})


@pytest.fixture(scope="module")
def api_url(database_dsn: str) -> Iterator[str]:
    with serve_asgi(build_api_app(api_settings(database_dsn))) as url:
        yield url


@pytest.fixture(scope="module")
def gql(api_url: str) -> Iterator[GraphQL]:
    client = GraphQL(api_url)
    yield client
    client.http.close()


async def make_tenant(pool: asyncpg.Pool, name: str) -> Tenant:
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name=name))
    async with pool.acquire() as conn:
        admin, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email=f"admin@{name}.example"), role="admin"
        )
        member, _ = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email=f"member@{name}.example"), role="member"
        )
        admin_token = await issue_token(conn, workspace.id, admin.user.id)
        member_token = await issue_token(conn, workspace.id, member.user.id)
    return Tenant(
        workspace.id, admin.user.id, member.user.id, admin_token.secret, member_token.secret
    )


@pytest.fixture(scope="module")
async def tenants(pool: asyncpg.Pool) -> Tenants:
    return Tenants(home=await make_tenant(pool, "home"), other=await make_tenant(pool, "other"))
