-- CloudVault initial schema (SQLite, the embedded default).
-- Times are milliseconds since the Unix epoch. Object keys are BLOBs: SQLite compares BLOBs with memcmp,
-- so keys sort by byte value and `Foo`/`foo`, `a`/`a ` are different rows.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT,
    role          TEXT    NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE access_keys (
    access_key_id TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret        TEXT    NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    -- Optional restriction to named buckets (issue 4): JSON, NULL = unrestricted.
    bucket_scope  TEXT
);

CREATE TABLE buckets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    owner_id     INTEGER NOT NULL REFERENCES users (id),
    region       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    -- Counters kept in the same transaction as every object write, so usage is never computed by scanning.
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used   INTEGER NOT NULL DEFAULT 0,
    policy       TEXT
);

CREATE TABLE objects (
    bucket_id     INTEGER NOT NULL REFERENCES buckets (id),
    object_key    BLOB    NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    last_modified INTEGER NOT NULL,
    owner_id      INTEGER NOT NULL,
    -- HTTP attributes and user metadata, JSON written by the S3 layer.
    attributes    TEXT    NOT NULL,
    -- The object's bytes: an ordered list of blobs, one line each ("<blob id> <size> <md5 hex>").
    manifest      TEXT    NOT NULL,
    parts_count   INTEGER,
    PRIMARY KEY (bucket_id, object_key)
) WITHOUT ROWID;

-- Blobs that are on the data volume (or about to be) but not yet referenced by a committed object.
-- A row is inserted before the staged file is renamed into place and removed by the commit transaction;
-- a row older than the grace period is an interrupted write whose file the janitor deletes.
CREATE TABLE pending_blobs (
    blob_id    TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
);

-- Blobs no committed object references any more (overwritten or deleted). Inserted by the transaction that
-- retired them; the janitor deletes the file and then the row.
CREATE TABLE garbage_blobs (
    blob_id     TEXT    PRIMARY KEY,
    enqueued_at INTEGER NOT NULL
);

CREATE TABLE multipart_uploads (
    upload_id    TEXT    PRIMARY KEY,
    bucket_id    INTEGER NOT NULL REFERENCES buckets (id),
    object_key   BLOB    NOT NULL,
    initiated_at INTEGER NOT NULL,
    owner_id     INTEGER NOT NULL,
    attributes   TEXT    NOT NULL
);
CREATE INDEX multipart_uploads_by_key ON multipart_uploads (bucket_id, object_key, upload_id);

CREATE TABLE multipart_parts (
    upload_id     TEXT    NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number   INTEGER NOT NULL,
    blob_id       TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    checksum      TEXT,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
