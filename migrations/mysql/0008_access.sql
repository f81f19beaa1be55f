-- Access settings (issue 13): see migrations/sqlite/0008_access.sql.
ALTER TABLE buckets ADD COLUMN ownership VARCHAR(32) DEFAULT 'BucketOwnerEnforced';
ALTER TABLE buckets ADD COLUMN public_access_block TEXT;
ALTER TABLE buckets ADD COLUMN acl MEDIUMTEXT;
