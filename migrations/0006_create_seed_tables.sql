-- The seed spec's six tables, exactly as the seed writes them (every column, type,
-- default and index). This file is the contract: later migrations may add to these tables,
-- never drop, rename or retype a column.

CREATE TABLE agent_configs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  created_by UUID NOT NULL REFERENCES users(id),
  name VARCHAR(255) NOT NULL,
  crm_type VARCHAR(50) NOT NULL, -- 'hubspot', 'salesforce'
  call_type VARCHAR(100), -- 'discovery', 'demo', etc.
  config JSONB NOT NULL, -- Full configuration object
  status VARCHAR(50) DEFAULT 'draft', -- 'draft', 'active', 'paused', 'error'
  is_template BOOLEAN DEFAULT false,
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE activity_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  agent_config_id UUID REFERENCES agent_configs(id),
  user_id UUID REFERENCES users(id), -- User whose data was affected
  meeting_id UUID REFERENCES meetings(id),
  crm_record_id VARCHAR(255), -- External CRM record ID
  crm_record_type VARCHAR(50), -- 'deal', 'contact', 'company'
  action_type VARCHAR(50) NOT NULL, -- 'create', 'update', 'skip'
  fields_updated JSONB, -- { field: { before, after, confidence } }
  overall_confidence DECIMAL(3,2),
  status VARCHAR(50) DEFAULT 'pending', -- 'pending', 'success', 'failed', 'rejected'
  error_message TEXT,
  created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_activity_logs_workspace ON activity_logs(workspace_id, created_at DESC);
CREATE INDEX idx_activity_logs_user ON activity_logs(user_id, created_at DESC);

CREATE TABLE inbox_items (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  user_id UUID NOT NULL REFERENCES users(id), -- Who needs to approve
  activity_log_id UUID REFERENCES activity_logs(id),
  item_type VARCHAR(50) NOT NULL, -- 'approval', 'question', 'alert'
  title VARCHAR(255) NOT NULL,
  description TEXT,
  context JSONB, -- Meeting context, before/after, etc.
  confidence DECIMAL(3,2),
  status VARCHAR(50) DEFAULT 'pending', -- 'pending', 'approved', 'rejected', 'expired'
  resolved_at TIMESTAMPTZ,
  resolved_by UUID REFERENCES users(id),
  created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_inbox_items_user_pending ON inbox_items(user_id, status) WHERE status = 'pending';

CREATE TABLE anomalies (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  anomaly_type VARCHAR(100) NOT NULL, -- 'high_failure_rate', 'unusual_pattern', etc.
  severity VARCHAR(50) DEFAULT 'warning', -- 'info', 'warning', 'error'
  title VARCHAR(255) NOT NULL,
  description TEXT,
  data JSONB, -- Supporting data for the anomaly
  status VARCHAR(50) DEFAULT 'active', -- 'active', 'acknowledged', 'resolved'
  acknowledged_by UUID REFERENCES users(id),
  created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE user_automations (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  user_id UUID NOT NULL REFERENCES users(id), -- Owner, scoped to their data only
  name VARCHAR(255) NOT NULL,
  trigger_type VARCHAR(100) NOT NULL,
  trigger_config JSONB NOT NULL,
  action_type VARCHAR(100) NOT NULL,
  action_config JSONB NOT NULL,
  is_active BOOLEAN DEFAULT true,
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE notification_preferences (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL REFERENCES users(id),
  channel VARCHAR(50) NOT NULL, -- 'slack', 'desktop', 'email', 'in_app'
  notification_type VARCHAR(100) NOT NULL, -- 'hitl_approval', 'agent_complete', 'error', 'anomaly'
  is_enabled BOOLEAN DEFAULT true,
  frequency VARCHAR(50) DEFAULT 'immediate', -- 'immediate', 'digest', 'off'
  UNIQUE(user_id, channel, notification_type)
);
