"""Human decisions on inbox items: approve (all fields, or some, possibly edited), reject,
batch approve. Answering a question is ``runtime.inbox.answers``.

Rules (ARCHITECTURE "Durability rules"):

- Exactly once: the item is locked, then decided by a conditional update (``... WHERE
  status = 'pending'``). A second click, a retried request or a racing expiry changes
  nothing and raises ``ConflictError("id", "inbox item ... was already approved by
  sam@ourco.example at 2026-01-01T09:00:00+00:00")``.
- Who: the decider comes from their token, never from a request body. A member decides
  only the items addressed to them (``PermissionDeniedError``), an admin any item of the
  workspace; an item of another workspace does not exist for them (``NotFoundError``).
- What is recorded, in one transaction: the item's status, ``resolved_by``, ``resolved_at``,
  the reason given (``resolution_reason``) and what the decider saw (``decided_snapshot``:
  the item's title, description, confidence and context, and each proposal decided with its
  values); on each pending proposal of the item, ``decided_by``, ``decided_at`` and, when
  approved, ``approved_value`` (the proposed value); one audit entry
  (``decision.approve`` / ``decision.reject``) naming the fields, never their values.
- Approve: the item's pending proposals become ``queued`` and join the workspace's write
  queue (one outbox row each); the writer checks each record's current value against the
  proposal's ``before`` before writing (``runtime.writes.writer``) and settles the activity.
  A partial approval names the fields to approve, each as proposed or with an edited value
  (checked against the CRM's property definitions before the item is locked:
  ``runtime.inbox.edits``); the item's other pending fields are rejected and the item is
  ``approved``. The proposal keeps the agent's value (``proposed_value``), the approved one
  (``approved_value``) and, once written, the CRM's (``written_value``) apart; the audit
  entry names the edited fields.
  A ``question`` item cannot be approved: it needs an answer (which deal?) first.
- Reject: the item's pending proposals become ``rejected``; the activity ends ``rejected``
  when none of its proposals was or will be written, else the writer's settle rules apply
  (an auto-applied field written and the rest rejected is ``success``).
- Expiry (``decide_on_expiry``, for ``runtime.inbox.expiry``): the system decides an item
  nobody decided in time, with no decider (``resolved_by`` and ``decided_by`` NULL, an
  ``expiry.approve`` / ``expiry.reject`` audit entry with no actor), exactly once like a
  person's decision; an expired item's fields end ``expired``.
- Batch approve: each item decided (and audited) on its own, in its own transaction, in the
  order given (repeated ids once); one item's failure is reported for that item and does
  not stop the others. At most ``MAX_BATCH`` items at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import asyncpg

from runtime.activity.repo import ActivityRepo
from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.crm.client_errors import crm_failures_named
from runtime.errors import (
    ClientError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from runtime.inbox.edits import FieldApproval, canonical_edits, checked_approvals, unknown_fields
from runtime.inbox.models import InboxItem, Proposal
from runtime.inbox.repo import InboxRepo, LockedItem
from runtime.outbox.repo import OutboxRepo
from runtime.runs.executor import CrmSource, NoCrmConnectionError

__all__ = [
    "MAX_BATCH",
    "MAX_REASON_CHARS",
    "BatchItemOutcome",
    "Decider",
    "Decision",
    "InboxDecisions",
]

MAX_BATCH = 100
MAX_REASON_CHARS = 2000

ItemVerdict = Literal["approved", "rejected", "expired"]
ProposalVerdict = tuple[UUID, Literal["queued", "rejected", "expired"], str | None]
"""One proposal's decision: (id, new status, approved value)."""


