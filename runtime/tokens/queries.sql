-- name: insert_token
INSERT INTO api_tokens (workspace_id, user_id, role, name, token_digest, token_prefix)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, workspace_id, user_id, role, name, token_prefix, created_at, last_used_at,
  revoked_at;

-- name: list_tokens
-- A workspace's tokens, newest first; $2 keeps one user's when not null.
SELECT id, workspace_id, user_id, role, name, token_prefix, created_at, last_used_at,
  revoked_at
FROM api_tokens
WHERE workspace_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
ORDER BY created_at DESC, id DESC;

-- name: revoke_token
-- Revoking twice keeps the first time.
UPDATE api_tokens
SET revoked_at = coalesce(revoked_at, $2)
WHERE id = $1
RETURNING id, workspace_id, user_id, role, name, token_prefix, created_at, last_used_at,
  revoked_at;

-- name: authenticate
-- The live token with this digest and its user's current membership. The token's role is
-- capped by the membership's: a demoted admin's admin token acts as a member.
-- last_used_at is touched at most once a minute, so reads do not turn into writes.
WITH found AS (
  SELECT t.id, t.workspace_id, t.user_id, t.role AS token_role, m.role AS member_role,
    t.last_used_at
  FROM api_tokens t
  JOIN workspace_members m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id
  WHERE t.token_digest = $1 AND t.revoked_at IS NULL
), touched AS (
  UPDATE api_tokens t
  SET last_used_at = $2::timestamptz
  FROM found
  WHERE t.id = found.id
    AND (found.last_used_at IS NULL OR found.last_used_at < $2::timestamptz - interval '1 minute')
)
SELECT id, workspace_id, user_id,
  CASE WHEN token_role = 'admin' AND member_role = 'admin' THEN 'admin' ELSE 'member' END AS role
FROM found;
