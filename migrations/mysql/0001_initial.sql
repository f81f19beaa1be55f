-- CloudVault initial schema (MySQL / MariaDB, production).
-- Times are milliseconds since the Unix epoch. Object keys are VARBINARY(1024): byte order, case- and
-- space-sensitive (a collated VARCHAR would make `Foo` = `foo` and `a` = `a `), and (BIGINT, VARBINARY(1024))
-- fits InnoDB's 3072-byte index limit where utf8mb4 VARCHAR(1024) would not.

CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(128) NOT NULL,
    password_hash VARCHAR(255),
    role          VARCHAR(16)  NOT NULL,
    enabled       BOOLEAN      NOT NULL DEFAULT TRUE,
    token_version BIGINT       NOT NULL DEFAULT 0,
    created_at    BIGINT       NOT NULL,
    UNIQUE KEY users_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE access_keys (
    access_key_id VARCHAR(128) NOT NULL PRIMARY KEY,
    user_id       BIGINT       NOT NULL,
    secret        VARCHAR(512) NOT NULL,
    enabled       BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at    BIGINT       NOT NULL,
    expires_at    BIGINT,
    bucket_scope  TEXT,
    CONSTRAINT access_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE buckets (
    id           BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name         VARCHAR(63) NOT NULL,
    owner_id     BIGINT      NOT NULL,
    region       VARCHAR(64) NOT NULL,
    created_at   BIGINT      NOT NULL,
    object_count BIGINT      NOT NULL DEFAULT 0,
    bytes_used   BIGINT      NOT NULL DEFAULT 0,
    policy       TEXT,
    UNIQUE KEY buckets_name (name),
    CONSTRAINT buckets_owner FOREIGN KEY (owner_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE objects (
    bucket_id     BIGINT          NOT NULL,
    object_key    VARBINARY(1024) NOT NULL,
    size          BIGINT          NOT NULL,
    etag          VARCHAR(80)     NOT NULL,
    last_modified BIGINT          NOT NULL,
    owner_id      BIGINT          NOT NULL,
    attributes    MEDIUMTEXT      NOT NULL,
    manifest      MEDIUMTEXT      NOT NULL,
    parts_count   BIGINT,
    PRIMARY KEY (bucket_id, object_key),
    CONSTRAINT objects_bucket FOREIGN KEY (bucket_id) REFERENCES buckets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE pending_blobs (
    blob_id    VARCHAR(64) NOT NULL PRIMARY KEY,
    created_at BIGINT      NOT NULL,
    KEY pending_blobs_age (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE garbage_blobs (
    blob_id     VARCHAR(64) NOT NULL PRIMARY KEY,
    enqueued_at BIGINT      NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE multipart_uploads (
    upload_id    VARCHAR(64)     NOT NULL PRIMARY KEY,
    bucket_id    BIGINT          NOT NULL,
    object_key   VARBINARY(1024) NOT NULL,
    initiated_at BIGINT          NOT NULL,
    owner_id     BIGINT          NOT NULL,
    attributes   MEDIUMTEXT      NOT NULL,
    KEY multipart_uploads_by_key (bucket_id, object_key, upload_id),
    CONSTRAINT multipart_uploads_bucket FOREIGN KEY (bucket_id) REFERENCES buckets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE multipart_parts (
    upload_id     VARCHAR(64)  NOT NULL,
    part_number   BIGINT       NOT NULL,
    blob_id       VARCHAR(64)  NOT NULL,
    size          BIGINT       NOT NULL,
    etag          VARCHAR(80)  NOT NULL,
    checksum      VARCHAR(255),
    last_modified BIGINT       NOT NULL,
    PRIMARY KEY (upload_id, part_number),
    CONSTRAINT multipart_parts_upload FOREIGN KEY (upload_id) REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
