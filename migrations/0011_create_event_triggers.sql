-- Events: every insert, and every status change, of activity logs, inbox items and anomalies
-- sends a NOTIFY from the same transaction (delivered only if it commits), whichever code
-- path made the change. New agent runs wake the dispatchers the same way. The payload is
-- ids only; listeners read the rows. Channel names are mirrored in runtime/events.py (a
-- test keeps the two in step).
CREATE FUNCTION crm_agents_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  fields JSONB := to_jsonb(NEW);
BEGIN
  PERFORM pg_notify(
    TG_ARGV[0],
    jsonb_build_object(
      'id', fields -> 'id',
      'workspace_id', fields -> 'workspace_id',
      'user_id', fields -> 'user_id',
      'status', fields -> 'status',
      'op', lower(TG_OP)
    )::text
  );
  RETURN NULL;
END
$$;

CREATE TRIGGER activity_logs_notify_insert AFTER INSERT ON activity_logs
  FOR EACH ROW EXECUTE FUNCTION crm_agents_notify('crm_agents_activity_logs');
CREATE TRIGGER activity_logs_notify_status AFTER UPDATE OF status ON activity_logs
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION crm_agents_notify('crm_agents_activity_logs');

CREATE TRIGGER inbox_items_notify_insert AFTER INSERT ON inbox_items
  FOR EACH ROW EXECUTE FUNCTION crm_agents_notify('crm_agents_inbox_items');
CREATE TRIGGER inbox_items_notify_status AFTER UPDATE OF status ON inbox_items
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION crm_agents_notify('crm_agents_inbox_items');

CREATE TRIGGER anomalies_notify_insert AFTER INSERT ON anomalies
  FOR EACH ROW EXECUTE FUNCTION crm_agents_notify('crm_agents_anomalies');
CREATE TRIGGER anomalies_notify_status AFTER UPDATE OF status ON anomalies
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION crm_agents_notify('crm_agents_anomalies');

CREATE TRIGGER agent_runs_notify_insert AFTER INSERT ON agent_runs
  FOR EACH ROW EXECUTE FUNCTION crm_agents_notify('crm_agents_agent_runs');
