-- name: insert_audit_entries
-- One statement for any number of rows: each array holds one column.
INSERT INTO audit_log (
  workspace_id, actor_user_id, action, target_type, target_id, details, created_at
)
SELECT *
FROM unnest(
  $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[]
);

-- name: list_audit_entries
-- Newest first; a cursor ($3 created_at, $4 id) continues strictly after the row it names.
-- "created_at <= $3" comes first so the (workspace_id, created_at DESC) index bounds the scan.
SELECT id, workspace_id, actor_user_id, action, target_type, target_id, details, created_at
FROM audit_log
WHERE workspace_id = $1
  AND ($2::text IS NULL OR action = $2)
  AND ($3::timestamptz IS NULL OR (created_at <= $3 AND (created_at < $3 OR id < $4::uuid)))
ORDER BY created_at DESC, id DESC
LIMIT $5;

-- name: crm_calls_since
-- The CRM calls a workspace made since $2 (AuditedCrm notes each call that reached the CRM,
-- at the moment it was sent), oldest first: a reactivated budget's recent window.
SELECT created_at, action
FROM audit_log
WHERE workspace_id = $1 AND created_at > $2 AND action LIKE 'crm.%'
ORDER BY created_at
LIMIT $3;

-- name: count_crm_calls_since
SELECT count(*) AS calls
FROM audit_log
WHERE workspace_id = $1 AND created_at > $2 AND action LIKE 'crm.%';

-- name: page_audit_entries
-- One page of the API's audit log, newest first. runtime.db.keyset fills in the
-- conditions (each filter given, the cursor) and the limit; migration 0016 has an index
-- for the action, actor and target filters, each ending in (created_at, id).
SELECT id, workspace_id, actor_user_id, action, target_type, target_id, details, created_at
FROM audit_log
WHERE workspace_id = $1{conditions}
ORDER BY created_at DESC, id DESC
LIMIT {limit};

-- name: count_audit_entries
-- How many entries page_audit_entries lists over all pages (the same conditions).
SELECT count(*)
FROM audit_log
WHERE workspace_id = $1{conditions};
