-- The whole program's rollups: rows of affiliate id '*' (no affiliate id can be '*'), kept
-- by the same writes as the affiliates' rows; filled here from the rows written so far.
INSERT INTO daily_stats (program_id, affiliate_id, day, currency, clicks, signups, conversions,
                         revenue_minor, refunded_minor, pending_minor, approved_minor,
                         paid_minor, reversed_minor)
SELECT program_id, '*', day, currency, SUM(clicks), SUM(signups), SUM(conversions),
       SUM(revenue_minor), SUM(refunded_minor), SUM(pending_minor), SUM(approved_minor),
       SUM(paid_minor), SUM(reversed_minor)
FROM daily_stats
WHERE affiliate_id <> '*'
GROUP BY program_id, day, currency;

-- The program report reads the '*' rows by primary key; its top affiliates are ranked from
-- the affiliates' money rows alone, read from this covering index (no table lookups).
DROP INDEX daily_stats_program_day;
CREATE INDEX daily_stats_money ON daily_stats(program_id, day, affiliate_id, currency,
    conversions, revenue_minor, pending_minor, approved_minor, paid_minor)
    WHERE currency <> '' AND affiliate_id <> '*';

-- No query reads clicks by affiliate (stats come from the rollups, a click is found by its
-- id): the index only cost every click a write into a random page.
DROP INDEX clicks_affiliate_created;
