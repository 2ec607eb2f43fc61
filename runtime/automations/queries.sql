-- Every query returns the columns StoredAutomation.from_row reads, in this order (never the
-- sealed secret itself, only whether there is one).

-- name: insert_automation
-- The id comes from the caller: a webhook secret is sealed bound to it before the insert.
INSERT INTO user_automations (
  id, workspace_id, user_id, name, trigger_type, trigger_config, action_type, action_config,
  is_active, webhook_secret_sealed, webhook_secret_key_id
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING
  id, workspace_id, user_id, name, trigger_type, trigger_config, action_type, action_config,
  is_active, webhook_secret_sealed IS NOT NULL AS has_webhook_secret, created_at, updated_at;

-- name: get_automation_for_update
-- One automation of the workspace, locked until the caller's transaction ends, so that two
-- concurrent edits apply one after the other.
SELECT
  id, workspace_id, user_id, name, trigger_type, trigger_config, action_type, action_config,
  is_active, webhook_secret_sealed IS NOT NULL AS has_webhook_secret, created_at, updated_at
FROM user_automations
WHERE workspace_id = $1 AND id = $2
FOR UPDATE;

-- name: list_automations
-- A user's automations in one workspace, oldest first.
SELECT
  id, workspace_id, user_id, name, trigger_type, trigger_config, action_type, action_config,
  is_active, webhook_secret_sealed IS NOT NULL AS has_webhook_secret, created_at, updated_at
FROM user_automations
WHERE workspace_id = $1 AND user_id = $2
ORDER BY created_at, id;

-- name: update_automation
-- Writes every column the caller merged; the secret columns only when $9 says so.
UPDATE user_automations
SET
  name = $3,
  trigger_type = $4,
  trigger_config = $5,
  action_type = $6,
  action_config = $7,
  is_active = $8,
  webhook_secret_sealed = CASE WHEN $9 THEN $10 ELSE webhook_secret_sealed END,
  webhook_secret_key_id = CASE WHEN $9 THEN $11 ELSE webhook_secret_key_id END,
  updated_at = NOW()
WHERE workspace_id = $1 AND id = $2
RETURNING
  id, workspace_id, user_id, name, trigger_type, trigger_config, action_type, action_config,
  is_active, webhook_secret_sealed IS NOT NULL AS has_webhook_secret, created_at, updated_at;

-- name: delete_automation
DELETE FROM user_automations
WHERE workspace_id = $1 AND id = $2
RETURNING id;

-- name: get_webhook_secret
-- The sealed secret of one automation (its delivery opens it).
SELECT webhook_secret_sealed, webhook_secret_key_id
FROM user_automations
WHERE workspace_id = $1 AND id = $2;

-- name: lock_webhook_secrets_not_under_key
-- Every sealed webhook secret not sealed with key $1, locked for re-sealing.
SELECT id, webhook_secret_sealed, webhook_secret_key_id
FROM user_automations
WHERE webhook_secret_sealed IS NOT NULL AND webhook_secret_key_id <> $1
ORDER BY id
FOR UPDATE;

-- name: update_webhook_secret
UPDATE user_automations
SET webhook_secret_sealed = $2, webhook_secret_key_id = $3
WHERE id = $1;
