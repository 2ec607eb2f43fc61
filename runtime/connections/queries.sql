-- name: upsert_connection
-- A reconnect replaces the credentials in place: the id and created_at stay, the status
-- becomes active again, and created_by keeps its value unless a new user is named.
INSERT INTO crm_connections AS c (
  workspace_id, crm_type, auth_kind, base_url, secret, key_id, access_expires_at, hub_id,
  scopes, created_by
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT ON CONSTRAINT crm_connections_workspace_crm_type_key DO UPDATE SET
  auth_kind = EXCLUDED.auth_kind,
  base_url = EXCLUDED.base_url,
  secret = EXCLUDED.secret,
  key_id = EXCLUDED.key_id,
  access_expires_at = EXCLUDED.access_expires_at,
  hub_id = EXCLUDED.hub_id,
  scopes = EXCLUDED.scopes,
  status = 'active',
  created_by = COALESCE(EXCLUDED.created_by, c.created_by),
  updated_at = NOW()
RETURNING
  id, workspace_id, crm_type, auth_kind, base_url, key_id, access_expires_at, hub_id, scopes,
  status, created_by, created_at, updated_at;

-- name: get_connection
SELECT
  id, workspace_id, crm_type, auth_kind, base_url, key_id, access_expires_at, hub_id, scopes,
  status, created_by, created_at, updated_at
FROM crm_connections
WHERE workspace_id = $1 AND crm_type = $2;

-- name: get_sealed_connection
SELECT
  id, workspace_id, crm_type, auth_kind, base_url, key_id, access_expires_at, hub_id, scopes,
  status, created_by, created_at, updated_at, secret
FROM crm_connections
WHERE workspace_id = $1 AND crm_type = $2;

-- name: lock_sealed_connection
-- FOR UPDATE: storing a refreshed grant (or marking one refused) checks that the row still
-- holds the grant it came from, and a reconnect racing it waits instead of being undone.
SELECT
  id, workspace_id, crm_type, auth_kind, base_url, key_id, access_expires_at, hub_id, scopes,
  status, created_by, created_at, updated_at, secret
FROM crm_connections
WHERE workspace_id = $1 AND crm_type = $2
FOR UPDATE;

-- name: update_oauth_grant
-- A token refresh: the new sealed grant and its expiry, nothing else. updated_at stays: it
-- says when the connection was last reconnected or changed state, and the runs' client cache
-- (runtime.runs.crm_source) rebuilds a workspace's client when it moves.
UPDATE crm_connections
SET secret = $3, key_id = $4, access_expires_at = $5
WHERE workspace_id = $1 AND id = $2
RETURNING
  id, workspace_id, crm_type, auth_kind, base_url, key_id, access_expires_at, hub_id, scopes,
  status, created_by, created_at, updated_at;

-- name: lock_sealed_connections_not_under_key
-- FOR UPDATE: a reconnect racing a rotation waits, instead of being overwritten by the
-- re-sealed old credentials.
SELECT
  id, workspace_id, crm_type, auth_kind, base_url, key_id, access_expires_at, hub_id, scopes,
  status, created_by, created_at, updated_at, secret
FROM crm_connections
WHERE key_id <> $1
ORDER BY id
FOR UPDATE;

-- name: update_secrets
UPDATE crm_connections AS c
SET secret = u.secret, key_id = u.key_id, updated_at = NOW()
FROM unnest($1::uuid[], $2::uuid[], $3::bytea[], $4::text[])
  AS u (workspace_id, id, secret, key_id)
WHERE c.workspace_id = u.workspace_id AND c.id = u.id;

-- name: set_connection_status
UPDATE crm_connections
SET
  status = $3::varchar,
  updated_at = CASE WHEN status = $3::varchar THEN updated_at ELSE NOW() END
WHERE workspace_id = $1 AND crm_type = $2
RETURNING
  id, workspace_id, crm_type, auth_kind, base_url, key_id, access_expires_at, hub_id, scopes,
  status, created_by, created_at, updated_at;

-- name: insert_oauth_state
INSERT INTO crm_oauth_states (state_digest, workspace_id, crm_type, started_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING workspace_id, crm_type, started_by, created_at, expires_at, consumed_at;

-- name: forget_expired_oauth_states
DELETE FROM crm_oauth_states WHERE workspace_id = $1 AND expires_at <= $2;

-- name: consume_oauth_state
-- Once: of two callbacks racing with one state, the second waits for the first to commit,
-- then finds consumed_at set and returns nothing.
UPDATE crm_oauth_states
SET consumed_at = $2
WHERE state_digest = $1 AND consumed_at IS NULL AND expires_at > $2
RETURNING workspace_id, crm_type, started_by, created_at, expires_at, consumed_at;

-- name: get_oauth_state
SELECT workspace_id, crm_type, started_by, created_at, expires_at, consumed_at
FROM crm_oauth_states
WHERE state_digest = $1;
