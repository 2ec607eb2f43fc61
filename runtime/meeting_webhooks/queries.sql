-- name: upsert_secret
-- Creating and rotating are the same statement: the old secret stops working at once.
INSERT INTO workspace_webhook_secrets AS s (workspace_id, secret, key_id)
VALUES ($1, $2, $3)
ON CONFLICT (workspace_id) DO UPDATE SET
  secret = EXCLUDED.secret,
  key_id = EXCLUDED.key_id,
  rotated_at = NOW()
RETURNING workspace_id, key_id, created_at, rotated_at;

-- name: get_sealed_secret
SELECT secret FROM workspace_webhook_secrets WHERE workspace_id = $1;

-- name: lock_secrets_not_under_key
SELECT workspace_id, secret
FROM workspace_webhook_secrets
WHERE key_id <> $1
ORDER BY workspace_id
FOR UPDATE;

-- name: update_sealed_secret
UPDATE workspace_webhook_secrets SET secret = $2, key_id = $3 WHERE workspace_id = $1;

-- name: forget_stale_deliveries
DELETE FROM webhook_deliveries WHERE workspace_id = $1 AND signed_at < $2;

-- name: record_delivery
-- Nothing returned: the same signature was accepted before (a concurrent twin waits for the
-- first to commit, then returns nothing too).
INSERT INTO webhook_deliveries (workspace_id, signature, signed_at)
VALUES ($1, $2, $3)
ON CONFLICT (workspace_id, signature) DO NOTHING
RETURNING signed_at;
