-- Anomalies, user automations and notification preferences as the API uses them: who
-- acknowledged and resolved an anomaly and when, a webhook automation's sealed secret, the
-- lookups the API makes, and the values the seed's comments promise. Only additions: the
-- seed's columns keep their names, types, defaults and nullability.

ALTER TABLE anomalies
  ADD COLUMN acknowledged_at TIMESTAMPTZ,
  ADD COLUMN resolved_by UUID REFERENCES users(id),
  ADD COLUMN resolved_at TIMESTAMPTZ;

-- A webhook's signing secret, sealed with AES-256-GCM (runtime/connections/cipher.py) and
-- bound to the row's id; kept out of action_config so that the config can be shown as is.
ALTER TABLE user_automations
  ADD COLUMN webhook_secret_sealed BYTEA,
  ADD COLUMN webhook_secret_key_id VARCHAR(64),
  ADD CONSTRAINT user_automations_webhook_secret_check
    CHECK ((webhook_secret_sealed IS NULL) = (webhook_secret_key_id IS NULL));

-- "A workspace's anomalies, newest first" (the API lists them, optionally by status): in the
-- order the list query asks for (created_at DESC, id DESC), so LIMIT stops the scan.
CREATE INDEX idx_anomalies_workspace ON anomalies (workspace_id, created_at DESC, id DESC);
-- "A user's automations in a workspace" (the API), and later "the active automations of a
-- workspace listening to this kind of event" (execution).
CREATE INDEX idx_user_automations_owner ON user_automations (workspace_id, user_id, created_at);
CREATE INDEX idx_user_automations_active_trigger
  ON user_automations (workspace_id, trigger_type)
  WHERE is_active IS NOT FALSE;

-- The values the seed lists in its comments (NULL stays allowed where the seed allows it: it
-- reads as the column's default). As in 0007, rows outside them stop the migration with a
-- message that says which values and what to do, not a bare check violation.
DO $$
DECLARE
  problems TEXT := concat_ws('; ',
    (SELECT 'anomalies.status: ' || string_agg(DISTINCT status, ', ') FROM anomalies
      WHERE status NOT IN ('active', 'acknowledged', 'resolved')),
    (SELECT 'anomalies.severity: ' || string_agg(DISTINCT severity, ', ') FROM anomalies
      WHERE severity NOT IN ('info', 'warning', 'error')),
    (SELECT 'notification_preferences.channel: ' || string_agg(DISTINCT channel, ', ')
      FROM notification_preferences
      WHERE channel NOT IN ('slack', 'desktop', 'email', 'in_app')),
    (SELECT 'notification_preferences.notification_type: '
        || string_agg(DISTINCT notification_type, ', ')
      FROM notification_preferences
      WHERE notification_type NOT IN ('hitl_approval', 'agent_complete', 'error', 'anomaly')),
    (SELECT 'notification_preferences.frequency: ' || string_agg(DISTINCT frequency, ', ')
      FROM notification_preferences
      WHERE frequency NOT IN ('immediate', 'digest', 'off'))
  );
BEGIN
  IF problems <> '' THEN
    RAISE EXCEPTION 'anomalies or notification_preferences hold rows this version cannot constrain'
      USING DETAIL = problems,
            HINT = 'update those rows to the values the seed lists, then run'
                   ' `crm-agents migrate` again';
  END IF;
END
$$;

ALTER TABLE anomalies
  ADD CONSTRAINT anomalies_status_check
    CHECK (status IN ('active', 'acknowledged', 'resolved')),
  ADD CONSTRAINT anomalies_severity_check
    CHECK (severity IN ('info', 'warning', 'error'));

ALTER TABLE notification_preferences
  ADD CONSTRAINT notification_preferences_channel_check
    CHECK (channel IN ('slack', 'desktop', 'email', 'in_app')),
  ADD CONSTRAINT notification_preferences_type_check
    CHECK (notification_type IN ('hitl_approval', 'agent_complete', 'error', 'anomaly')),
  ADD CONSTRAINT notification_preferences_frequency_check
    CHECK (frequency IN ('immediate', 'digest', 'off'));
