-- Object lock (issue 12). A bucket's lock is switched on at creation (or on a versioned bucket by
-- PutObjectLockConfiguration) and never off; its default retention applies to new versions that name
-- none. Each version carries its own retention (mode + retain-until, ms since the epoch) and legal hold,
-- checked inside every transaction that could destroy that version (metadata/src/lock.rs).
ALTER TABLE buckets ADD COLUMN lock_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN lock_default_mode TEXT;
ALTER TABLE buckets ADD COLUMN lock_default_days INTEGER;
ALTER TABLE buckets ADD COLUMN lock_default_years INTEGER;

ALTER TABLE objects ADD COLUMN lock_mode TEXT;
ALTER TABLE objects ADD COLUMN lock_until INTEGER;
ALTER TABLE objects ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;

ALTER TABLE object_versions ADD COLUMN lock_mode TEXT;
ALTER TABLE object_versions ADD COLUMN lock_until INTEGER;
ALTER TABLE object_versions ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
