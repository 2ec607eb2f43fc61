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

-- name: get_activities
-- Several activities of one workspace by id (the API's DataLoader); unknown ids are absent.
SELECT
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at
FROM activity_logs
WHERE workspace_id = $1 AND id = ANY($2::uuid[]);

-- name: page_activity
-- One page of a workspace's activity, newest first. runtime.db.keyset fills in the
-- conditions (each filter given, the cursor) and the limit. The page's ids are found
-- first, from one of migration 0016's indexes alone (each ends in created_at, id, read
-- backward, and carries every filtered column), so rows that fail a filter cost an index entry, not
-- a table row; then only the page's rows are read. A row without created_at (none is written so; the column
-- allows it) has no place in the order and is not listed.
WITH page AS MATERIALIZED (
  SELECT id, created_at
  FROM activity_logs
  WHERE workspace_id = $1 AND created_at IS NOT NULL{conditions}
  ORDER BY created_at DESC, id DESC
  LIMIT {limit}
)
SELECT
  a.id, a.workspace_id, a.agent_config_id, a.user_id, a.meeting_id, a.crm_record_id,
  a.crm_record_type, a.action_type, a.fields_updated, a.overall_confidence, a.status,
  a.error_message, a.agent_run_id, a.details, a.created_at, a.updated_at
FROM page
JOIN activity_logs a ON a.id = page.id
ORDER BY page.created_at DESC, page.id DESC;

-- name: count_activity
-- How many rows page_activity lists over all pages (the same conditions, no cursor).
SELECT count(*)
FROM activity_logs
WHERE workspace_id = $1 AND created_at IS NOT NULL{conditions};

-- name: recent_activity_for_agents
-- The newest $3 activities of each agent among $2 (the API's DataLoader: one statement for
-- a whole list of agents); each agent's rows are one range of
-- idx_activity_logs_agent_created_id, read newest first and cut at $3.
SELECT
  a.id, a.workspace_id, a.agent_config_id, a.user_id, a.meeting_id, a.crm_record_id,
  a.crm_record_type, a.action_type, a.fields_updated, a.overall_confidence, a.status,
  a.error_message, a.agent_run_id, a.details, a.created_at, a.updated_at
FROM unnest($2::uuid[]) AS agent(id)
CROSS JOIN LATERAL (
  SELECT *
  FROM activity_logs
  WHERE agent_config_id = agent.id AND workspace_id = $1 AND created_at IS NOT NULL
  ORDER BY created_at DESC, id DESC
  LIMIT $3
) AS a
ORDER BY a.agent_config_id, a.created_at DESC, a.id DESC;

-- name: outcomes_for_agents
-- Per agent among $2 (of workspace $1): its activities since $3 by final status. Pending
-- rows are not counted: they have no outcome yet. The agents are checked against the
-- workspace once, so each agent's rows are an index-only range of
-- idx_activity_logs_agent_created_id (which includes status).
SELECT
  a.agent_config_id,
  count(*) FILTER (WHERE a.status = 'success') AS succeeded,
  count(*) FILTER (WHERE a.status = 'failed') AS failed,
  count(*) FILTER (WHERE a.status = 'rejected') AS rejected
FROM activity_logs a
WHERE a.agent_config_id IN (
    SELECT id FROM agent_configs WHERE workspace_id = $1 AND id = ANY($2::uuid[])
  )
  AND a.created_at >= $3
  AND a.status IN ('success', 'failed', 'rejected')
GROUP BY a.agent_config_id;

-- name: insert_activities
-- Several activities in one statement (arrays of equal length, one per column), inserted in
-- the arrays' order; JSON values travel as text. Callers match the rows that come back to
-- what they inserted by agent_run_id (unique), not by their order.
INSERT INTO activity_logs (
  workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id, details
)
SELECT a.workspace_id, a.agent_config_id, a.user_id, a.meeting_id, a.crm_record_id,
       a.crm_record_type, a.action_type, a.fields_updated::jsonb, a.overall_confidence,
       a.status, a.error_message, a.agent_run_id, a.details::jsonb
FROM unnest(
  $1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
  $8::text[], $9::numeric[], $10::text[], $11::text[], $12::uuid[], $13::text[]
) WITH ORDINALITY AS a(
  workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, position
)
ORDER BY a.position
RETURNING
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at;

-- name: reject_unwritten_activities
-- Pending activities among $2 none of whose proposals was, is being or may still be written
-- (all rejected, superseded or expired) end 'rejected'; their status change notifies. Mixed
-- outcomes (a field written, another rejected) are settle_written_activities'.
UPDATE activity_logs a
SET status = 'rejected', updated_at = $3
WHERE a.workspace_id = $1 AND a.id = ANY($2::uuid[]) AND a.status = 'pending'
  AND NOT EXISTS (
    SELECT 1 FROM proposals p
    WHERE p.activity_log_id = a.id AND p.status IN ('pending', 'queued', 'written', 'failed')
  )
RETURNING a.id;

-- name: reroute_activity
-- A question's activity once it is answered (runtime.inbox.answers): the deal the person
-- picked and what the agent now proposes for it. Only while the activity waits (pending).
UPDATE activity_logs
SET crm_record_id = $3, crm_record_type = $4, action_type = $5, fields_updated = $6,
    overall_confidence = $7, details = COALESCE(details, '{}'::jsonb) || $8, updated_at = $9
WHERE workspace_id = $1 AND id = $2 AND status = 'pending'
RETURNING
  id, workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, agent_run_id,
  details, created_at, updated_at;
