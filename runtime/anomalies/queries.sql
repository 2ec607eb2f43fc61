-- Every query returns the columns of Anomaly, in this order. A NULL status reads as
-- 'active' and a NULL severity as 'warning' (the seed's defaults).

-- name: insert_anomaly
INSERT INTO anomalies (workspace_id, anomaly_type, severity, title, description, data)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING
  id, workspace_id, anomaly_type, severity, title, description, data, status,
  acknowledged_by, acknowledged_at, resolved_by, resolved_at, created_at;

-- name: get_anomaly
SELECT
  id, workspace_id, anomaly_type, severity, title, description, data, status,
  acknowledged_by, acknowledged_at, resolved_by, resolved_at, created_at
FROM anomalies
WHERE workspace_id = $1 AND id = $2;

-- name: list_anomalies
-- Newest first; $2 keeps one status when not null; at most $3 rows.
SELECT
  id, workspace_id, anomaly_type, severity, title, description, data, status,
  acknowledged_by, acknowledged_at, resolved_by, resolved_at, created_at
FROM anomalies
WHERE workspace_id = $1 AND ($2::text IS NULL OR COALESCE(status, 'active') = $2)
ORDER BY created_at DESC, id DESC
LIMIT $3;

-- name: acknowledge_anomaly
-- Conditional: only an active anomaly is acknowledged, so the second of two clicks changes
-- nothing (and returns no row).
UPDATE anomalies
SET status = 'acknowledged', acknowledged_by = $3, acknowledged_at = $4
WHERE workspace_id = $1 AND id = $2 AND COALESCE(status, 'active') = 'active'
RETURNING
  id, workspace_id, anomaly_type, severity, title, description, data, status,
  acknowledged_by, acknowledged_at, resolved_by, resolved_at, created_at;

-- name: resolve_anomaly
-- Conditional: an active or acknowledged anomaly is resolved once.
UPDATE anomalies
SET status = 'resolved', resolved_by = $3, resolved_at = $4
WHERE workspace_id = $1 AND id = $2
  AND COALESCE(status, 'active') IN ('active', 'acknowledged')
RETURNING
  id, workspace_id, anomaly_type, severity, title, description, data, status,
  acknowledged_by, acknowledged_at, resolved_by, resolved_at, created_at;
