-- New outbox rows wake the workspace that writes them: one NOTIFY per workspace and
-- inserting statement (not per row: a run that queues four fields wakes its writer once).
-- Channel name mirrored in runtime/events.py (WRITE_OUTBOX).
CREATE FUNCTION crm_agents_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  workspace UUID;
BEGIN
  FOR workspace IN SELECT DISTINCT workspace_id FROM inserted LOOP
    PERFORM pg_notify(
      'crm_agents_write_outbox',
      jsonb_build_object('id', workspace, 'workspace_id', workspace, 'op', 'insert')::text
    );
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER write_outbox_notify_insert AFTER INSERT ON write_outbox
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION crm_agents_notify_outbox();
