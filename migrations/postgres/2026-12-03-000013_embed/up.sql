-- The affiliate's side (issue 17): embed settings, tenant ids, dashboard and sign-in
-- tokens, and the mail queue.

-- Origins allowed to frame the embedded dashboard (`frame-ancestors`), one row per program
-- that set any: a JSON array of origins.
CREATE TABLE embed_settings (
    program_id TEXT PRIMARY KEY NOT NULL REFERENCES programs(id),
    origins TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The SaaS's own id of an affiliate (`tenantId` of `POST /v1/embed-tokens`): the primary
-- key makes a retried enrolment find the first one instead of enrolling twice.
CREATE TABLE embed_tenants (
    program_id TEXT NOT NULL REFERENCES programs(id),
    tenant_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL REFERENCES affiliates(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (program_id, tenant_id)
);

-- Dashboard tokens (`embed`) and magic sign-in links (`magic`, single use): stored only as
-- SHA-256 of the token.
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    affiliate_id TEXT NOT NULL REFERENCES affiliates(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX access_tokens_expires ON access_tokens(expires_at);

-- Mail waiting to be sent (or sent): a failing SMTP server delays it, never loses it.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    invitation_id TEXT,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    sent_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox(sent_at, next_attempt_at);
CREATE INDEX mail_outbox_invitation ON mail_outbox(invitation_id);

-- The dashboard lists an affiliate's newest commissions.
CREATE INDEX commissions_affiliate_created ON commissions(affiliate_id, created_at);
