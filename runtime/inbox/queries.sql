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

-- name: get_inbox_items
-- Several items of one workspace by id (the API's DataLoader); unknown ids are absent.
SELECT
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
FROM inbox_items
WHERE workspace_id = $1 AND id = ANY($2::uuid[]);

-- name: page_inbox_items
-- One page of a user's items, newest first. runtime.db.keyset fills in the conditions
-- (the status, the cursor) and the limit; migration 0016's (workspace_id, user_id
-- [, status], created_at, id) indexes, read backward, hold exactly the page's rows. A row without created_at
-- (none is written so; the column allows it) has no place in the order and is not listed.
SELECT
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
FROM inbox_items
WHERE workspace_id = $1 AND user_id = $2 AND created_at IS NOT NULL{conditions}
ORDER BY created_at DESC, id DESC
LIMIT {limit};

-- name: count_inbox_items
-- How many items page_inbox_items lists over all pages (the same conditions, no cursor).
SELECT count(*)
FROM inbox_items
WHERE workspace_id = $1 AND user_id = $2 AND created_at IS NOT NULL{conditions};

-- name: count_pending_inbox_items
-- A user's pending items: an index-only count of one range of migration 0016's
-- idx_inbox_items_workspace_user_status.
SELECT count(*)
FROM inbox_items
WHERE workspace_id = $1 AND user_id = $2 AND status = 'pending';

