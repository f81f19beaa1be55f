//! Queries the console needs beyond S3 listing: search by name within a prefix, and the totals of a prefix
//! (what a folder delete confirms). Both are range scans of the primary key limited to the prefix.

use sqlx::Row;

use crate::Backend;
use crate::error::MetaResult;
use crate::model::{BucketId, ListedObject};
use crate::objects::{LISTED_COLUMNS, key_successor, listed_from_row};
use crate::store::{MetaStore, dynamic};

impl MetaStore {
    /// Up to `limit` objects in key order whose key starts with `prefix`, is greater than `after` (when
    /// given), and whose remainder after the prefix contains `needle`, ignoring case (ASCII letters on
    /// SQLite; every letter on MySQL). The filter runs in the database, over the prefix's index range.
    pub async fn search_objects(
        &self,
        bucket_id: BucketId,
        prefix: &[u8],
        after: Option<&[u8]>,
        needle: &str,
        limit: u32,
    ) -> MetaResult<Vec<ListedObject>> {
        self.timed(async move {
            let (filter, needle) = match self.backend {
                Backend::Sqlite => {
                    ("instr(lower(CAST(substr(object_key, ?) AS TEXT)), ?) > 0", needle.to_ascii_lowercase())
                }
                Backend::MySql => {
                    ("INSTR(LOWER(CONVERT(SUBSTRING(object_key, ?) USING utf8mb4)), ?) > 0", needle.to_lowercase())
                }
            };
            let end = key_successor(prefix);
            let mut sql = format!("SELECT {LISTED_COLUMNS} FROM objects WHERE bucket_id = ? AND object_key >= ?");
            if end.is_some() {
                sql.push_str(" AND object_key < ?");
            }
            if after.is_some() {
                sql.push_str(" AND object_key > ?");
            }
            sql.push_str(" AND ");
            sql.push_str(filter);
            sql.push_str(" ORDER BY object_key LIMIT ?");
            let mut query = sqlx::query(dynamic(sql)).bind(bucket_id).bind(prefix);
            if let Some(end) = &end {
                query = query.bind(end.as_slice());
            }
            if let Some(after) = after {
                query = query.bind(after);
            }
            // SQL string positions are 1-based: the remainder starts right after the prefix.
            let rows = query
                .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX).saturating_add(1))
                .bind(needle)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?;
            rows.iter().map(listed_from_row).collect()
        })
        .await
    }

    /// How many objects start with `prefix`, and their total size in bytes.
    pub async fn prefix_totals(&self, bucket_id: BucketId, prefix: &[u8]) -> MetaResult<(i64, i64)> {
        self.timed(async move {
            let sum = match self.backend {
                Backend::Sqlite => "COALESCE(SUM(size), 0)",
                Backend::MySql => "CAST(COALESCE(SUM(size), 0) AS SIGNED)",
            };
            let end = key_successor(prefix);
            let mut sql =
                format!("SELECT COUNT(*) AS n, {sum} AS bytes FROM objects WHERE bucket_id = ? AND object_key >= ?");
            if end.is_some() {
                sql.push_str(" AND object_key < ?");
            }
            let mut query = sqlx::query(dynamic(sql)).bind(bucket_id).bind(prefix);
            if let Some(end) = &end {
                query = query.bind(end.as_slice());
            }
            let row = query.fetch_one(&self.reader).await?;
            Ok((row.try_get("n")?, row.try_get("bytes")?))
        })
        .await
    }
}
