-- Workspace metrics (runtime/metrics/queries.sql) read one workspace's rows of its last
-- minutes by the time each event happened: a proposal made, a decision taken, a write
-- answered. A workspace refreshes them on every read, so without these indexes each read
-- would scan every workspace's proposals and outbox rows. Activity rows already have
-- idx_activity_logs_workspace (workspace_id, created_at).
CREATE INDEX idx_proposals_workspace_created ON proposals (workspace_id, created_at);
CREATE INDEX idx_proposals_workspace_decided ON proposals (workspace_id, decided_at)
  WHERE decided_at IS NOT NULL;
CREATE INDEX idx_write_outbox_workspace_done ON write_outbox (workspace_id, done_at)
  WHERE done_at IS NOT NULL;
