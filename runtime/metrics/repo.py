"""The only module that runs metrics SQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from uuid import UUID

from runtime.db import Executor
from runtime.db.named_sql import load_queries
from runtime.metrics.models import MinuteCounts

__all__ = ["MetricsRepo"]

_SQL = load_queries(Path(__file__).with_name("queries.sql"))


class MetricsRepo:
    def __init__(self, db: Executor) -> None:
        self._db = db

    async def minutes(
        self, workspace_id: UUID, *, since: datetime, until: datetime
    ) -> list[MinuteCounts]:
        """The workspace's counters per minute in [since, until), oldest first; minutes
        where nothing happened are left out."""
        rows = await self._db.fetch(_SQL["minute_counts"], workspace_id, since, until)
        return [MinuteCounts.model_validate(dict(row)) for row in rows]
