"""The demo's meeting feed: a sample meeting every few seconds, and what came of each.

``MeetingFeed.run`` sends meeting 0, 1, 2, ... of ``runtime.demo.meetings`` through the
webhook on a fixed beat (a slow answer does not push the next meeting back), then follows
each accepted meeting's agent runs in the database until their activity rows exist and
reports one ``FedMeeting`` per meeting: which deal, which fields the agent writes on its
own, which wait in the inbox, or why the delivery or the run failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any
from uuid import UUID

from runtime.activity.repo import ActivityRepo
from runtime.db import Executor
from runtime.demo.meetings import DemoMeetings, demo_meeting
from runtime.demo.sender import Delivery, WebhookSender
from runtime.inbox.repo import InboxRepo

__all__ = ["FedMeeting", "MeetingFeed", "RunOutcome", "describe", "read_outcome"]


@dataclass(frozen=True)
class RunOutcome:
    """What one agent run did with a meeting (its activity row and proposals)."""

    run_id: UUID
    status: str
    deal_id: str | None
    auto_applied: tuple[str, ...] = ()
    for_review: tuple[str, ...] = ()
    inbox_item_id: UUID | None = None
    error: str | None = None


@dataclass(frozen=True)
class FedMeeting:
    """One meeting the feed sent: the delivery's answer and its runs' outcomes."""

    sequence: int
    external_id: str
    title: str
    sent_at: datetime
    delivery: Delivery
    outcomes: tuple[RunOutcome, ...] = ()
    unfinished: int = 0
    """Runs without an activity row when the feed stopped waiting."""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "meeting",
            "sequence": self.sequence,
            "external_id": self.external_id,
            "title": self.title,
            "sent_at": self.sent_at.isoformat(),
            "status": self.delivery.status,
            "meeting_id": None
            if self.delivery.meeting_id is None
            else str(self.delivery.meeting_id),
            "error": self.delivery.error,
            "runs": [
                {
                    "run_id": str(o.run_id),
                    "status": o.status,
                    "deal_id": o.deal_id,
                    "auto_applied": list(o.auto_applied),
                    "for_review": list(o.for_review),
                    "inbox_item_id": _text(o.inbox_item_id),
                    "error": o.error,
                }
                for o in self.outcomes
            ],
            "unfinished_runs": self.unfinished,
        }


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def describe(fed: FedMeeting) -> str:
    """One line for a person: the meeting, then what the agent did or why nothing happened."""
    head = f"{fed.sent_at:%H:%M:%S}  #{fed.sequence + 1:<3} {fed.title}"
    if not fed.delivery.accepted:
        status = f"HTTP {fed.delivery.status}" if fed.delivery.status else "not delivered"
        return f"{head}: {status}: {fed.delivery.error}"
    if not fed.outcomes and not fed.unfinished:
        return f"{head}: stored; no active agent runs on its call type"
    parts = [_outcome_text(outcome) for outcome in fed.outcomes]
    if fed.unfinished:
        parts.append(f"{fed.unfinished} run(s) still queued")
    return f"{head} -> " + " | ".join(parts)


def _outcome_text(outcome: RunOutcome) -> str:
    if outcome.status == "failed":
        return f"run failed: {outcome.error}"
    deal = f"deal {outcome.deal_id}" if outcome.deal_id else "no deal"
    said = []
    if outcome.auto_applied:
        said.append(f"writes {', '.join(outcome.auto_applied)}")
    if outcome.for_review:
        item = f" (inbox item {str(outcome.inbox_item_id)[:8]})" if outcome.inbox_item_id else ""
        said.append(f"asks about {', '.join(outcome.for_review)}{item}")
    return f"{deal}: " + ("; ".join(said) if said else "nothing new to propose")


async def read_outcome(db: Executor, run_id: UUID) -> RunOutcome | None:
    """The run's outcome once its activity row exists; None while it is queued or running."""
    activity = await ActivityRepo(db).for_run(run_id)
    if activity is None:
        return None
    inbox = InboxRepo(db)
    proposals = await inbox.proposals_for_activity(activity.id)
    items = await inbox.items_for_activity(activity.id)
    return RunOutcome(
        run_id=run_id,
        status=activity.status or "",
        deal_id=activity.crm_record_id,
        auto_applied=tuple(p.field for p in proposals if p.route == "auto_apply"),
        for_review=tuple(p.field for p in proposals if p.route == "review"),
        inbox_item_id=items[0].id if items else None,
        error=activity.error_message,
    )


@dataclass
class MeetingFeed:
    """Sends the sample meetings through ``sender`` every ``every_s`` seconds.

    ``limit`` stops it after that many meetings (None: until cancelled); ``report`` gets
    each meeting once its runs are recorded, or after ``follow_s`` seconds without.
    """

    sender: WebhookSender
    db: Executor
    owner_email: str
    run_tag: str
    every_s: float
    report: Callable[[FedMeeting], None]
    limit: int | None = None
    follow_s: float = 30.0
    poll_s: float = 0.25
    meetings: DemoMeetings | None = None
    sent: int = field(default=0, init=False)

    async def run(self) -> None:
        following: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        try:
            for sequence in count():
                if self.limit is not None and sequence >= self.limit:
                    break
                # On the beat, not after the previous answer.
                await asyncio.sleep(max(0.0, started + sequence * self.every_s - time.monotonic()))
                task = asyncio.create_task(self._send(sequence))
                following.add(task)
                task.add_done_callback(following.discard)
            await asyncio.gather(*following)
        finally:
            for task in following:
                task.cancel()

    async def _send(self, sequence: int) -> None:
        sent_at = datetime.now(UTC)
        meeting = demo_meeting(
            sequence,
            run_tag=self.run_tag,
            owner_email=self.owner_email,
            ended_at=sent_at,
            meetings=self.meetings,
        )
        delivery = await self.sender.send(meeting)
        self.sent += 1
        outcomes: list[RunOutcome] = []
        if delivery.accepted:
            outcomes = await self._follow(delivery.run_ids)
        self.report(
            FedMeeting(
                sequence=sequence,
                external_id=meeting.external_id,
                title=meeting.title,
                sent_at=sent_at,
                delivery=delivery,
                outcomes=tuple(outcomes),
                unfinished=len(delivery.run_ids) - len(outcomes),
            )
        )

    async def _follow(self, run_ids: tuple[UUID, ...]) -> list[RunOutcome]:
        found: dict[UUID, RunOutcome] = {}
        deadline = time.monotonic() + self.follow_s
        while True:
            for run_id in run_ids:
                if run_id not in found:
                    outcome = await read_outcome(self.db, run_id)
                    if outcome is not None:
                        found[run_id] = outcome
            if len(found) == len(run_ids) or time.monotonic() >= deadline:
                return [found[run_id] for run_id in run_ids if run_id in found]
            await asyncio.sleep(self.poll_s)
