DROP INDEX commissions_affiliate_created;
DROP TABLE mail_outbox;
DROP TABLE access_tokens;
DROP TABLE embed_tenants;
DROP TABLE embed_settings;
