//! Multipart uploads: the upload row, its parts (each one blob), and the transaction that turns the
//! chosen parts into an object without copying a byte (the object's manifest lists the part blobs).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{MetaError, MetaResult};
use crate::model::{BlobRef, BucketId, ObjectRecord, UserId, WriteCondition};
use crate::store::{MetaStore, dynamic};
use crate::tx::WriteTx;
use crate::versions::BucketLockMode;

/// An incomplete multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The opaque upload id.
    pub upload_id: String,
    /// The bucket it writes into.
    pub bucket_id: BucketId,
    /// The key the object will have.
    pub key: Vec<u8>,
    /// When CreateMultipartUpload ran, ms since the epoch.
    pub initiated_at: i64,
    /// Who started it.
    pub owner_id: UserId,
    /// The object's attributes (JSON of the S3 layer), fixed at creation.
    pub attributes: String,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 1..=10000.
    pub part_number: i64,
    /// The part's bytes (`md5_hex` is its ETag).
    pub blob: BlobRef,
    /// When it was uploaded, ms since the epoch.
    pub last_modified: i64,
    /// The part's flexible checksum in the S3 layer's text form, if one was computed.
    pub checksum: Option<String>,
}

const UPLOAD_COLUMNS: &str = "upload_id, bucket_id, object_key, initiated_at, owner_id, attributes";

fn upload_from_row(row: &AnyRow) -> MetaResult<Upload> {
    Ok(Upload {
        upload_id: row.try_get("upload_id")?,
        bucket_id: row.try_get("bucket_id")?,
        key: row.try_get("object_key")?,
        initiated_at: row.try_get("initiated_at")?,
        owner_id: row.try_get("owner_id")?,
        attributes: row.try_get("attributes")?,
    })
}

fn part_from_row(row: &AnyRow) -> MetaResult<Part> {
    Ok(Part {
        part_number: row.try_get("part_number")?,
        blob: BlobRef { blob_id: row.try_get("blob_id")?, size: row.try_get("size")?, md5_hex: row.try_get("etag")? },
        last_modified: row.try_get("last_modified")?,
        checksum: row.try_get("checksum")?,
    })
}

