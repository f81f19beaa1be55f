-- Versioning (issue 12). `objects` keeps exactly the current version of every key whose newest version is
-- not a delete marker: what ListObjects and GET without a version id read, unchanged. Every other version
-- (noncurrent versions, and delete markers, current or not) lives in `object_versions`.
--
-- Versions of one key are ordered by `vorder`, the negated commit sequence number: smaller is newer, so an
-- ascending index scan returns a key's versions newest first, as ListObjectVersions does. The sequence is
-- per bucket (`buckets.version_seq`), taken under the bucket row lock every object write holds, so it is
-- the commit order on every backend and every replica, never a clock. Rows written before this migration
-- have vorder 0: older than everything written after it.
--
-- INVARIANT: a key has an `objects` row exactly when its newest version is not a delete marker, and that
-- row is newer (smaller vorder) than all of the key's `object_versions` rows.
ALTER TABLE buckets ADD COLUMN versioning TEXT NOT NULL DEFAULT '';
ALTER TABLE buckets ADD COLUMN version_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN noncurrent_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN noncurrent_bytes INTEGER NOT NULL DEFAULT 0;

ALTER TABLE objects ADD COLUMN version_id TEXT NOT NULL DEFAULT 'null';
ALTER TABLE objects ADD COLUMN vorder INTEGER NOT NULL DEFAULT 0;

CREATE TABLE object_versions (
    bucket_id     INTEGER NOT NULL REFERENCES buckets (id),
    object_key    BLOB    NOT NULL,
    vorder        INTEGER NOT NULL,
    version_id    TEXT    NOT NULL,
    is_marker     INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    last_modified INTEGER NOT NULL,
    owner_id      INTEGER NOT NULL,
    attributes    TEXT    NOT NULL,
    manifest      TEXT    NOT NULL,
    parts_count   INTEGER,
    PRIMARY KEY (bucket_id, object_key, vorder)
) WITHOUT ROWID;
