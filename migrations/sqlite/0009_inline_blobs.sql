-- Inline blobs (issue 14): the bytes of small objects, kept in the metadata store instead of a file on
-- the data volume. A row is inserted by the same transaction that commits the object naming it (so it
-- is exactly as durable as that row, and a crash before the COMMIT leaves nothing), and deleted by the
-- janitor with the blob's `garbage_blobs` row once the object was replaced or deleted. Inline blob ids
-- start with `i` (file blob ids are lowercase hex), so a manifest or garbage row says which kind it
-- names. A table of its own, so that listings, which read `objects`, never read these bytes.
CREATE TABLE inline_blobs (
    blob_id TEXT PRIMARY KEY,
    data    BLOB NOT NULL
);
