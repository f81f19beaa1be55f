-- Lifecycle rules (issue 12): see migrations/sqlite/0007_lifecycle.sql.
ALTER TABLE buckets ADD COLUMN lifecycle MEDIUMTEXT;
