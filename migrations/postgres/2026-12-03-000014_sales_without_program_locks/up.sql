-- Sales no longer lock their program's row. A foreign key makes every insert check the
-- referenced row with `SELECT ... FOR KEY SHARE`: every conversion and commission of a
-- program share-locked the one `programs` row, so concurrent sales (of one server's pool or
-- of several replicas) turned that row's lock into a new multixact per sale, and each check
-- was a query of its own. Programs are never deleted, and every sale's program is the API
-- key's own, read before the insert, so the two keys on the per-sale tables protect nothing
-- the application does not already guarantee. SQLite keeps them: its checks are cheap and
-- take no lock.
ALTER TABLE conversions DROP CONSTRAINT IF EXISTS conversions_program_id_fkey;
ALTER TABLE commissions DROP CONSTRAINT IF EXISTS commissions_program_id_fkey;
