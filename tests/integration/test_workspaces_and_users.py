"""Workspaces, users and memberships through their repositories and services."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from runtime.errors import ConflictError, NotFoundError
from runtime.users.models import UserCreate
from runtime.users.repo import UserRepo
from runtime.users.service import add_user_to_workspace
from runtime.workspaces.models import WorkspaceCreate
from runtime.workspaces.repo import WorkspaceRepo


async def test_workspace_create_get_and_list(pool: asyncpg.Pool) -> None:
    repo = WorkspaceRepo(pool)
    created = await repo.create(WorkspaceCreate(name="  Acme  "))
    assert created.name == "Acme"
    assert await repo.get(created.id) == created
    assert created in await repo.list()


async def test_unknown_workspace_is_not_found(pool: asyncpg.Pool) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as caught:
        await WorkspaceRepo(pool).get(missing)
    assert caught.value.field == "workspace"
    assert str(missing) in str(caught.value)


async def test_emails_are_unique_whatever_their_case(pool: asyncpg.Pool) -> None:
    repo = UserRepo(pool)
    first = await repo.create(UserCreate(email="Dana@Acme.example"))
    assert first.email == "dana@acme.example"
    with pytest.raises(ConflictError) as caught:
        await repo.create(UserCreate(email="dana@acme.example"))
    assert caught.value.field == "email"
    same, created = await repo.get_or_create(UserCreate(email="DANA@acme.example"))
    assert (same.id, created) == (first.id, False)


async def test_adding_a_member_is_idempotent_and_roles_do_not_change_silently(
    pool: asyncpg.Pool,
) -> None:
    workspace = await WorkspaceRepo(pool).create(WorkspaceCreate(name="Roles"))
    async with pool.acquire() as conn:
        member, created = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email="ann@ourco.example"), role="admin"
        )
        assert created
        again, created_again = await add_user_to_workspace(
            conn, workspace.id, UserCreate(email="ANN@ourco.example"), role="admin"
        )
        assert (again.user.id, created_again) == (member.user.id, False)
        with pytest.raises(ConflictError) as caught:
            await add_user_to_workspace(
                conn, workspace.id, UserCreate(email="ann@ourco.example"), role="member"
            )
    assert caught.value.field == "role"
    members = await UserRepo(pool).list_members(workspace.id)
    assert [(m.user.email, m.role) for m in members] == [("ann@ourco.example", "admin")]


async def test_a_user_can_belong_to_several_workspaces(pool: asyncpg.Pool) -> None:
    first = await WorkspaceRepo(pool).create(WorkspaceCreate(name="One"))
    second = await WorkspaceRepo(pool).create(WorkspaceCreate(name="Two"))
    async with pool.acquire() as conn:
        a, _ = await add_user_to_workspace(conn, first.id, UserCreate(email="bo@x.example"))
        b, _ = await add_user_to_workspace(
            conn, second.id, UserCreate(email="bo@x.example"), role="admin"
        )
    assert a.user.id == b.user.id
    assert (a.role, b.role) == ("member", "admin")


async def test_adding_to_an_unknown_workspace_creates_no_user(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(NotFoundError) as caught:
            await add_user_to_workspace(conn, uuid.uuid4(), UserCreate(email="ghost@x.example"))
    assert caught.value.field == "workspace"
    assert await UserRepo(pool).get_by_email("ghost@x.example") is None


async def test_membership_foreign_key_maps_to_not_found(pool: asyncpg.Pool) -> None:
    user = await UserRepo(pool).create(UserCreate(email="fk@x.example"))
    with pytest.raises(NotFoundError) as caught:
        await UserRepo(pool).add_member_if_absent(uuid.uuid4(), user.id, "member")
    assert caught.value.kind == "workspace"
