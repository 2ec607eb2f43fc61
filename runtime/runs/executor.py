"""Executing one claimed run: load, run the agent, record everything in one transaction.

1. Load the meeting and the agent; decide who the run's human is (the meeting's owner when
   they are a member of the workspace, else the agent's creator). A batch's runs are
   loaded together, in one statement.
2. Run the agent (``runtime.agents.pipeline.run_agent``) against the workspace's CRM
   (``WorkspaceCrm``: a cache in front of an audit recorder, so every call that reaches the
   CRM is logged), looked up once per workspace for the runs of a batch.
3. In one transaction: finish the run (only if this dispatcher still holds its lease, so a
   run taken over after a stall is never completed twice), insert the activity log, the
   inbox item, the proposals, the outbox rows of auto-applied fields and the audit entries.
   A batch's runs share that transaction and its statements: one insert of all their
   activity logs, one of their inbox items, one of their proposals, whatever their number.
   The triggers of ``runtime.events`` notify listeners when that transaction commits.

Nothing is lost on the way: no CRM connection, a CRM that does not answer, an extractor
that fails, an agent config that no longer validates, or a run retried too often all end as
a ``failed`` activity with a message that says what to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import asyncpg
from pydantic import ValidationError

from runtime.activity.models import ActivityLog
from runtime.activity.repo import ActivityRepo, NewActivity
from runtime.agents.calibration import Calibration
from runtime.agents.config import AgentConfig
from runtime.agents.extraction import Extractor
from runtime.agents.matching import RecordMatcher
from runtime.agents.pipeline import run_agent
from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.crm.audited import AuditedCrm
from runtime.crm.errors import CrmError
from runtime.crm.port import CrmPort
from runtime.errors import ClientError, ExtractionError, NotFoundError
from runtime.inbox.models import Proposal
from runtime.inbox.repo import InboxRepo, NewInboxItem, NewProposals
from runtime.meetings.models import Meeting
from runtime.outbox.repo import OutboxRepo
from runtime.runs.models import AgentRun, RunStatus
from runtime.runs.outcome import (
    RECORD_TYPE,
    RunOutcome,
    failed_outcome,
    outcome_of,
    skipped_outcome,
)
from runtime.runs.repo import RunRepo

__all__ = [
    "CrmSource",
    "LeaseLostError",
    "NoCrmConnectionError",
    "RunExecutor",
    "RunResult",
    "WorkspaceCrm",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_MEETING_COLUMNS = (
    "id",
    "workspace_id",
    "external_id",
    "title",
    "call_type",
    "started_at",
    "duration_s",
    "owner_email",
    "attendees",
    "transcript",
    "notes",
    "content_sha256",
    "created_at",
)
_AGENT_COLUMNS = ("id", "name", "created_by", "status", "is_template", "config")


class NoCrmConnectionError(ClientError):
    """The workspace has no usable CRM connection."""

    def __init__(self, workspace_id: UUID) -> None:
        super().__init__(
            f"workspace {workspace_id} has no CRM connection: connect one with"
            f" `crm-agents crm connect --workspace {workspace_id} --token ...`"
        )


class LeaseLostError(Exception):
    """Another dispatcher took the run over (this one stalled past its lease)."""


@dataclass(frozen=True, slots=True)
class WorkspaceCrm:
    """A workspace's CRM as runs use it.

    ``port`` is what the agent reads through (a cache in front, usually); ``audit`` records
    the calls that actually reach the CRM, and each run drains it into its own transaction.
    A cache hit is no CRM operation, so it is not in the audit log.
    """

    port: CrmPort
    audit: AuditedCrm


class CrmSource(Protocol):
    """Where a run finds its workspace's CRM (``runtime.runs.crm_source``; tests pass their own)."""

    async def for_workspace(self, workspace_id: UUID) -> WorkspaceCrm:
        """The workspace's CRM; raises ``NoCrmConnectionError`` when it has none."""
        ...


@dataclass(frozen=True, slots=True)
class RunResult:
    """What became of one run of a batch: its activity's status, or None when the run's
    lease was lost meanwhile (another dispatcher holds it; nothing was recorded here)."""

    run_id: UUID
    status: str | None


@dataclass(frozen=True, slots=True)
class _Prepared:
    run: AgentRun
    outcome: RunOutcome
    user_id: UUID
    audit: Sequence[AuditEntry]


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a run reads before its agent runs."""

    meeting: Meeting
    agent: _Agent
    user_id: UUID
    """Who the run's inbox item goes to."""


@dataclass(frozen=True, slots=True)
class _Agent:
    id: UUID
    name: str
    created_by: UUID
    status: str
    is_template: bool
    raw_config: Any


