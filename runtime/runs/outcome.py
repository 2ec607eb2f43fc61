"""What a finished run records: the activity row, its proposals and the inbox item.

Pure: built from the agent's result, the meeting and the agent, so what a human will see is
tested without a database. Rules:

- Activity (the seed's ``activity_logs``): ``action_type`` from the agent (create, update,
  skip); ``fields_updated`` is ``{field: {before, after, confidence}}`` over the proposed
  fields; the status is ``success`` for a skip (nothing left to do), ``pending`` while any
  field waits for a human or for the writer, ``failed`` with a message when the run could
  not complete (no CRM connection, the CRM unreachable, the extractor failing).
- Proposals: one per proposed field; an auto-applied one is ``queued`` (it goes to the write
  outbox), a reviewed one ``pending`` (it belongs to the inbox item).
- Inbox item: one per run with fields to review. ``question`` when the deal match is
  uncertain (below the agent's ``min_match_confidence``): the human first picks the deal
  from the candidates in its context. ``approval`` otherwise, including a proposed create.
  Its confidence is the lowest of the reviewed fields' (what makes it need a human); its
  context carries the meeting, the agent, the deal, the match and, per field, before,
  after, confidence, the routing's reason and the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from runtime.agents.results import AgentResult, FieldDecision
from runtime.meetings.models import Meeting

__all__ = [
    "ActivityStatus",
    "InboxDraft",
    "ProposalDraft",
    "RunOutcome",
    "failed_outcome",
    "outcome_of",
    "skipped_outcome",
]

ActivityStatus = Literal["pending", "success", "failed"]
RECORD_TYPE = "deal"  # the seed's crm_record_type for deals
_TITLE_MAX = 255
_CANDIDATES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class ProposalDraft:
    """One proposed field, as the ``proposals`` table stores it."""

    field: str
    before: str | None
    proposed: str
    confidence: float
    route: Literal["auto_apply", "review"]
    reason: str
    evidence: list[dict[str, Any]]

    @property
    def status(self) -> Literal["queued", "pending"]:
        return "queued" if self.route == "auto_apply" else "pending"


@dataclass(frozen=True, slots=True)
class InboxDraft:
    """The inbox item a human decides on."""

    item_type: Literal["approval", "question"]
    title: str
    description: str
    context: dict[str, Any]
    confidence: float | None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """Everything a run writes, before it is written."""

    action_type: Literal["create", "update", "skip"]
    status: ActivityStatus
    crm_record_id: str | None
    fields_updated: dict[str, dict[str, Any]]
    overall_confidence: float | None
    details: dict[str, Any]
    proposals: tuple[ProposalDraft, ...] = ()
    inbox: InboxDraft | None = None
    error_message: str | None = None

    @property
    def crm_record_type(self) -> str | None:
        return (
            RECORD_TYPE if self.crm_record_id is not None or self.action_type == "create" else None
        )


def outcome_of(
    result: AgentResult,
    *,
    meeting: Meeting,
    agent_id: str,
    agent_name: str,
    min_match_confidence: float,
) -> RunOutcome:
    """The records of a run the agent completed (see the module docstring)."""
    record = result.match.record
    proposed = [d for d in result.decisions if d.route != "skip"]
    drafts = tuple(_draft(d) for d in proposed)
    details: dict[str, Any] = {
        "match": {"confidence": result.match.confidence, "reason": result.match.reason},
        "warnings": list(result.warnings),
        "skipped_fields": {d.field: d.reason for d in result.decisions if d.route == "skip"},
    }
    if result.skip_reason:
        details["skip_reason"] = result.skip_reason
    if result.action_type == "skip" or not drafts:
        return RunOutcome(
            action_type="skip",
            status="success",
            crm_record_id=record.id if record is not None else None,
            fields_updated={},
            overall_confidence=result.overall_confidence,
            details=details,
        )
    reviewed = [d for d in drafts if d.route == "review"]
    inbox = None
    if reviewed:
        question = record is not None and result.match.confidence < min_match_confidence
        inbox = InboxDraft(
            item_type="question" if question else "approval",
            title=_title(result, meeting, question=question, count=len(reviewed)),
            description=_description(result, reviewed, question=question),
            context=_context(result, meeting, agent_id, agent_name, reviewed),
            confidence=min(d.confidence for d in reviewed),
        )
    return RunOutcome(
        action_type=result.action_type,
        status="pending",
        crm_record_id=record.id if record is not None else None,
        fields_updated=result.fields_updated(),
        overall_confidence=result.overall_confidence,
        details=details,
        proposals=drafts,
        inbox=inbox,
    )


def failed_outcome(message: str, *, details: dict[str, Any] | None = None) -> RunOutcome:
    """A run that could not complete: recorded as a failed activity, never lost."""
    return RunOutcome(
        action_type="skip",
        status="failed",
        crm_record_id=None,
        fields_updated={},
        overall_confidence=None,
        details=details or {},
        error_message=message,
    )


def skipped_outcome(reason: str) -> RunOutcome:
    """A run with nothing to do before the agent ran (its agent was paused meanwhile)."""
    return RunOutcome(
        action_type="skip",
        status="success",
        crm_record_id=None,
        fields_updated={},
        overall_confidence=None,
        details={"skip_reason": reason},
    )


def _draft(decision: FieldDecision) -> ProposalDraft:
    assert decision.route != "skip"
    return ProposalDraft(
        field=decision.field,
        before=decision.before,
        proposed=decision.after,
        confidence=decision.confidence,
        route=decision.route,
        reason=decision.reason,
        evidence=[e.model_dump(mode="json", exclude_none=True) for e in decision.evidence],
    )


def _deal_name(result: AgentResult) -> str:
    record = result.match.record
    if record is None:
        return "a new deal"
    return record.properties.get("dealname") or f"deal {record.id}"


def _title(result: AgentResult, meeting: Meeting, *, question: bool, count: int) -> str:
    if question:
        title = f"Which deal is {meeting.title!r} about?"
    elif result.action_type == "create":
        title = f"Create a deal from {meeting.title!r}?"
    else:
        changes = "1 change" if count == 1 else f"{count} changes"
        title = f"Review {changes} to {_deal_name(result)}"
    return title if len(title) <= _TITLE_MAX else title[: _TITLE_MAX - 1] + "\u2026"


def _description(result: AgentResult, reviewed: list[ProposalDraft], *, question: bool) -> str:
    lines = [f"{d.field}: {d.before or '(empty)'} \u2192 {d.proposed}" for d in reviewed]
    if question:
        lines.insert(
            0,
            f"The meeting may be about {_deal_name(result)} (match confidence"
            f" {result.match.confidence:.2f}): pick the deal, then review the changes.",
        )
    return "\n".join(lines)


def _context(
    result: AgentResult,
    meeting: Meeting,
    agent_id: str,
    agent_name: str,
    reviewed: list[ProposalDraft],
) -> dict[str, Any]:
    record = result.match.record
    return {
        "action_type": result.action_type,
        "meeting": {
            "id": str(meeting.id),
            "external_id": meeting.external_id,
            "title": meeting.title,
            "call_type": meeting.call_type,
            "started_at": meeting.started_at.isoformat(),
            "owner_email": meeting.owner_email,
        },
        "agent": {"id": agent_id, "name": agent_name},
        "record": None
        if record is None
        else {"type": RECORD_TYPE, "id": record.id, "name": _deal_name(result)},
        # The writer links a created deal to these (runtime.writes.outcome.associations_in).
        "company": None if result.match.company_id is None else {"id": result.match.company_id},
        "contacts": [{"id": contact_id} for contact_id in result.match.contact_ids],
        "match": {
            "confidence": result.match.confidence,
            "reason": result.match.reason,
            "candidates": [
                {"type": RECORD_TYPE, "id": c.id, "name": c.properties.get("dealname")}
                for c in result.match.candidates[:_CANDIDATES_SHOWN]
            ],
        },
        "fields": [
            {
                "field": d.field,
                "before": d.before,
                "after": d.proposed,
                "confidence": d.confidence,
                "reason": d.reason,
                "evidence": d.evidence,
            }
            for d in reviewed
        ],
    }