impl MetaStore {
    /// Records a new upload.
    pub async fn create_upload(&self, upload: &Upload) -> MetaResult<()> {
        self.timed(async move {
            sqlx::query(
                "INSERT INTO multipart_uploads (upload_id, bucket_id, object_key, initiated_at, owner_id, attributes) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&upload.upload_id)
            .bind(upload.bucket_id)
            .bind(&upload.key)
            .bind(upload.initiated_at)
            .bind(upload.owner_id)
            .bind(&upload.attributes)
            .execute(&self.writer)
            .await?;
            Ok(())
        })
        .await
    }

    /// The upload with this id, if it is still in progress.
    pub async fn upload(&self, upload_id: &str) -> MetaResult<Option<Upload>> {
        self.timed(async move {
            let row =
                sqlx::query(dynamic(format!("SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE upload_id = ?")))
                    .bind(upload_id)
                    .fetch_optional(&self.reader)
                    .await?;
            row.as_ref().map(upload_from_row).transpose()
        })
        .await
    }

    /// Makes `blob` part `part_number` of the upload, replacing (and retiring) an earlier blob of the same
    /// part, and forgets the blob's intent, all in one transaction. `NoSuchUpload` is reported as
    /// [`MetaError::NoSuchUpload`] when the upload was completed or aborted meanwhile.
    pub async fn put_part(
        &self,
        upload_id: &str,
        part_number: i64,
        blob: &BlobRef,
        checksum: Option<&str>,
        now_ms: i64,
    ) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            self.lock_upload(&mut tx, upload_id).await?.ok_or(MetaError::NoSuchUpload)?;
            let previous = sqlx::query("SELECT blob_id FROM multipart_parts WHERE upload_id = ? AND part_number = ?")
                .bind(upload_id)
                .bind(part_number)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(previous) = previous {
                let old: String = previous.try_get("blob_id")?;
                self.enqueue_garbage(&mut tx, &old, now_ms).await?;
                sqlx::query("DELETE FROM multipart_parts WHERE upload_id = ? AND part_number = ?")
                    .bind(upload_id)
                    .bind(part_number)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO multipart_parts (upload_id, part_number, blob_id, size, etag, checksum, last_modified) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(upload_id)
            .bind(part_number)
            .bind(&blob.blob_id)
            .bind(blob.size)
            .bind(&blob.md5_hex)
            .bind(checksum)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            self.claim_intent(&mut tx, &blob.blob_id).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Up to `limit` parts of the upload with numbers greater than `after`, ascending.
    pub async fn list_parts(&self, upload_id: &str, after: i64, limit: u32) -> MetaResult<Vec<Part>> {
        self.timed(async move {
            let rows = sqlx::query(
                "SELECT part_number, blob_id, size, etag, checksum, last_modified FROM multipart_parts \
                 WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
            )
            .bind(upload_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
            rows.iter().map(part_from_row).collect()
        })
        .await
    }

    /// Up to `limit` uploads of the bucket whose key starts at or after `from_key` (and, for that key,
    /// whose id is greater than `after_upload_id`), in (key, upload id) order.
    pub async fn list_uploads(
        &self,
        bucket_id: BucketId,
        from_key: &[u8],
        after_upload_id: &str,
        end: Option<&[u8]>,
        limit: u32,
    ) -> MetaResult<Vec<Upload>> {
        self.timed(async move {
            let mut sql = format!(
                "SELECT {UPLOAD_COLUMNS} FROM multipart_uploads WHERE bucket_id = ? \
                 AND (object_key > ? OR (object_key = ? AND upload_id > ?))"
            );
            if end.is_some() {
                sql.push_str(" AND object_key < ?");
            }
            sql.push_str(" ORDER BY object_key, upload_id LIMIT ?");
            let mut q = sqlx::query(dynamic(sql)).bind(bucket_id).bind(from_key).bind(from_key).bind(after_upload_id);
            if let Some(end) = end {
                q = q.bind(end);
            }
            let rows = q.bind(i64::from(limit)).fetch_all(&self.reader).await?;
            rows.iter().map(upload_from_row).collect()
        })
        .await
    }

    /// Completes an upload in ONE transaction: lock the bucket and the upload (a concurrent Complete or
    /// Abort waits, then finds it gone: `NoSuchUpload`), check that every blob in `object.manifest` is still
    /// the current blob of its part (a part re-sent meanwhile gives `InvalidPart`), commit the object as
    /// [`MetaStore::commit_object`] does, retire the parts that were not used, and delete the upload.
    /// The object becomes visible exactly when the upload disappears, so Complete racing Abort never
    /// leaves a key that lists but has no bytes. Returns the new version's id (`None` unversioned).
    pub async fn complete_upload(
        &self,
        upload_id: &str,
        bucket_id: BucketId,
        object: &ObjectRecord,
        condition: &WriteCondition,
        now_ms: i64,
    ) -> MetaResult<Option<String>> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let mut state = self.lock_bucket(&mut tx, bucket_id, BucketLockMode::Exclusive).await?;
            self.lock_upload(&mut tx, upload_id).await?.ok_or(MetaError::NoSuchUpload)?;
            let rows = sqlx::query("SELECT blob_id FROM multipart_parts WHERE upload_id = ?")
                .bind(upload_id)
                .fetch_all(&mut *tx)
                .await?;
            let current: Vec<String> = rows.iter().map(|r| r.try_get("blob_id")).collect::<Result<_, _>>()?;
            if object.manifest.0.iter().any(|b| !current.contains(&b.blob_id)) {
                return Err(MetaError::InvalidPart);
            }
            let version_id = self.commit_in_tx(&mut tx, &mut state, object, condition, now_ms).await?;
            state.finish(self, &mut tx).await?;
            for unused in current.iter().filter(|id| !object.manifest.0.iter().any(|b| &b.blob_id == *id)) {
                self.enqueue_garbage(&mut tx, unused, now_ms).await?;
            }
            sqlx::query("DELETE FROM multipart_parts WHERE upload_id = ?").bind(upload_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM multipart_uploads WHERE upload_id = ?").bind(upload_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(version_id)
        })
        .await
    }

    /// Aborts an upload: its part blobs go to the janitor and the upload disappears, in one transaction.
    pub async fn abort_upload(&self, upload_id: &str, now_ms: i64) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            self.lock_upload(&mut tx, upload_id).await?.ok_or(MetaError::NoSuchUpload)?;
            self.abort_in_tx(&mut tx, upload_id, now_ms).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Uploads with no activity (creation or part upload) since `cutoff_ms`: candidates for the expiry
    /// sweep.
    pub async fn idle_uploads(&self, cutoff_ms: i64, limit: u32) -> MetaResult<Vec<String>> {
        self.timed(async move {
            let rows = sqlx::query(
                "SELECT u.upload_id FROM multipart_uploads u WHERE u.initiated_at < ? AND NOT EXISTS \
                 (SELECT 1 FROM multipart_parts p WHERE p.upload_id = u.upload_id AND p.last_modified >= ?) LIMIT ?",
            )
            .bind(cutoff_ms)
            .bind(cutoff_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
            rows.iter().map(|r| Ok(r.try_get("upload_id")?)).collect()
        })
        .await
    }

    /// Aborts an upload only if it is still idle since `cutoff_ms`, re-checked under the upload's row
    /// lock, so a part committed after the candidates were read keeps its upload alive. Returns whether it
    /// was aborted.
    pub async fn abort_idle_upload(&self, upload_id: &str, cutoff_ms: i64, now_ms: i64) -> MetaResult<bool> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let Some(initiated) = self.lock_upload(&mut tx, upload_id).await? else {
                return Ok(false);
            };
            let recent =
                sqlx::query("SELECT 1 FROM multipart_parts WHERE upload_id = ? AND last_modified >= ? LIMIT 1")
                    .bind(upload_id)
                    .bind(cutoff_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
            if initiated >= cutoff_ms || recent.is_some() {
                return Ok(false);
            }
            self.abort_in_tx(&mut tx, upload_id, now_ms).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Locks the upload row for the rest of `tx`; returns its initiation time, or `None` if it is gone.
    async fn lock_upload(&self, tx: &mut WriteTx, upload_id: &str) -> MetaResult<Option<i64>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT initiated_at FROM multipart_uploads WHERE upload_id = ?{}",
            self.for_update()
        )))
        .bind(upload_id)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(|r| r.try_get("initiated_at")).transpose()?)
    }

    async fn abort_in_tx(&self, tx: &mut WriteTx, upload_id: &str, now_ms: i64) -> MetaResult<()> {
        sqlx::query(
            "INSERT INTO garbage_blobs (blob_id, enqueued_at) SELECT blob_id, ? FROM multipart_parts WHERE upload_id = ?",
        )
        .bind(now_ms)
        .bind(upload_id)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM multipart_parts WHERE upload_id = ?").bind(upload_id).execute(&mut **tx).await?;
        sqlx::query("DELETE FROM multipart_uploads WHERE upload_id = ?").bind(upload_id).execute(&mut **tx).await?;
        Ok(())
    }
}
