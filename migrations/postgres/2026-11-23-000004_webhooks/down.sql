DROP INDEX events_program_type_created;
ALTER TABLE webhook_endpoints DROP COLUMN consecutive_failures;
