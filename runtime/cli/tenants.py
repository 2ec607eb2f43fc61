"""`crm-agents workspace ...` and `crm-agents user ...`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

import typer
from pydantic import ValidationError

from runtime.cli._common import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    command_group,
    database,
    emit,
    load_settings,
    run,
)
from runtime.errors import invalid_from_pydantic
from runtime.users.models import Role, UserCreate
from runtime.users.repo import UserRepo
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo


class RoleChoice(StrEnum):
    admin = "admin"
    member = "member"


workspace_app = command_group(help="Workspaces: the tenants.")
user_app = command_group(help="Users and their role in a workspace.")


@workspace_app.command("create")
def create_workspace(
    name: str = typer.Option(..., "--name", help="Display name of the workspace."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a workspace and print its id."""
    settings = load_settings()
    try:
        new = WorkspaceCreate(name=name)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc, prefix="--") from exc

    async def body() -> dict[str, Any]:
        async with database(settings) as pool:
            workspace = await WorkspaceRepo(pool).create(new)
        return workspace.model_dump(mode="json")

    result = run(body)
    emit(result, result["id"], as_json=as_json)


@workspace_app.command("list")
def list_workspaces(as_json: bool = JSON_OPTION) -> None:
    """List workspaces, oldest first: id and name."""
    settings = load_settings()

    async def body() -> list[dict[str, Any]]:
        async with database(settings) as pool:
            return [w.model_dump(mode="json") for w in await WorkspaceRepo(pool).list()]

    rows = run(body)
    emit(rows, "\n".join(f"{row['id']}  {row['name']}" for row in rows), as_json=as_json)


@user_app.command("create")
def create_user(
    workspace: UUID = WORKSPACE_OPTION,
    email: str = typer.Option(..., "--email", help="The user's email address."),
    role: RoleChoice = typer.Option(RoleChoice.member, "--role", help="The user's role."),
    name: str | None = typer.Option(None, "--name", help="Display name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a user to a workspace (creating the user if the email is new) and print the id.

    Running it again with the same role changes nothing and prints the same id.
    """
    settings = load_settings()
    try:
        new = UserCreate(email=email, name=name)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc, prefix="--") from exc
    checked_role: Role = "admin" if role is RoleChoice.admin else "member"

    async def body() -> dict[str, Any]:
        async with database(settings) as pool, pool.acquire() as conn:
            member, created = await add_user_to_workspace(conn, workspace, new, role=checked_role)
        return {**member.user.model_dump(mode="json"), "role": member.role, "created": created}

    result = run(body)
    emit(result, result["id"], as_json=as_json)


@user_app.command("list")
def list_users(
    workspace: UUID = WORKSPACE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List a workspace's members: id, role, email."""
    settings = load_settings()

    async def body() -> list[dict[str, Any]]:
        async with database(settings) as pool:
            await WorkspaceRepo(pool).get(workspace)
            members = await UserRepo(pool).list_members(workspace)
        return [{**m.user.model_dump(mode="json"), "role": m.role} for m in members]

    rows = run(body)
    human = "\n".join(f"{r['id']}  {r['role']:<6}  {r['email']}" for r in rows)
    emit(rows, human, as_json=as_json)
