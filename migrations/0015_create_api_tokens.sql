-- Bearer tokens of the GraphQL API (runtime/tokens). Only a SHA-256 digest of each token is
-- kept: a token is 32 random bytes, so a fast digest is enough (no dictionary to guess
-- from), and it lets a request find its token with one index lookup. The role is the most
-- the token may do; membership is checked again on every request, so removing someone from
-- a workspace ends their tokens' access there at once.
CREATE TABLE api_tokens (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  user_id UUID NOT NULL REFERENCES users(id),
  role VARCHAR(50) NOT NULL CHECK (role IN ('admin', 'member')),
  name VARCHAR(255),
  token_digest BYTEA NOT NULL UNIQUE,
  token_prefix VARCHAR(16) NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  last_used_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ
);

CREATE INDEX idx_api_tokens_workspace ON api_tokens (workspace_id, created_at DESC);
