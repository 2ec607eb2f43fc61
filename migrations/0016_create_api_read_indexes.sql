-- Indexes for the GraphQL API's reads: the activity dashboard (activityLogs and its
-- filters), the inbox (inboxItems, inboxCount), the agents' recentActivity / successRate
-- and the admins' audit log.
--
-- Every page is a keyset page, newest first: ORDER BY created_at DESC, id DESC with the
-- cursor (created_at, id) < ($x, $y) (runtime/db/keyset.py). An index whose key is
-- (<equality columns>, created_at, id), read backward, hands a page out in order: the scan
-- starts at the cursor and stops after the page's rows, however large the table or deep
-- the page. The seed's (workspace_id, created_at DESC) cannot stop there: rows that share
-- a created_at (every row a transaction writes has the same NOW()) must all be read and
-- sorted by id first. The keys ascend because rows arrive in time order: each insert lands
-- at the right end of its range. The seed's indexes stay (they are the seed's; the metrics
-- read ranges of idx_activity_logs_workspace).
--
-- Measured with EXPLAIN ANALYZE on generated rows: 1M activity rows (600k in one
-- workspace, 20 agents and 50 users each), 200k inbox items, 1M audit entries. A first page
-- with any one filter, or with a combination that matches rows, takes 0.3 to 3 ms; the
-- slowest is a combination of two common values that never occur together (pending skips:
-- 63k index entries of one status read to answer nothing, 8 to 20 ms). Without these
-- indexes an empty filter (a record type never written) took 200 ms and a rare combination
-- 400 ms; a user's inbox 60 ms.

-- Activity -------------------------------------------------------------------------------
--
-- One index per filter that can be selective (an agent, a user, a status, an action type, a
-- record type), so a filter matching few rows, or none (a workspace that never rejects,
-- never creates, has no contacts), reads about its own rows instead of the workspace's.
-- The date range needs none of its own: it is a range of created_at in every one of them.
--
-- Each carries the other filtered columns (INCLUDE): page_activity finds a page's ids by an
-- index-only scan and reads only those rows, so with several filters the rows failing the
-- others cost an index entry each, not a table row (three filters whose combination matches
-- 19 of 600k rows: 128 ms reading table rows, 1.7 ms from the index alone). The price is
-- size: about 120 MB per million rows each when built at once, about 200 MB when grown row
-- by row (the table itself: 270 MB), and an entry in each per insert or status change.

-- No filter, or only a date range: the dashboard itself.
CREATE INDEX idx_activity_logs_workspace_created_id
  ON activity_logs (workspace_id, created_at, id)
  INCLUDE (agent_config_id, user_id, status, action_type, crm_record_type);

-- By status: "the failed ones", "what is still pending".
CREATE INDEX idx_activity_logs_workspace_status
  ON activity_logs (workspace_id, status, created_at, id)
  INCLUDE (agent_config_id, user_id, action_type, crm_record_type);

-- By agent: the agentConfigId filter, each agent's recentActivity (a range per agent) and
-- its successRate (an index-only count of a range per agent, status included). An agent
-- belongs to one workspace, so the agent leads. It replaces 0009's
-- idx_activity_logs_agent_config (agent_config_id, created_at DESC), a prefix of it.
CREATE INDEX idx_activity_logs_agent_created_id
  ON activity_logs (agent_config_id, created_at, id)
  INCLUDE (workspace_id, user_id, status, action_type, crm_record_type);
DROP INDEX idx_activity_logs_agent_config;

-- By user: "activity on my data". A user may belong to several workspaces, so the
-- workspace leads (the seed's idx_activity_logs_user spans them all).
CREATE INDEX idx_activity_logs_workspace_user
  ON activity_logs (workspace_id, user_id, created_at, id)
  INCLUDE (agent_config_id, status, action_type, crm_record_type);

-- By action type: creates are rare, and some workspaces never create (an empty answer
-- would otherwise read every row of the workspace).
CREATE INDEX idx_activity_logs_workspace_action
  ON activity_logs (workspace_id, action_type, created_at, id)
  INCLUDE (agent_config_id, user_id, status, crm_record_type);

-- By record type: the agents write deals; asking for contacts or companies would otherwise
-- read every row of the workspace to answer with nothing.
CREATE INDEX idx_activity_logs_workspace_record_type
  ON activity_logs (workspace_id, crm_record_type, created_at, id)
  INCLUDE (agent_config_id, user_id, status, action_type);

-- Inbox ----------------------------------------------------------------------------------

-- A user's inbox, every status. (The seed's idx_inbox_items_user_pending has no order.)
CREATE INDEX idx_inbox_items_workspace_user
  ON inbox_items (workspace_id, user_id, created_at, id);

-- A user's inbox of one status, and inboxCount: the pending items of a user are one range
-- of this index, counted without reading the table (an index-only scan).
CREATE INDEX idx_inbox_items_workspace_user_status
  ON inbox_items (workspace_id, user_id, status, created_at, id);

-- Audit log ------------------------------------------------------------------------------
--
-- Unfiltered pages read idx_audit_log_workspace (workspace_id, created_at DESC). The
-- filters that can be selective each get an index, as for activity. No INCLUDE here: the
-- log is written on every CRM call and read by admins now and then.

-- By action: "every decision.reject", or an action the workspace never took (else a scan
-- of its whole log).
CREATE INDEX idx_audit_log_workspace_action
  ON audit_log (workspace_id, action, created_at, id);

-- By actor: what a person did. Most entries are the agent's own (no actor), so only the
-- others are indexed; "actor_user_id = $n" implies the index's predicate.
CREATE INDEX idx_audit_log_workspace_actor
  ON audit_log (workspace_id, actor_user_id, created_at, id)
  WHERE actor_user_id IS NOT NULL;

-- By target: the history of one CRM record.
CREATE INDEX idx_audit_log_workspace_target
  ON audit_log (workspace_id, target_id, created_at, id)
  WHERE target_id IS NOT NULL;
