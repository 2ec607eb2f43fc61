-- name: insert_user
INSERT INTO users (email, name)
VALUES ($1, $2)
RETURNING id, email, name, created_at;

-- name: insert_user_if_absent
INSERT INTO users (email, name)
VALUES ($1, $2)
ON CONFLICT ((lower(email))) DO NOTHING
RETURNING id, email, name, created_at;

-- name: get_user
SELECT id, email, name, created_at
FROM users
WHERE id = $1;

-- name: get_user_by_email
SELECT id, email, name, created_at
FROM users
WHERE lower(email) = lower($1);

-- name: insert_membership_if_absent
INSERT INTO workspace_members (workspace_id, user_id, role)
VALUES ($1, $2, $3)
ON CONFLICT ON CONSTRAINT workspace_members_pkey DO NOTHING
RETURNING workspace_id, user_id, role, created_at;

-- name: get_membership
SELECT workspace_id, user_id, role, created_at
FROM workspace_members
WHERE workspace_id = $1 AND user_id = $2;

-- name: list_members
SELECT m.workspace_id, m.role, u.id, u.email, u.name, u.created_at
FROM workspace_members m
JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1
ORDER BY lower(u.email);

-- name: get_users
-- Several users by id (the API's DataLoader); unknown ids are absent.
SELECT id, email, name, created_at
FROM users
WHERE id = ANY($1::uuid[]);
