DROP TABLE audit_log;
ALTER TABLE api_keys DROP COLUMN rate_limit_per_sec;
