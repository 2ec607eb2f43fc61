"""The only module that runs workspace SQL."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError
from runtime.workspaces.models import Workspace, WorkspaceCreate

__all__ = ["WorkspaceRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class WorkspaceRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def create(self, new: WorkspaceCreate) -> Workspace:
        row = await self._db.fetchrow(_SQL["insert_workspace"], new.name)
        return Workspace.model_validate(dict(row))

    async def get(self, workspace_id: UUID) -> Workspace:
        row = await self._db.fetchrow(_SQL["get_workspace"], workspace_id)
        if row is None:
            raise NotFoundError("workspace", str(workspace_id))
        return Workspace.model_validate(dict(row))

    async def list(self) -> list[Workspace]:
        rows = await self._db.fetch(_SQL["list_workspaces"])
        return [Workspace.model_validate(dict(row)) for row in rows]
