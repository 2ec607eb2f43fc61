-- Per-field proposals and the write outbox.
--
-- A proposal keeps the values apart: before (the CRM's value when the agent read it),
-- proposed (the agent's), approved (a human's, possibly edited) and written (what the CRM
-- accepted). Status: pending (a human decides), queued (in the outbox), written, rejected,
-- failed, superseded (a newer meeting proposed the same field), expired.
CREATE TABLE proposals (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  activity_log_id UUID NOT NULL REFERENCES activity_logs(id),
  inbox_item_id UUID REFERENCES inbox_items(id),
  crm_record_type VARCHAR(50) NOT NULL,
  crm_record_id VARCHAR(255), -- NULL while a proposed create has no CRM id yet
  field VARCHAR(255) NOT NULL,
  before_value TEXT,
  proposed_value TEXT NOT NULL,
  approved_value TEXT,
  written_value TEXT,
  confidence DECIMAL(3,2) NOT NULL,
  route VARCHAR(20) NOT NULL,
  status VARCHAR(20) NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  evidence JSONB NOT NULL DEFAULT '[]',
  error_message TEXT,
  decided_by UUID REFERENCES users(id),
  decided_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT proposals_activity_field_key UNIQUE (activity_log_id, field),
  CONSTRAINT proposals_route_check CHECK (route IN ('auto_apply', 'review')),
  CONSTRAINT proposals_status_check CHECK (
    status IN ('pending', 'queued', 'written', 'rejected', 'failed', 'superseded', 'expired')
  ),
  CONSTRAINT proposals_confidence_check CHECK (confidence BETWEEN 0 AND 1)
);

CREATE INDEX idx_proposals_inbox_item ON proposals (inbox_item_id);
-- A newer meeting's proposal for the same record and field supersedes a pending one.
CREATE INDEX idx_proposals_pending_field ON proposals (workspace_id, crm_record_id, field)
  WHERE status = 'pending';

-- A CRM write is a row here before it is sent (ARCHITECTURE "Durability rules"): one row per
-- field to write, merged per record when the workspace's writer flushes them in batches.
-- The identity column gives the writer a stable first-in, first-out order.
CREATE TABLE write_outbox (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  proposal_id UUID NOT NULL REFERENCES proposals(id),
  operation VARCHAR(10) NOT NULL,
  crm_record_type VARCHAR(50) NOT NULL,
  crm_record_id VARCHAR(255),
  property VARCHAR(255) NOT NULL,
  value TEXT NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  batch_id UUID,
  error_message TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  sent_at TIMESTAMPTZ,
  done_at TIMESTAMPTZ,
  CONSTRAINT write_outbox_proposal_key UNIQUE (proposal_id),
  CONSTRAINT write_outbox_operation_check CHECK (operation IN ('update', 'create')),
  CONSTRAINT write_outbox_status_check CHECK (
    status IN ('pending', 'in_flight', 'done', 'failed', 'cancelled')
  ),
  CONSTRAINT write_outbox_record_check CHECK (operation = 'create' OR crm_record_id IS NOT NULL)
);

CREATE INDEX idx_write_outbox_unsent ON write_outbox (workspace_id, id)
  WHERE status IN ('pending', 'in_flight');
