"""Answering a ``question`` item: a person picks the deal the meeting is about, and the
agent's routing runs again for that deal.

A question is an item whose run matched a deal too uncertainly (below the agent's
``min_match_confidence``): every field it proposed waits for a person, who first says
which deal it is. Rules:

- The answer is a decision like the others (``runtime.inbox.decisions``): exactly once (a
  second answer, an approval or an expiry racing it is a ``ConflictError`` that changes
  nothing), by the token's user (a member answers only their own questions), recorded
  with who, when and what they saw (``decided_snapshot``) and an audit entry
  (``decision.answer``, naming the deals and fields, never values). The question becomes
  ``answered`` with the picked deal as its ``resolution_reason``.
- The agent runs again on the meeting with the picked deal as its match, at full match
  confidence (a person said so): the deal is read fresh from the CRM, the values extracted
  and routed by the agent's thresholds as a run would. The CRM is read before anything is
  locked; the reads are audited.
- What the run proposed moves to the picked deal, in one transaction: the question's
  pending proposals take the new routing's values (auto-applied fields are queued for
  writing; fields still needing review go to a new ``approval`` item for the same person,
  the follow-up; fields no longer proposed, because the picked deal already holds the
  value, are ``superseded``); a field proposed only now is added. The activity names the
  picked deal and the new proposal; a newer meeting's pending proposal for the same field
  of that deal wins, as supersession says (``runtime.runs.executor``). When nothing is left
  to write or decide, the activity ends as a rejection or a success does.
- A field whose proposal stopped being pending meanwhile (a newer meeting superseded it) is
  not proposed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from runtime.activity.models import ActivityLog
from runtime.activity.repo import ActivityRepo
from runtime.agent_configs.models import StoredAgentConfig
from runtime.agent_configs.repo import AgentConfigRepo
from runtime.agents.calibration import Calibration
from runtime.agents.extraction import Extractor
from runtime.agents.pipeline import run_agent
from runtime.agents.results import AgentResult, MatchResult
from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.crm.client_errors import crm_failures_named
from runtime.crm.errors import CrmNotFoundError
from runtime.crm.port import CrmRecord
from runtime.errors import ConflictError, InvalidInputError, NotFoundError
from runtime.inbox.decisions import Decider, already_decided, check_decider, shown
from runtime.inbox.models import InboxItem, Proposal
from runtime.inbox.repo import InboxRepo, NewInboxItem, NewProposals
from runtime.meetings.models import Meeting, MeetingIn
from runtime.meetings.repo import MeetingRepo
from runtime.outbox.repo import OutboxRepo
from runtime.runs.executor import CrmSource, NoCrmConnectionError
from runtime.runs.outcome import RECORD_TYPE, ProposalDraft, RunOutcome, outcome_of

__all__ = ["Answer", "QuestionAnswers"]

MAX_DEAL_ID_CHARS = 255  # proposals.crm_record_id


@dataclass(frozen=True, slots=True)
class Answer:
    """An answered question: the question as it is now, the follow-up item with the fields
    that still need a person (None when none does), the activity and what it now proposes."""

    question: InboxItem
    follow_up: InboxItem | None
    activity: ActivityLog
    proposals: tuple[Proposal, ...]


@dataclass(frozen=True, slots=True)
class _PickedDeal:
    """A matcher that answers with the deal a person picked (``runtime.agents.pipeline``)."""

    deal_id: str
    question: InboxItem

    async def match(self, meeting: MeetingIn) -> MatchResult:
        context = self.question.context or {}
        company = context.get("company") or {}
        return MatchResult(
            record=CrmRecord(id=self.deal_id, object_type="deals", properties={}),
            confidence=1.0,
            reason=f"picked by a person answering inbox item {self.question.id}",
            company_id=company.get("id"),
            contact_ids=tuple(c["id"] for c in context.get("contacts") or () if "id" in c),
        )


class QuestionAnswers:
    """The answer use case; one transaction per answer, after the agent ran again."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        crms: CrmSource,
        *,
        extractor: Extractor,
        calibration: Calibration | None = None,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._crms = crms
        self._extractor = extractor
        self._calibration = calibration

    async def answer(self, decider: Decider, item_id: UUID, deal_id: str) -> Answer:
        """Answer the question ``item_id``: the meeting is about deal ``deal_id``.

        Raises:
            InvalidInputError: ``deal_id`` is blank or too long, or the CRM has no such deal
                (field ``deal_id``).
            NotFoundError: no such item in the decider's workspace.
            PermissionDeniedError: a member answering someone else's question.
            ConflictError: the item is not a question, or no longer pending (field ``id``);
                its meeting or agent is gone, or the workspace's CRM is not connected or
                refuses its credentials (``crm_connection``).
        """
        deal_id = _checked_deal_id(deal_id)
        workspace_id = decider.workspace_id
        async with self._pool.acquire() as conn:
            found = await InboxRepo(conn).get_items(workspace_id, [item_id])
            if not found:
                raise NotFoundError("inbox item", str(item_id), field="id")
            question = found[0]
            check_decider(decider, question)
            if question.status != "pending":
                raise await _conflict(conn, question)
            _check_question(question)
            meeting, agent = await _run_inputs(conn, question)
        result = await self._run_again(question, deal_id, meeting, agent)
        outcome = outcome_of(
            result,
            meeting=meeting,
            agent_id=str(agent.id),
            agent_name=agent.name,
            min_match_confidence=agent.config.min_match_confidence,
        )
        return await self._record(decider, question, deal_id, outcome)

    async def _run_again(
        self, question: InboxItem, deal_id: str, meeting: Meeting, agent: StoredAgentConfig
    ) -> AgentResult:
        """The agent's run on the meeting with the picked deal (reads the CRM, audited)."""
        try:
            crm = await self._crms.for_workspace(question.workspace_id)
        except NoCrmConnectionError as exc:
            raise ConflictError(
                "crm_connection",
                "the workspace has no CRM connection to read the picked deal from: connect its CRM",
            ) from exc
        try:
            with crm_failures_named():
                return await run_agent(
                    meeting,
                    crm=crm.port,
                    config=agent.config,
                    extractor=self._extractor,
                    matcher=_PickedDeal(deal_id, question),
                    calibration=self._calibration,
                )
        except CrmNotFoundError as exc:
            raise InvalidInputError.one("deal_id", f"the CRM has no deal {deal_id!r}") from exc
        finally:
            # Also when the run failed: a call that reached the CRM is logged either way.
            await AuditRepo(self._pool).insert_many(crm.audit.drain())

    async def _record(
        self,
        decider: Decider,
        question: InboxItem,
        deal_id: str,
        outcome: RunOutcome,
    ) -> Answer:
        """Everything the answer changes, in one transaction, if the question is still
        pending once locked (a ``ConflictError`` otherwise)."""
        workspace_id = question.workspace_id
        async with self._pool.acquire() as conn, conn.transaction():
            inbox = InboxRepo(conn)
            locked = await inbox.lock_for_decision(workspace_id, question.id)
            if locked is None:
                raise NotFoundError("inbox item", str(question.id), field="id")
            if locked.item.status != "pending":  # decided while the agent ran again
                raise ConflictError("id", already_decided(locked))
            now = self._clock.now()
            pending = await inbox.lock_pending_proposals(workspace_id, question.id)
            answered = await inbox.resolve_item(
                workspace_id,
                question.id,
                status="answered",
                resolved_by=decider.user_id,
                resolved_at=now,
                reason=f"the meeting is about deal {deal_id}",
                snapshot=_snapshot(locked.item, pending, deal_id),
            )
            if answered is None:  # the lock makes this impossible short of a bug
                raise ConflictError("id", f"inbox item {question.id} changed while being answered")
            follow_up = None
            if outcome.inbox is not None:
                [follow_up] = await inbox.insert_items(
                    [
                        NewInboxItem(
                            outcome.inbox,
                            workspace_id=workspace_id,
                            user_id=question.user_id,
                            activity_log_id=_activity_id(question),
                        )
                    ]
                )
            moved = await _move_proposals(
                conn, question, pending, outcome, deal_id, follow_up, now=now
            )
            activity_id = (await _reroute_activity(conn, question, outcome, deal_id, now)).id
            await OutboxRepo(conn).enqueue(workspace_id, [p for p in moved if p.status == "queued"])
            superseded = await inbox.supersede_stale([p.id for p in moved], now=now)
            activities = ActivityRepo(conn)
            stale = superseded.get(workspace_id, set())
            await activities.settle_decided(workspace_id, list(stale), now=now)
            if activity_id not in stale:
                # Nothing left to write or decide is a success: the person answered and the
                # picked deal needed no change.
                await activities.settle_written(workspace_id, [activity_id], now=now)
            # As they are now: supersession and settling may have changed them.
            activity = await activities.get(activity_id)
            proposals = [
                p
                for p in await inbox.proposals_for_activity(activity_id)
                if p.crm_record_id == deal_id and p.status != "superseded"
            ]
            if follow_up is not None:
                follow_up = (await inbox.get_items(workspace_id, [follow_up.id]))[0]
            await AuditRepo(conn).insert_many(
                [_audit_entry(decider, question, deal_id, pending, proposals, follow_up, now)]
            )
        return Answer(answered, follow_up, activity, tuple(proposals))


