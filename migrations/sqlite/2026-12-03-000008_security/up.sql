-- Security (issue 16).

-- API keys may expire (ms; NULL: never).
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;

-- Idempotency records are pruned after 24 hours: the prune job reads them by age.
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- Referral codes are unique per deployment, so `/r/{code}` names exactly one affiliate of
-- one program. Codes shared by affiliates of several programs: the oldest affiliate keeps
-- the code; each newer one gets `{code}-{8 characters of its id}` (at most 32 characters).
UPDATE affiliates
SET referral_code = substr(referral_code, 1, 23) || '-' || upper(substr(id, -8))
WHERE EXISTS (
    SELECT 1 FROM affiliates older
    WHERE older.referral_code = affiliates.referral_code
      AND (older.created_at < affiliates.created_at
           OR (older.created_at = affiliates.created_at AND older.id < affiliates.id))
);
CREATE UNIQUE INDEX affiliates_referral_code ON affiliates(referral_code);
