-- Bucket counters as deltas (issue 14). On MySQL a writer adds its counter changes to one of several
-- shard rows of its bucket instead of the bucket row, so writers of one bucket do not queue on one row
-- lock (see migrations/mysql/0010_bucket_counters.sql). SQLite has one writer: one shard row (0) per
-- bucket. A bucket's usage is its `buckets` columns (the counts up to this migration) plus the sum of
-- its shard rows; both change only inside object-write transactions, so the sum is exact at every
-- commit. `buckets.version_seq` is no longer used: a version's ordering number is one more than the
-- newest of its own key, taken under that key's row lock.
CREATE TABLE bucket_counters (
    bucket_id          INTEGER NOT NULL,
    shard              INTEGER NOT NULL,
    d_objects          INTEGER NOT NULL DEFAULT 0,
    d_bytes            INTEGER NOT NULL DEFAULT 0,
    d_noncurrent       INTEGER NOT NULL DEFAULT 0,
    d_noncurrent_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_id, shard)
);

INSERT INTO bucket_counters (bucket_id, shard) SELECT id, 0 FROM buckets;
