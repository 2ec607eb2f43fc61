-- name: insert_outbox_rows
INSERT INTO write_outbox (
  workspace_id, proposal_id, operation, crm_record_type, crm_record_id, property, value
)
SELECT $1, o.proposal_id, o.operation, o.crm_record_type, o.crm_record_id, o.property, o.value
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
  AS o(proposal_id, operation, crm_record_type, crm_record_id, property, value)
RETURNING id;

-- name: list_unsent
SELECT
  id, workspace_id, proposal_id, operation, crm_record_type, crm_record_id, property, value,
  status, attempts, batch_id, error_message, created_at, sent_at, done_at
FROM write_outbox
WHERE workspace_id = $1 AND status IN ('pending', 'in_flight')
ORDER BY id
LIMIT $2;

-- name: list_writable
-- The writer's next rows: pending, oldest first, except the rows of a record that has a row
-- in flight (for a create: of an activity whose create is in flight), so that one record
-- is never in two requests at once and its writes keep their order.
SELECT
  o.id, o.workspace_id, o.proposal_id, o.operation, o.crm_record_type, o.crm_record_id,
  o.property, o.value, o.status, o.attempts, o.batch_id, o.error_message, o.created_at,
  o.sent_at, o.done_at
FROM write_outbox o
WHERE o.workspace_id = $1 AND o.status = 'pending'
  AND NOT EXISTS (
    SELECT 1 FROM write_outbox f
    WHERE f.workspace_id = $1 AND f.status = 'in_flight'
      AND f.crm_record_type = o.crm_record_type AND f.crm_record_id = o.crm_record_id
  )
  AND NOT (o.operation = 'create' AND EXISTS (
    SELECT 1
    FROM write_outbox f
    JOIN proposals fp ON fp.id = f.proposal_id
    JOIN proposals op ON op.id = o.proposal_id
    WHERE f.workspace_id = $1 AND f.status = 'in_flight' AND f.operation = 'create'
      AND fp.activity_log_id = op.activity_log_id
  ))
ORDER BY o.id
LIMIT $2;

-- name: list_in_flight
-- Rows left in flight: all of the workspace's ($2 null, after a crash) or those of the
-- batches $2 (requests this writer saw end without a clear answer).
SELECT
  id, workspace_id, proposal_id, operation, crm_record_type, crm_record_id, property, value,
  status, attempts, batch_id, error_message, created_at, sent_at, done_at
FROM write_outbox
WHERE workspace_id = $1 AND status = 'in_flight'
  AND ($2::uuid[] IS NULL OR batch_id = ANY($2::uuid[]))
ORDER BY id;

-- name: lock_workspace_claims
-- Claims of one workspace's rows take turns (until the transaction ends), so the in-flight
-- check of claim_rows cannot race another claim.
SELECT pg_advisory_xact_lock(hashtextextended('crm_agents.write_outbox:' || $1::uuid::text, 0));

-- name: claim_rows
-- Pending rows $4 become batch $2's, sent at $3, one more attempt; a row is skipped when
-- another writer took it, or its record has a row in flight in another batch.
UPDATE write_outbox o
SET status = 'in_flight', batch_id = $2, sent_at = $3, attempts = o.attempts + 1,
    error_message = NULL
WHERE o.workspace_id = $1 AND o.id = ANY($4::bigint[]) AND o.status = 'pending'
  AND NOT EXISTS (
    SELECT 1 FROM write_outbox f
    WHERE f.workspace_id = $1 AND f.status = 'in_flight' AND f.batch_id IS DISTINCT FROM $2
      AND f.crm_record_type = o.crm_record_type AND f.crm_record_id = o.crm_record_id
  )
RETURNING o.id;

-- name: mark_rows_done
-- In-flight rows the CRM confirmed; a create's rows get the new record's id ($4, or null).
UPDATE write_outbox o
SET status = 'done', done_at = $3, error_message = NULL,
    crm_record_id = COALESCE(x.record_id, o.crm_record_id)
FROM unnest($2::bigint[], $4::text[]) AS x(id, record_id)
WHERE o.workspace_id = $1 AND o.id = x.id AND o.status = 'in_flight'
RETURNING o.id;

-- name: mark_rows_failed
-- In-flight rows the CRM refused, each with its message.
UPDATE write_outbox o
SET status = 'failed', done_at = $3, error_message = x.message
FROM unnest($2::bigint[], $4::text[]) AS x(id, message)
WHERE o.workspace_id = $1 AND o.id = x.id AND o.status = 'in_flight'
RETURNING o.id;

-- name: release_rows
-- In-flight rows that were not carried out go back to the queue (attempts are kept).
UPDATE write_outbox
SET status = 'pending', batch_id = NULL
WHERE workspace_id = $1 AND id = ANY($2::bigint[]) AND status = 'in_flight'
RETURNING id;

-- name: cancel_rows
-- Pending rows that will not be sent, each with the reason.
UPDATE write_outbox o
SET status = 'cancelled', done_at = $3, error_message = x.message
FROM unnest($2::bigint[], $4::text[]) AS x(id, message)
WHERE o.workspace_id = $1 AND o.id = x.id AND o.status = 'pending'
RETURNING o.id;

-- name: pending_summary
-- How much waits to be sent, and since when (a partial batch waits at most a short while).
SELECT count(*) AS count, min(created_at) AS oldest
FROM write_outbox
WHERE workspace_id = $1 AND status = 'pending';

-- name: workspaces_with_unsent
SELECT DISTINCT workspace_id
FROM write_outbox
WHERE status IN ('pending', 'in_flight');
