ALTER TABLE invitations DROP COLUMN sent_by_label;
ALTER TABLE invitations DROP COLUMN sent_by_key_id;
ALTER TABLE webhook_endpoints DROP COLUMN payload_format;
ALTER TABLE programs DROP COLUMN ignore_unattributed;
