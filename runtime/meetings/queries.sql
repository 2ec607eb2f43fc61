-- name: insert_meeting_if_absent
INSERT INTO meetings (
  workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, transcript, notes, content_sha256
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT ON CONSTRAINT meetings_workspace_external_id_key DO NOTHING
RETURNING
  id, workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, transcript, notes, content_sha256, created_at;

-- name: get_meeting
SELECT
  id, workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, transcript, notes, content_sha256, created_at
FROM meetings
WHERE workspace_id = $1 AND id = $2;

-- name: get_meeting_by_external_id
SELECT
  id, workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, transcript, notes, content_sha256, created_at
FROM meetings
WHERE workspace_id = $1 AND external_id = $2;

-- name: list_meetings
SELECT
  id, workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, transcript, notes, content_sha256, created_at
FROM meetings
WHERE workspace_id = $1
ORDER BY started_at DESC, id
LIMIT $2;

-- name: get_meeting_summaries
-- Several meetings of one workspace by id, without their transcripts and notes (the API's
-- DataLoader: the GraphQL Meeting shows neither, and a transcript is most of a meeting's
-- bytes); unknown ids are absent.
SELECT
  id, workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, created_at
FROM meetings
WHERE workspace_id = $1 AND id = ANY($2::uuid[]);

-- name: page_meetings
-- A page of a workspace's meetings, newest start first (the API's connection); $3, $4: the
-- (started_at, id) of the row the page starts after, or NULL for the first page.
SELECT
  id, workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, transcript, notes, content_sha256, created_at
FROM meetings
WHERE workspace_id = $1
  AND ($3::timestamptz IS NULL OR (started_at, id) < ($3::timestamptz, $4::uuid))
ORDER BY started_at DESC, id DESC
LIMIT $2;

-- name: count_meetings
SELECT count(*) FROM meetings WHERE workspace_id = $1;
