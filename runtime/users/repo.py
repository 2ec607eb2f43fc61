"""The only module that runs user and membership SQL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import ConflictError, NotFoundError
from runtime.users.models import Member, Membership, Role, User, UserCreate

__all__ = ["UserRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class UserRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def create(self, new: UserCreate) -> User:
        try:
            row = await self._db.fetchrow(_SQL["insert_user"], new.email, new.name)
        except asyncpg.UniqueViolationError as exc:
            raise domain_error(
                exc,
                {"users_email_key": lambda: ConflictError("email", "a user with it exists")},
            ) from exc
        return _user(row)

    async def get_or_create(self, new: UserCreate) -> tuple[User, bool]:
        """The user with this email, created if absent; the flag says whether it was."""
        row = await self._db.fetchrow(_SQL["insert_user_if_absent"], new.email, new.name)
        if row is not None:
            return _user(row), True
        existing = await self.get_by_email(new.email)
        if existing is None:  # deleted between the two statements
            raise ConflictError("email", "the user changed concurrently; try again")
        return existing, False

    async def get(self, user_id: UUID) -> User:
        row = await self._db.fetchrow(_SQL["get_user"], user_id)
        if row is None:
            raise NotFoundError("user", str(user_id))
        return _user(row)

    async def get_many(self, ids: Sequence[UUID]) -> list[User]:
        """The users among ``ids``, in no particular order."""
        rows = await self._db.fetch(_SQL["get_users"], list(ids))
        return [_user(row) for row in rows]

    async def get_by_email(self, email: str) -> User | None:
        row = await self._db.fetchrow(_SQL["get_user_by_email"], email)
        return None if row is None else _user(row)

    async def add_member_if_absent(
        self, workspace_id: UUID, user_id: UUID, role: Role
    ) -> tuple[Membership, bool]:
        """Make the user a member; an existing membership is returned unchanged."""
        try:
            row = await self._db.fetchrow(
                _SQL["insert_membership_if_absent"], workspace_id, user_id, role
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "workspace_members_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", str(workspace_id)
                    ),
                    "workspace_members_user_id_fkey": lambda: NotFoundError("user", str(user_id)),
                },
            ) from exc
        if row is not None:
            return Membership.model_validate(dict(row)), True
        existing = await self.get_membership(workspace_id, user_id)
        if existing is None:
            raise ConflictError("user", "the membership changed concurrently; try again")
        return existing, False

    async def get_membership(self, workspace_id: UUID, user_id: UUID) -> Membership | None:
        row = await self._db.fetchrow(_SQL["get_membership"], workspace_id, user_id)
        return None if row is None else Membership.model_validate(dict(row))

    async def list_members(self, workspace_id: UUID) -> list[Member]:
        rows = await self._db.fetch(_SQL["list_members"], workspace_id)
        return [
            Member(user=_user(row), workspace_id=row["workspace_id"], role=row["role"])
            for row in rows
        ]


def _user(row: Any) -> User:
    return User.model_validate({key: row[key] for key in ("id", "email", "name", "created_at")})
