"""The benchmark's result: exactly-once checks, the JSON object, and the table for people.

How each figure is measured:

- ``write_requests``, ``records``, ``records_per_request``: batch updates of the writer's token
  that the emulator answered below 400, and the inputs they carried, counted by the ASGI
  wrapper in front of the emulator (``bench.emulator``); the audit log's ``crm.update``
  entries of the workspace are reported beside them as a cross-check.
- ``drain_s``: from the wake-up that follows the backlog's commit to the latest ``done_at`` of
  the workspace's outbox rows. ``drain_rate_rps`` = records / drain_s.
- ``steady_rate_rps``: after the initial burst, records per second at the period with which
  the budget's slots are spent again (``bench.figures``: the mean time between a request's
  arrival and that of the request that reused its slot); ``windows`` lists what each 10 s
  window held. ``burst_rate_rps``: records of the first window over its 10 s (over the
  drain's length when that is shorter).
- ``physical_limit_rps`` = 100 records per request x burst / window = 1,900 at 190 per 10 s;
  the shares divide the rates by it.
- ``rate_limited_429``: 429 answers to the writer's token, counted by the wrapper; the
  actor's own budget count and the audit log's are cross-checks.
- ``per_record_*``: the SDK's sample (``bench.baseline``); its 429s are counted by the wrapper
  (urllib3 retries them silently). ``ratio`` = drain_rate_rps / per_record_rate_rps.
- ``exactly_once``: the emulator's write log (in memory) holds exactly one entry per deal
  with exactly the queued fields, the CRM holds the queued values, every outbox row is
  ``done``; and each record of the SDK's sample was written once.
- ``goals``: the issue's four, each ``{target, value, met}``. The share and the 429 count are
  judged on the steady state; a run too short to have one (``--quick``) on the whole drain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from rich.table import Table

from bench.baseline import RETRY_BACKOFF_FACTOR, RETRY_TOTAL, PerRecordRun
from bench.database import FieldUpdate, WorkspaceFigures
from bench.emulator import CountedRequest
from bench.figures import DrainFigures, goals
from bench.formatting import goal_text, rounded, shown
from bench.workload import Options
from runtime.crm.hubspot.emulator import EmulatorConfig
from runtime.crm.hubspot.emulator.store import Store
from runtime.crm.hubspot.emulator.writes import BATCH_LIMIT

__all__ = ["BenchError", "exactly_once_problems", "render_table", "result_of"]

_SHOWN = 5  # ids named in a problem, at most


class BenchError(Exception):
    """The run broke (not a goal missed): the figures would mean nothing."""


def exactly_once_problems(
    store: Store,
    updates: Sequence[FieldUpdate],
    statuses: Mapping[str, int] | None,
    *,
    written: tuple[int, int],
) -> list[str]:
    """What contradicts "each record written once, with the queued values" (empty: none).

    Args:
        store: the emulator's state.
        updates: the field updates that were to be written.
        statuses: outbox rows by status, when the writer's rows are checked.
        written: the slice of the write log the updates were written in.
    """
    expected: dict[str, dict[str, str]] = {}
    for update in updates:
        expected.setdefault(update.record_id, {})[update.field] = update.value
    entries = store.write_log[written[0] : written[1]]
    problems: list[str] = []
    seen = Counter(entry.id for entry in entries)
    _note(problems, "written more than once", [i for i, n in seen.items() if n > 1])
    _note(problems, "never written", [i for i in expected if i not in seen])
    _note(problems, "written but not queued", [i for i in seen if i not in expected])
    _note(
        problems,
        "written with other fields than queued",
        [
            e.id
            for e in entries
            if e.id in expected
            and (e.operation, e.object_type, e.properties) != ("update", "deals", expected[e.id])
        ],
    )
    held = []
    for record_id, fields in expected.items():
        record = store.get("deals", record_id)
        if record is None or any(record.properties.get(f) != v for f, v in fields.items()):
            held.append(record_id)
    _note(problems, "holding other values than queued", held)
    if statuses is not None and dict(statuses) != {"done": len(updates)}:
        problems.append(f"outbox rows are {dict(statuses)}, not all {len(updates)} done")
    return problems


def result_of(
    *,
    options: Options,
    config: EmulatorConfig,
    field_updates: int,
    drain_s: float,
    drain: DrainFigures,
    per_record: PerRecordRun,
    per_record_requests: Sequence[CountedRequest],
    actor: Mapping[str, Any],
    figures: WorkspaceFigures,
    problems: Sequence[str],
    per_record_problems: Sequence[str],
) -> dict[str, Any]:
    """The JSON object (see the module docstring for how each figure is measured)."""
    physical = BATCH_LIMIT * config.ten_second_limit / drain.window_s
    drain_rate = drain.records / drain_s if drain_s > 0 else None
    steady_rate = drain.steady_rate_rps
    per_record_rate = per_record.rate_rps or None
    ratio = drain_rate / per_record_rate if drain_rate and per_record_rate else None
    share = _share(drain_rate, physical)
    steady_share = _share(steady_rate, physical)
    steady_429 = drain.steady_rate_limited
    errors = [f"writer: {p}" for p in problems]
    errors += [f"per-record baseline: {p}" for p in per_record_problems]
    errors += [f"per-record baseline gave up on {f}" for f in per_record.failures]
    if figures.proposals_not_written or figures.written_otherwise:
        errors.append(
            f"proposals: {figures.proposals_not_written} not written,"
            f" {figures.written_otherwise} written with another value than proposed"
        )
    budget = actor.get("budget") or {}
    return {
        "mode": options.mode,
        "shape": {
            "deals": options.deals,
            "fields_per_deal": options.fields_per_deal,
            "statistics_gathered": options.analyze,
        },
        "backlog_field_updates": field_updates,
        "records": drain.records,
        "write_requests": drain.write_requests,
        "records_per_request": rounded(drain.records_per_request, 2),
        "drain_s": rounded(drain_s, 2),
        "drain_rate_rps": rounded(drain_rate, 1),
        "burst_rate_rps": rounded(drain.burst_rate_rps, 1),
        "steady_rate_rps": rounded(steady_rate, 1),
        "steady_windows": drain.steady_windows,
        "reuse_period_s": rounded(drain.reuse_period_s, 3),
        "physical_limit_rps": rounded(physical, 1),
        "share_of_limit": rounded(share, 3),
        "steady_share_of_limit": rounded(steady_share, 3),
        "rate_limited_429": drain.rate_limited,
        "steady_rate_limited_429": steady_429,
        "per_record_sample": per_record.records,
        "per_record_threads": options.sdk_threads,
        "per_record_s": rounded(per_record.elapsed_s, 2),
        "per_record_rate_rps": rounded(per_record_rate, 2),
        "per_record_requests": len(per_record_requests),
        "per_record_429": sum(1 for r in per_record_requests if r.status == 429),
        "ratio": rounded(ratio, 1),
        "exactly_once": not problems and not per_record_problems,
        "goals": {
            name: asdict(goal)
            for name, goal in goals(
                records_per_request=rounded(drain.records_per_request, 2),
                share_of_limit=rounded(steady_share if steady_share is not None else share, 3),
                rate_limited_in_steady_state=steady_429
                if steady_429 is not None
                else (drain.rate_limited),
                ratio=rounded(ratio, 1),
            ).items()
        },
        "emulator": {
            "burst": config.ten_second_limit,
            "window_s": drain.window_s,
            "batch_limit": BATCH_LIMIT,
            "latency_ms": config.latency.model_dump(mode="json"),
        },
        "writer": {
            "flush_interval_s": options.flush_interval_s,
            "flushes": actor.get("flushes"),
            "other_requests": drain.other_requests,
            "mean_request_s": rounded(drain.mean_request_s, 3),
            "mean_in_flight": rounded(drain.mean_in_flight, 2),
            "budget_burst": budget.get("burst"),
            "budget_429": budget.get("rate_limited_count"),
        },
        "per_record_retry": {
            "total": RETRY_TOTAL,
            "backoff_factor": RETRY_BACKOFF_FACTOR,
            "status_forcelist": [429],
            "allowed_methods": None,
        },
        "cross_checks": {
            "audited_write_requests": figures.audited_updates_ok,
            "audited_429": figures.audited_updates_429,
            "audited_failed": figures.audited_updates_failed,
            "proposals_written": figures.proposals_written,
            "activities": figures.activities,
        },
        "windows": [asdict(w) for w in drain.windows],
        "errors": errors,
    }


def render_table(result: Mapping[str, Any]) -> Table:
    """The figures people read first, with the goals beside them."""
    goal = result["goals"]
    table = Table(title=f"bench.budget ({result['mode']})", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("goal")
    steady = result["steady_windows"] > 0
    share_goal, limited_goal = (
        goal_text(goal, "share_of_limit"),
        goal_text(goal, "no_429_in_steady_state"),
    )
    rows: list[tuple[str, str, str]] = [
        ("backlog (field updates)", f"{result['backlog_field_updates']:,}", ""),
        ("records written", f"{result['records']:,}", ""),
        ("write requests", f"{result['write_requests']:,}", ""),
        (
            "records per request",
            shown(result["records_per_request"]),
            goal_text(goal, "records_per_request"),
        ),
        ("drain (s)", shown(result["drain_s"]), ""),
        ("drain rate (records/s)", shown(result["drain_rate_rps"]), ""),
        ("  first 10 s window", shown(result["burst_rate_rps"]), ""),
        (
            f"  steady state (a slot reused every {shown(result['reuse_period_s'])} s)",
            shown(result["steady_rate_rps"]),
            "",
        ),
        ("physical limit (records/s)", shown(result["physical_limit_rps"]), ""),
        ("share of the limit", _percent(result["share_of_limit"]), "" if steady else share_goal),
        ("  steady state", _percent(result["steady_share_of_limit"]), share_goal if steady else ""),
        ("429 answers", str(result["rate_limited_429"]), "" if steady else limited_goal),
        (
            "  in steady state",
            shown(result["steady_rate_limited_429"]),
            limited_goal if steady else "",
        ),
        (
            f"per-record SDK ({result['per_record_sample']} records,"
            f" {result['per_record_threads']} at once)",
            f"{shown(result['per_record_rate_rps'])} records/s",
            "",
        ),
        ("  its 429 answers", str(result["per_record_429"]), ""),
        (
            "ratio (drain / per-record)",
            f"{shown(result['ratio'])}x",
            goal_text(goal, "ratio_to_per_record"),
        ),
        ("exactly once", "yes" if result["exactly_once"] else "NO", ""),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def _note(problems: list[str], what: str, ids: Sequence[str]) -> None:
    if ids:
        shown = ", ".join(ids[:_SHOWN]) + (", ..." if len(ids) > _SHOWN else "")
        problems.append(f"{len(ids)} record(s) {what}: {shown}")


def _share(rate: float | None, limit: float) -> float | None:
    return None if rate is None else rate / limit


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