-- name: list_proposals_for_items
-- The proposals each of several items holds (the API's DataLoader), by item then field.
SELECT
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at
FROM proposals
WHERE workspace_id = $1 AND inbox_item_id = ANY($2::uuid[])
ORDER BY inbox_item_id, field;

-- name: list_proposals_for_activities
-- Every proposal of several activities (the API's DataLoader), by activity then field.
SELECT
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at
FROM proposals
WHERE workspace_id = $1 AND activity_log_id = ANY($2::uuid[])
ORDER BY activity_log_id, field;

-- Decisions (runtime.inbox.decisions) --------------------------------------------------

-- name: lock_inbox_item_for_decision
-- The item a decision is about, locked until the deciding transaction ends: a racing
-- decision or expiry waits, then reads the item as that one left it. With the email of
-- whoever resolved it (a conflict says who decided first): a subquery, not a join, because
-- a row re-read after waiting for its lock keeps the joined rows of before the wait.
SELECT
  i.id, i.workspace_id, i.user_id, i.activity_log_id, i.item_type, i.title, i.description,
  i.context, i.confidence, i.status, i.resolved_at, i.resolved_by, i.created_at,
  i.resolution_reason,
  (SELECT u.email FROM users u WHERE u.id = i.resolved_by) AS resolved_by_email
FROM inbox_items i
WHERE i.workspace_id = $1 AND i.id = $2
FOR UPDATE;

-- name: lock_pending_proposals_of_item
-- The item's proposals still waiting for a human, locked with it: what the decision covers.
SELECT
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at
FROM proposals
WHERE workspace_id = $1 AND inbox_item_id = $2 AND status = 'pending'
ORDER BY field
FOR UPDATE;

-- name: resolve_inbox_item
-- A decision on a pending item, exactly once (ARCHITECTURE "Durability rules"): an item
-- decided, expired or superseded meanwhile is left as it is and no row comes back.
UPDATE inbox_items
SET status = $3, resolved_by = $4, resolved_at = $5, resolution_reason = $6,
    decided_snapshot = $7
WHERE workspace_id = $1 AND id = $2 AND status = 'pending'
RETURNING
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at;

-- name: decide_proposals
-- Each pending proposal of $2 gets its own decision: status $3 ('queued' to be written with
-- the approved value $4, or 'rejected'), by $5 at $6. One already decided is left alone.
UPDATE proposals p
SET status = d.status, approved_value = d.approved_value, decided_by = $5, decided_at = $6,
    updated_at = $6
FROM unnest($2::uuid[], $3::text[], $4::text[]) AS d(id, status, approved_value)
WHERE p.workspace_id = $1 AND p.id = d.id AND p.status = 'pending'
RETURNING
  p.id, p.workspace_id, p.activity_log_id, p.inbox_item_id, p.crm_record_type,
  p.crm_record_id, p.field, p.before_value, p.proposed_value, p.approved_value,
  p.written_value, p.confidence, p.route, p.status, p.reason, p.evidence, p.error_message,
  p.decided_by, p.decided_at, p.created_at, p.updated_at;

-- name: insert_inbox_items
-- Several items in one statement (arrays of equal length, one per column), inserted in the
-- arrays' order; context travels as JSON text. Callers match the rows that come back by
-- activity_log_id (one item per activity), not by their order.
INSERT INTO inbox_items (
  workspace_id, user_id, activity_log_id, item_type, title, description, context, confidence
)
SELECT i.workspace_id, i.user_id, i.activity_log_id, i.item_type, i.title, i.description,
       i.context::jsonb, i.confidence
FROM unnest(
  $1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
  $8::numeric[]
) WITH ORDINALITY AS i(
  workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, position
)
ORDER BY i.position
RETURNING
  id, workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at;

-- name: insert_proposals_of_activities
-- The proposals of several activities in one statement: insert_proposals with every column
-- an array, inserted in the arrays' order. Callers match the rows that come back by
-- (activity_log_id, field) (unique), not by their order. has_pending_rival: see below.
INSERT INTO proposals (
  workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, confidence, route, status, reason, evidence
)
SELECT p.workspace_id, p.activity_log_id, p.inbox_item_id, p.crm_record_type,
       p.crm_record_id, p.field, p.before_value, p.proposed_value, p.confidence, p.route,
       p.status, p.reason, p.evidence::jsonb
FROM unnest(
  $1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
  $8::text[], $9::numeric[], $10::text[], $11::text[], $12::text[], $13::text[]
) WITH ORDINALITY AS p(
  workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, confidence, route, status, reason, evidence, position
)
ORDER BY p.position
RETURNING
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at,
  -- For supersession (lock_items_of_superseded_proposals): when the new proposal's meeting
  -- started, and whether an earlier proposal for the same record and field from a meeting
  -- that started at another time is pending; only then may one supersede the other. Reads
  -- the activities inserted before this statement and an index range of
  -- idx_proposals_pending_field.
  (
    SELECT m.started_at FROM activity_logs a JOIN meetings m ON m.id = a.meeting_id
    WHERE a.id = proposals.activity_log_id
  ) AS meeting_started_at,
  EXISTS (
    SELECT 1
    FROM proposals o
    JOIN activity_logs oa ON oa.id = o.activity_log_id
    JOIN meetings om ON om.id = oa.meeting_id
    JOIN activity_logs na ON na.id = proposals.activity_log_id
    JOIN meetings nm ON nm.id = na.meeting_id
    WHERE o.workspace_id = proposals.workspace_id AND o.crm_record_id = proposals.crm_record_id
      AND o.field = proposals.field AND o.status = 'pending'
      AND o.crm_record_type = proposals.crm_record_type AND om.started_at <> nm.started_at
  ) AS has_pending_rival;

-- Supersession (runtime.runs.executor records a run's proposals) ---------------------------

-- name: lock_items_of_superseded_proposals
-- The pending proposals that the new proposals $1 (just inserted) make stale, with their
-- items locked in id order (decisions and the expiry sweeper lock an item before its
-- proposals too, so nobody waits on anybody in a circle). A proposal is stale when a
-- proposal for the same workspace, record and field comes from a meeting that started
-- later, and one of the two is new: an older pending proposal gives way to a new one, and a
-- new one from a meeting that arrived late gives way to a newer one still pending. Creates
-- (no record id yet) and activities without a meeting are never compared.
WITH rivals AS (
  SELECT p.id, p.inbox_item_id, p.workspace_id, p.crm_record_type, p.crm_record_id, p.field,
         p.status, m.started_at, p.id = ANY($1::uuid[]) AS is_new
  FROM (
    SELECT DISTINCT workspace_id, crm_record_type, crm_record_id, field
    FROM proposals
    WHERE id = ANY($1::uuid[]) AND crm_record_id IS NOT NULL
  ) k
  JOIN proposals p
    ON p.workspace_id = k.workspace_id AND p.crm_record_id = k.crm_record_id
   AND p.field = k.field AND p.crm_record_type = k.crm_record_type
  JOIN activity_logs a ON a.id = p.activity_log_id
  JOIN meetings m ON m.id = a.meeting_id
  WHERE p.status = 'pending' OR p.id = ANY($1::uuid[])
),
stale AS (
  SELECT DISTINCT old.id, old.inbox_item_id
  FROM rivals old
  JOIN rivals newer
    ON newer.workspace_id = old.workspace_id AND newer.crm_record_type = old.crm_record_type
   AND newer.crm_record_id = old.crm_record_id AND newer.field = old.field
   AND newer.started_at > old.started_at AND (old.is_new OR newer.is_new)
  WHERE old.status = 'pending'
)
SELECT s.id, s.inbox_item_id
FROM stale s
JOIN inbox_items i ON i.id = s.inbox_item_id
ORDER BY i.id
FOR UPDATE OF i;

-- name: supersede_pending_proposals
-- The stale proposals $1 become 'superseded' if still pending (a decision that committed
-- first wins), and each of their items left with no pending proposal becomes 'superseded'
-- too (resolved at $2, by nobody). The item's check excludes the proposals superseded here:
-- a statement's parts all read the rows as they were before it. The activities of the
-- proposals superseded come back, for the caller to settle.
WITH superseded AS (
  UPDATE proposals
  SET status = 'superseded', updated_at = $2
  WHERE id = ANY($1::uuid[]) AND status = 'pending'
  RETURNING id, inbox_item_id, activity_log_id, workspace_id
),
items AS (
  UPDATE inbox_items i
  SET status = 'superseded', resolved_at = $2, resolved_by = NULL
  WHERE i.id IN (SELECT inbox_item_id FROM superseded) AND i.status = 'pending'
    AND NOT EXISTS (
      SELECT 1 FROM proposals p
      WHERE p.inbox_item_id = i.id AND p.status = 'pending'
        AND p.id NOT IN (SELECT id FROM superseded)
    )
  RETURNING i.id
)
-- (``items`` runs though nothing reads it: a data-modifying WITH always runs.)
SELECT DISTINCT s.workspace_id, s.activity_log_id
FROM superseded s;

-- Expiry (runtime.inbox.expiry) -------------------------------------------------------------

-- name: list_agents_with_pending_items
-- The agents (id, raw config) with at least one pending inbox item: whose expiry policies
-- the sweeper applies.
SELECT ac.id, ac.config
FROM agent_configs ac
WHERE EXISTS (
  SELECT 1
  FROM activity_logs a
  JOIN inbox_items i ON i.activity_log_id = a.id
  WHERE a.agent_config_id = ac.id AND i.status = 'pending'
);

-- name: list_due_inbox_items
-- Up to $4 pending items of agent $1 created at or before $2 (the policy's deadline), oldest
-- first; with $3, only those never reminded.
SELECT i.workspace_id, i.id
FROM inbox_items i
JOIN activity_logs a ON a.id = i.activity_log_id
WHERE a.agent_config_id = $1 AND i.status = 'pending' AND i.created_at <= $2
  AND (NOT $3::boolean OR i.reminded_at IS NULL)
ORDER BY i.created_at, i.id
LIMIT $4;

-- name: mark_inbox_items_reminded
-- A reminder, once per item: items still pending and never reminded get reminded_at $2.
UPDATE inbox_items
SET reminded_at = $2
WHERE id = ANY($1::uuid[]) AND status = 'pending' AND reminded_at IS NULL
RETURNING id, workspace_id, user_id, activity_log_id;

-- name: reroute_proposals
-- A question's pending proposals once it is answered (runtime.inbox.answers): each takes
-- the picked deal and what routing now says of it (status 'pending' in the follow-up item,
-- 'queued' to be written, 'superseded' when the field is no longer proposed). One no longer
-- pending is left alone.
UPDATE proposals p
SET crm_record_id = r.crm_record_id, before_value = r.before_value,
    proposed_value = r.proposed_value, confidence = r.confidence, route = r.route,
    status = r.status, reason = r.reason, evidence = r.evidence::jsonb,
    inbox_item_id = r.inbox_item_id, updated_at = $12
FROM unnest(
  $2::uuid[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[], $8::text[],
  $9::text[], $10::text[], $11::uuid[]
) AS r(
  id, crm_record_id, before_value, proposed_value, confidence, route, status, reason,
  evidence, inbox_item_id
)
WHERE p.workspace_id = $1 AND p.id = r.id AND p.status = 'pending'
RETURNING
  p.id, p.workspace_id, p.activity_log_id, p.inbox_item_id, p.crm_record_type,
  p.crm_record_id, p.field, p.before_value, p.proposed_value, p.approved_value,
  p.written_value, p.confidence, p.route, p.status, p.reason, p.evidence, p.error_message,
  p.decided_by, p.decided_at, p.created_at, p.updated_at;
