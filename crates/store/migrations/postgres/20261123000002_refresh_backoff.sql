-- Transient refresh failures back off per instance, so that an instance whose refreshes keep
-- failing does not hold the head of the background refresher's queue.
ALTER TABLE instances ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN refresh_retry_at TIMESTAMPTZ;
-- Set while a node calls the vendor's token endpoint for the instance (SQLite: the write lock is not
-- held across that call, so this lease is what keeps two processes from refreshing at once).
ALTER TABLE instances ADD COLUMN refresh_lease_until TIMESTAMPTZ;
ALTER TABLE instances ADD COLUMN refresh_lease_owner TEXT;
