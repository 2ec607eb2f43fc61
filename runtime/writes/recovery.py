"""Settling outbox rows left in flight: a crash, or a request whose answer never came.

HubSpot does not deduplicate writes, so a row is never sent again on the chance that it was
not written. Rules:

- Updates: the records are batch-read (through the budget, 100 per request) and each row
  whose value the CRM already holds, compared by meaning, is ``done`` and its proposal
  ``written`` with that value; the other rows go back to ``pending`` and the next flush
  sends them. E.g. a batch that set deal 301's ``amount`` to 60000 before the process died
  finds 60000 and is marked done: the emulator's write log keeps one entry for it.
- Creates: never sent again, whatever the CRM shows: the rows are ``failed`` with
  ``CREATE_OUTCOME_UNKNOWN`` and the proposals go back to a human (``pending``, their inbox
  item too), who checks the CRM before approving again.
- A read that fails (a 429, no answer) leaves the rows in flight for a later recovery;
  nothing is guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from uuid import UUID

import asyncpg

from runtime.activity.repo import ActivityRepo
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.crm.errors import CrmAuthError, CrmError
from runtime.crm.port import ObjectType
from runtime.inbox.repo import InboxRepo
from runtime.outbox.repo import OutboxRepo
from runtime.writes.metered import MeteredCrm
from runtime.writes.outcome import same_value
from runtime.writes.plan import QueuedWrite
from runtime.writes.reports import Tally

__all__ = ["CREATE_OUTCOME_UNKNOWN", "Recovery"]

_log = logging.getLogger(__name__)

CREATE_OUTCOME_UNKNOWN = "outcome unknown after a crash: check the CRM before creating it again"
_READ_LIMIT = 100  # records per batch read (reference/hubspot.md §2)


class Recovery:
    """Settles one workspace's in-flight rows (see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        workspace_id: UUID,
        crm: MeteredCrm,
        *,
        clock: Clock,
        on_written: Callable[[ObjectType, Sequence[str]], None],
    ) -> None:
        self._pool = pool
        self._workspace_id = workspace_id
        self._crm = crm
        self._clock = clock
        self._on_written = on_written

    async def run(self, tally: Tally, *, batch_ids: Sequence[UUID] | None) -> set[UUID]:
        """Settle the rows of ``batch_ids`` (all in-flight rows when None).

        Returns:
            The batches whose rows are all settled now.
        """
        async with self._pool.acquire() as conn:
            rows = await OutboxRepo(conn).in_flight(self._workspace_id, batch_ids=batch_ids)
            proposals = await InboxRepo(conn).proposals_by_ids(
                self._workspace_id, [r.proposal_id for r in rows]
            )
        by_id = {p.id: p for p in proposals}
        writes = [QueuedWrite.of(row, by_id[row.proposal_id]) for row in rows]
        batch_of = {row.id: row.batch_id for row in rows}
        unsettled: set[UUID] = set()
        creates = [w for w in writes if w.operation == "create"]
        if creates:
            await self._give_up_creates(creates, tally)
        updates = [w for w in writes if w.operation == "update"]
        for object_type in dict.fromkeys(w.object_type for w in updates):
            of_type = [w for w in updates if w.object_type == object_type]
            record_ids = list(dict.fromkeys(w.record_id for w in of_type))
            for start in range(0, len(record_ids), _READ_LIMIT):
                chunk = set(record_ids[start : start + _READ_LIMIT])
                chunk_writes = [w for w in of_type if w.record_id in chunk]
                if not await self._settle_updates(object_type, chunk_writes, tally):
                    unsettled.update(_batches(chunk_writes, batch_of))
        return _batches(writes, batch_of) - unsettled

    async def _give_up_creates(self, creates: Sequence[QueuedWrite], tally: Tally) -> None:
        now = self._clock.now()
        async with self._pool.acquire() as conn, conn.transaction():
            await OutboxRepo(conn).mark_failed(
                self._workspace_id,
                [(w.outbox_id, CREATE_OUTCOME_UNKNOWN) for w in creates],
                done_at=now,
            )
            tally.returned_to_review += await InboxRepo(conn).return_to_review(
                self._workspace_id,
                [(w.proposal_id, CREATE_OUTCOME_UNKNOWN, w.before) for w in creates],
                now=now,
            )

    async def _settle_updates(
        self, object_type: ObjectType, writes: Sequence[QueuedWrite], tally: Tally
    ) -> bool:
        """Mark done what the CRM holds, requeue the rest; False when the read failed."""
        ids = list(dict.fromkeys(w.record_id or "" for w in writes))
        names = list(dict.fromkeys(w.property for w in writes))
        try:
            result = await self._crm.call(
                lambda: self._crm.port.batch_read(object_type, ids, properties=names)
            )
        except CrmAuthError:
            raise
        except CrmError as exc:
            _log.warning("outbox %s: recovery could not read: %s", self._workspace_id, exc)
            return False
        definitions = await self._crm.definitions(object_type)
        current = {record.id: record for record in result.results}
        done: list[tuple[QueuedWrite, str]] = []
        again: list[QueuedWrite] = []
        for write in writes:
            record = current.get(write.record_id or "")
            value = None if record is None else record.properties.get(write.property)
            if record is not None and same_value(
                value, write.value, definitions.get(write.property)
            ):
                done.append((write, value or write.value))
            else:
                again.append(write)
        now = self._clock.now()
        ws = self._workspace_id
        async with self._pool.acquire() as conn, conn.transaction():
            outbox = OutboxRepo(conn)
            await outbox.mark_done(ws, [w.outbox_id for w, _ in done], done_at=now)
            await InboxRepo(conn).mark_written(
                ws, [(w.proposal_id, value, None) for w, value in done], now=now
            )
            await outbox.release(ws, [w.outbox_id for w in again])
            await AuditRepo(conn).insert_many(self._crm.drain())
            await ActivityRepo(conn).settle_written(
                ws, [w.activity_log_id for w, _ in done], now=now
            )
        tally.marked_done += len({w.record_id for w, _ in done})
        tally.resent += len({w.record_id for w in again})
        # Written, perhaps before the crash: a cache must not keep the old values.
        self._on_written(object_type, ids)
        return True


def _batches(writes: Sequence[QueuedWrite], batch_of: dict[int, UUID | None]) -> set[UUID]:
    return {b for w in writes if (b := batch_of[w.outbox_id]) is not None}
