-- Decisions on inbox items (runtime/inbox/decisions.py).
--
-- resolution_reason: why a person rejected the item (the reason they typed, if any).
-- decided_snapshot: what the decider saw when they decided: the item's title, description,
-- confidence and context, and each proposal it decided with its before, proposed and
-- approved values. The proposals keep their own values too; the snapshot shows them as
-- they stood at that moment, whatever happens to them later.
ALTER TABLE inbox_items
  ADD COLUMN resolution_reason TEXT,
  ADD COLUMN decided_snapshot JSONB;

-- A proposal may be queued more than once: when the CRM's value changed before an approved
-- write went out, the writer cancels its outbox row and the proposal goes back to review
-- (runtime/writes/writer.py); approving it again queues a new row. What must stay unique is
-- the row that is, or was, written: at most one pending, in-flight or done row per proposal.
ALTER TABLE write_outbox DROP CONSTRAINT write_outbox_proposal_key;
CREATE UNIQUE INDEX write_outbox_live_proposal_key ON write_outbox (proposal_id)
  WHERE status IN ('pending', 'in_flight', 'done');
