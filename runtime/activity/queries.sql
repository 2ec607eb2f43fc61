-- name: insert_activity
INSERT INTO activity_logs (
  workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id, details
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at;

-- name: get_activity
SELECT
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at
FROM activity_logs
WHERE id = $1;

-- name: get_activity_for_run
SELECT
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at
FROM activity_logs
WHERE agent_run_id = $1;

-- name: list_activity_for_meeting
SELECT
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at
FROM activity_logs
WHERE meeting_id = $1
ORDER BY created_at, id;

-- name: list_recent_activity
-- Newest first; $2 filters by status when not null.
SELECT
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at
FROM activity_logs
WHERE workspace_id = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY created_at DESC, id DESC
LIMIT $3;

-- name: settle_written_activities
-- Pending activities among $2 whose proposals are all final: 'failed' when a field failed
-- (the message lists each failed field with the CRM's message), else 'success'.
WITH settled AS (
  SELECT
    a.id,
    bool_or(p.status = 'failed') AS any_failed,
    string_agg(
      p.field || ': ' || COALESCE(p.error_message, 'refused'), '; ' ORDER BY p.field
    ) FILTER (WHERE p.status = 'failed') AS failures
  FROM activity_logs a
  JOIN proposals p ON p.activity_log_id = a.id
  WHERE a.workspace_id = $1 AND a.id = ANY($2::uuid[]) AND a.status = 'pending'
  GROUP BY a.id
  HAVING bool_and(p.status NOT IN ('pending', 'queued'))
)
UPDATE activity_logs a
SET status = CASE WHEN s.any_failed THEN 'failed' ELSE 'success' END,
    error_message = CASE
      WHEN s.any_failed THEN 'the CRM refused ' || s.failures
      ELSE a.error_message
    END,
    updated_at = $3
FROM settled s
WHERE a.id = s.id
RETURNING a.id, a.status;

-- name: set_created_records
-- Activities whose proposed create now exists in the CRM get its id.
UPDATE activity_logs a
SET crm_record_id = x.record_id, updated_at = $3
FROM unnest($2::uuid[], $4::text[]) AS x(id, record_id)
WHERE a.workspace_id = $1 AND a.id = x.id AND a.crm_record_id IS NULL
RETURNING a.id;
