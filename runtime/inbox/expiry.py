"""The expiry sweeper: each agent's expiry policy applied to the inbox items nobody decided.

An agent's config says how long an item waits and what happens then
(``runtime.agents.config.ExpiryPolicy``: ``{"after_hours": 72, "then": "remind"}`` unless
the config says otherwise, so an item expires only when its agent's config says so; the
items of an agent whose config no longer validates wait for a person):

- ``reject``: the item and its pending fields become ``expired``; the activity ends as a
  rejection does (``rejected``, unless an auto-applied field of it was written).
- ``approve``: the fields are approved as proposed, by the system (no decider, audited
  with no actor), and join the write queue. A ``question`` item expires instead: only an
  answer can approve it.
- ``remind``: the item's ``reminded_at`` is set and a ``expiry.remind`` audit entry
  recorded, once per item; the item stays pending (notifications read it later).

The age counts from the item's creation. Every expiry happens exactly once: reject and
approve are decisions (``InboxDecisions.decide_on_expiry``: the item locked, then decided
by a conditional update), so a person's decision, or another sweeper, that commits first
wins and the sweeper changes nothing; a reminder is a conditional update of
``reminded_at``. Any number of processes may sweep at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import ValidationError

from runtime.agents.config import AgentConfig, ExpiryPolicy
from runtime.audit.models import AuditEntry
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.errors import ConflictError, NotFoundError
from runtime.inbox.decisions import InboxDecisions
from runtime.inbox.repo import InboxRepo

__all__ = ["ExpirySweeper", "SweepReport"]

_log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one sweep did: items expired (rejected), approved, reminded, and the ones a
    person or another sweeper decided first (left as they are)."""

    expired: int = 0
    approved: int = 0
    reminded: int = 0
    lost_races: int = 0


class ExpirySweeper:
    """Applies the agents' expiry policies; ``run`` sweeps every ``interval_s`` seconds."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock, *, batch_size: int = 100) -> None:
        self._pool = pool
        self._clock = clock
        self._batch_size = batch_size
        self._decisions = InboxDecisions(pool, clock)

    async def run(self, stop: asyncio.Event, *, interval_s: float) -> None:
        """Sweep now and then every ``interval_s`` seconds until ``stop`` is set; a sweep
        that fails is logged and tried again at the next interval."""
        while not stop.is_set():
            try:
                report = await self.sweep()
            except Exception:
                _log.exception("the expiry sweep failed; trying again in %gs", interval_s)
            else:
                if report != SweepReport():
                    _log.info("expiry sweep: %s", report)
            with contextlib.suppress(TimeoutError):  # the interval is up: sweep again
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def sweep(self) -> SweepReport:
        """Apply each agent's policy to its due items, ``batch_size`` items per agent and
        policy at most (the next sweep takes the rest)."""
        report = SweepReport()
        for agent_id, raw_config in await InboxRepo(self._pool).agents_with_pending_items():
            policy = _policy(agent_id, raw_config)
            if policy is None:
                continue
            deadline = self._clock.now() - timedelta(hours=policy.after_hours)
            due = await InboxRepo(self._pool).due_items(
                agent_id,
                created_by=deadline,
                unreminded=policy.then == "remind",
                limit=self._batch_size,
            )
            if policy.then == "remind":
                report.reminded += await self._remind([item_id for _, item_id in due], policy)
                continue
            for workspace_id, item_id in due:
                try:
                    decision = await self._decisions.decide_on_expiry(
                        workspace_id, item_id, policy.then, after_hours=policy.after_hours
                    )
                except (ConflictError, NotFoundError):
                    report.lost_races += 1
                    continue
                if decision.item.status == "approved":
                    report.approved += 1
                else:
                    report.expired += 1
        return report

    async def _remind(self, item_ids: list[UUID], policy: ExpiryPolicy) -> int:
        """Remind each item once: a conditional update and an audit entry per item, in one
        transaction."""
        if not item_ids:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            now = self._clock.now()
            reminded = await InboxRepo(conn).mark_reminded(item_ids, now=now)
            await AuditRepo(conn).insert_many(
                [
                    AuditEntry(
                        workspace_id=row["workspace_id"],
                        actor_user_id=None,
                        action="expiry.remind",
                        target_type="inbox_item",
                        target_id=str(row["id"]),
                        details={
                            "addressed_to": str(row["user_id"]),
                            "after_hours": policy.after_hours,
                        },
                        created_at=now,
                    )
                    for row in reminded
                ]
            )
        return len(reminded)


def _policy(agent_id: UUID, raw_config: Any) -> ExpiryPolicy | None:
    """The agent's expiry policy; None when it has none or its config no longer validates
    (its items wait for a person, as they would without a policy)."""
    try:
        return AgentConfig.model_validate(raw_config).expiry
    except ValidationError:
        _log.warning("agent %s has an invalid config: its items do not expire", agent_id)
        return None
