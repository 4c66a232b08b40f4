DROP INDEX commissions_payable;
DROP INDEX commissions_payout;
DROP TABLE payouts;
