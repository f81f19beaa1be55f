-- Object lock (issue 12): see migrations/sqlite/0006_object_lock.sql.
ALTER TABLE buckets
    ADD COLUMN lock_enabled      BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN lock_default_mode VARCHAR(16),
    ADD COLUMN lock_default_days BIGINT,
    ADD COLUMN lock_default_years BIGINT;

ALTER TABLE objects
    ADD COLUMN lock_mode  VARCHAR(16),
    ADD COLUMN lock_until BIGINT,
    ADD COLUMN legal_hold BIGINT NOT NULL DEFAULT 0;

ALTER TABLE object_versions
    ADD COLUMN lock_mode  VARCHAR(16),
    ADD COLUMN lock_until BIGINT,
    ADD COLUMN legal_hold BIGINT NOT NULL DEFAULT 0;
