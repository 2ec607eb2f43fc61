-- Agent configs as the runtime uses them: which built-in template a row came from, a
-- description, the lookups the runtime makes, and the values the seed's comments promise.
-- Only additions: the seed's columns keep their names, types, defaults and nullability.

ALTER TABLE agent_configs
  ADD COLUMN template_key VARCHAR(100), -- the built-in template a row came from: 'discovery', ...
  ADD COLUMN description TEXT;

-- One row per built-in template and workspace: materialising the templates again (a second
-- admin, a retried transaction) inserts nothing (INSERT ... ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX agent_configs_workspace_template_key
  ON agent_configs (workspace_id, template_key)
  WHERE is_template;

-- "The active agents of a workspace": every imported meeting asks it.
CREATE INDEX idx_agent_configs_workspace_status ON agent_configs (workspace_id, status);

-- The values the seed lists in its comments. A validated CHECK scans the table under the
-- ALTER's lock; the table has been empty in every deployment so far, so that costs nothing.
-- Should some database hold a row outside these values anyway, fail here with a message that
-- says which rows and what to do, rather than with a bare check violation (or, with NOT
-- VALID, leave rows behind that the runtime cannot read). NULL status is allowed, as the seed
-- allows it; the runtime reads it as 'draft', the column's default.
DO $$
DECLARE
  bad_status TEXT;
  bad_crm_type TEXT;
BEGIN
  SELECT string_agg(DISTINCT status, ', ') INTO bad_status
  FROM agent_configs
  WHERE status NOT IN ('draft', 'active', 'paused', 'error');
  SELECT string_agg(DISTINCT crm_type, ', ') INTO bad_crm_type
  FROM agent_configs
  WHERE crm_type NOT IN ('hubspot', 'salesforce');
  IF bad_status IS NOT NULL OR bad_crm_type IS NOT NULL THEN
    RAISE EXCEPTION 'agent_configs holds rows this version cannot constrain'
      USING DETAIL = format('status values: %s; crm_type values: %s',
                            coalesce(bad_status, '(all valid)'),
                            coalesce(bad_crm_type, '(all valid)')),
            HINT = 'update those rows to draft/active/paused/error and hubspot/salesforce,'
                   ' then run `crm-agents migrate` again';
  END IF;
END
$$;

ALTER TABLE agent_configs
  ADD CONSTRAINT agent_configs_status_check
    CHECK (status IN ('draft', 'active', 'paused', 'error')),
  ADD CONSTRAINT agent_configs_crm_type_check
    CHECK (crm_type IN ('hubspot', 'salesforce'));