class RunExecutor:
    """Executes claimed runs; one instance serves every dispatcher task of a process."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        crms: CrmSource,
        *,
        extractor: Extractor,
        clock: Clock,
        calibration: Calibration | None = None,
        max_attempts: int = 5,
    ) -> None:
        self._pool = pool
        self._crms = crms
        self._extractor = extractor
        self._clock = clock
        self._calibration = calibration
        self._max_attempts = max_attempts

    async def execute(self, run: AgentRun, owner: str) -> ActivityLog:
        """Run ``run`` (claimed by ``owner``) and record its outcome.

        Raises:
            LeaseLostError: the lease was lost meanwhile; nothing was recorded.
        """
        [prepared] = await self._prepare([run])
        if not isinstance(prepared, _Prepared):
            raise prepared
        return await self.record(
            run, owner, prepared.outcome, user_id=prepared.user_id, audit=prepared.audit
        )

    async def execute_batch(self, runs: Sequence[AgentRun], owner: str) -> list[RunResult]:
        """Run ``runs`` (claimed by ``owner``) side by side and record their outcomes in one
        transaction: one commit and a few statements for the whole batch instead of a
        transaction per run. A run that breaks on our side is recorded as failed with the
        error; a run whose lease was lost meanwhile is left to its new holder. When the
        batch's transaction fails, each run is recorded on its own, so one bad run does not
        hold the others back.
        """
        prepared: list[_Prepared] = []
        for run, found in zip(runs, await self._prepare(runs), strict=True):
            if isinstance(found, _Prepared):
                prepared.append(found)
            elif isinstance(found, Exception):
                _log.error("run %s failed on our side", run.id, exc_info=found)
                prepared.append(await self._failure(run, _internal(found)))
            else:
                raise found  # cancelled, or the process is going down
        try:
            return await self._record_many(prepared, owner)
        except Exception:
            _log.exception("a batch of %d runs could not be recorded together", len(runs))
        results = []
        for item in prepared:
            try:
                activity = await self.record(
                    item.run, owner, item.outcome, user_id=item.user_id, audit=item.audit
                )
            except LeaseLostError:
                results.append(RunResult(item.run.id, None))
            else:
                results.append(RunResult(item.run.id, activity.status))
        return results

    async def record_failure(self, run: AgentRun, owner: str, message: str) -> ActivityLog:
        """Record a run that broke on our side as failed (the dispatcher's last resort)."""
        failure = await self._failure(run, message)
        return await self.record(run, owner, failure.outcome, user_id=failure.user_id, audit=())

    async def _prepare(self, runs: Sequence[AgentRun]) -> list[_Prepared | BaseException]:
        """Everything each run records, worked out before its transaction, or what broke.

        The runs' meetings, agents and recipients are read in one statement; the CRM of each
        workspace that a run needs is looked up once (the runs of a batch start together,
        so they share that read of the connection); then the agents run side by side.
        """
        try:
            async with self._pool.acquire() as conn:
                rows = await RunRepo(conn).inputs_of(runs)
        except Exception as exc:
            return [exc for _ in runs]
        found: dict[int, _Prepared | BaseException] = {}
        started: list[tuple[int, _Loaded, AgentConfig]] = []
        for index, (run, row) in enumerate(zip(runs, rows, strict=True)):
            try:
                loaded = _loaded(run, row)
                checked = self._check(run, loaded.agent)
            except Exception as exc:
                found[index] = exc
                continue
            if isinstance(checked, RunOutcome):
                found[index] = _Prepared(run, checked, loaded.user_id, ())
            else:
                started.append((index, loaded, checked))
        crms = await self._workspace_crms(
            list(dict.fromkeys(runs[index].workspace_id for index, _, _ in started))
        )
        ran = await _side_by_side(
            [
                self._run(runs[index], loaded, config, crms[runs[index].workspace_id])
                for index, loaded, config in started
            ]
        )
        found.update((index, outcome) for (index, _, _), outcome in zip(started, ran, strict=True))
        return [found[index] for index in range(len(runs))]

    async def _failure(self, run: AgentRun, message: str) -> _Prepared:
        async with self._pool.acquire() as conn:
            agent = _agent(await RunRepo(conn).agent_of(run.agent_config_id))
        return _Prepared(run, failed_outcome(message), agent.created_by, ())

    def _check(self, run: AgentRun, agent: _Agent) -> RunOutcome | AgentConfig:
        """The outcome of a run that ends before its agent runs, else the agent's config."""
        if run.attempts > self._max_attempts:
            return failed_outcome(
                f"gave up after {run.attempts - 1} attempts: the run stopped its process"
                " each time (see that process's log)"
            )
        if agent.is_template or agent.status != "active":
            return skipped_outcome(f"agent {agent.name!r} is {agent.status}, not active")
        try:
            return AgentConfig.model_validate(agent.raw_config)
        except ValidationError as exc:
            return failed_outcome(f"agent {agent.name!r} has an invalid config: {exc}")

    async def _workspace_crms(
        self, workspace_ids: Sequence[UUID]
    ) -> dict[UUID, WorkspaceCrm | BaseException]:
        """Each workspace's CRM, or why there is none (looked up side by side)."""
        found = await _side_by_side([self._crms.for_workspace(w) for w in workspace_ids])
        return dict(zip(workspace_ids, found, strict=True))

    async def _run(
        self,
        run: AgentRun,
        loaded: _Loaded,
        config: AgentConfig,
        crm: WorkspaceCrm | BaseException,
    ) -> _Prepared:
        if isinstance(crm, NoCrmConnectionError):
            return _Prepared(run, failed_outcome(str(crm)), loaded.user_id, ())
        if isinstance(crm, BaseException):
            raise crm
        meeting, agent = loaded.meeting, loaded.agent
        try:
            result = await run_agent(
                meeting,
                crm=crm.port,
                config=config,
                extractor=self._extractor,
                matcher=RecordMatcher(crm.port, deal_properties=tuple(config.fields)),
                calibration=self._calibration,
            )
        except CrmError as exc:
            outcome = failed_outcome(
                f"the CRM could not be read: {exc}",
                details={"error": type(exc).__name__, "status": exc.status},
            )
        except ExtractionError as exc:
            outcome = failed_outcome(
                f"the {self._extractor.name} extractor failed: {exc}",
                details={"error": type(exc).__name__},
            )
        else:
            outcome = outcome_of(
                result,
                meeting=meeting,
                agent_id=str(agent.id),
                agent_name=agent.name,
                min_match_confidence=config.min_match_confidence,
            )
            outcome = replace(
                outcome, details={**outcome.details, "extractor": self._extractor.name}
            )
        return _Prepared(run, outcome, loaded.user_id, crm.audit.drain())

    async def record(
        self,
        run: AgentRun,
        owner: str,
        outcome: RunOutcome,
        *,
        user_id: UUID,
        audit: Sequence[AuditEntry],
    ) -> ActivityLog:
        """Write the outcome of ``run`` in one transaction (see the module docstring)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await RunRepo(conn).finish(
                run.id, owner, _run_status(outcome), outcome.error_message
            ):
                raise LeaseLostError(f"run {run.id} is no longer held by {owner}")
            [(activity, queued)] = await _insert_rows(
                conn, [_Prepared(run, outcome, user_id, ())], now=self._clock.now()
            )
            await OutboxRepo(conn).enqueue(run.workspace_id, queued)
            if audit:
                await AuditRepo(conn).insert_many(audit)
        _logged(run, outcome)
        return activity

    async def _record_many(self, items: Sequence[_Prepared], owner: str) -> list[RunResult]:
        """``record`` for a batch, in one transaction; runs no longer held are skipped."""
        async with self._pool.acquire() as conn, conn.transaction():
            held = await RunRepo(conn).finish_many(
                owner,
                [(i.run.id, _run_status(i.outcome), i.outcome.error_message) for i in items],
            )
            status_of: dict[UUID, str] = {}
            queued: dict[UUID, list[Proposal]] = {}
            audit: list[AuditEntry] = []
            recorded = [item for item in items if item.run.id in held]
            for item, (activity, proposals) in zip(
                recorded, await _insert_rows(conn, recorded, now=self._clock.now()), strict=True
            ):
                status_of[item.run.id] = activity.status or item.outcome.status
                queued.setdefault(item.run.workspace_id, []).extend(proposals)
                audit.extend(item.audit)
            outbox = OutboxRepo(conn)
            for workspace_id, proposals in queued.items():
                await outbox.enqueue(workspace_id, proposals)
            await AuditRepo(conn).insert_many(audit)
        for item in items:
            if item.run.id in held:
                _logged(item.run, item.outcome)
            else:
                _log.warning(
                    "run %s is no longer held by %s; not recorded here", item.run.id, owner
                )
        return [RunResult(i.run.id, status_of.get(i.run.id)) for i in items]


async def _insert_rows(
    conn: asyncpg.Connection, finished: Sequence[_Prepared], *, now: datetime
) -> list[tuple[ActivityLog, list[Proposal]]]:
    """Finished runs' activity logs, inbox items and proposals, in three statements whatever
    their number (fewer when no run has an inbox item or a proposal): each run's activity and
    the proposals to write, in order. Then the pending proposals the new ones make stale are
    superseded (``_supersede``)."""
    activities = await ActivityRepo(conn).insert_many(
        [
            NewActivity(
                workspace_id=f.run.workspace_id,
                agent_config_id=f.run.agent_config_id,
                user_id=f.user_id,
                meeting_id=f.run.meeting_id,
                crm_record_id=f.outcome.crm_record_id,
                crm_record_type=f.outcome.crm_record_type,
                action_type=f.outcome.action_type,
                fields_updated=f.outcome.fields_updated,
                overall_confidence=f.outcome.overall_confidence,
                status=f.outcome.status,
                error_message=f.outcome.error_message,
                agent_run_id=f.run.id,
                details=f.outcome.details,
            )
            for f in finished
        ]
    )
    inbox = InboxRepo(conn)
    items = await inbox.insert_items(
        [
            NewInboxItem(
                f.outcome.inbox,
                workspace_id=f.run.workspace_id,
                user_id=f.user_id,
                activity_log_id=activity.id,
            )
            for f, activity in zip(finished, activities, strict=True)
            if f.outcome.inbox is not None
        ]
    )
    item_of = {item.activity_log_id: item.id for item in items}
    proposals, rivals = await inbox.insert_proposals_and_find_rivals(
        [
            NewProposals(
                f.outcome.proposals,
                workspace_id=f.run.workspace_id,
                activity_log_id=activity.id,
                crm_record_type=RECORD_TYPE,
                crm_record_id=f.outcome.crm_record_id,
                inbox_item_id=item_of.get(activity.id),
            )
            for f, activity in zip(finished, activities, strict=True)
        ]
    )
    await _supersede(conn, [p for stored in proposals for p in stored], rivals, now=now)
    return [
        (activity, [p for p in stored if p.status == "queued"])
        for activity, stored in zip(activities, proposals, strict=True)
    ]


async def _supersede(
    conn: asyncpg.Connection, new: Sequence[Proposal], rivals: bool, *, now: datetime
) -> None:
    """A newer meeting's proposal for a record's field supersedes an older meeting's pending
    one (its item too, when nothing else of it is pending); a proposal of a meeting that
    arrived late is itself superseded at once when a newer meeting's proposal for the field
    is pending (``InboxRepo.supersede_stale``). The activities left with nothing to write end
    as a rejection does; the others are settled once their last field is written.

    No statement at all unless the insert found ``rivals`` (most runs have none).
    """
    if not rivals:
        return
    superseded = await InboxRepo(conn).supersede_stale([p.id for p in new], now=now)
    for workspace_id, activity_ids in superseded.items():
        await ActivityRepo(conn).settle_decided(workspace_id, list(activity_ids), now=now)


def _run_status(outcome: RunOutcome) -> RunStatus:
    return "failed" if outcome.status == "failed" else "done"


def _internal(exc: Exception) -> str:
    return f"internal error: {type(exc).__name__}: {exc}"


def _logged(run: AgentRun, outcome: RunOutcome) -> None:
    _log.info(
        "run %s: %s %s (%d proposed, %s)",
        run.id,
        outcome.action_type,
        outcome.status,
        len(outcome.proposals),
        outcome.error_message or "ok",
    )


def _agent(row: dict[str, Any]) -> _Agent:
    return _Agent(
        id=row["id"],
        name=row["name"],
        created_by=row["created_by"],
        status=row["status"] or "draft",
        is_template=bool(row["is_template"]),
        raw_config=row["config"],
    )


def _loaded(run: AgentRun, row: dict[str, Any]) -> _Loaded:
    """A run's inputs from its ``RunRepo.inputs_of`` row; the meeting or the agent gone is
    ``NotFoundError``. The recipient is the meeting's owner when a member of the
    workspace, else the agent's creator."""
    if row["id"] is None:
        raise NotFoundError("meeting", str(run.meeting_id))
    if row["agent_id"] is None:
        raise NotFoundError("agent config", str(run.agent_config_id))
    meeting = Meeting.model_validate({name: row[name] for name in _MEETING_COLUMNS})
    agent = _agent({name: row[f"agent_{name}"] for name in _AGENT_COLUMNS})
    return _Loaded(meeting, agent, row["owner_member_id"] or agent.created_by)


async def _side_by_side(
    calls: Sequence[Coroutine[Any, Any, _T]],
) -> list[_T | BaseException]:
    """Each call's answer or what it raised, the calls awaited side by side; a lone call is
    simply awaited (no task of its own)."""
    if len(calls) != 1:
        return await asyncio.gather(*calls, return_exceptions=True)
    try:
        return [await calls[0]]
    except Exception as exc:
        return [exc]
