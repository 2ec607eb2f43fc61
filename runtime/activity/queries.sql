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
