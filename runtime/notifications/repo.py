"""The only module that runs notification-preference SQL."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import asyncpg

from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError
from runtime.notifications.models import NotificationPreference, PreferenceChange

__all__ = ["PreferenceRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class PreferenceRepo:
    """A user's notification preferences (across workspaces: the table has none)."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def list(self, user_id: UUID) -> list[NotificationPreference]:
        """The stored rows only; ``full_matrix`` adds the defaults."""
        rows = await self._db.fetch(_SQL["list_preferences"], user_id)
        return [NotificationPreference.from_row(row) for row in rows]

    async def upsert(self, user_id: UUID, change: PreferenceChange) -> NotificationPreference:
        """Insert or update the pair's row.

        Raises:
            NotFoundError: no such user.
        """
        try:
            row = await self._db.fetchrow(
                _SQL["upsert_preference"],
                user_id,
                change.channel,
                change.notification_type,
                change.is_enabled,
                change.frequency,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "notification_preferences_user_id_fkey": lambda: NotFoundError(
                        "user", str(user_id)
                    )
                },
            ) from exc
        return NotificationPreference.from_row(row)
