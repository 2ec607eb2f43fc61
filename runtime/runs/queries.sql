-- name: insert_runs_for_meeting
-- One pending run per active agent of the workspace whose call types include the meeting's
-- (call types are stored lower-cased in the config); a run that exists is left alone.
INSERT INTO agent_runs (workspace_id, agent_config_id, meeting_id)
SELECT a.workspace_id, a.id, $2
FROM agent_configs a
WHERE a.workspace_id = $1
  AND a.status = 'active'
  AND a.is_template IS NOT TRUE
  AND a.config -> 'call_types' ? lower(btrim($3))
ORDER BY a.created_at, a.id
ON CONFLICT ON CONSTRAINT agent_runs_config_meeting_key DO NOTHING
RETURNING
  id, workspace_id, agent_config_id, meeting_id, status, attempts, lease_owner,
  lease_expires_at, error_message, created_at, started_at, finished_at;

-- name: claim_runs
-- Pending runs, and running ones whose lease expired (their process died), oldest first.
-- SKIP LOCKED lets any number of dispatchers claim side by side without taking one twice.
WITH claimable AS (
  SELECT id
  FROM agent_runs
  WHERE status = 'pending' OR (status = 'running' AND lease_expires_at < clock_timestamp())
  ORDER BY created_at, id
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
UPDATE agent_runs r
SET status = 'running',
    lease_owner = $1,
    lease_expires_at = clock_timestamp() + make_interval(secs => $3),
    attempts = r.attempts + 1,
    started_at = clock_timestamp()
FROM claimable
WHERE r.id = claimable.id
RETURNING
  r.id, r.workspace_id, r.agent_config_id, r.meeting_id, r.status, r.attempts, r.lease_owner,
  r.lease_expires_at, r.error_message, r.created_at, r.started_at, r.finished_at;

-- name: extend_lease
UPDATE agent_runs
SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)
WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING id;

-- name: finish_run
-- Only the lease holder finishes a run: a dispatcher whose lease was taken over after it
-- stalled finds nothing to update, and its transaction is rolled back.
UPDATE agent_runs
SET status = $3, error_message = $4, finished_at = clock_timestamp(), lease_expires_at = NULL
WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING id;

-- name: finish_runs
-- finish_run for a batch: ($2, $3, $4) are arrays of run ids, statuses and error messages.
UPDATE agent_runs AS r
SET status = f.status, error_message = f.error_message, finished_at = clock_timestamp(),
    lease_expires_at = NULL
FROM unnest($2::uuid[], $3::text[], $4::text[]) AS f (id, status, error_message)
WHERE r.id = f.id AND r.lease_owner = $1 AND r.status = 'running'
RETURNING r.id;

-- name: extend_leases
UPDATE agent_runs
SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)
WHERE id = ANY($1::uuid[]) AND lease_owner = $2 AND status = 'running'
RETURNING id;

-- name: release_run
-- A dispatcher stopping cleanly hands back what it has not finished, for the next one.
UPDATE agent_runs
SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
    attempts = GREATEST(attempts - 1, 0)
WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING id;

-- name: get_run
SELECT
  id, workspace_id, agent_config_id, meeting_id, status, attempts, lease_owner,
  lease_expires_at, error_message, created_at, started_at, finished_at
FROM agent_runs
WHERE id = $1;

-- name: list_runs_for_meeting
SELECT
  id, workspace_id, agent_config_id, meeting_id, status, attempts, lease_owner,
  lease_expires_at, error_message, created_at, started_at, finished_at
FROM agent_runs
WHERE meeting_id = $1
ORDER BY created_at, id;

-- name: count_unfinished_runs
SELECT count(*) FROM agent_runs WHERE status IN ('pending', 'running');

-- name: get_run_agent
-- What executing a run needs to know about its agent.
SELECT id, workspace_id, created_by, name, crm_type, status, is_template, config
FROM agent_configs
WHERE id = $1;

-- name: abandon_runs
-- The process executing these runs died: end their lease now, so the next claim takes them
-- again. Their attempt stays counted (unlike release_run), so a run that keeps killing its
-- process is given up after max_attempts.
UPDATE agent_runs
SET lease_expires_at = clock_timestamp()
WHERE id = ANY($1::uuid[]) AND lease_owner = $2 AND status = 'running'
RETURNING id;

-- name: get_run_inputs
-- What executing runs reads, for a batch in one statement: per (workspace id, meeting id,
-- agent config id) of $1, $2, $3, in that order, the meeting (a NULL id when it is gone),
-- the agent (a NULL agent_id when gone) and the meeting owner's user id when the owner is a
-- member of the workspace (users are unique by lower-cased email).
SELECT
  m.id, m.workspace_id, m.external_id, m.title, m.call_type, m.started_at, m.duration_s,
  m.owner_email, m.attendees, m.transcript, m.notes, m.content_sha256, m.created_at,
  a.id AS agent_id, a.created_by AS agent_created_by, a.name AS agent_name,
  a.status AS agent_status, a.is_template AS agent_is_template, a.config AS agent_config,
  (
    SELECT u.id
    FROM users u
    JOIN workspace_members w ON w.user_id = u.id AND w.workspace_id = r.workspace_id
    WHERE m.owner_email <> '' AND lower(u.email) = lower(m.owner_email)
  ) AS owner_member_id
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY
  AS r (workspace_id, meeting_id, agent_config_id, n)
LEFT JOIN meetings m ON m.workspace_id = r.workspace_id AND m.id = r.meeting_id
LEFT JOIN agent_configs a ON a.id = r.agent_config_id
ORDER BY r.n;
