-- Bucket tagging and CORS configuration, stored as JSON / XML-derived JSON written by the S3 layer.
ALTER TABLE buckets ADD COLUMN tags TEXT;
ALTER TABLE buckets ADD COLUMN cors TEXT;
