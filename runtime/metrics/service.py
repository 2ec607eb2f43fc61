"""Metrics read from Postgres: a workspace's book, and one-off frames (the CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import polars as pl

from runtime.db import Executor
from runtime.metrics.book import MetricsBook
from runtime.metrics.models import MinuteCounts
from runtime.metrics.repo import MetricsRepo

__all__ = ["workspace_book", "workspace_frame"]


def workspace_book(db: Executor, workspace_id: UUID) -> MetricsBook:
    """A book that loads the workspace's minutes from ``db`` (a pool: it outlives a call)."""
    repo = MetricsRepo(db)

    async def load(since: datetime, until: datetime) -> Sequence[MinuteCounts]:
        return await repo.minutes(workspace_id, since=since, until=until)

    return MetricsBook(load)


async def workspace_frame(
    db: Executor, workspace_id: UUID, window_s: int, *, now: datetime
) -> pl.DataFrame:
    """The workspace's frame over the last ``window_s`` at ``now``, without a cache: the
    same numbers a workspace actor answers."""
    return await workspace_book(db, workspace_id).read(window_s, now=now)
