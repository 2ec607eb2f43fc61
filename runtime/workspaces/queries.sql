-- name: insert_workspace
INSERT INTO workspaces (name)
VALUES ($1)
RETURNING id, name, created_at, updated_at;

-- name: get_workspace
SELECT id, name, created_at, updated_at
FROM workspaces
WHERE id = $1;

-- name: list_workspaces
SELECT id, name, created_at, updated_at
FROM workspaces
ORDER BY created_at, id;
