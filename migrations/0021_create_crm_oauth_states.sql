-- OAuth connect attempts (runtime/connections/oauth.py). `startCrmOAuth` stores one row per
-- authorize URL it hands out; HubSpot's redirect to the callback brings the state back and
-- the callback consumes the row once (a conditional update of consumed_at), so a state
-- works a single time and only before expires_at. The state itself is never stored: only
-- its SHA-256 digest, so reading this table does not let anyone complete a grant.
-- started_by is the admin the grant is stored and audited for.
CREATE TABLE crm_oauth_states (
  state_digest BYTEA PRIMARY KEY,
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  crm_type VARCHAR(50) NOT NULL DEFAULT 'hubspot',
  started_by UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  expires_at TIMESTAMPTZ NOT NULL,
  consumed_at TIMESTAMPTZ,
  CONSTRAINT crm_oauth_states_crm_type_check CHECK (crm_type IN ('hubspot', 'salesforce'))
);

-- Starting an attempt deletes the workspace's rows past their expiry.
CREATE INDEX idx_crm_oauth_states_expiry ON crm_oauth_states (workspace_id, expires_at);
