-- Lifecycle rules (issue 12): the bucket's validated rules, JSON written by the engine
-- (s3-api/src/engine/lifecycle.rs); NULL = none. Applied by every replica's janitor.
ALTER TABLE buckets ADD COLUMN lifecycle TEXT;
