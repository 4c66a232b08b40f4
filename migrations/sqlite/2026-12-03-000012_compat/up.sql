-- Compatibility with the seed APIs (docs/compat.md).

-- Partnero's "ignore unattributed": signups without a referral are acknowledged, not stored.
ALTER TABLE programs ADD COLUMN ignore_unattributed BOOLEAN NOT NULL DEFAULT 0;

-- The body shape of an endpoint's deliveries: 'standard' or 'linkjolt'.
ALTER TABLE webhook_endpoints ADD COLUMN payload_format TEXT NOT NULL DEFAULT 'standard';

-- Who sent an invitation: the API key's id and its label at the time.
ALTER TABLE invitations ADD COLUMN sent_by_key_id TEXT;
ALTER TABLE invitations ADD COLUMN sent_by_label TEXT;
