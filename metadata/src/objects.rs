//! Objects: the commit transaction of a write, deletes, lookups and listing range scans.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{MetaError, MetaResult};
use crate::model::{BucketId, ListedObject, Manifest, ObjectRecord, WriteCondition};
use crate::store::{MetaStore, dynamic};
use crate::tx::WriteTx;

/// Where a listing scan starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListBound<'a> {
    /// From the first key of the bucket.
    Unbounded,
    /// From the first key strictly greater than this one.
    After(&'a [u8]),
    /// From the first key greater than or equal to this one.
    From(&'a [u8]),
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None` when there is
/// none (empty prefix, or all bytes 0xFF). Listings use it as the exclusive end of a prefix range and to
/// skip past a whole common prefix in one index seek.
pub fn key_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

const OBJECT_COLUMNS: &str = "object_key, size, etag, last_modified, owner_id, attributes, manifest, parts_count";

fn object_from_row(row: &AnyRow) -> MetaResult<ObjectRecord> {
    let manifest: String = row.try_get("manifest")?;
    let ListedObject { key, size, etag, last_modified, owner_id, attributes } = listed_from_row(row)?;
    Ok(ObjectRecord {
        key,
        size,
        etag,
        last_modified,
        owner_id,
        attributes,
        manifest: Manifest::decode(&manifest)?,
        parts_count: row.try_get("parts_count")?,
    })
}

/// The columns [`listed_from_row`] reads.
pub(crate) const LISTED_COLUMNS: &str = "object_key, size, etag, last_modified, owner_id, attributes";

/// Which columns [`MetaStore::list_objects`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListColumns {
    /// Key, size, ETag, time and owner; `attributes` is left empty. An S3 listing returns no attributes,
    /// which can be kilobytes per row.
    #[default]
    Bare,
    /// Also each object's stored attributes (the console shows the content type).
    WithAttributes,
}

impl ListColumns {
    fn sql(self) -> &'static str {
        match self {
            ListColumns::Bare => "object_key, size, etag, last_modified, owner_id, '' AS attributes",
            ListColumns::WithAttributes => LISTED_COLUMNS,
        }
    }
}

/// One listing row.
pub(crate) fn listed_from_row(row: &AnyRow) -> MetaResult<ListedObject> {
    Ok(ListedObject {
        key: row.try_get("object_key")?,
        size: row.try_get("size")?,
        etag: row.try_get("etag")?,
        last_modified: row.try_get("last_modified")?,
        owner_id: row.try_get("owner_id")?,
        attributes: row.try_get("attributes")?,
    })
}

impl MetaStore {
    /// The current object under `key`, if any.
    pub async fn object(&self, bucket_id: BucketId, key: &[u8]) -> MetaResult<Option<ObjectRecord>> {
        self.timed(async move {
            let row = sqlx::query(dynamic(format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = ? AND object_key = ?"
            )))
            .bind(bucket_id)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
            row.as_ref().map(object_from_row).transpose()
        })
        .await
    }

    /// Locks the bucket row for the rest of `tx` (MySQL) and checks it still exists. Every object write
    /// takes this lock first, so writers of one bucket are serialized: conditions are evaluated against
    /// the committed state, the counters stay exact, and there is no lock-order deadlock.
    pub(crate) async fn lock_bucket(&self, tx: &mut WriteTx, bucket_id: BucketId) -> MetaResult<()> {
        sqlx::query(dynamic(format!("SELECT id FROM buckets WHERE id = ?{}", self.for_update())))
            .bind(bucket_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(MetaError::NoSuchBucket)?;
        Ok(())
    }

    async fn current_in_tx(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        key: &[u8],
    ) -> MetaResult<Option<ObjectRecord>> {
        // A plain read, not FOR UPDATE: the bucket row lock taken first already serializes the writers
        // of this bucket, and the read's snapshot starts only now, after that lock was granted, so it sees
        // the last committed state. A locking read of a missing key would take a gap lock that writers
        // of *other* buckets (at the end of the same index) deadlock on.
        let row = sqlx::query(dynamic(format!(
            "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = ? AND object_key = ?"
        )))
        .bind(bucket_id)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(object_from_row).transpose()
    }

    /// THE COMMIT POINT of an object write. In one transaction: lock the bucket, evaluate `condition`
    /// against the current object, replace (or create) the row, hand the replaced object's blobs to the
    /// janitor (`garbage_blobs`), forget the new blobs' intents (`pending_blobs`) and adjust the bucket's
    /// counters. Every new blob's intent must still be there ([`MetaStore::claim_intent`]), else the commit
    /// fails with [`MetaError::IntentLost`]. Before this commits nobody can see the new object; after it, everybody does. A crash
    /// before the commit leaves only pending intents and files that the janitor removes after the grace
    /// period; a crash after it leaves old blobs queued in `garbage_blobs`, removed by the next sweep.
    pub async fn commit_object(
        &self,
        bucket_id: BucketId,
        object: &ObjectRecord,
        condition: &WriteCondition,
        now_ms: i64,
    ) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            self.lock_bucket(&mut tx, bucket_id).await?;
            for blob in &object.manifest.0 {
                self.claim_intent(&mut tx, &blob.blob_id).await?;
            }
            self.commit_in_tx(&mut tx, bucket_id, object, condition, now_ms).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// INVARIANT "no row without its blob", made unconditional: a commit that references a freshly placed
    /// blob deletes that blob's intent row and requires that it was still there. The janitor removes a
    /// stale intent's file *before* its row, so a present row proves the file was not swept; a missing
    /// row (a sweeper whose clock runs ahead, a commit stalled past the grace period) fails the commit
    /// with [`MetaError::IntentLost`], and nothing becomes visible. No clock assumption is involved.
    pub(crate) async fn claim_intent(&self, tx: &mut WriteTx, blob_id: &str) -> MetaResult<()> {
        let done = sqlx::query("DELETE FROM pending_blobs WHERE blob_id = ?").bind(blob_id).execute(&mut **tx).await?;
        if done.rows_affected() != 1 {
            return Err(MetaError::IntentLost(blob_id.to_owned()));
        }
        Ok(())
    }

    /// The body of [`MetaStore::commit_object`], for transactions that have locked the bucket row and
    /// do more in the same commit (completing a multipart upload).
    pub(crate) async fn commit_in_tx(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        object: &ObjectRecord,
        condition: &WriteCondition,
        now_ms: i64,
    ) -> MetaResult<()> {
        let previous = self.current_in_tx(tx, bucket_id, &object.key).await?;
        match (condition, &previous) {
            (WriteCondition::None, _) => {}
            (WriteCondition::IfAbsent, None) => {}
            (WriteCondition::IfEtag(want), Some(prev)) if *want == prev.etag => {}
            _ => return Err(MetaError::PreconditionFailed),
        }
        let manifest = object.manifest.encode();
        // One bind order for both statements: the row's columns, then its key.
        let sql = if previous.is_some() {
            "UPDATE objects SET size = ?, etag = ?, last_modified = ?, owner_id = ?, attributes = ?, manifest = ?, \
             parts_count = ? WHERE bucket_id = ? AND object_key = ?"
        } else {
            "INSERT INTO objects (size, etag, last_modified, owner_id, attributes, manifest, parts_count, bucket_id, \
             object_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        };
        sqlx::query(sql)
            .bind(object.size)
            .bind(&object.etag)
            .bind(object.last_modified)
            .bind(object.owner_id)
            .bind(&object.attributes)
            .bind(&manifest)
            .bind(object.parts_count)
            .bind(bucket_id)
            .bind(&object.key)
            .execute(&mut **tx)
            .await?;
        let (count_delta, bytes_delta) = match &previous {
            Some(prev) => {
                self.retire_blobs(tx, &prev.manifest, object, now_ms).await?;
                (0, object.size - prev.size)
            }
            None => (1, object.size),
        };
        self.adjust_counters(tx, bucket_id, count_delta, bytes_delta).await
    }

    /// Queues the blobs of a replaced manifest for deletion, except those the new object still uses
    /// (a metadata-only self-copy keeps the same blobs).
    pub(crate) async fn retire_blobs(
        &self,
        tx: &mut WriteTx,
        old: &Manifest,
        new: &ObjectRecord,
        now_ms: i64,
    ) -> MetaResult<()> {
        for blob in &old.0 {
            if new.manifest.0.iter().any(|b| b.blob_id == blob.blob_id) {
                continue;
            }
            self.enqueue_garbage(tx, &blob.blob_id, now_ms).await?;
        }
        Ok(())
    }

    async fn adjust_counters(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        count_delta: i64,
        bytes_delta: i64,
    ) -> MetaResult<()> {
        sqlx::query("UPDATE buckets SET object_count = object_count + ?, bytes_used = bytes_used + ? WHERE id = ?")
            .bind(count_delta)
            .bind(bytes_delta)
            .bind(bucket_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Replaces the attributes (HTTP attributes, user metadata, tags) of the object under `key`, only if
    /// its ETag is still `etag`. Returns whether it was updated; `false` means the object is gone or was
    /// overwritten meanwhile.
    pub async fn update_object_attributes(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        etag: &str,
        attributes: &str,
    ) -> MetaResult<bool> {
        self.timed(async move {
            let done =
                sqlx::query("UPDATE objects SET attributes = ? WHERE bucket_id = ? AND object_key = ? AND etag = ?")
                    .bind(attributes)
                    .bind(bucket_id)
                    .bind(key)
                    .bind(etag)
                    .execute(&self.writer)
                    .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    /// Deletes the object under `key` and queues its blobs for the janitor. Returns whether there was
    /// one. The file deletion happens after the commit, so a crash leaves a queued blob, never a row
    /// pointing at a missing file.
    pub async fn delete_object(&self, bucket_id: BucketId, key: &[u8], now_ms: i64) -> MetaResult<bool> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            self.lock_bucket(&mut tx, bucket_id).await?;
            let Some(previous) = self.current_in_tx(&mut tx, bucket_id, key).await? else {
                return Ok(false);
            };
            sqlx::query("DELETE FROM objects WHERE bucket_id = ? AND object_key = ?")
                .bind(bucket_id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            let none = ObjectRecord { manifest: Manifest::default(), ..previous.clone() };
            self.retire_blobs(&mut tx, &previous.manifest, &none, now_ms).await?;
            self.adjust_counters(&mut tx, bucket_id, -1, -previous.size).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Up to `limit` objects in key order, starting at `start` and stopping before `end` (exclusive),
    /// with the `columns` asked for. An index range scan on the primary key: the cost is the page, never
    /// the bucket.
    pub async fn list_objects(
        &self,
        bucket_id: BucketId,
        start: ListBound<'_>,
        end: Option<&[u8]>,
        limit: u32,
        columns: ListColumns,
    ) -> MetaResult<Vec<ListedObject>> {
        let columns = columns.sql();
        self.timed(async move {
            let mut sql = format!("SELECT {columns} FROM objects WHERE bucket_id = ?");
            match start {
                ListBound::Unbounded => {}
                ListBound::After(_) => sql.push_str(" AND object_key > ?"),
                ListBound::From(_) => sql.push_str(" AND object_key >= ?"),
            }
            if end.is_some() {
                sql.push_str(" AND object_key < ?");
            }
            sql.push_str(" ORDER BY object_key LIMIT ?");
            let mut query = sqlx::query(dynamic(sql)).bind(bucket_id);
            if let ListBound::After(k) | ListBound::From(k) = start {
                query = query.bind(k);
            }
            if let Some(end) = end {
                query = query.bind(end);
            }
            let rows = query.bind(i64::from(limit)).fetch_all(&self.reader).await?;
            rows.iter().map(listed_from_row).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::key_successor;

    #[test]
    fn successor_increments_last_byte_and_carries_over_ff() {
        assert_eq!(key_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(key_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(key_successor(b"\xff\xff"), None);
        assert_eq!(key_successor(b""), None);
    }
}
