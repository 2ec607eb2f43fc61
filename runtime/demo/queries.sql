-- name: lock_demo_seeding
-- Two demos starting on one database at once seed one workspace, not two.
SELECT pg_advisory_xact_lock(hashtextextended('crm-agents demo seeding', 0));

-- name: find_demo_workspace
-- The demo's workspace from an earlier run: this name, with this email as an admin.
SELECT w.id, w.name, w.created_at, w.updated_at
FROM workspaces w
JOIN workspace_members m ON m.workspace_id = w.id AND m.role = 'admin'
JOIN users u ON u.id = m.user_id
WHERE w.name = $1 AND lower(u.email) = lower($2)
ORDER BY w.created_at, w.id
LIMIT 1;
