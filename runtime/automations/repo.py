"""The only module that runs user-automation SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from runtime.automations.models import Action, StoredAutomation, Trigger, config_of
from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError

__all__ = ["AutomationRepo", "AutomationRow", "SealedSecret"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


@dataclass(frozen=True)
class SealedSecret:
    """A webhook secret as stored: the AES-GCM blob and the id of the key that sealed it."""

    blob: bytes
    key_id: str

    def __repr__(self) -> str:
        return f"SealedSecret(key_id={self.key_id!r}, blob=<{len(self.blob)} bytes>)"


@dataclass(frozen=True)
class AutomationRow:
    """What an automation's row holds besides its ids and timestamps."""

    name: str
    trigger: Trigger
    action: Action
    is_active: bool


class AutomationRepo:
    """User automations, always looked up within one workspace."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert(
        self,
        automation_id: UUID,
        workspace_id: UUID,
        user_id: UUID,
        row: AutomationRow,
        *,
        secret: SealedSecret | None,
    ) -> StoredAutomation:
        try:
            stored = await self._db.fetchrow(
                _SQL["insert_automation"],
                automation_id,
                workspace_id,
                user_id,
                row.name,
                row.trigger.type,
                config_of(row.trigger),
                row.action.type,
                config_of(row.action),
                row.is_active,
                None if secret is None else secret.blob,
                None if secret is None else secret.key_id,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "user_automations_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", str(workspace_id)
                    ),
                    "user_automations_user_id_fkey": lambda: NotFoundError("user", str(user_id)),
                },
            ) from exc
        return StoredAutomation.from_row(stored)

    async def get_for_update(
        self, workspace_id: UUID, automation_id: UUID
    ) -> StoredAutomation | None:
        """The automation, locked until the caller's transaction ends; None if not there."""
        row = await self._db.fetchrow(
            _SQL["get_automation_for_update"], workspace_id, automation_id
        )
        return None if row is None else StoredAutomation.from_row(row)

    async def list(self, workspace_id: UUID, user_id: UUID) -> list[StoredAutomation]:
        """A user's automations in the workspace, oldest first."""
        rows = await self._db.fetch(_SQL["list_automations"], workspace_id, user_id)
        return [StoredAutomation.from_row(row) for row in rows]

    async def update(
        self,
        workspace_id: UUID,
        automation_id: UUID,
        row: AutomationRow,
        *,
        replace_secret: bool,
        secret: SealedSecret | None = None,
    ) -> StoredAutomation:
        """Write the merged row; the secret changes (to ``secret``, None removes it) only
        with ``replace_secret``.

        Raises:
            NotFoundError: no such automation in the workspace.
        """
        stored = await self._db.fetchrow(
            _SQL["update_automation"],
            workspace_id,
            automation_id,
            row.name,
            row.trigger.type,
            config_of(row.trigger),
            row.action.type,
            config_of(row.action),
            row.is_active,
            replace_secret,
            None if secret is None else secret.blob,
            None if secret is None else secret.key_id,
        )
        if stored is None:
            raise NotFoundError("user automation", str(automation_id), field="id")
        return StoredAutomation.from_row(stored)

    async def delete(self, workspace_id: UUID, automation_id: UUID) -> bool:
        """Whether a row was deleted."""
        deleted = await self._db.fetchval(_SQL["delete_automation"], workspace_id, automation_id)
        return deleted is not None

    async def sealed_secret(self, workspace_id: UUID, automation_id: UUID) -> SealedSecret | None:
        row = await self._db.fetchrow(_SQL["get_webhook_secret"], workspace_id, automation_id)
        if row is None or row["webhook_secret_sealed"] is None:
            return None
        return _sealed(row)

    async def lock_secrets_not_under_key(self, key_id: str) -> Sequence[tuple[UUID, SealedSecret]]:
        """Every automation's sealed secret not sealed with ``key_id``, locked (key rotation)."""
        rows = await self._db.fetch(_SQL["lock_webhook_secrets_not_under_key"], key_id)
        return [(row["id"], _sealed(row)) for row in rows]

    async def update_secret(self, automation_id: UUID, sealed: SealedSecret) -> None:
        await self._db.execute(
            _SQL["update_webhook_secret"], automation_id, sealed.blob, sealed.key_id
        )


def _sealed(row: Any) -> SealedSecret:
    return SealedSecret(bytes(row["webhook_secret_sealed"]), row["webhook_secret_key_id"])