class Decider(Protocol):
    """Who decides, as their token says (``runtime.tokens.models.Principal`` is one)."""

    @property
    def workspace_id(self) -> UUID: ...

    @property
    def user_id(self) -> UUID: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision made: the item as it is now, the proposals it decided, the outbox rows
    it queued."""

    item: InboxItem
    proposals: tuple[Proposal, ...]
    outbox_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BatchItemOutcome:
    """What became of one id of a batch.

    ``item`` is the item as it is now, when the decider may see it (decided here, or the
    conflict's current state); ``error`` says why it was not decided here (not found, not
    theirs, already decided, a question).
    """

    item_id: UUID
    item: InboxItem | None
    error: ClientError | None


@dataclass(frozen=True, slots=True)
class _Verdict:
    """How a decision treats the item and its pending proposals."""

    status: ItemVerdict
    action: str  # the audit entry's action
    reason: str | None
    proposals: Callable[[Sequence[Proposal]], list[ProposalVerdict]]
    for_questions: _Verdict | None = None
    """How a ``question`` item is decided instead (None: an approval cannot decide one)."""


class InboxDecisions:
    """The decision use cases; each call is one transaction per item."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock, crms: CrmSource | None = None) -> None:
        """``crms`` reaches a workspace's CRM to check edited values (none: edits refused)."""
        self._pool = pool
        self._clock = clock
        self._crms = crms

    async def approve(
        self,
        decider: Decider,
        item_id: UUID,
        fields: Sequence[FieldApproval] | None = None,
    ) -> Decision:
        """Approve the item: every pending field as proposed, or only ``fields`` (each as
        proposed or with the decider's value, checked against the CRM's property definitions;
        ``runtime.inbox.edits``). The approved fields join the write queue; the item's other
        pending fields are rejected.

        Raises:
            InvalidInputError: ``fields`` is empty, names a field twice or one the item has
                not pending, or an edited value is not one the CRM's property takes
                (``fields.<i>.field`` / ``fields.<i>.value``); nothing changes.
            NotFoundError: no such item in the decider's workspace.
            PermissionDeniedError: a member deciding someone else's item.
            ConflictError: the item is no longer pending, or is a question; the workspace's
                CRM refuses its credentials while checking an edit (``crm_connection``).
        """
        if fields is None:
            return await self._decide(decider, item_id, _APPROVE)
        approvals = checked_approvals(fields)
        edits: dict[str, str] = {}
        if any(a.value is not None for a in approvals):
            edits = await self._checked_edits(decider, item_id, approvals)
        return await self._decide(decider, item_id, _partial_approval(approvals, edits))

    async def _checked_edits(
        self, decider: Decider, item_id: UUID, approvals: Sequence[FieldApproval]
    ) -> dict[str, str]:
        """The edited values in the CRM's form, checked before the item is locked (the CRM
        is not read while a row lock is held); the decision itself checks again that the
        item is still pending."""
        workspace_id = decider.workspace_id
        inbox = InboxRepo(self._pool)
        found = await inbox.get_items(workspace_id, [item_id])
        if not found:
            raise NotFoundError("inbox item", str(item_id), field="id")
        check_decider(decider, found[0])
        if found[0].status != "pending":
            # Say who decided it, as the decision would; nothing is read from the CRM.
            return {}
        proposals = await inbox.proposals_for_items(workspace_id, [item_id])
        problems = unknown_fields(approvals, proposals)
        if problems:
            raise InvalidInputError(problems)
        if self._crms is None:
            raise ConflictError("crm_connection", "edited values need the workspace's CRM")
        try:
            crm = await self._crms.for_workspace(workspace_id)
        except NoCrmConnectionError as exc:
            raise ConflictError(
                "crm_connection",
                "the workspace has no CRM connection to check the edited values against:"
                " connect its CRM",
            ) from exc
        try:
            with crm_failures_named():
                return await canonical_edits(approvals, proposals, crm.port)
        finally:
            await AuditRepo(self._pool).insert_many(crm.audit.drain())

    async def reject(self, decider: Decider, item_id: UUID, reason: str | None = None) -> Decision:
        """Reject the item and its pending fields, keeping the reason given.

        Raises:
            InvalidInputError: ``reason`` is longer than ``MAX_REASON_CHARS``.
            NotFoundError, PermissionDeniedError, ConflictError: as ``approve`` (a question
                may be rejected).
        """
        checked = _checked_reason(reason)
        verdict = _Verdict(
            status="rejected",
            action="decision.reject",
            reason=checked,
            proposals=lambda pending: [(p.id, "rejected", None) for p in pending],
        )
        return await self._decide(decider, item_id, verdict)

    async def batch_approve(
        self, decider: Decider, item_ids: Sequence[UUID]
    ) -> list[BatchItemOutcome]:
        """Approve each item on its own (see the module docstring); one outcome per
        distinct id, in the order given.

        Raises:
            InvalidInputError: more than ``MAX_BATCH`` ids (nothing is decided).
        """
        if len(item_ids) > MAX_BATCH:
            raise InvalidInputError.one(
                "ids", f"at most {MAX_BATCH} items at once, not {len(item_ids)}"
            )
        outcomes: list[BatchItemOutcome] = []
        for item_id in dict.fromkeys(item_ids):
            try:
                decision = await self.approve(decider, item_id)
            except ConflictError as exc:
                current = await InboxRepo(self._pool).get_items(decider.workspace_id, [item_id])
                outcomes.append(BatchItemOutcome(item_id, current[0] if current else None, exc))
            except ClientError as exc:
                outcomes.append(BatchItemOutcome(item_id, None, exc))
            else:
                outcomes.append(BatchItemOutcome(item_id, decision.item, None))
        return outcomes

    async def decide_on_expiry(
        self,
        workspace_id: UUID,
        item_id: UUID,
        then: Literal["reject", "approve"],
        *,
        after_hours: float,
    ) -> Decision:
        """The agent's expiry policy decides an item nobody decided within ``after_hours``:
        by the system (no decider; audited with no actor), exactly once like any decision.

        ``reject``: the item and its pending fields become ``expired`` and the activity ends
        as a rejection does. ``approve``: as a person's approval (the fields join the write
        queue); a ``question`` item, which only an answer can approve, expires instead.

        Raises:
            NotFoundError: no such item in the workspace.
            ConflictError: the item is no longer pending (a person, or another sweeper,
                decided it first).
        """
        verdict = _expiry_verdict("expired", after_hours)
        if then == "approve":
            verdict = replace(_expiry_verdict("approved", after_hours), for_questions=verdict)
        return await self._decide(None, item_id, verdict, workspace_id=workspace_id)

    async def _decide(
        self,
        decider: Decider | None,
        item_id: UUID,
        verdict: _Verdict,
        *,
        workspace_id: UUID | None = None,
    ) -> Decision:
        """Decide the item, by ``decider`` or, when None, by the system in ``workspace_id``."""
        if decider is not None:
            workspace_id = decider.workspace_id
        if workspace_id is None:
            raise ValueError("a decision by the system names its workspace")
        decided_by = None if decider is None else decider.user_id
        async with self._pool.acquire() as conn, conn.transaction():
            inbox = InboxRepo(conn)
            locked = await inbox.lock_for_decision(workspace_id, item_id)
            if locked is None:
                raise NotFoundError("inbox item", str(item_id), field="id")
            now = self._clock.now()  # after any wait for the lock: when it was decided
            item = locked.item
            if decider is not None:
                check_decider(decider, item)
            if item.status != "pending":
                raise ConflictError("id", already_decided(locked))
            if verdict.status == "approved" and item.item_type == "question":
                if verdict.for_questions is not None:
                    verdict = verdict.for_questions
                else:
                    raise ConflictError(
                        "id",
                        f"inbox item {item_id} is a question: it needs an answer (which deal the"
                        " meeting is about) before its changes can be approved",
                    )
            pending = await inbox.lock_pending_proposals(workspace_id, item_id)
            verdicts = verdict.proposals(pending)
            resolved = await inbox.resolve_item(
                workspace_id,
                item_id,
                status=verdict.status,
                resolved_by=decided_by,
                resolved_at=now,
                reason=verdict.reason,
                snapshot=_snapshot(item, pending, verdicts),
            )
            if resolved is None:  # the lock makes this impossible short of a bug
                raise ConflictError("id", f"inbox item {item_id} changed while being decided")
            decided = await inbox.decide_proposals(
                workspace_id, verdicts, decided_by=decided_by, decided_at=now
            )
            queued = [p for p in decided if p.status == "queued"]
            outbox_ids = await OutboxRepo(conn).enqueue(workspace_id, queued)
            await self._settle_activity(conn, item, queued=bool(queued), now=now)
            await AuditRepo(conn).insert_many(
                [_audit_entry(decided_by, item, verdict, decided, now=now)]
            )
        return Decision(resolved, tuple(decided), tuple(outbox_ids))

    async def _settle_activity(
        self, conn: asyncpg.Connection, item: InboxItem, *, queued: bool, now: datetime
    ) -> None:
        """Finish the item's activity when the decision left nothing for the writer to do."""
        if item.activity_log_id is None or queued:
            return  # the writer settles it once the queued fields are written
        await ActivityRepo(conn).settle_decided(item.workspace_id, [item.activity_log_id], now=now)


