"""The outbox writer: a workspace's queued CRM writes, sent in batches, each outcome recorded.

``OutboxWriter.flush`` takes the workspace's pending outbox rows, oldest first, merges them
per record (``runtime.writes.plan``) and sends batches of up to ``batch_size`` inputs, ONE
request each. Rules, with an example each:

- Merge: three fields of deal 301 are one input ``{amount, closedate, dealstage}``; of two
  rows for deal 301's ``amount`` the newer is sent and the older cancelled (outbox
  ``cancelled``, proposal ``superseded``): it was never written, so it is not ``done``.
- Order per record: a record with a row in flight (a request on its way, or one whose answer
  never came) is in no other request; its pending rows wait. Rows 7 and 9 of deal 301 are
  never in two requests at once.
- Approved values are checked first: before human-approved rows are sent, their records are
  batch-read; a row whose record's value differs from the proposal's ``before`` (compared by
  meaning, ``runtime.writes.outcome.same_value``: ``"20000"`` equals ``"20000.00"``) is not
  sent: the outbox row is ``cancelled``, the proposal ``pending`` again with reason "changed
  in the CRM meanwhile: was 20000, now 25000" and the CRM's value as its new ``before``, and
  its inbox item pending again. Auto-applied rows are written as proposed.
- In flight before sent: the budget is asked (``acquire``), then the rows are marked
  ``in_flight`` with one batch id, ``sent_at`` and one more attempt, committed, and only then
  does the request leave. A crash from then on leaves a trace for ``recover``.
- Outcomes (``runtime.writes.outcome``), in one transaction with the audit entries of the
  calls: a written input's rows are ``done`` and their proposals ``written`` with the value
  the CRM stored; a refused input (HubSpot's 207) is ``failed`` with HubSpot's message on
  the rows and the proposals, except the fields the refusal does not name, which go back to
  ``pending`` to be sent without the bad one; an unknown outcome (connection dropped, 5xx)
  stays ``in_flight``; an input never sent goes back to ``pending``. Then each touched
  activity whose proposals are all final becomes ``failed`` with "the CRM refused amount:
  abc was not a valid number" when a field failed, else ``success`` (its status change
  notifies), and ``on_written("deals", ids)`` lets a cache drop the records.
- Rate limits: a 429 tells the budget (``on_rate_limited``) and puts the batch's rows back to
  ``pending`` for the next flush, never ``failed``; the budget holds the later calls until
  the limit's window has passed. Up to ``max_in_flight`` requests are on their way at once;
  a new one starts when the budget lets a call go (``delay_s`` is 0, waited for).
- Creates: a proposed create's rows (no record id) are one ``RecordCreate`` per activity,
  linked to the company and contacts its inbox item's context names
  (``{"company": {"id": "101"}, "contacts": [{"id": "201"}]}``), sent with ``batch_create``;
  the new id goes on the rows, the proposals and the activity. A create whose outcome is
  unknown is never sent again (``runtime.writes.recovery``).

``OutboxWriter.recover`` settles the rows left ``in_flight`` (``runtime.writes.recovery``):
rows whose value the CRM already holds are ``done``, the others ``pending`` again; in-flight
creates fail with "outcome unknown after a crash: check the CRM before creating it again"
and go back to a human. Call it before the first flush after (re)activation; ``flush``
itself first settles the batches it saw end without an answer. One writer per workspace:
``recover`` assumes nobody else is sending the workspace's rows.

The CRM port must be the bare client with retries off (``NO_RETRIES``): every attempt is a
request the budget must count, and a cache in front would answer the checks from memory.
The writer notes every call for the audit log itself (``runtime.writes.metered``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

import asyncpg

from runtime.activity.repo import ActivityRepo
from runtime.audit.repo import AuditRepo
from runtime.clock import Clock
from runtime.crm.errors import CrmAuthError, CrmError, CrmRateLimitedError
from runtime.crm.port import (
    AssociationInput,
    BatchResult,
    CrmPort,
    ObjectType,
    RecordCreate,
    RecordUpdate,
)
from runtime.inbox.repo import InboxRepo
from runtime.outbox.repo import OutboxRepo
from runtime.writes.metered import BudgetKind, MeteredCrm, WriteBudget
from runtime.writes.outcome import (
    BatchOutcome,
    associations_in,
    create_outcome,
    outcome_of_error,
    same_value,
    shown,
    update_outcome,
)
from runtime.writes.plan import OBJECT_TYPE_OF, Batch, PlannedInput, QueuedWrite, plan_batches
from runtime.writes.recovery import CREATE_OUTCOME_UNKNOWN, Recovery
from runtime.writes.reports import FlushReport, RecoveryReport, Tally, WriteCounts

__all__ = [
    "CREATE_OUTCOME_UNKNOWN",
    "BudgetKind",
    "FlushReport",
    "OutboxWriter",
    "RecoveryReport",
    "WriteBudget",
    "WriteCounts",
]

_log = logging.getLogger(__name__)

_MAX_BATCH = 100  # HubSpot refuses object batch requests over 100 inputs (reference §2).


class OutboxWriter:
    """Sends one workspace's outbox to its CRM (see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        workspace_id: UUID,
        crm: CrmPort,
        budget: WriteBudget,
        *,
        clock: Clock,
        batch_size: int = _MAX_BATCH,
        max_in_flight: int = 4,
        max_rows: int = 10_000,
        on_written: Callable[[str, Sequence[str]], None] | None = None,
    ) -> None:
        """Args (besides the module docstring's):
        crm: the bare CRM client, retries off; the writer audits its calls itself.
        budget: the workspace's rate budget (``runtime.writes.budget.RateBudget``).
        batch_size: inputs per request, 1..100.
        max_in_flight: requests on their way at once, at most.
        max_rows: outbox rows one flush takes, at most (the rest wait for the next).
        on_written: told the object type and ids of records that were (or may have been)
            written, so a cache can drop them.
        """
        if not 1 <= batch_size <= _MAX_BATCH:
            raise ValueError(f"batch_size must be within 1..{_MAX_BATCH}, not {batch_size}")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._pool = pool
        self._workspace_id = workspace_id
        self._crm = MeteredCrm(crm, budget, workspace_id=workspace_id, clock=clock)
        self._budget = budget
        self._clock = clock
        self._batch_size = batch_size
        self._max_in_flight = max_in_flight
        self._max_rows = max_rows
        self._on_written = on_written
        self._recovery = Recovery(
            pool, workspace_id, self._crm, clock=clock, on_written=self._written
        )
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        # Batches claimed whose outcome is not recorded yet, or was unknown.
        self._unsettled: set[UUID] = set()

    async def flush(self) -> FlushReport:
        """Send what is pending (see the module docstring); one flush at a time.

        Raises:
            BudgetExceededError: the daily budget is spent; unsent rows stay pending.
            CrmAuthError: the CRM refused the credentials; the batch went back to pending.
        """
        async with self._lock:
            tally = Tally()
            requests, rate_limited = self._crm.requests, self._crm.rate_limited
            self._stop = asyncio.Event()
            try:
                if self._unsettled:
                    await self._recover(tally, batch_ids=sorted(self._unsettled))
                writes = await self._writable()
                batches = plan_batches(writes, self._batch_size)
                await self._supersede(batches, tally)
                await self._send_all(batches, tally)
            finally:
                await self._save_audit_leftovers()
                tally.requests = self._crm.requests - requests
                tally.rate_limited = self._crm.rate_limited - rate_limited
            return tally.report(FlushReport)

    async def recover(self) -> RecoveryReport:
        """Settle every row left in flight (``runtime.writes.recovery``)."""
        async with self._lock:
            tally = Tally()
            requests, rate_limited = self._crm.requests, self._crm.rate_limited
            try:
                await self._recover(tally, batch_ids=None)
            finally:
                await self._save_audit_leftovers()
                tally.requests = self._crm.requests - requests
                tally.rate_limited = self._crm.rate_limited - rate_limited
            return tally.report(RecoveryReport)

    async def _recover(self, tally: Tally, *, batch_ids: Sequence[UUID] | None) -> None:
        self._unsettled -= await self._recovery.run(tally, batch_ids=batch_ids)

    # Loading and merging ------------------------------------------------------------------

    async def _writable(self) -> list[QueuedWrite]:
        """The rows to send; rows whose proposal is no longer queued are cancelled."""
        async with self._pool.acquire() as conn:
            rows = await OutboxRepo(conn).writable(self._workspace_id, limit=self._max_rows)
            proposals = await InboxRepo(conn).proposals_by_ids(
                self._workspace_id, [r.proposal_id for r in rows]
            )
        by_id = {p.id: p for p in proposals}
        writes: list[QueuedWrite] = []
        unwanted: list[tuple[int, str]] = []
        for row in rows:
            proposal = by_id[row.proposal_id]
            if proposal.status != "queued":
                unwanted.append((row.id, f"not sent: its proposal is {proposal.status}"))
            elif row.crm_record_type not in OBJECT_TYPE_OF:
                unwanted.append((row.id, f"not sent: unknown record type {row.crm_record_type}"))
            else:
                writes.append(QueuedWrite.of(row, proposal))
        if unwanted:
            async with self._pool.acquire() as conn:
                await OutboxRepo(conn).cancel(
                    self._workspace_id, unwanted, done_at=self._clock.now()
                )
        return writes

    async def _supersede(self, batches: Sequence[Batch], tally: Tally) -> None:
        """Cancel the rows a newer row of the same field replaced."""
        pairs = [pair for batch in batches for pair in batch.superseded]
        if not pairs:
            return
        now = self._clock.now()
        reasons = [
            (
                old.outbox_id,
                f"superseded by outbox row {new.outbox_id}: a newer value for {old.property}"
                f" of {old.object_type} {old.record_id or '(new)'}",
            )
            for old, new in pairs
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            await OutboxRepo(conn).cancel(self._workspace_id, reasons, done_at=now)
            await InboxRepo(conn).mark_superseded(
                self._workspace_id, [old.proposal_id for old, _ in pairs], now=now
            )
            await ActivityRepo(conn).settle_written(
                self._workspace_id, [old.activity_log_id for old, _ in pairs], now=now
            )
        tally.superseded += len(pairs)

    # Sending ------------------------------------------------------------------------------

    async def _send_all(self, batches: Sequence[Batch], tally: Tally) -> None:
        """Send the batches, several at once while the budget lets calls go at once."""
        started: list[asyncio.Task[None]] = []
        running: set[asyncio.Task[None]] = set()
        try:
            for batch in batches:
                while running and (
                    len(running) >= self._max_in_flight
                    or (delay_s := self._budget.delay_s("standard")) > 0
                ):
                    # Full: wait for a request to end. Otherwise wait for whichever comes
                    # first, a request ending or the budget's next free slot, so a steady
                    # window is filled at the pace the budget allows, not at the pace of
                    # answers (~0.3 s each).
                    timeout = None if len(running) >= self._max_in_flight else delay_s
                    _, running = await asyncio.wait(
                        running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                if self._stop.is_set():
                    break
                task = asyncio.create_task(self._send(batch, tally))
                started.append(task)
                running.add(task)
            if running:
                await asyncio.wait(running)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*started, return_exceptions=True)
        errors = [e for t in started if not t.cancelled() and (e := t.exception()) is not None]
        if errors:
            raise errors[0]

    async def _send(self, batch: Batch, tally: Tally) -> None:
        try:
            inputs = list(batch.inputs)
            if batch.operation == "update":
                inputs = await self._without_stale(batch.object_type, inputs, tally)
            if not inputs or self._stop.is_set():
                return
            await self._crm.acquire()
            batch_id = uuid.uuid4()
            inputs = await self._claim(inputs, batch_id)
            if not inputs:
                return
            # Until its outcome is recorded, the next flush's recovery settles the batch.
            self._unsettled.add(batch_id)
            tally.inputs += len(inputs)
            tally.resent += sum(1 for i in inputs if any(w.attempts for w in i.writes))
            if batch.operation == "update":
                outcome = await self._send_updates(batch.object_type, inputs)
            else:
                outcome = await self._send_creates(batch.object_type, inputs)
            await self._record(batch.object_type, outcome, tally)
            if not outcome.unknown:
                self._unsettled.discard(batch_id)
        except BaseException:
            self._stop.set()
            raise

    async def _without_stale(
        self, object_type: ObjectType, inputs: list[PlannedInput], tally: Tally
    ) -> list[PlannedInput]:
        """The inputs less the approved rows whose value changed in the CRM since the human
        saw it; those go back to review."""
        approved = [w for i in inputs for w in i.writes if w.approved]
        if not approved:
            return inputs
        ids = list(dict.fromkeys(w.record_id for w in approved if w.record_id is not None))
        names = list(dict.fromkeys(w.property for w in approved))
        try:
            result = await self._crm.call(
                lambda: self._crm.port.batch_read(object_type, ids, properties=names)
            )
        except CrmAuthError:
            raise
        except CrmError as exc:
            # Rate limited or no answer: the rows stay pending for the next flush.
            _log.warning("outbox %s: could not check approved values: %s", self._workspace_id, exc)
            return []
        definitions = await self._crm.definitions(object_type)
        current = {record.id: record for record in result.results}
        stale: list[tuple[QueuedWrite, str | None, str]] = []
        for write in approved:
            record = current.get(write.record_id or "")
            if record is None:
                continue  # an unknown record: the write itself will say so
            value = record.properties.get(write.property)
            if not same_value(value, write.before, definitions.get(write.property)):
                reason = (
                    f"changed in the CRM meanwhile: was {shown(write.before)}, now {shown(value)}"
                )
                stale.append((write, value, reason))
        if not stale:
            return inputs
        now = self._clock.now()
        async with self._pool.acquire() as conn, conn.transaction():
            await OutboxRepo(conn).cancel(
                self._workspace_id, [(w.outbox_id, reason) for w, _, reason in stale], done_at=now
            )
            tally.returned_to_review += await InboxRepo(conn).return_to_review(
                self._workspace_id,
                [(w.proposal_id, reason, value) for w, value, reason in stale],
                now=now,
            )
            await AuditRepo(conn).insert_many(self._crm.drain())
        dropped = {w.outbox_id for w, _, _ in stale}
        kept = [i.keeping([w for w in i.writes if w.outbox_id not in dropped]) for i in inputs]
        return [i for i in kept if i is not None]

    async def _claim(self, inputs: list[PlannedInput], batch_id: UUID) -> list[PlannedInput]:
        """Mark the inputs' rows in flight, committed before the request leaves."""
        ids = [w.outbox_id for i in inputs for w in i.writes]
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await OutboxRepo(conn).claim(
                self._workspace_id, ids, batch_id=batch_id, sent_at=self._clock.now()
            )
            await AuditRepo(conn).insert_many(self._crm.drain())
        kept = [i.keeping([w for w in i.writes if w.outbox_id in claimed]) for i in inputs]
        return [i for i in kept if i is not None]

    async def _send_updates(
        self, object_type: ObjectType, inputs: list[PlannedInput]
    ) -> BatchOutcome:
        updates = [
            RecordUpdate(id=i.record_id or "", properties=i.properties, trace_id=i.trace_id)
            for i in inputs
        ]
        sent = await self._send_request(
            inputs, lambda: self._crm.port.batch_update(object_type, updates)
        )
        return sent if isinstance(sent, BatchOutcome) else update_outcome(inputs, sent)

    async def _send_creates(
        self, object_type: ObjectType, inputs: list[PlannedInput]
    ) -> BatchOutcome:
        links = await self._associations(object_type, inputs)
        creates = [
            RecordCreate(
                properties=i.properties,
                associations=links.get(i.activity_log_id, ()),
                trace_id=i.trace_id,
            )
            for i in inputs
        ]
        sent = await self._send_request(
            inputs, lambda: self._crm.port.batch_create(object_type, creates)
        )
        if isinstance(sent, BatchOutcome):
            return sent
        return create_outcome(inputs, sent, await self._crm.definitions(object_type))

    async def _send_request(
        self, inputs: list[PlannedInput], send: Callable[[], Awaitable[BatchResult]]
    ) -> BatchResult | BatchOutcome:
        """The answer, or what became of every input when the request failed whole."""
        writes = [w for i in inputs for w in i.writes]
        try:
            return await self._crm.call(send, acquired=True)
        except CrmRateLimitedError:
            # Not carried out: the rows wait for the next flush.
            return BatchOutcome(released=writes)
        except CrmAuthError:
            async with self._pool.acquire() as conn:
                await OutboxRepo(conn).release(self._workspace_id, [w.outbox_id for w in writes])
            raise
        except CrmError as exc:
            return outcome_of_error(exc, inputs)

    async def _record(self, object_type: ObjectType, outcome: BatchOutcome, tally: Tally) -> None:
        """One transaction: rows, proposals, created ids, audit entries, settled activities."""
        now = self._clock.now()
        ws = self._workspace_id
        async with self._pool.acquire() as conn, conn.transaction():
            outbox, inbox, activities = OutboxRepo(conn), InboxRepo(conn), ActivityRepo(conn)
            await outbox.mark_done(
                ws,
                [w.outbox_id for w, _, _ in outcome.done],
                done_at=now,
                record_ids=[created for _, _, created in outcome.done],
            )
            await inbox.mark_written(
                ws, [(w.proposal_id, value, made) for w, value, made in outcome.done], now=now
            )
            await outbox.mark_failed(
                ws, [(w.outbox_id, message) for w, message in outcome.failed], done_at=now
            )
            await inbox.mark_failed(
                ws, [(w.proposal_id, message) for w, message in outcome.failed], now=now
            )
            await outbox.release(ws, [w.outbox_id for w in outcome.released])
            await activities.set_created_records(ws, outcome.created, now=now)
            await AuditRepo(conn).insert_many(self._crm.drain())
            touched = [w.activity_log_id for w, _, _ in outcome.done]
            touched += [w.activity_log_id for w, _ in outcome.failed]
            await activities.settle_written(ws, touched, now=now)
        tally.records_written += outcome.written_inputs
        tally.records_failed += outcome.failed_inputs
        tally.outcome_unknown += outcome.unknown_inputs
        changed = [w.record_id for w, _, _ in outcome.done] + [w.record_id for w in outcome.unknown]
        changed += [record_id for _, record_id in outcome.created]
        self._written(object_type, [r for r in changed if r is not None])

    # Helpers ------------------------------------------------------------------------------

    async def _associations(
        self, object_type: ObjectType, inputs: Sequence[PlannedInput]
    ) -> dict[UUID | None, tuple[AssociationInput, ...]]:
        """A new deal's links, from its activity's inbox item."""
        if object_type != "deals":
            return {}
        activity_ids = [i.activity_log_id for i in inputs if i.activity_log_id is not None]
        async with self._pool.acquire() as conn:
            items = await InboxRepo(conn).items_for_activities(self._workspace_id, activity_ids)
        found: dict[UUID | None, tuple[AssociationInput, ...]] = {}
        for item in items:
            links = associations_in(item)
            if links:
                found.setdefault(item.activity_log_id, links)
        return found

    def _written(self, object_type: ObjectType, ids: Sequence[str]) -> None:
        if self._on_written is not None and ids:
            self._on_written(object_type, list(dict.fromkeys(ids)))

    async def _save_audit_leftovers(self) -> None:
        """Entries of calls whose outcome was not recorded (a failure on the way)."""
        entries = self._crm.drain()
        if not entries:
            return
        try:
            await AuditRepo(self._pool).insert_many(entries)
        except Exception:
            _log.exception("outbox %s: %d audit entries lost", self._workspace_id, len(entries))
