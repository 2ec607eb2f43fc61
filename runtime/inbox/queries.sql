-- name: insert_inbox_item
INSERT INTO inbox_items (
  workspace_id, user_id, activity_log_id, item_type, title, description, context, confidence
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at;

-- name: get_inbox_item
SELECT
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
FROM inbox_items
WHERE id = $1;

-- name: list_inbox_items_for_activity
SELECT
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
FROM inbox_items
WHERE activity_log_id = $1
ORDER BY created_at, id;

-- name: list_pending_inbox_items
SELECT
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
FROM inbox_items
WHERE workspace_id = $1 AND user_id = $2 AND status = 'pending'
ORDER BY created_at DESC, id;

-- name: insert_proposals
-- Every proposal of one activity in one statement (arrays of equal length, one per column).
-- Evidence travels as JSON text: a jsonb[] parameter would read a list of lists as 2-D.
INSERT INTO proposals (
  workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, confidence, route, status, reason, evidence
)
SELECT $1, $2, p.inbox_item_id, $3, $4, p.field, p.before_value, p.proposed_value,
       p.confidence, p.route, p.status, p.reason, p.evidence::jsonb
FROM unnest(
  $5::uuid[], $6::text[], $7::text[], $8::text[], $9::numeric[], $10::text[], $11::text[],
  $12::text[], $13::text[]
) AS p(
  inbox_item_id, field, before_value, proposed_value, confidence, route, status, reason,
  evidence
)
RETURNING
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at;

-- name: list_proposals_for_activity
SELECT
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at
FROM proposals
WHERE activity_log_id = $1
ORDER BY field;

-- name: list_workspace_inbox_items
-- Newest first; $2 filters by recipient and $3 by status when not null.
SELECT
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
FROM inbox_items
WHERE workspace_id = $1 AND ($2::uuid IS NULL OR user_id = $2) AND ($3::text IS NULL OR status = $3)
ORDER BY created_at DESC, id DESC
LIMIT $4;