async def _conflict(conn: asyncpg.Connection, item: InboxItem) -> ConflictError:
    """Why an item no longer pending cannot be answered, naming who decided it and when."""
    locked = await InboxRepo(conn).lock_for_decision(item.workspace_id, item.id)
    return ConflictError("id", already_decided(locked) if locked else "it is gone")


async def _run_inputs(
    conn: asyncpg.Connection, question: InboxItem
) -> tuple[Meeting, StoredAgentConfig]:
    """The question's meeting and agent, which the run reads again."""
    activity = await ActivityRepo(conn).get(_activity_id(question))
    if activity.meeting_id is None or activity.agent_config_id is None:
        raise ConflictError(
            "id", f"inbox item {question.id} has no meeting or agent to run again: reject it"
        )
    try:
        meeting = await MeetingRepo(conn).get(question.workspace_id, activity.meeting_id)
        agent = await AgentConfigRepo(conn).get(question.workspace_id, activity.agent_config_id)
    except NotFoundError as exc:
        raise ConflictError(
            "id", f"inbox item {question.id}'s {exc.kind} is gone: it cannot run again; reject it"
        ) from exc
    return meeting, agent


async def _move_proposals(
    conn: asyncpg.Connection,
    question: InboxItem,
    pending: Sequence[Proposal],
    outcome: RunOutcome,
    deal_id: str,
    follow_up: InboxItem | None,
    *,
    now: datetime,
) -> list[Proposal]:
    """The question's pending proposals moved to the picked deal, and the fields proposed
    only now added; every proposal the activity now has for the picked deal."""
    inbox = InboxRepo(conn)
    drafts = {d.field: d for d in outcome.proposals}
    skipped: dict[str, str] = outcome.details.get("skipped_fields") or {}
    item_id = None if follow_up is None else follow_up.id
    moved: list[tuple[UUID, ProposalDraft, str]] = []
    for proposal in pending:
        draft = drafts.get(proposal.field)
        if draft is not None:
            moved.append((proposal.id, draft, draft.status))
        else:
            why = skipped.get(proposal.field, "the agent no longer proposes it")
            kept = ProposalDraft(
                proposal.field,
                proposal.before_value,
                proposal.proposed_value,
                float(proposal.confidence),
                "review",
                f"after the answer (deal {deal_id}): {why}",
                proposal.evidence,
            )
            moved.append((proposal.id, kept, "superseded"))
    rerouted = await inbox.reroute_proposals(
        question.workspace_id, moved, crm_record_id=deal_id, inbox_item_id=item_id, now=now
    )
    # Only a field the activity has no proposal for (its proposals are one per field): one
    # that stopped being pending meanwhile is not proposed again.
    taken = {p.field for p in await inbox.proposals_for_activity(_activity_id(question))}
    new = [d for d in outcome.proposals if d.field not in taken]
    added: list[Proposal] = []
    if new:
        [added], _ = await inbox.insert_proposals_and_find_rivals(
            [
                NewProposals(
                    new,
                    workspace_id=question.workspace_id,
                    activity_log_id=_activity_id(question),
                    crm_record_type=RECORD_TYPE,
                    crm_record_id=deal_id,
                    inbox_item_id=item_id,
                )
            ]
        )
    return [p for p in [*rerouted, *added] if p.status != "superseded"]


