-- One run per (agent config, meeting): the unit of work a dispatcher claims.
-- Storing a meeting inserts a pending run for every active agent whose call types include the
-- meeting's, in the same transaction, so no meeting is lost between "stored" and "queued".
-- A dispatcher claims runs with FOR UPDATE SKIP LOCKED and holds a lease; a run whose lease
-- expired (its process died) is claimed again, and only the lease holder may complete it.
CREATE TABLE agent_runs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  agent_config_id UUID NOT NULL REFERENCES agent_configs(id),
  meeting_id UUID NOT NULL REFERENCES meetings(id),
  status VARCHAR(20) NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_owner VARCHAR(200),
  lease_expires_at TIMESTAMPTZ,
  error_message TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ,
  CONSTRAINT agent_runs_config_meeting_key UNIQUE (agent_config_id, meeting_id),
  CONSTRAINT agent_runs_status_check CHECK (status IN ('pending', 'running', 'done', 'failed')),
  CONSTRAINT agent_runs_attempts_check CHECK (attempts >= 0)
);

-- The dispatcher's queue: only unfinished runs, oldest first.
CREATE INDEX idx_agent_runs_unfinished ON agent_runs (created_at, id)
  WHERE status IN ('pending', 'running');
CREATE INDEX idx_agent_runs_meeting ON agent_runs (meeting_id);

-- The seed's activity_logs, extended (never changed): the run a row records, so a run's
-- outcome is written once (the unique index) and found from either side; warnings, the match
-- and the skip reason; and when its status last changed.
ALTER TABLE activity_logs
  ADD COLUMN agent_run_id UUID REFERENCES agent_runs(id),
  ADD COLUMN details JSONB NOT NULL DEFAULT '{}',
  ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW();

CREATE UNIQUE INDEX idx_activity_logs_agent_run ON activity_logs (agent_run_id)
  WHERE agent_run_id IS NOT NULL;
CREATE INDEX idx_activity_logs_agent_config ON activity_logs (agent_config_id, created_at DESC);
