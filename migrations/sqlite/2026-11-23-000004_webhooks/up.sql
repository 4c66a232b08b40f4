-- Webhooks: failed attempts in a row per endpoint (it is marked failing after several, and
-- cleared by a success), and the event log's filter by type.
ALTER TABLE webhook_endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_program_type_created ON events(program_id, event_type, created_at);
