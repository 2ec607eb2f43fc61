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
