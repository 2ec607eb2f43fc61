"""The only module that runs anomaly SQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from runtime.anomalies.models import Anomaly, AnomalyCreate, AnomalyStatus
from runtime.db import Executor
from runtime.db.constraints import domain_error
from runtime.db.named_sql import load_queries
from runtime.errors import NotFoundError

__all__ = ["AnomalyRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class AnomalyRepo:
    """Anomalies, always looked up within one workspace."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def insert(self, workspace_id: UUID, new: AnomalyCreate) -> Anomaly:
        """Store a new, active anomaly.

        Raises:
            NotFoundError: no such workspace.
        """
        try:
            row = await self._db.fetchrow(
                _SQL["insert_anomaly"],
                workspace_id,
                new.anomaly_type,
                new.severity,
                new.title,
                new.description,
                new.data,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise domain_error(
                exc,
                {
                    "anomalies_workspace_id_fkey": lambda: NotFoundError(
                        "workspace", str(workspace_id)
                    )
                },
            ) from exc
        return Anomaly.from_row(row)

    async def get(self, workspace_id: UUID, anomaly_id: UUID) -> Anomaly | None:
        row = await self._db.fetchrow(_SQL["get_anomaly"], workspace_id, anomaly_id)
        return None if row is None else Anomaly.from_row(row)

    async def list(
        self, workspace_id: UUID, *, status: AnomalyStatus | None = None, limit: int
    ) -> list[Anomaly]:
        """The workspace's anomalies (of one status when given), newest first."""
        rows = await self._db.fetch(_SQL["list_anomalies"], workspace_id, status, limit)
        return [Anomaly.from_row(row) for row in rows]

    async def acknowledge(
        self, workspace_id: UUID, anomaly_id: UUID, *, by: UUID, at: datetime
    ) -> Anomaly | None:
        """Acknowledge an active anomaly; None when it is not there or not active."""
        row = await self._db.fetchrow(_SQL["acknowledge_anomaly"], workspace_id, anomaly_id, by, at)
        return None if row is None else Anomaly.from_row(row)

    async def resolve(
        self, workspace_id: UUID, anomaly_id: UUID, *, by: UUID, at: datetime
    ) -> Anomaly | None:
        """Resolve an active or acknowledged anomaly; None when not there or resolved."""
        row = await self._db.fetchrow(_SQL["resolve_anomaly"], workspace_id, anomaly_id, by, at)
        return None if row is None else Anomaly.from_row(row)
