"""The only module that runs meeting-webhook SQL. Secrets come and go sealed, as bytes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError, StorageError

__all__ = ["WebhookRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class WebhookRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def upsert_secret(self, workspace_id: UUID, sealed: bytes, key_id: str) -> None:
        """Store the workspace's sealed secret, replacing the one it had."""
        try:
            await self._db.fetchrow(_SQL["upsert_secret"], workspace_id, sealed, key_id)
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "workspace_webhook_secrets_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", str(workspace_id)
                    )
                },
            ) from exc

    async def get_sealed_secret(self, workspace_id: UUID) -> bytes | None:
        sealed = await self._db.fetchval(_SQL["get_sealed_secret"], workspace_id)
        return None if sealed is None else bytes(sealed)

    async def lock_secrets_not_under_key(self, key_id: str) -> list[tuple[UUID, bytes]]:
        """(workspace id, sealed secret) of those sealed with another key, locked until commit.

        Call it inside a transaction, or the locks are released at once.
        """
        rows = await self._db.fetch(_SQL["lock_secrets_not_under_key"], key_id)
        return [(row["workspace_id"], bytes(row["secret"])) for row in rows]

    async def update_sealed_secret(self, workspace_id: UUID, sealed: bytes, key_id: str) -> None:
        status = await self._db.execute(_SQL["update_sealed_secret"], workspace_id, sealed, key_id)
        if status != "UPDATE 1":
            raise StorageError(f"workspace {workspace_id}'s webhook secret was deleted meanwhile")

    async def forget_stale_deliveries(self, workspace_id: UUID, before: datetime) -> None:
        await self._db.execute(_SQL["forget_stale_deliveries"], workspace_id, before)

    async def record_delivery(
        self, workspace_id: UUID, signature: bytes, signed_at: datetime
    ) -> bool:
        """Remember an accepted delivery; False when its signature was accepted before."""
        row = await self._db.fetchrow(_SQL["record_delivery"], workspace_id, signature, signed_at)
        return row is not None
