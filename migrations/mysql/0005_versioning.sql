-- Versioning (issue 12): see migrations/sqlite/0005_versioning.sql for the design and its invariant.
-- `objects` holds each key's current (non-marker) version; `object_versions` every other version, ordered
-- within a key by `vorder` (the negated per-bucket commit sequence: smaller is newer).
ALTER TABLE buckets
    ADD COLUMN versioning       VARCHAR(16) NOT NULL DEFAULT '',
    ADD COLUMN version_seq      BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN noncurrent_count BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN noncurrent_bytes BIGINT      NOT NULL DEFAULT 0;

ALTER TABLE objects
    ADD COLUMN version_id VARCHAR(64) NOT NULL DEFAULT 'null',
    ADD COLUMN vorder     BIGINT      NOT NULL DEFAULT 0;

CREATE TABLE object_versions (
    bucket_id     BIGINT          NOT NULL,
    object_key    VARBINARY(1024) NOT NULL,
    vorder        BIGINT          NOT NULL,
    version_id    VARCHAR(64)     NOT NULL,
    is_marker     BIGINT          NOT NULL,
    size          BIGINT          NOT NULL,
    etag          VARCHAR(80)     NOT NULL,
    last_modified BIGINT          NOT NULL,
    owner_id      BIGINT          NOT NULL,
    attributes    MEDIUMTEXT      NOT NULL,
    manifest      MEDIUMTEXT      NOT NULL,
    parts_count   BIGINT,
    PRIMARY KEY (bucket_id, object_key, vorder),
    CONSTRAINT object_versions_bucket FOREIGN KEY (bucket_id) REFERENCES buckets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
