-- bench.api's data set, generated inside PostgreSQL (generate_series): meetings, their
-- activity rows and the inbox items some of them raised, shaped like a product that has run
-- for 90 days. Only bench/api_data.py runs these blocks, all on one connection; the load in
-- one transaction (its plans are temporary tables dropped at its commit).
--
-- Every draw is pg_temp.bench_unit(seed, salt), a hash of the row's number: the same value
-- wherever the planner copies an expression to (random() in a subquery may be inlined and
-- drawn again at each use), and the same meetings and activities, but for their ids, on
-- every run (which activities raised an inbox item is drawn by id).

-- name: tune_load
-- Sorts, hashes and index builds of a few hundred MB in memory, not temporary files.
SET LOCAL work_mem = '256MB';
SET LOCAL maintenance_work_mem = '512MB';

-- name: define_unit
-- A number in [0, 1) drawn from (seed, salt): 48 bits of PostgreSQL's 64-bit hash.
CREATE FUNCTION pg_temp.bench_unit(seed bigint, salt bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (hashint8extended(seed, salt) & 281474976710655)::float8 / 281474976710656;

-- name: deferred_indexes
-- The loaded tables' indexes that back no constraint, with the statements that drop and
-- create them again: a restore builds them once after the rows (a sorted build) rather than
-- inserting a million rows into each of them.
SELECT
  format('DROP INDEX %I.%I', n.nspname, i.relname) AS drop_statement,
  pg_get_indexdef(i.oid) AS create_statement
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema()
  AND t.relname IN ('meetings', 'activity_logs', 'inbox_items')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY t.relname, i.relname;

-- name: deferred_foreign_keys
-- The loaded tables' foreign keys, likewise: checked once per constraint over all rows when
-- added again, instead of one lookup per row and key (five keys per activity row).
SELECT
  format('ALTER TABLE %I.%I DROP CONSTRAINT %I', n.nspname, t.relname, c.conname)
    AS drop_statement,
  format(
    'ALTER TABLE %I.%I ADD CONSTRAINT %I %s',
    n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid)
  ) AS create_statement
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE c.contype = 'f'
  AND n.nspname = current_schema()
  AND t.relname IN ('meetings', 'activity_logs', 'inbox_items')
ORDER BY t.relname, c.conname;

-- name: pause_notify_triggers
-- A bulk load, as a restore: nobody listens for a million historical rows, and one NOTIFY
-- per row would queue them all at commit. Only the event triggers of migration 0011 are
-- paused (any other trigger keeps its job), inside the load's transaction.
ALTER TABLE activity_logs DISABLE TRIGGER activity_logs_notify_insert;
ALTER TABLE inbox_items DISABLE TRIGGER inbox_items_notify_insert;

-- name: resume_notify_triggers
ALTER TABLE activity_logs ENABLE TRIGGER activity_logs_notify_insert;
ALTER TABLE inbox_items ENABLE TRIGGER inbox_items_notify_insert;

