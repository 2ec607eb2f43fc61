"""`crm-agents metrics`: a workspace's per-minute counters, the numbers its actor answers."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import polars as pl
import typer

from runtime.cli._common import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    database,
    emit,
    load_settings,
    run,
)
from runtime.clock import SystemClock
from runtime.errors import InvalidInputError, NotFoundError
from runtime.metrics.book import totals
from runtime.metrics.models import COUNTERS, WindowTotals
from runtime.metrics.service import workspace_frame
from runtime.metrics.windows import parse_window, window_label
from runtime.workspaces.repo import WorkspaceRepo

__all__ = ["metrics_command"]

# The table's headers, short enough for a terminal; --json and --csv use the column names.
_HEADERS = {
    "runs": "runs",
    "runs_failed": "failed",
    "fields_proposed": "proposed",
    "auto_applied": "auto",
    "sent_to_review": "review",
    "approved": "approved",
    "rejected": "rejected",
    "writes_ok": "written",
    "writes_failed": "write failed",
    "mean_confidence": "confidence",
}
_MINUTE_FORMAT = "%Y-%m-%d %H:%M"


def metrics_command(
    workspace: UUID = WORKSPACE_OPTION,
    window: str = typer.Option(
        "1h", "--window", help="How far back: whole minutes, hours or days (15m, 1h, 24h, 7d)."
    ),
    as_json: bool = JSON_OPTION,
    as_csv: bool = typer.Option(
        False, "--csv", help="Print the per-minute frame as CSV (every minute, zeros included)."
    ),
) -> None:
    """Print a workspace's metrics per minute over a window, and the window's totals.

    Counters per UTC minute, each event at the minute it happened: agent runs (and failed
    ones), fields proposed (auto-applied or sent to review) and their mean confidence,
    decisions (approved, rejected), and CRM writes (written, failed). The same numbers a
    workspace actor answers to `metrics(window)` (README "Metrics for the data team"),
    read here straight from the database.

    The table shows the minutes where something happened, then the totals; --json prints
    the window, the totals and every minute; --csv prints every minute as CSV. Examples:

        crm-agents metrics --workspace W --window 15m
        crm-agents metrics --workspace W --window 7d --csv > week.csv
    """
    if as_json and as_csv:
        raise InvalidInputError.one("--json/--csv", "choose one output format, not both")
    window_s = parse_window(window, field="--window")
    settings = load_settings()
    now = SystemClock().now()

    async def body() -> pl.DataFrame:
        async with database(settings) as pool:
            try:
                await WorkspaceRepo(pool).get(workspace)
            except NotFoundError as exc:
                raise NotFoundError("workspace", str(workspace), field="--workspace") from exc
            return await workspace_frame(pool, workspace, window_s, now=now)

    frame = run(body)
    if as_csv:
        sys.stdout.write(frame.write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ"))
        return
    summed = totals(frame)
    label = window_label(window_s)
    emit(
        _document(workspace, label, window_s, frame, summed),
        _table(workspace, label, frame, summed),
        as_json=as_json,
    )


def _document(
    workspace: UUID, label: str, window_s: int, frame: pl.DataFrame, summed: WindowTotals
) -> dict[str, Any]:
    minutes = frame.to_dicts()
    for row in minutes:
        row["minute"] = row["minute"].isoformat()
    since: datetime = frame["minute"][0]
    return {
        "workspace_id": str(workspace),
        "window": label,
        "window_s": window_s,
        "since": since.isoformat(),
        "until": (since + timedelta(seconds=window_s)).isoformat(),
        "totals": summed.model_dump(),
        "minutes": minutes,
    }


def _table(workspace: UUID, label: str, frame: pl.DataFrame, summed: WindowTotals) -> str:
    first: datetime = frame["minute"][0]
    last: datetime = frame["minute"][-1]
    until = f"{last:%H:%M}" if last.date() == first.date() else f"{last:{_MINUTE_FORMAT}}"
    title = (
        f"workspace {workspace}, last {label} ({first:{_MINUTE_FORMAT}} to {until} UTC, per minute)"
    )
    active = frame.filter(pl.any_horizontal(pl.col(name) > 0 for name in COUNTERS))
    if active.is_empty():
        return f"{title}: no activity"
    widths = {name: max(len(header), 5) for name, header in _HEADERS.items()}
    lines = [
        title,
        _line("minute (UTC)", dict(_HEADERS), widths),
    ]
    for row in active.iter_rows(named=True):
        lines.append(_line(f"{row['minute']:{_MINUTE_FORMAT}}", row, widths))
    lines.append(_line("total", summed.model_dump(), widths))
    return "\n".join(lines)


def _line(first: str, values: dict[str, Any], widths: dict[str, int]) -> str:
    cells = [f"{first:<16}"]
    for name, width in widths.items():
        value = values[name]
        if name == "mean_confidence" and not isinstance(value, str):
            value = "-" if value is None else f"{value:.2f}"
        cells.append(f"{value:>{width}}")
    return "  ".join(cells)
