"""Use cases around users: adding a person to a workspace."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from runtime.agent_configs.service import ensure_templates
from runtime.db import Executor
from runtime.errors import ConflictError, NotFoundError
from runtime.users.models import Member, Role, UserCreate
from runtime.users.repo import UserRepo
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["add_user_to_workspace", "find_user_id"]


async def add_user_to_workspace(
    conn: asyncpg.Connection, workspace_id: UUID, new: UserCreate, *, role: Role = "member"
) -> tuple[Member, bool]:
    """Create the user if needed and make them a member, in one transaction.

    Repeating the call with the same role changes nothing; asking for another role than the
    one the user already has is a conflict on ``role`` (changing roles is its own operation).
    Adding an admin also gives the workspace the built-in agent templates it lacks.
    Returns the member and whether anything was created.
    """
    async with conn.transaction():
        await WorkspaceRepo(conn).get(workspace_id)
        users = UserRepo(conn)
        user, user_created = await users.get_or_create(new)
        membership, member_created = await users.add_member_if_absent(workspace_id, user.id, role)
        if membership.role != role:
            raise ConflictError(
                "role", f"{user.email} already has the role {membership.role} in this workspace"
            )
        if role == "admin":
            # The first admin stands for the workspace's creator: the built-in templates
            # become its rows, created by them. Later admins find them there (a no-op).
            await ensure_templates(conn, workspace_id, user.id)
    return Member(user=user, workspace_id=workspace_id, role=membership.role), (
        user_created or member_created
    )


async def find_user_id(db: Executor, id_or_email: str, *, field: str) -> UUID:
    """The user a person names by id or by email (``--user``); unknown is bad input on
    ``field``."""
    try:
        return UUID(id_or_email)
    except ValueError:
        pass
    found = await UserRepo(db).get_by_email(id_or_email.strip())
    if found is None:
        raise NotFoundError("user", id_or_email, field=field)
    return found.id
