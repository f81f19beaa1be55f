//! Blob intents and the garbage queue: the bookkeeping that lets the janitor find every file no
//! committed object references, from the database alone (no scan of the data volume needed).

use sqlx::Row;

use crate::error::MetaResult;
use crate::model::is_inline_blob;
use crate::store::MetaStore;
use crate::tx::WriteTx;

impl MetaStore {
    /// Records the intent to place `blob_id` on the data volume. Called before the staged file is
    /// renamed into place; the commit transaction removes the row. A row that outlives the grace period
    /// belongs to a write that never committed.
    pub async fn register_pending_blob(&self, blob_id: &str, now_ms: i64) -> MetaResult<()> {
        self.timed(async move {
            // A write transaction, so that on SQLite concurrent writers' intents share one fsync.
            let mut tx = WriteTx::begin(self).await?;
            sqlx::query("INSERT INTO pending_blobs (blob_id, created_at) VALUES (?, ?)")
                .bind(blob_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
        .await
    }

    /// Intents older than `cutoff_ms`: interrupted writes whose files must go.
    pub async fn stale_pending_blobs(&self, cutoff_ms: i64, limit: u32) -> MetaResult<Vec<String>> {
        self.timed(async move {
            let rows =
                sqlx::query("SELECT blob_id FROM pending_blobs WHERE created_at < ? ORDER BY created_at LIMIT ?")
                    .bind(cutoff_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?;
            rows.iter().map(|r| Ok(r.try_get("blob_id")?)).collect()
        })
        .await
    }

    /// The janitor's claim on a stale intent: in one transaction, deletes the intent row if it is still
    /// there and older than `cutoff_ms`, and queues its blob as garbage (due at once). Returns whether it
    /// claimed it. INVARIANT: this and a commit's claim ([`MetaStore::commit_object`]) both delete the
    /// same row, so exactly one of them wins: either the object commits and its blob is never queued, or
    /// the blob is queued and the commit fails. The file is removed only after this commits.
    pub async fn expire_pending_blob(&self, blob_id: &str, cutoff_ms: i64) -> MetaResult<bool> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let done = sqlx::query("DELETE FROM pending_blobs WHERE blob_id = ? AND created_at < ?")
                .bind(blob_id)
                .bind(cutoff_ms)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            self.enqueue_garbage(&mut tx, blob_id, 0).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Queues `blob_id` for the janitor inside `tx`: the file is deleted once `enqueued_at_ms` is older
    /// than the grace period. The one way a single blob becomes garbage (bucket deletes and aborts queue
    /// their parts' blobs with one INSERT ... SELECT each).
    pub(crate) async fn enqueue_garbage(&self, tx: &mut WriteTx, blob_id: &str, enqueued_at_ms: i64) -> MetaResult<()> {
        sqlx::query("INSERT INTO garbage_blobs (blob_id, enqueued_at) VALUES (?, ?)")
            .bind(blob_id)
            .bind(enqueued_at_ms)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Drops an intent once its file is gone (or a write failed before the commit).
    pub async fn forget_pending_blob(&self, blob_id: &str) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            sqlx::query("DELETE FROM pending_blobs WHERE blob_id = ?").bind(blob_id).execute(&mut *tx).await?;
            tx.commit().await
        })
        .await
    }

    /// Blobs retired by committed overwrites and deletes before `cutoff_ms`, oldest first. The delay lets
    /// a GET that read the old manifest just before the overwrite finish streaming it.
    pub async fn garbage_blobs(&self, cutoff_ms: i64, limit: u32) -> MetaResult<Vec<String>> {
        self.timed(async move {
            let rows =
                sqlx::query("SELECT blob_id FROM garbage_blobs WHERE enqueued_at < ? ORDER BY enqueued_at LIMIT ?")
                    .bind(cutoff_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?;
            rows.iter().map(|r| Ok(r.try_get("blob_id")?)).collect()
        })
        .await
    }

    /// Drops a garbage row once its file has been deleted; for an inline blob, deletes its bytes with it
    /// (one transaction: a crash leaves both or neither, and the next pass repeats it).
    pub async fn forget_garbage_blob(&self, blob_id: &str) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            if is_inline_blob(blob_id) {
                sqlx::query("DELETE FROM inline_blobs WHERE blob_id = ?").bind(blob_id).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM garbage_blobs WHERE blob_id = ?").bind(blob_id).execute(&mut *tx).await?;
            tx.commit().await
        })
        .await
    }

    /// The bytes of inline blob `blob_id` (`None` if there is no such row). Like a blob file, the row
    /// outlives the object that named it by the grace period (it is deleted through the garbage queue),
    /// so a GET that read the object's row just before an overwrite still finds it.
    pub async fn inline_blob(&self, blob_id: &str) -> MetaResult<Option<Vec<u8>>> {
        self.timed(async move {
            let row = sqlx::query("SELECT data FROM inline_blobs WHERE blob_id = ?")
                .bind(blob_id)
                .fetch_optional(&self.reader)
                .await?;
            Ok(row.map(|r| r.try_get("data")).transpose()?)
        })
        .await
    }

    /// Inserts an inline blob's bytes inside the transaction that commits the object naming it.
    pub(crate) async fn insert_inline_blob(&self, tx: &mut WriteTx, blob_id: &str, data: &[u8]) -> MetaResult<()> {
        sqlx::query("INSERT INTO inline_blobs (blob_id, data) VALUES (?, ?)")
            .bind(blob_id)
            .bind(data)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
