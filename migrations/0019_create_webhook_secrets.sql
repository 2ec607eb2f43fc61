-- The meeting webhook (POST /webhooks/meetings, runtime/meeting_webhooks). Each workspace
-- has at most one signing secret, sealed with the key ring like CRM credentials (key_id
-- names the key that sealed it, so `crm-agents crm rotate-key` can re-seal it).
CREATE TABLE workspace_webhook_secrets (
  workspace_id UUID PRIMARY KEY REFERENCES workspaces(id),
  secret BYTEA NOT NULL,
  key_id VARCHAR(64) NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  rotated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Accepted deliveries, kept while their signed timestamp is inside the replay window, so
-- that every replica refuses a delivery sent again byte for byte. Rows whose timestamp has
-- left the window are deleted as new deliveries arrive (a stale timestamp is refused anyway).
CREATE TABLE webhook_deliveries (
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  signature BYTEA NOT NULL,
  signed_at TIMESTAMPTZ NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (workspace_id, signature)
);

CREATE INDEX idx_webhook_deliveries_signed_at ON webhook_deliveries (workspace_id, signed_at);
