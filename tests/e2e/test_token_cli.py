"""`crm-agents token create | list | revoke` as a user meets them, and what a token can do."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from runtime.tokens.service import authenticate
from tests.cli import crm_agents


@pytest.fixture(scope="module")
def env(database_dsn: str) -> dict[str, str]:
    return {"DATABASE_URL": database_dsn}


@pytest.fixture(scope="module")
def workspace_id(env: dict[str, str]) -> str:
    created = crm_agents("workspace", "create", "--name", "Tokens", env=env)
    assert created.returncode == 0, created.stderr
    for email, role in (("ada@tokens.example", "admin"), ("bo@tokens.example", "member")):
        added = crm_agents(
            "user", "create", "--workspace", created.stdout.strip(), "--email", email,
            "--role", role, env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    return created.stdout.strip()


async def test_create_prints_only_the_token_which_then_authenticates(
    env: dict[str, str], workspace_id: str, pool: asyncpg.Pool
) -> None:
    created = crm_agents(
        "token", "create", "--workspace", workspace_id, "--user", "ada@tokens.example", env=env
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("cra_")
    assert "\n" not in token
    principal = await authenticate(pool, token, now=datetime.now(UTC))
    assert principal is not None
    assert (str(principal.workspace_id), principal.role) == (workspace_id, "admin")
    stored = await pool.fetchval(
        "SELECT count(*) FROM api_tokens WHERE token_prefix = $1", token[:12]
    )
    assert stored == 1
    leaked = await pool.fetchval(
        "SELECT count(*) FROM api_tokens WHERE token_digest::text LIKE $1", f"%{token[4:]}%"
    )
    assert leaked == 0, "only a digest of the token is stored"


async def test_a_member_cannot_get_an_admin_token(env: dict[str, str], workspace_id: str) -> None:
    refused = crm_agents(
        "token", "create", "--workspace", workspace_id, "--user", "bo@tokens.example",
        "--role", "admin", env=env,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "error: role: the user is a member of this workspace, not an admin" in refused.stderr
    unknown = crm_agents(
        "token", "create", "--workspace", workspace_id, "--user", "nobody@x.example", env=env
    )
    assert unknown.returncode == 2
    assert "user" in unknown.stderr


async def test_list_shows_prefixes_and_revoke_ends_a_token(
    env: dict[str, str], workspace_id: str, pool: asyncpg.Pool
) -> None:
    created = crm_agents(
        "token", "create", "--workspace", workspace_id, "--user", "bo@tokens.example",
        "--name", "laptop", "--json", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    assert issued["role"] == "member"
    assert issued["name"] == "laptop"

    listed = crm_agents("token", "list", "--workspace", workspace_id, "--json", env=env)
    rows = json.loads(listed.stdout)
    assert issued["id"] in {row["id"] for row in rows}
    assert all("token" not in row for row in rows), "a listing never shows a secret"

    revoked = crm_agents("token", "revoke", issued["id"], "--workspace", workspace_id, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert await authenticate(pool, issued["token"], now=datetime.now(UTC)) is None
    again = crm_agents("token", "revoke", issued["id"], "--workspace", workspace_id, env=env)
    assert again.returncode == 0, "revoking twice is fine"
    human = crm_agents("token", "list", "--workspace", workspace_id, env=env).stdout
    assert f"{issued['id']}  {issued['token_prefix']}…  member  revoked" in human


async def test_revoking_a_token_of_another_workspace_is_not_found(
    env: dict[str, str], workspace_id: str
) -> None:
    other = crm_agents("workspace", "create", "--name", "Other", env=env).stdout.strip()
    listed = json.loads(
        crm_agents("token", "list", "--workspace", workspace_id, "--json", env=env).stdout
    )
    refused = crm_agents("token", "revoke", listed[0]["id"], "--workspace", other, env=env)
    assert refused.returncode == 2
    assert f"error: token: no API token {listed[0]['id']}" in refused.stderr
