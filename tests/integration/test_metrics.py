"""Workspace metrics against the rows they count: runs made by the pipeline, decisions and
CRM answers, counted per minute and in total."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import polars as pl
import pytest

from runtime.clock import FakeClock, SystemClock
from runtime.metrics.book import MetricsBook, totals
from runtime.metrics.models import MinuteCounts
from runtime.metrics.repo import MetricsRepo
from runtime.metrics.service import workspace_frame
from runtime.settings import Settings
from runtime.writes.workspace import WorkspaceRuntime
from tests.activity_setup import ActiveWorkspace

HOUR_S = 3600


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _by_minute(frame: pl.DataFrame, name: str) -> dict[datetime, int]:
    return {row["minute"]: row[name] for row in frame.iter_rows(named=True) if row[name]}


@pytest.fixture
async def active(pool: asyncpg.Pool) -> ActiveWorkspace:
    """Two meetings run by both agents, one meeting whose runs fail (no CRM connection),
    a field approved and one rejected, three writes answered: two written, one refused."""
    workspace = await ActiveWorkspace.create(pool)
    await workspace.meeting("Sixty")
    await workspace.meeting("Seventy")
    await workspace.meeting("Eighty", connected=False)
    await workspace.decide(approve=1, reject=1)
    await workspace.answer_writes(ok=2, failed=1)
    return workspace


async def test_metrics_match_the_activity_rows(pool: asyncpg.Pool, active: ActiveWorkspace) -> None:
    workspace_id = active.workspace_id
    # Spread the events over several minutes without waiting for them: the first run's
    # activity and proposals happened 7 minutes ago, the refused write 3 minutes ago.
    first = await pool.fetchval(
        "SELECT id FROM activity_logs WHERE workspace_id = $1 ORDER BY created_at, id LIMIT 1",
        workspace_id,
    )
    await pool.execute(
        "UPDATE activity_logs SET created_at = created_at - interval '7 minutes' WHERE id = $1",
        first,
    )
    await pool.execute(
        "UPDATE proposals SET created_at = created_at - interval '7 minutes'"
        " WHERE activity_log_id = $1",
        first,
    )
    await pool.execute(
        "UPDATE write_outbox SET done_at = done_at - interval '3 minutes'"
        " WHERE workspace_id = $1 AND status = 'failed'",
        workspace_id,
    )

    frame = await workspace_frame(pool, workspace_id, HOUR_S, now=SystemClock().now())
    summed = totals(frame)

    activities = await pool.fetch(
        "SELECT a.created_at, a.fields_updated, r.status AS run_status FROM activity_logs a"
        " JOIN agent_runs r ON r.id = a.agent_run_id WHERE a.workspace_id = $1",
        workspace_id,
    )
    proposals = await pool.fetch(
        "SELECT route, status, confidence, decided_by, created_at FROM proposals"
        " WHERE workspace_id = $1",
        workspace_id,
    )
    writes = await pool.fetch(
        "SELECT status, done_at FROM write_outbox WHERE workspace_id = $1", workspace_id
    )
    field_confidences = [
        change["confidence"] for a in activities for change in a["fields_updated"].values()
    ]
    assert summed.model_dump(exclude={"mean_confidence"}) == {
        "runs": len(activities),
        "runs_failed": sum(a["run_status"] == "failed" for a in activities),
        "fields_proposed": len(field_confidences),
        "auto_applied": sum(p["route"] == "auto_apply" for p in proposals),
        "sent_to_review": sum(p["route"] == "review" for p in proposals),
        "approved": sum(
            p["decided_by"] is not None and p["status"] not in ("rejected", "pending")
            for p in proposals
        ),
        "rejected": sum(p["status"] == "rejected" for p in proposals),
        "writes_ok": sum(w["status"] == "done" for w in writes),
        "writes_failed": sum(w["status"] == "failed" for w in writes),
    }
    # What the scenario made, so that the comparison above is not between two zeros.
    assert (summed.runs, summed.runs_failed, summed.approved, summed.rejected) == (6, 2, 1, 1)
    assert (summed.writes_ok, summed.writes_failed) == (2, 1)
    assert summed.fields_proposed == len(proposals) > 0
    assert summed.auto_applied > 0
    assert summed.sent_to_review > 0
    assert summed.mean_confidence == pytest.approx(
        sum(float(p["confidence"]) for p in proposals) / len(proposals)
    )
    # The activity rows keep each field's confidence unrounded; proposals keep two places.
    assert summed.mean_confidence == pytest.approx(
        sum(field_confidences) / len(field_confidences), abs=0.005
    )

    # Each event in its own minute.
    assert _by_minute(frame, "runs") == Counter(_minute(a["created_at"]) for a in activities)
    assert _by_minute(frame, "fields_proposed") == Counter(
        _minute(p["created_at"]) for p in proposals
    )
    assert _by_minute(frame, "writes_failed") == Counter(
        _minute(w["done_at"]) for w in writes if w["status"] == "failed"
    )
    assert len(_by_minute(frame, "runs")) >= 2


async def test_a_second_refresh_reloads_and_changes_only_the_recent_minutes(
    pool: asyncpg.Pool, active: ActiveWorkspace
) -> None:
    repo = MetricsRepo(pool)
    asked: list[tuple[datetime, datetime]] = []

    async def load(since: datetime, until: datetime) -> Sequence[MinuteCounts]:
        asked.append((since, until))
        return await repo.minutes(active.workspace_id, since=since, until=until)

    book = MetricsBook(load)
    first_now = SystemClock().now()
    first = await book.read(HOUR_S, now=first_now)

    await active.meeting("Ninety")  # two more runs, six more fields
    second_now = SystemClock().now()
    second = await book.read(HOUR_S, now=second_now)

    [(since, until)] = asked[1:]
    assert since == _minute(first_now - timedelta(seconds=60))  # minutes before are final
    assert until == _minute(second_now) + timedelta(minutes=1)
    older = pl.col("minute") < since
    assert second.filter(older).equals(
        first.filter(older & (pl.col("minute") >= second["minute"][0]))
    )
    assert totals(second).runs == totals(first).runs + 2
    assert totals(second).fields_proposed == totals(first).fields_proposed + 6
    # The cached minutes are what the rows say: a book built afresh agrees.
    assert (await workspace_frame(pool, active.workspace_id, HOUR_S, now=second_now)).equals(second)


async def test_a_workspace_answers_its_metrics_without_being_activated(
    pool: asyncpg.Pool, active: ActiveWorkspace
) -> None:
    clock = FakeClock(SystemClock().now())
    runtime = WorkspaceRuntime(active.workspace_id, pool, settings=Settings(), clock=clock)

    frame = await runtime.metrics_frame(15 * 60)

    assert not runtime.active
    assert frame.height == 15
    assert frame.equals(await workspace_frame(pool, active.workspace_id, 900, now=clock.now()))
    assert totals(frame).runs == 6