async def _reroute_activity(
    conn: asyncpg.Connection,
    question: InboxItem,
    outcome: RunOutcome,
    deal_id: str,
    now: datetime,
) -> ActivityLog:
    previous = (question.context or {}).get("record") or {}
    rerouted = await ActivityRepo(conn).reroute(
        question.workspace_id,
        _activity_id(question),
        crm_record_id=deal_id,
        crm_record_type=RECORD_TYPE,
        action_type=outcome.action_type if outcome.action_type != "create" else "update",
        fields_updated=outcome.fields_updated,
        overall_confidence=outcome.overall_confidence,
        details={
            **outcome.details,
            "answered": {
                "inbox_item_id": str(question.id),
                "deal_id": deal_id,
                "guessed_deal_id": previous.get("id"),
            },
        },
        now=now,
    )
    if rerouted is None:
        raise ConflictError("id", f"inbox item {question.id}'s activity is no longer pending")
    return rerouted


def _checked_deal_id(deal_id: str) -> str:
    stripped = deal_id.strip()
    if not stripped:
        raise InvalidInputError.one("deal_id", "must name a deal (its CRM id)")
    if len(stripped) > MAX_DEAL_ID_CHARS:
        raise InvalidInputError.one(
            "deal_id", f"must be at most {MAX_DEAL_ID_CHARS} characters, not {len(stripped)}"
        )
    return stripped


