-- Foundation: programs, keys, affiliates, tracking, money.
-- Timestamps are BIGINT milliseconds since the Unix epoch (UTC); money is BIGINT minor units
-- beside a currency code. Both are exact and portable across SQLite and PostgreSQL.

CREATE TABLE programs (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    currency TEXT NOT NULL,
    website_url TEXT,
    cookie_days INTEGER NOT NULL,
    attribution TEXT NOT NULL,
    hold_days INTEGER NOT NULL,
    min_payout_minor BIGINT NOT NULL,
    auto_approve_affiliates BOOLEAN NOT NULL,
    commission_rule TEXT NOT NULL,
    stripe_webhook_secret TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    label TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_program ON api_keys(program_id);

CREATE TABLE affiliates (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    referral_code TEXT NOT NULL,
    suspended_at BIGINT,
    suspended_reason TEXT,
    parent_affiliate_id TEXT,
    custom_fields TEXT NOT NULL,
    payment_method TEXT,
    payment_details TEXT,
    click_count BIGINT NOT NULL DEFAULT 0,
    signup_count BIGINT NOT NULL DEFAULT 0,
    conversion_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (program_id, email),
    UNIQUE (program_id, referral_code)
);
CREATE INDEX affiliates_program_created ON affiliates(program_id, created_at);

CREATE TABLE clicks (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL,
    referral_code TEXT NOT NULL,
    source_url TEXT,
    landing_url TEXT,
    user_agent TEXT,
    ip_address TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX clicks_affiliate_created ON clicks(affiliate_id, created_at);

CREATE TABLE customers (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    customer_key TEXT NOT NULL,
    email TEXT,
    name TEXT,
    affiliate_id TEXT,
    click_id TEXT,
    stripe_customer_id TEXT,
    first_payment_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (program_id, customer_key)
);
CREATE INDEX customers_affiliate ON customers(affiliate_id);

CREATE TABLE conversions (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    affiliate_id TEXT NOT NULL,
    customer_id TEXT,
    customer_key TEXT,
    referral_code TEXT NOT NULL,
    order_id TEXT,
    request_hash TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    product_id TEXT,
    no_commission_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (program_id, order_id)
);
CREATE INDEX conversions_affiliate_created ON conversions(affiliate_id, created_at);

CREATE TABLE commissions (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    affiliate_id TEXT NOT NULL,
    conversion_id TEXT,
    order_id TEXT,
    kind TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    request_hash TEXT,
    amount_minor BIGINT NOT NULL,
    original_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    conversion_amount_minor BIGINT,
    description TEXT,
    payout_id TEXT,
    on_hold BOOLEAN NOT NULL DEFAULT FALSE,
    reason TEXT,
    source_commission_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    approved_at BIGINT,
    paid_at BIGINT,
    reversed_at BIGINT,
    UNIQUE (program_id, dedupe_key)
);
CREATE INDEX commissions_program_created ON commissions(program_id, created_at);
CREATE INDEX commissions_affiliate_status ON commissions(affiliate_id, status);
CREATE INDEX commissions_conversion ON commissions(conversion_id);
CREATE INDEX commissions_status_created ON commissions(status, created_at);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    conversion_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    reason TEXT,
    dedupe_key TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (program_id, dedupe_key)
);

CREATE TABLE idempotency_keys (
    program_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (program_id, idem_key)
);

-- Daily rollups per affiliate, maintained with every write, so stats never scan clicks.
-- Counts (clicks, signups) are kept under currency ''; money under its own currency.
-- Commission money is filed under the day the commission was created and moved between
-- the status columns as its status changes.
CREATE TABLE daily_stats (
    program_id TEXT NOT NULL,
    affiliate_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    currency TEXT NOT NULL,
    clicks BIGINT NOT NULL DEFAULT 0,
    signups BIGINT NOT NULL DEFAULT 0,
    conversions BIGINT NOT NULL DEFAULT 0,
    revenue_minor BIGINT NOT NULL DEFAULT 0,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    pending_minor BIGINT NOT NULL DEFAULT 0,
    approved_minor BIGINT NOT NULL DEFAULT 0,
    paid_minor BIGINT NOT NULL DEFAULT 0,
    reversed_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (program_id, affiliate_id, day, currency)
);
CREATE INDEX daily_stats_program_day ON daily_stats(program_id, day);

-- The event log and webhook outbox: events are written in the same transaction as the
-- change that caused them, with one delivery row per subscribed endpoint.
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_program_created ON events(program_id, created_at);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    event_types TEXT,
    enabled BOOLEAN NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_program ON webhook_endpoints(program_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_attempt_at BIGINT,
    response_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);