_APPROVE = _Verdict(
    status="approved",
    action="decision.approve",
    reason=None,
    proposals=lambda pending: [(p.id, "queued", p.proposed_value) for p in pending],
)


def _partial_approval(approvals: Sequence[FieldApproval], edits: Mapping[str, str]) -> _Verdict:
    """Approve the named fields (with their edited values), reject the item's other pending
    fields; a named field no longer pending (superseded meanwhile) changes nothing."""

    def verdicts(pending: Sequence[Proposal]) -> list[ProposalVerdict]:
        pending_fields = {p.field for p in pending}
        missing = [
            (
                f"fields.{index}.field",
                f"{approval.field!r} is not pending on this item (pending:"
                f" {', '.join(sorted(pending_fields)) or 'none'})",
            )
            for index, approval in enumerate(approvals)
            if approval.field not in pending_fields
        ]
        if missing:
            raise InvalidInputError(missing)
        chosen = {approval.field for approval in approvals}
        return [
            (p.id, "queued", edits.get(p.field, p.proposed_value))
            if p.field in chosen
            else (p.id, "rejected", None)
            for p in pending
        ]

    return replace(_APPROVE, proposals=verdicts)


def check_decider(decider: Decider, item: InboxItem) -> None:
    """A member decides only the items addressed to them; an admin any of the workspace."""
    if not decider.is_admin and item.user_id != decider.user_id:
        raise PermissionDeniedError(
            f"inbox item {item.id} is addressed to another member: a member decides"
            " only their own items"
        )


