-- bench.tenancy's own SQL: many workspaces at once, what their rows weigh, and who is
-- connected. bench/tenants.py is the only module that runs it.

-- name: database_bytes
-- Every table of the schema with its indexes and TOAST: what the disk holds.
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm');

-- name: workspace_row_bytes
-- The rows that make the workspaces $1 exist (the workspace, its CRM connection, its agent
-- configs and members, its audit entries), as stored: pg_column_size of each whole row.
SELECT
  (SELECT coalesce(sum(pg_column_size(w.*)), 0) FROM workspaces w WHERE w.id = ANY($1))
  + (SELECT coalesce(sum(pg_column_size(c.*)), 0)
     FROM crm_connections c WHERE c.workspace_id = ANY($1))
  + (SELECT coalesce(sum(pg_column_size(a.*)), 0)
     FROM agent_configs a WHERE a.workspace_id = ANY($1))
  + (SELECT coalesce(sum(pg_column_size(m.*)), 0)
     FROM workspace_members m WHERE m.workspace_id = ANY($1))
  + (SELECT coalesce(sum(pg_column_size(l.*)), 0)
     FROM audit_log l WHERE l.workspace_id = ANY($1)) AS bytes;

-- name: outbox_statuses
-- Outbox rows of every workspace, by status.
SELECT status, count(*) AS n FROM write_outbox GROUP BY status;

-- name: flushed_workspaces
-- Of the workspaces $1, those whose every outbox row is done.
SELECT workspace_id
FROM write_outbox
WHERE workspace_id = ANY($1)
GROUP BY workspace_id
HAVING bool_and(status = 'done');

-- name: backend_pids
-- Server processes of this database's connections made under application name $1.
SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1;

-- name: max_connections
SELECT current_setting('max_connections')::int;
