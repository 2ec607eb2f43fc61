"""The only module that runs API-token SQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError
from runtime.tokens.models import ApiToken, Principal
from runtime.users.models import Role

__all__ = ["TokenRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class TokenRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert(
        self,
        workspace_id: UUID,
        user_id: UUID,
        role: Role,
        *,
        name: str | None,
        digest: bytes,
        prefix: str,
    ) -> ApiToken:
        row = await self._db.fetchrow(
            _SQL["insert_token"], workspace_id, user_id, role, name, digest, prefix
        )
        return _token(row)

    async def list(self, workspace_id: UUID, *, user_id: UUID | None = None) -> list[ApiToken]:
        rows = await self._db.fetch(_SQL["list_tokens"], workspace_id, user_id)
        return [_token(row) for row in rows]

    async def revoke(self, token_id: UUID, *, now: datetime) -> ApiToken:
        row = await self._db.fetchrow(_SQL["revoke_token"], token_id, now)
        if row is None:
            raise NotFoundError("API token", str(token_id), field="token")
        return _token(row)

    async def principal(self, digest: bytes, *, now: datetime) -> Principal | None:
        """Who the token with ``digest`` speaks for, or None (unknown, revoked, not a member)."""
        row = await self._db.fetchrow(_SQL["authenticate"], digest, now)
        if row is None:
            return None
        return Principal(
            token_id=row["id"],
            workspace_id=row["workspace_id"],
            user_id=row["user_id"],
            role=row["role"],
        )


def _token(row: Any) -> ApiToken:
    return ApiToken.model_validate(dict(row))