def _expiry_verdict(status: Literal["approved", "expired"], after_hours: float) -> _Verdict:
    """An expiry policy's decision: approve as proposed, or expire item and fields."""
    hours = f"{after_hours:g} hour{'' if after_hours == 1 else 's'}"
    if status == "approved":
        return replace(
            _APPROVE,
            action="expiry.approve",
            reason=f"nobody decided within {hours}: the agent's expiry policy approved it",
        )
    return _Verdict(
        status="expired",
        action="expiry.reject",
        reason=f"nobody decided within {hours}: the agent's expiry policy rejected it",
        proposals=lambda pending: [(p.id, "expired", None) for p in pending],
    )


def _checked_reason(reason: str | None) -> str | None:
    """The reason as stored: stripped, None when blank."""
    if reason is None or not reason.strip():
        return None
    stripped = reason.strip()
    if len(stripped) > MAX_REASON_CHARS:
        raise InvalidInputError.one(
            "reason", f"must be at most {MAX_REASON_CHARS} characters, not {len(stripped)}"
        )
    return stripped


def already_decided(locked: LockedItem) -> str:
    """Why a decision on a no-longer-pending item changes nothing, in the user's terms."""
    item = locked.item
    subject = f"inbox item {item.id}"
    when = f" at {item.resolved_at.isoformat(timespec='seconds')}" if item.resolved_at else ""
    if item.status in ("approved", "rejected"):
        who = locked.resolved_by_email or "the agent's expiry policy"
        return f"{subject} was already {item.status} by {who}{when}"
    if item.status == "expired":
        return f"{subject} expired{when}: it can no longer be decided"
    if item.status == "superseded":
        return f"{subject} was superseded by a newer meeting's proposal{when}"
    if item.status == "answered":
        who = locked.resolved_by_email or "someone"
        return f"{subject} was already answered by {who}{when} ({locked.resolution_reason})"
    return f"{subject} is {item.status or 'in no state'}, not pending"


def shown(item: InboxItem, pending: Sequence[Proposal]) -> dict[str, Any]:
    """The item as the decider saw it, with each pending proposal (a snapshot's base)."""
    return {
        "title": item.title,
        "description": item.description,
        "confidence": None if item.confidence is None else float(item.confidence),
        "context": item.context,
        "proposals": [
            {
                "id": str(p.id),
                "field": p.field,
                "record_type": p.crm_record_type,
                "record_id": p.crm_record_id,
                "before": p.before_value,
                "proposed": p.proposed_value,
                "confidence": float(p.confidence),
            }
            for p in pending
        ],
    }


def _snapshot(
    item: InboxItem, pending: Sequence[Proposal], verdicts: Sequence[ProposalVerdict]
) -> dict[str, Any]:
    """What the decider saw and decided: the item as shown and each pending proposal."""
    verdict_of = {proposal_id: (status, value) for proposal_id, status, value in verdicts}
    snapshot = shown(item, pending)
    for seen, proposal in zip(snapshot["proposals"], pending, strict=True):
        verdict = verdict_of.get(proposal.id)
        seen["decision"] = verdict[0] if verdict else "undecided"
        seen["approved"] = verdict[1] if verdict else None
        seen["edited"] = _edited(proposal, verdict)
    return snapshot


def _edited(proposal: Proposal, verdict: tuple[str, str | None] | None) -> bool:
    """Whether the decider approved a value of their own rather than the proposed one."""
    return verdict is not None and verdict[1] is not None and verdict[1] != proposal.proposed_value


def _audit_entry(
    actor_user_id: UUID | None,
    item: InboxItem,
    verdict: _Verdict,
    decided: Sequence[Proposal],
    *,
    now: datetime,
) -> AuditEntry:
    """Who decided what: field names and ids, never values or the reason's text."""
    details: dict[str, Any] = {
        "item_type": item.item_type,
        "addressed_to": str(item.user_id),
        "activity_log_id": None if item.activity_log_id is None else str(item.activity_log_id),
        "fields": {p.field: p.status for p in decided},
    }
    edited = sorted(p.field for p in decided if p.approved_value not in (None, p.proposed_value))
    if edited:
        details["edited"] = edited
    if verdict.status == "rejected":
        details["reason_given"] = verdict.reason is not None
    if actor_user_id is None:  # the system's reason is its own words, never a person's
        details["reason"] = verdict.reason
    return AuditEntry(
        workspace_id=item.workspace_id,
        actor_user_id=actor_user_id,
        action=verdict.action,
        target_type="inbox_item",
        target_id=str(item.id),
        details=details,
        created_at=now,
    )
