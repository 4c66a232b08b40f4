DROP TABLE stripe_refs;
DROP TABLE stripe_events;
