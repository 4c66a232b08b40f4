-- Per-key rate limits (requests per second; NULL: the server default, 0: unlimited).
ALTER TABLE api_keys ADD COLUMN rate_limit_per_sec INTEGER;

-- The append-only audit log of every mutating call.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    key_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_id TEXT,
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_program_created ON audit_log(program_id, created_at);
