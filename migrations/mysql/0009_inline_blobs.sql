-- Inline blobs (issue 14): see migrations/sqlite/0009_inline_blobs.sql. MEDIUMBLOB: the inline threshold
-- may be set up to 64 KiB, a BLOB's limit.
CREATE TABLE inline_blobs (
    blob_id VARCHAR(64) NOT NULL PRIMARY KEY,
    data    MEDIUMBLOB  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
