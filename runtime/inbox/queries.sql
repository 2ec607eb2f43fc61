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

-- name: list_proposals_by_ids
SELECT
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at
FROM proposals
WHERE workspace_id = $1 AND id = ANY($2::uuid[]);

-- name: mark_proposals_written
-- Queued proposals the CRM accepted: the value it stored, and a created record's id ($5).
UPDATE proposals p
SET status = 'written', written_value = x.value, error_message = NULL, updated_at = $3,
    crm_record_id = COALESCE(x.record_id, p.crm_record_id)
FROM unnest($2::uuid[], $4::text[], $5::text[]) AS x(id, value, record_id)
WHERE p.workspace_id = $1 AND p.id = x.id AND p.status = 'queued'
RETURNING p.id;

-- name: mark_proposals_failed
UPDATE proposals p
SET status = 'failed', error_message = x.message, updated_at = $3
FROM unnest($2::uuid[], $4::text[]) AS x(id, message)
WHERE p.workspace_id = $1 AND p.id = x.id AND p.status = 'queued'
RETURNING p.id;

-- name: mark_proposals_superseded
-- Queued proposals whose write a newer proposal for the same record and field replaced.
UPDATE proposals
SET status = 'superseded', updated_at = $3
WHERE workspace_id = $1 AND id = ANY($2::uuid[]) AND status = 'queued'
RETURNING id;

-- name: return_proposals_to_review
-- Queued proposals a human must decide again: the decision is void, the reason says why,
-- and "before" becomes the CRM's current value (what a new approval is checked against).
UPDATE proposals p
SET status = 'pending', reason = x.reason, before_value = x.before_value,
    approved_value = NULL, decided_by = NULL, decided_at = NULL, error_message = NULL,
    updated_at = $3
FROM unnest($2::uuid[], $4::text[], $5::text[]) AS x(id, reason, before_value)
WHERE p.workspace_id = $1 AND p.id = x.id AND p.status = 'queued'
RETURNING p.id, p.inbox_item_id;

-- name: reopen_inbox_items
-- Items with a proposal back in review are pending again (their status change notifies).
UPDATE inbox_items
SET status = 'pending', resolved_at = NULL, resolved_by = NULL
WHERE workspace_id = $1 AND id = ANY($2::uuid[]) AND status IS DISTINCT FROM 'pending'
RETURNING id;

-- name: list_inbox_items_for_activities
SELECT
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
FROM inbox_items
WHERE workspace_id = $1 AND activity_log_id = ANY($2::uuid[])
ORDER BY created_at, id;
