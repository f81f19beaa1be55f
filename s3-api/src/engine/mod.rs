//! The storage engine: object bytes on the data volume (`blobs`), made visible by one metadata
//! transaction (`cloudvault_metadata`), with a janitor that removes what interrupted or retired writes
//! left behind.

pub mod blobs;
pub mod error;
pub mod janitor;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use cloudvault_metadata::{BlobRef, BucketId, Manifest, MetaError, MetaStore, ObjectRecord, WriteCondition};

pub use blobs::{BlobStore, StagedBlob};
pub use error::{EngineError, EngineResult};

/// Milliseconds since the Unix epoch, the unit every stored time uses.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The metadata store and the blob store, and the protocol that ties them together.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Buckets, object rows, keys, intents.
    pub meta: MetaStore,
    /// Object bytes.
    pub blobs: BlobStore,
}

impl Engine {
    /// Connects the metadata store (migrating it) and opens the blob store.
    pub async fn open(database_url: &str, max_connections: u32, data_dir: &Path) -> EngineResult<Self> {
        tokio::fs::create_dir_all(data_dir).await?;
        let blobs = BlobStore::open(data_dir).await?;
        let meta = MetaStore::connect(database_url, max_connections).await?;
        Ok(Engine { meta, blobs })
    }

    /// Makes a staged blob the bytes of `object` (whose manifest is replaced by it): record the intent,
    /// move the blob to its durable name, then commit the metadata transaction under `condition`.
    ///
    /// What a failure leaves behind:
    /// - before the commit, or when the commit definitely failed (precondition, bucket gone): the blob
    ///   and its intent are removed here; if this process dies first, the janitor removes them after the
    ///   grace period;
    /// - when the database failed mid-commit, the outcome is unknown, so the blob is left in place: if the
    ///   commit did land, the intent row is gone with it and the blob is live; if not, the intent row
    ///   survives and the janitor removes the blob later. No outcome leaves a row without its blob.
    pub async fn commit_single(
        &self,
        bucket_id: BucketId,
        staged: StagedBlob,
        mut object: ObjectRecord,
        condition: &WriteCondition,
    ) -> EngineResult<()> {
        let (blob, now) = self.place_with_intent(staged).await?;
        let blob_id = blob.blob_id.clone();
        object.manifest = Manifest::single(blob);
        match self.meta.commit_object(bucket_id, &object, condition, now).await {
            Ok(()) => Ok(()),
            Err(e @ (MetaError::PreconditionFailed | MetaError::NoSuchBucket)) => {
                self.discard(&blob_id).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Makes a staged blob part `part_number` of a multipart upload, with the same protocol and the same
    /// failure analysis as [`Engine::commit_single`]: intent, durable rename, one transaction.
    pub async fn commit_part(
        &self,
        upload_id: &str,
        part_number: i64,
        staged: StagedBlob,
        checksum: Option<&str>,
    ) -> EngineResult<BlobRef> {
        let (blob, now) = self.place_with_intent(staged).await?;
        match self.meta.put_part(upload_id, part_number, &blob, checksum, now).await {
            Ok(()) => Ok(blob),
            Err(e @ MetaError::NoSuchUpload) => {
                self.discard(&blob.blob_id).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Steps 2 and 3 of the write protocol: record the blob's intent, then move it to its durable name.
    /// Returns the placed blob and the time the intent was recorded (the commit uses it too).
    async fn place_with_intent(&self, staged: StagedBlob) -> EngineResult<(BlobRef, i64)> {
        let now = now_ms();
        self.meta.register_pending_blob(&staged.blob_id, now).await?;
        Ok((self.blobs.place(staged).await?, now))
    }

    /// Removes a placed blob whose commit definitely failed, and then its intent. If the removal fails,
    /// the intent stays and the janitor retries after the grace period.
    async fn discard(&self, blob_id: &str) {
        if self.blobs.remove(blob_id).await.is_ok() {
            let _ = self.meta.forget_pending_blob(blob_id).await;
        }
    }
}
