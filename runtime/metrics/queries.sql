-- name: minute_counts
-- One workspace's counters per UTC minute in [$2, $3), only the minutes where something
-- happened. Each event counts at the minute it happened, never at a later status change:
--   runs, runs_failed      activity rows of agent runs, by created_at (the run's status is
--                          written with the row and 'failed' is final)
--   fields_proposed, auto_applied, sent_to_review, confidence_sum
--                          proposals by created_at (route and confidence never change)
--   approved, rejected     proposals by decided_at: approved = a person decided and the
--                          field went on to be written (queued, written, failed or
--                          superseded in the queue); rejected = status rejected
--   writes_ok, writes_failed
--                          outbox rows by done_at with status done / failed (both final)
-- Minutes are truncated in UTC: in a local zone a DST change would fold two hours into one.
WITH runs AS (
  SELECT
    date_trunc('minute', a.created_at, 'UTC') AS minute,
    count(*) AS runs,
    count(*) FILTER (WHERE r.status = 'failed') AS runs_failed
  FROM activity_logs a
  JOIN agent_runs r ON r.id = a.agent_run_id
  WHERE a.workspace_id = $1 AND a.created_at >= $2 AND a.created_at < $3
  GROUP BY 1
),
proposed AS (
  SELECT
    date_trunc('minute', p.created_at, 'UTC') AS minute,
    count(*) AS fields_proposed,
    count(*) FILTER (WHERE p.route = 'auto_apply') AS auto_applied,
    count(*) FILTER (WHERE p.route = 'review') AS sent_to_review,
    sum(p.confidence)::float8 AS confidence_sum
  FROM proposals p
  WHERE p.workspace_id = $1 AND p.created_at >= $2 AND p.created_at < $3
  GROUP BY 1
),
decided AS (
  SELECT
    date_trunc('minute', p.decided_at, 'UTC') AS minute,
    count(*) FILTER (
      WHERE p.decided_by IS NOT NULL
        AND p.status IN ('queued', 'written', 'failed', 'superseded')
    ) AS approved,
    count(*) FILTER (WHERE p.status = 'rejected') AS rejected
  FROM proposals p
  WHERE p.workspace_id = $1 AND p.decided_at >= $2 AND p.decided_at < $3
  GROUP BY 1
),
written AS (
  SELECT
    date_trunc('minute', o.done_at, 'UTC') AS minute,
    count(*) FILTER (WHERE o.status = 'done') AS writes_ok,
    count(*) FILTER (WHERE o.status = 'failed') AS writes_failed
  FROM write_outbox o
  WHERE o.workspace_id = $1 AND o.done_at >= $2 AND o.done_at < $3
  GROUP BY 1
)
SELECT
  minute,
  COALESCE(runs, 0) AS runs,
  COALESCE(runs_failed, 0) AS runs_failed,
  COALESCE(fields_proposed, 0) AS fields_proposed,
  COALESCE(auto_applied, 0) AS auto_applied,
  COALESCE(sent_to_review, 0) AS sent_to_review,
  COALESCE(approved, 0) AS approved,
  COALESCE(rejected, 0) AS rejected,
  COALESCE(writes_ok, 0) AS writes_ok,
  COALESCE(writes_failed, 0) AS writes_failed,
  COALESCE(confidence_sum, 0) AS confidence_sum
FROM runs
FULL JOIN proposed USING (minute)
FULL JOIN decided USING (minute)
FULL JOIN written USING (minute)
ORDER BY minute;
