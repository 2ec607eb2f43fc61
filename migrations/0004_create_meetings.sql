-- Meetings as the meeting service hands them over (spec/meetings-and-corpus.md section 1).
-- content_sha256 is the hash of the validated meeting; re-importing the same external_id
-- with the same hash is a no-op, with another hash a conflict.
CREATE TABLE meetings (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id UUID NOT NULL REFERENCES workspaces(id),
  external_id VARCHAR(255) NOT NULL,
  title TEXT NOT NULL,
  call_type VARCHAR(100),
  started_at TIMESTAMPTZ NOT NULL,
  duration_s INTEGER,
  owner_email VARCHAR(320),
  attendees JSONB NOT NULL DEFAULT '[]',
  transcript JSONB NOT NULL DEFAULT '[]',
  notes TEXT,
  content_sha256 CHAR(64) NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT meetings_workspace_external_id_key UNIQUE (workspace_id, external_id),
  CONSTRAINT meetings_duration_s_check CHECK (duration_s >= 0)
);

CREATE INDEX idx_meetings_workspace_started ON meetings (workspace_id, started_at DESC);