-- name: plan_meetings
-- The meetings, numbered: $1 how many. Per workspace (1-based arrays of equal length):
-- $2 its id, $3 where its share of [0, 1) starts (ascending, the first 0), $4 and $5 the
-- offset and count of its members in $6 (ids) and $7 (emails), $8 and $9 those of its
-- agents in $10 (ids) and $11 (their call types). A meeting's owner is drawn as u^2, so a
-- workspace's first members own most of its meetings (a few busy account executives); its
-- time is spread evenly over the last 90 days.
CREATE TEMPORARY TABLE bench_meetings ON COMMIT DROP AS
SELECT
  p.n,
  gen_random_uuid() AS id,
  ($2::uuid[])[p.w] AS workspace_id,
  ($6::uuid[])[p.u] AS user_id,
  ($7::text[])[p.u] AS owner_email,
  ($10::uuid[])[p.a] AS agent_id,
  ($11::text[])[p.a] AS call_type,
  (ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne'])
    [1 + p.n % 8] || ' / ' || (ARRAY['discovery', 'demo', 'pricing', 'follow-up'])[1 + p.n % 4]
    || ' call #' || p.n AS title,
  p.started_at,
  p.duration_s,
  p.started_at + make_interval(secs => p.duration_s + 90) AS created_at
FROM (
  SELECT
    q.n,
    q.w,
    ($4::int[])[q.w] + 1 + floor(($5::int[])[q.w] * pg_temp.bench_unit(q.n, 2) ^ 2)::int AS u,
    ($8::int[])[q.w] + 1 + floor(($9::int[])[q.w] * pg_temp.bench_unit(q.n, 3))::int AS a,
    now() - make_interval(secs => pg_temp.bench_unit(q.n, 4) * 90 * 86400) AS started_at,
    600 + floor(pg_temp.bench_unit(q.n, 5) * 3000)::int AS duration_s
  FROM (
    SELECT n, width_bucket(pg_temp.bench_unit(n, 1), $3::float8[]) AS w
    FROM generate_series(1, $1) AS n
  ) q
) p;

-- name: insert_meetings
-- Without a transcript (the activity and inbox pages show a meeting's title and time).
INSERT INTO meetings (
  id, workspace_id, external_id, title, call_type, started_at, duration_s, owner_email,
  attendees, content_sha256, created_at
)
SELECT
  id, workspace_id, 'bench-' || n, title, call_type, started_at, duration_s, owner_email,
  jsonb_build_array(
    jsonb_build_object(
      'email', owner_email, 'name', split_part(owner_email, '@', 1), 'internal', true
    ),
    jsonb_build_object(
      'email', 'buyer' || n % 97 || '@customer.example', 'name', 'Buyer', 'internal', false
    )
  ),
  md5('bench-' || n) || md5('meeting-' || n),
  created_at
FROM bench_meetings;

-- name: insert_activities
-- $1 activities per meeting: one per CRM record the meeting touched (a deal, then contacts
-- and a company), each by the meeting's agent about the meeting's owner. Actions, statuses
-- and the number of fields changed vary by record type as a sales team's do. Its
-- fields_updated is one of $2 (a JSON array of every variant, made by api_data.py: per
-- record type (deal, contact, company), action (update, create) and number of fields (1 to
-- 4), $3 variants): an element looked up, not an object built per row.
INSERT INTO activity_logs (
  workspace_id, agent_config_id, user_id, meeting_id, crm_record_id, crm_record_type,
  action_type, fields_updated, overall_confidence, status, error_message, created_at,
  updated_at
)
SELECT
  r.workspace_id, r.agent_id, r.user_id, r.meeting_id, r.record_id, r.record_type,
  r.action_type, r.fields_updated,
  CASE WHEN r.action_type <> 'skip'
       THEN round((0.45 + pg_temp.bench_unit(r.seed, 14) * 0.54)::numeric, 2) END,
  r.status,
  CASE WHEN r.status = 'failed'
       THEN 'the CRM refused '
            || (SELECT min(key) FROM jsonb_object_keys(r.fields_updated) AS key)
            || ': Property values were not valid' END,
  r.created_at,
  r.created_at
FROM (
  SELECT
    a.*,
    CASE WHEN a.action_type = 'skip' THEN 'success'
         WHEN pg_temp.bench_unit(a.seed, 12) < 0.62 THEN 'success'
         WHEN pg_temp.bench_unit(a.seed, 12) < 0.80 THEN 'pending'
         WHEN pg_temp.bench_unit(a.seed, 12) < 0.90 THEN 'rejected'
         ELSE 'failed' END AS status,
    CASE WHEN a.action_type = 'skip' THEN '{}'::jsonb
         ELSE $2::jsonb -> (
           ((a.type_index * 2 + (a.action_type = 'create')::int) * 4
            + floor(pg_temp.bench_unit(a.seed, 13) * 4)::int) * $3
           + (a.seed % $3)::int
         ) END AS fields_updated
  FROM (
    SELECT
      m.workspace_id, m.agent_id, m.user_id, m.id AS meeting_id,
      k.seed,
      (ARRAY['deal', 'contact', 'contact', 'company', 'contact'])[1 + k.k % 5] AS record_type,
      (ARRAY[0, 1, 1, 2, 1])[1 + k.k % 5] AS type_index,
      (1000000 + (m.n * 7 + k.k * 104729) % 900000)::text AS record_id,
      CASE
        WHEN pg_temp.bench_unit(k.seed, 11) < (ARRAY[0.12, 0.20, 0.20, 0.55, 0.20])[1 + k.k % 5]
          THEN 'skip'
        WHEN pg_temp.bench_unit(k.seed, 11) < (ARRAY[0.15, 0.50, 0.50, 0.60, 0.50])[1 + k.k % 5]
          THEN 'create'
        ELSE 'update' END AS action_type,
      m.created_at + make_interval(secs => k.k * 1.5 + pg_temp.bench_unit(k.seed, 15))
        AS created_at
    FROM bench_meetings m
    CROSS JOIN LATERAL (
      SELECT k, m.n * 8 + k AS seed FROM generate_series(0, $1 - 1) AS k
    ) k
  ) a
) r;

-- name: insert_inbox_items
-- $1 items, each raised by an activity that was not a skip (drawn by id, which is
-- random): a question for a human about the activity's fields, for the meeting's owner.
-- The item's fate follows its activity's: still pending, approved (then written or
-- failed), or rejected (some expired instead, nobody having decided within 72 hours).
INSERT INTO inbox_items (
  workspace_id, user_id, activity_log_id, item_type, title, description, context,
  confidence, status, resolved_at, resolved_by, created_at
)
SELECT
  a.workspace_id, a.user_id, a.id, a.item_type,
  CASE a.item_type
    WHEN 'question' THEN 'Which deal was "' || m.title || '" about?'
    WHEN 'alert' THEN 'The CRM refused an update of ' || a.crm_record_type || ' ' || a.crm_record_id
    ELSE 'Approve ' || (SELECT count(*) FROM jsonb_object_keys(a.fields_updated))
         || ' field update(s) on ' || a.crm_record_type || ' ' || a.crm_record_id END,
  'Proposed after "' || m.title || '" on ' || to_char(m.started_at, 'YYYY-MM-DD'),
  jsonb_build_object(
    'meeting', jsonb_build_object('id', m.id, 'title', m.title, 'started_at', m.started_at),
    'record', jsonb_build_object('type', a.crm_record_type, 'id', a.crm_record_id),
    'fields', a.fields_updated,
    'evidence', jsonb_build_array(jsonb_build_object(
      'speaker', split_part(m.owner_email, '@', 1),
      'quote', 'We agreed to move forward once legal signs off, probably by the end of next month.'
    ))
  ),
  a.overall_confidence,
  a.item_status,
  CASE WHEN a.item_status = 'expired' THEN a.created_at + interval '72 hours'
       WHEN a.item_status <> 'pending'
       THEN a.created_at + make_interval(secs => 600 + pg_temp.bench_unit(a.seed, 23) * 86400)
  END,
  CASE WHEN a.item_status IN ('approved', 'rejected') THEN a.user_id END,
  a.created_at + interval '1 second'
FROM (
  SELECT
    c.*,
    CASE c.status
      WHEN 'pending' THEN 'pending'
      WHEN 'rejected' THEN
        CASE WHEN pg_temp.bench_unit(c.seed, 21) < 0.3 THEN 'expired' ELSE 'rejected' END
      ELSE 'approved' END AS item_status,
    CASE WHEN pg_temp.bench_unit(c.seed, 22) < 0.85 THEN 'approval'
         WHEN pg_temp.bench_unit(c.seed, 22) < 0.95 THEN 'question'
         ELSE 'alert' END AS item_type
  FROM (
    SELECT al.*, hashtextextended(al.id::text, 0) AS seed
    FROM activity_logs al
    WHERE al.action_type <> 'skip'
    ORDER BY al.id
    LIMIT $1
  ) c
) a
JOIN bench_meetings m ON m.id = a.meeting_id;

-- name: vacuum_analyze
-- The visibility map and statistics of tables that grew over months (autovacuum's work):
-- index-only scans skip the table, the planner knows the workspaces' sizes.
VACUUM (ANALYZE) meetings, activity_logs, inbox_items;

-- name: table_sizes
-- Each loaded table with its indexes, in bytes.
SELECT relname AS name, pg_total_relation_size(oid) AS bytes
FROM pg_class
WHERE relname IN ('meetings', 'activity_logs', 'inbox_items') AND relkind = 'r'
ORDER BY relname;

-- name: row_counts
SELECT
  (SELECT count(*) FROM meetings) AS meetings,
  (SELECT count(*) FROM activity_logs) AS activity_logs,
  (SELECT count(*) FROM inbox_items) AS inbox_items;

-- name: workspace_activity_count
SELECT count(*) FROM activity_logs WHERE workspace_id = $1;

-- name: pending_items_of_users
-- The pending items of each of $2 (members of workspace $1), in the order of $2.
SELECT u.user_id, count(i.id) AS pending
FROM unnest($2::uuid[]) WITH ORDINALITY AS u(user_id, position)
LEFT JOIN inbox_items i
  ON i.workspace_id = $1 AND i.user_id = u.user_id AND i.status = 'pending'
GROUP BY u.user_id, u.position
ORDER BY u.position;
