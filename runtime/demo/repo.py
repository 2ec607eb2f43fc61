"""The only module that runs the demo's own SQL: finding its workspace again."""

from __future__ import annotations

from pathlib import Path

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.workspaces.models import Workspace

__all__ = ["DemoRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class DemoRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def lock_seeding(self) -> None:
        """Hold the demo's seeding lock until the transaction ends."""
        await self._db.execute(_SQL["lock_demo_seeding"])

    async def find_workspace(self, name: str, admin_email: str) -> Workspace | None:
        row = await self._db.fetchrow(_SQL["find_demo_workspace"], name, admin_email)
        return None if row is None else Workspace.model_validate(dict(row))
