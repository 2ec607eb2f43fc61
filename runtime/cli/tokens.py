"""`crm-agents token ...`: bearer tokens of the GraphQL API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import typer

from runtime.cli._common import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    command_group,
    database,
    emit,
    load_settings,
    run,
)
from runtime.cli.tenants import RoleChoice
from runtime.tokens.models import ApiToken
from runtime.tokens.service import issue_token, list_tokens, revoke_token
from runtime.users.models import Role
from runtime.users.service import find_user_id
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["token_app"]

token_app = command_group(
    help=(
        "Bearer tokens of the GraphQL API. A token speaks for one member of one workspace;"
        " send it as `Authorization: Bearer <token>` (or as `token` in a websocket's"
        " connection_init payload)."
    )
)


@token_app.command("create")
def create_token(
    workspace: UUID = WORKSPACE_OPTION,
    user: str = typer.Option(..., "--user", help="The member the token speaks for: id or email."),
    role: RoleChoice | None = typer.Option(
        None,
        "--role",
        help="What the token may do; default the member's role. Never more than that role.",
    ),
    name: str | None = typer.Option(None, "--name", help="A label, e.g. where it is used."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue a token and print it alone on stdout (it is shown only this once).

    Example: `export TOKEN=$(crm-agents token create --workspace W --user me@example.com)`.
    """
    settings = load_settings()
    wanted: Role | None = (
        None if role is None else ("admin" if role is RoleChoice.admin else "member")
    )

    async def body() -> dict[str, Any]:
        async with database(settings) as pool, pool.acquire() as conn:
            await WorkspaceRepo(conn).get(workspace)
            user_id = await find_user_id(conn, user, field="user")
            issued = await issue_token(conn, workspace, user_id, role=wanted, name=name)
        return {**_row(issued.token), "token": issued.secret}

    result = run(body)
    emit(result, result["token"], as_json=as_json)


@token_app.command("list")
def list_command(
    workspace: UUID = WORKSPACE_OPTION,
    user: str | None = typer.Option(None, "--user", help="Only this member's: id or email."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a workspace's tokens, newest first (their first characters, never the secret)."""
    settings = load_settings()

    async def body() -> list[dict[str, Any]]:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            user_id = None if user is None else await find_user_id(pool, user, field="user")
            return [_row(t) for t in await list_tokens(pool, workspace, user_id=user_id)]

    rows = run(body)
    emit(rows, "\n".join(_line(row) for row in rows), as_json=as_json)


@token_app.command("revoke")
def revoke_command(
    token_id: UUID = typer.Argument(..., help="The token's id (see `token list`)."),
    workspace: UUID = WORKSPACE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke a token: requests bearing it are refused from now on. Revoking twice is fine."""
    settings = load_settings()

    async def body() -> dict[str, Any]:
        async with database(settings) as pool:
            revoked = await revoke_token(pool, workspace, token_id, now=datetime.now(UTC))
        return _row(revoked)

    result = run(body)
    emit(result, f"revoked {result['id']}", as_json=as_json)


def _row(token: ApiToken) -> dict[str, Any]:
    return token.model_dump(mode="json")


def _line(row: dict[str, Any]) -> str:
    state = "revoked" if row["revoked_at"] else "live"
    used = row["last_used_at"] or "never used"
    shown = f"{row['token_prefix']}…"
    return f"{row['id']}  {shown}  {row['role']:<6}  {state:<7}  {row['user_id']}  {used}"
