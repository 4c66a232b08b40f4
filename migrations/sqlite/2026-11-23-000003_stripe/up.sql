-- The Stripe inbox: each event stored once by its id, in the same transaction as its effects.
CREATE TABLE stripe_events (
    program_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (program_id, event_id)
);

-- Stripe payment references (charges, payment intents) of recorded conversions, so refunds
-- and disputes of a charge find the sale its invoice created.
CREATE TABLE stripe_refs (
    program_id TEXT NOT NULL,
    ref TEXT NOT NULL,
    conversion_id TEXT NOT NULL,
    PRIMARY KEY (program_id, ref)
);
