CREATE INDEX clicks_affiliate_created ON clicks(affiliate_id, created_at);
DROP INDEX daily_stats_money;
CREATE INDEX daily_stats_program_day ON daily_stats(program_id, day);
DELETE FROM daily_stats WHERE affiliate_id = '*';