def _check_question(item: InboxItem) -> None:
    if item.item_type != "question":
        raise ConflictError(
            "id",
            f"inbox item {item.id} is an {item.item_type}, not a question: approve or reject it",
        )
    if item.activity_log_id is None:
        raise ConflictError("id", f"inbox item {item.id} has no activity to run again")


def _activity_id(item: InboxItem) -> UUID:
    assert item.activity_log_id is not None  # _check_question
    return item.activity_log_id


def _snapshot(item: InboxItem, pending: Sequence[Proposal], deal_id: str) -> dict[str, Any]:
    """What the person saw when they answered: the question and its fields, and the deal."""
    return {**shown(item, pending), "answer": {"deal_id": deal_id}}


def _audit_entry(
    decider: Decider,
    question: InboxItem,
    deal_id: str,
    pending: Sequence[Proposal],
    proposals: Sequence[Proposal],
    follow_up: InboxItem | None,
    now: datetime,
) -> AuditEntry:
    """Who answered, which deal, and where each field went; never values."""
    guessed = {p.crm_record_id for p in pending} - {None}
    return AuditEntry(
        workspace_id=question.workspace_id,
        actor_user_id=decider.user_id,
        action="decision.answer",
        target_type="inbox_item",
        target_id=str(question.id),
        details={
            "item_type": question.item_type,
            "addressed_to": str(question.user_id),
            "activity_log_id": str(question.activity_log_id),
            "deal_id": deal_id,
            "guessed_deal_ids": sorted(str(g) for g in guessed),
            "fields": {p.field: p.status for p in proposals},
            "follow_up_item_id": None if follow_up is None else str(follow_up.id),
        },
        created_at=now,
    )
