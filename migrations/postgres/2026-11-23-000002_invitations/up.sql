-- Affiliate invitations. The token is stored only as its SHA-256 (hex). `status` is
-- pending | accepted | cancelled; `expired` is computed (pending and past expires_at).
-- `pending_key` is 'program_id|email' while the invitation may still be accepted and NULL
-- otherwise: UNIQUE(pending_key) lets the database, not a check-then-insert, decide that one
-- email has at most one live invitation per program (a partial unique index would do the
-- same, but is not portable).
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    email TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    pending_key TEXT UNIQUE,
    message TEXT,
    affiliate_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    cancelled_at BIGINT
);
CREATE INDEX invitations_program_created ON invitations(program_id, created_at);
