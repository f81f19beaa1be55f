-- Bucket tagging and CORS configuration, stored as JSON written by the S3 layer.
ALTER TABLE buckets ADD COLUMN tags TEXT NULL, ADD COLUMN cors TEXT NULL;
