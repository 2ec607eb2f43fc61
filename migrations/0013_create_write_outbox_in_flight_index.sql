-- "Does this record have a row in flight?" is asked for every candidate row by the writer
-- (list_writable, claim_rows in runtime/outbox/queries.sql). Only the in-flight rows can
-- answer it, and there are few of them (a few batches of 100): without this index the
-- planner probes every pending row of the workspace instead, which grows with the square of
-- a large backlog (60,000 pending rows: a minute per listing on a table not yet analyzed).
CREATE INDEX idx_write_outbox_in_flight_record
  ON write_outbox (workspace_id, crm_record_type, crm_record_id)
  WHERE status = 'in_flight';
