-- Payouts: one per affiliate and currency per payout run, holding that affiliate's approved
-- commissions and open adjustments (commissions.payout_id points here).
CREATE TABLE payouts (
    id TEXT PRIMARY KEY NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs(id),
    affiliate_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    commission_count BIGINT NOT NULL,
    status TEXT NOT NULL,
    reference TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    paid_at BIGINT
);
CREATE INDEX payouts_program_created ON payouts(program_id, created_at);
CREATE INDEX payouts_program_status_created ON payouts(program_id, status, created_at);
CREATE INDEX payouts_affiliate_created ON payouts(affiliate_id, created_at);

-- The commissions of a payout, and what a payout run looks for: approved, not yet taken.
CREATE INDEX commissions_payout ON commissions(payout_id);
CREATE INDEX commissions_payable ON commissions(program_id, affiliate_id)
    WHERE status = 'approved' AND payout_id IS NULL;
