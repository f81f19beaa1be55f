-- Access settings (issue 13), each stored as the engine writes it (s3-api/src/engine/access.rs):
-- `ownership`: the object ownership control (BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter;
--   NULL = none, which behaves as ObjectWriter). New buckets get BucketOwnerEnforced (ACLs disabled),
--   AWS's default since 2023; existing buckets too: they never had ACLs other than private.
-- `public_access_block`: the bucket's Block Public Access flags (JSON); NULL = none.
-- `acl`: the bucket's ACL grants (JSON); NULL = private (the owner's FULL_CONTROL).
ALTER TABLE buckets ADD COLUMN ownership TEXT DEFAULT 'BucketOwnerEnforced';
ALTER TABLE buckets ADD COLUMN public_access_block TEXT;
ALTER TABLE buckets ADD COLUMN acl TEXT;
