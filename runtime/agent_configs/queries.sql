-- Every query returns the columns of StoredAgentConfig, in this order.

-- name: insert_agent_config
INSERT INTO agent_configs (
  workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description
)
VALUES ($1, $2, $3, $4, $5, $6, 'draft', false, NULL, $7)
RETURNING
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at;

-- name: materialise_templates
-- $3: a JSON array of {template_key, name, crm_type, call_type, config, description}.
INSERT INTO agent_configs (
  workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description
)
SELECT $1, $2, t.name, t.crm_type, t.call_type, t.config, 'draft', true, t.template_key,
       t.description
FROM jsonb_to_recordset($3::jsonb) AS t(
  template_key TEXT, name TEXT, crm_type TEXT, call_type TEXT, config JSONB, description TEXT
)
ON CONFLICT (workspace_id, template_key) WHERE is_template DO NOTHING
RETURNING
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at;

-- name: get_agent_config
-- $1: the workspace, or NULL for any workspace.
SELECT
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at
FROM agent_configs
WHERE id = $2 AND ($1::uuid IS NULL OR workspace_id = $1);

-- name: get_template
SELECT
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at
FROM agent_configs
WHERE workspace_id = $1 AND is_template AND template_key = $2;

-- name: list_agent_configs
-- $2: include template rows; $3: only this status, or NULL for every status (NULL = draft).
SELECT
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at
FROM agent_configs
WHERE workspace_id = $1
  AND ($2 OR is_template IS NOT TRUE)
  AND ($3::text IS NULL OR COALESCE(status, 'draft') = $3)
ORDER BY is_template IS TRUE, created_at, name, id;

-- name: update_agent_config
-- $3 name, $4 config, $5 crm_type, $6 primary call type, $7 description: NULL keeps the
-- stored value (a blank description removes it). A new config keeps the primary call type
-- while the config still runs on it, else takes $6.
UPDATE agent_configs
SET
  name = COALESCE($3, name),
  description = CASE WHEN $7::text IS NULL THEN description ELSE NULLIF(btrim($7), '') END,
  config = COALESCE($4::jsonb, config),
  crm_type = COALESCE($5, crm_type),
  call_type = CASE
    WHEN $4::jsonb IS NULL THEN call_type
    WHEN $4::jsonb -> 'call_types' ? call_type THEN call_type
    ELSE $6
  END,
  updated_at = NOW()
WHERE id = $2 AND ($1::uuid IS NULL OR workspace_id = $1)
RETURNING
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at;

-- name: set_agent_status
-- Conditional: only a non-template row whose status (NULL = draft) is one of $4 changes.
UPDATE agent_configs
SET status = $3, updated_at = NOW()
WHERE id = $2
  AND ($1::uuid IS NULL OR workspace_id = $1)
  AND is_template IS NOT TRUE
  AND COALESCE(status, 'draft') = ANY($4::text[])
RETURNING
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at;

-- name: active_for_call_type
-- $2 is lower-cased like the config's call types; `?` tests membership of a JSON array.
SELECT
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at
FROM agent_configs
WHERE workspace_id = $1
  AND status = 'active'
  AND is_template IS NOT TRUE
  AND config -> 'call_types' ? $2
ORDER BY created_at, id;

-- name: get_agent_configs
-- Several agent configs of one workspace by id (the API's DataLoader).
SELECT
  id, workspace_id, created_by, name, crm_type, call_type, config, status, is_template,
  template_key, description, created_at, updated_at
FROM agent_configs
WHERE workspace_id = $1 AND id = ANY($2::uuid[]);
