-- Append-only changes to the rollups and to the affiliates' conversion counters, written by
-- sales instead of updating the shared rows (an affiliate's row, its day's rollup, the
-- program's '*' rollup) that every sale of a program would otherwise queue on. A background
-- job folds them into daily_stats and affiliates.conversion_count; until then every read
-- adds them in the same statement, so figures are exact at all times.
CREATE TABLE stats_deltas (
    id BIGSERIAL PRIMARY KEY,
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
    reversed_minor BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX stats_deltas_affiliate_day ON stats_deltas(program_id, affiliate_id, day);
