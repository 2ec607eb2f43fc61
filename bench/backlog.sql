-- The benchmark's own SQL: a backlog queued in bulk, and what the drain left behind.
-- The rows are those the run executor writes for a run whose fields all auto-apply
-- (runtime/runs/executor.py): a pending 'update' activity per meeting, one 'queued'
-- 'auto_apply' proposal per field; the outbox rows go through OutboxRepo.enqueue.

-- name: insert_activities
-- One pending update activity per deal ($2 record ids, $3 fields_updated as JSON text).
INSERT INTO activity_logs (
  workspace_id, crm_record_id, crm_record_type, action_type, fields_updated,
  overall_confidence, status, details
)
SELECT $1, a.record_id, 'deal', 'update', a.fields_updated::jsonb, 0.95, 'pending',
       '{"source": "bench.budget"}'::jsonb
FROM unnest($2::text[], $3::text[]) AS a(record_id, fields_updated)
RETURNING id, crm_record_id;

-- name: insert_proposals
-- One queued auto-apply proposal per field: $2 activity ids, $3 record ids, $4 fields,
-- $5 values before, $6 proposed values.
INSERT INTO proposals (
  workspace_id, activity_log_id, crm_record_type, crm_record_id, field, before_value,
  proposed_value, confidence, route, status, reason, evidence
)
SELECT $1, p.activity_log_id, 'deal', p.record_id, p.field, p.before_value,
       p.proposed_value, 0.95, 'auto_apply', 'queued', 'benchmark backlog', '[]'::jsonb
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
  AS p(activity_log_id, record_id, field, before_value, proposed_value)
RETURNING
  id, workspace_id, activity_log_id, inbox_item_id, crm_record_type, crm_record_id, field,
  before_value, proposed_value, approved_value, written_value, confidence, route, status,
  reason, evidence, error_message, decided_by, decided_at, created_at, updated_at;

-- name: outbox_statuses
SELECT status, count(*) AS n
FROM write_outbox
WHERE workspace_id = $1
GROUP BY status;

-- name: last_done_at
SELECT max(done_at) FROM write_outbox WHERE workspace_id = $1;

-- name: proposal_outcomes
-- Proposals by status, and how many written ones hold a value other than the proposed one.
SELECT
  count(*) FILTER (WHERE status = 'written') AS written,
  count(*) FILTER (WHERE status <> 'written') AS not_written,
  count(*) FILTER (
    WHERE status = 'written' AND written_value IS DISTINCT FROM proposed_value
  ) AS written_otherwise
FROM proposals
WHERE workspace_id = $1;

-- name: activity_statuses
SELECT status, count(*) AS n
FROM activity_logs
WHERE workspace_id = $1
GROUP BY status;

-- name: audited_updates
-- The writer's audit entries of batch updates, by outcome and error class.
SELECT details ->> 'outcome' AS outcome, details ->> 'error' AS error, count(*) AS n
FROM audit_log
WHERE workspace_id = $1 AND action = 'crm.update'
GROUP BY 1, 2;

-- name: analyze_backlog
-- Statistics for the tables the bulk insert filled: a table that grew over time has them
-- (autovacuum), one filled in a single statement has none until autovacuum's next round.
ANALYZE write_outbox, proposals, activity_logs;
