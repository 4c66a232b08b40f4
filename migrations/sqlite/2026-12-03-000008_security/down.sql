DROP INDEX affiliates_referral_code;
DROP INDEX idempotency_keys_created;
ALTER TABLE api_keys DROP COLUMN expires_at;
