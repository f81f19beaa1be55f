-- Access keys the server holds for a user to sign the console's presigned URLs ('console') are kept apart
-- from the keys users create and see ('user'). bucket_scope (0001) now holds the restriction as JSON:
-- {"buckets": ["name", ...], "access": "read" | "readwrite"}.
ALTER TABLE access_keys ADD COLUMN purpose VARCHAR(16) NOT NULL DEFAULT 'user';
CREATE INDEX access_keys_by_user ON access_keys (user_id, purpose);
