-- A workspace's connection to its CRM: one per CRM type. The credentials (private app token,
-- or OAuth access and refresh tokens) are sealed with AES-GCM before they reach this table:
-- `secret` holds the versioned blob, `key_id` names the key that sealed it, so a key
-- rotation finds the rows still under an old key. The blob is bound to its row's
-- (workspace_id, crm_type): copied into another row it no longer decrypts.
-- A reconnect replaces the row's credentials in place (the unique constraint below), so the
-- id other rows may point at stays the same.
CREATE TABLE crm_connections (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  crm_type VARCHAR(50) NOT NULL DEFAULT 'hubspot',
  auth_kind VARCHAR(20) NOT NULL,
  base_url TEXT NOT NULL,
  secret BYTEA NOT NULL,
  key_id VARCHAR(64) NOT NULL,
  access_expires_at TIMESTAMPTZ, -- when the OAuth access token expires; NULL for private tokens
  hub_id VARCHAR(50), -- HubSpot's account (portal) id, as the OAuth grant reports it
  scopes TEXT[] NOT NULL DEFAULT '{}',
  status VARCHAR(20) NOT NULL DEFAULT 'active', -- 'revoked' once disconnected
  created_by UUID REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT crm_connections_workspace_crm_type_key UNIQUE (workspace_id, crm_type),
  CONSTRAINT crm_connections_crm_type_check CHECK (crm_type IN ('hubspot', 'salesforce')),
  CONSTRAINT crm_connections_auth_kind_check CHECK (auth_kind IN ('private_token', 'oauth')),
  CONSTRAINT crm_connections_status_check CHECK (status IN ('active', 'revoked', 'error'))
);

-- Key rotation looks for the rows not yet under the current key.
CREATE INDEX idx_crm_connections_key_id ON crm_connections (key_id);
