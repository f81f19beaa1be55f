-- Bucket counters as deltas (issue 14): see migrations/sqlite/0010_bucket_counters.sql. 32 shard rows
-- per bucket, created with the bucket; a write transaction updates the row `CONNECTION_ID() % 32`, so
-- the connections of a pool (16 by default) rarely share one and concurrent writers of one bucket do
-- not serialize on a counter row. The rows exist before anyone updates them: an UPDATE by primary key
-- takes one record lock, where an upsert would take gap locks.
CREATE TABLE bucket_counters (
    bucket_id          BIGINT NOT NULL,
    shard              INT    NOT NULL,
    d_objects          BIGINT NOT NULL DEFAULT 0,
    d_bytes            BIGINT NOT NULL DEFAULT 0,
    d_noncurrent       BIGINT NOT NULL DEFAULT 0,
    d_noncurrent_bytes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_id, shard)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO bucket_counters (bucket_id, shard)
SELECT b.id, lo.n + 8 * hi.n
FROM buckets b
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3
            UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) lo
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) hi;
