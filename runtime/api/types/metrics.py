"""``workspaceMetrics``: a workspace's per-minute counters over a window, the same numbers
``crm-agents metrics`` prints (``runtime.metrics``), for any member of the workspace."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import polars as pl
import strawberry

from runtime.api.context import ApiContext
from runtime.metrics.book import totals
from runtime.metrics.models import COUNTERS
from runtime.metrics.service import workspace_frame
from runtime.metrics.windows import parse_window, window_label

__all__ = ["MetricsCounts", "MetricsMinute", "Query", "WorkspaceMetrics"]

Info = strawberry.Info[ApiContext, None]


@strawberry.type(description="What a workspace's agents and people did over a window.")
class MetricsCounts:
    runs: int = strawberry.field(description="Agent runs (their activity rows written).")
    runs_failed: int
    fields_proposed: int
    auto_applied: int = strawberry.field(description="Proposed fields routed to auto-apply.")
    sent_to_review: int = strawberry.field(description="Proposed fields sent to a person.")
    approved: int
    rejected: int
    writes_ok: int = strawberry.field(description="CRM writes the CRM accepted.")
    writes_failed: int
    mean_confidence: float | None = strawberry.field(
        description="Of the fields proposed, each weighed once; null when none was."
    )


@strawberry.type(description="One UTC minute's counters.")
class MetricsMinute(MetricsCounts):
    minute: datetime = strawberry.field(description="The minute's start (UTC).")


@strawberry.type(
    description="A workspace's counters per minute over a window and their totals; each"
    " event counts at the minute it happened."
)
class WorkspaceMetrics:
    frame: strawberry.Private[pl.DataFrame]
    window: str = strawberry.field(description="The window as `1h`, `15m`, `7d`.")
    window_s: int
    since: datetime = strawberry.field(description="The first minute's start.")
    until: datetime = strawberry.field(description="The end of the current minute.")
    totals: MetricsCounts

    @strawberry.field(description="Every minute of the window, oldest first.")
    def minutes(
        self,
        active_only: Annotated[
            bool, strawberry.argument(description="Only the minutes where something happened.")
        ] = False,
    ) -> list[MetricsMinute]:
        frame = self.frame
        if active_only:
            frame = frame.filter(pl.any_horizontal(pl.col(name) > 0 for name in COUNTERS))
        return [MetricsMinute(**_counts(row), minute=row["minute"]) for row in frame.to_dicts()]


@strawberry.type
class Query:
    @strawberry.field(
        description="A workspace's metrics over the last `window` (whole minutes, hours or"
        " days up to 7d: 15m, 1h, 24h, 7d); the numbers of `crm-agents metrics`."
    )
    async def workspace_metrics(
        self, info: Info, workspace_id: strawberry.ID, window: str = "1h"
    ) -> WorkspaceMetrics:
        context = info.context
        workspace = context.workspace(workspace_id)
        window_s = parse_window(window, field="window")
        now = context.services.clock.now()
        frame = await workspace_frame(context.pool, workspace, window_s, now=now)
        since: datetime = frame["minute"][0]
        return WorkspaceMetrics(
            frame=frame,
            window=window_label(window_s),
            window_s=window_s,
            since=since,
            until=since + timedelta(seconds=window_s),
            totals=MetricsCounts(**totals(frame).model_dump()),
        )


def _counts(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in (*COUNTERS, "mean_confidence")}
