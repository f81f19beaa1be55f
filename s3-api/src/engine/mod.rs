//! The storage engine: object bytes on the data volume (`blobs`), made visible by one metadata
//! transaction (`cloudvault_metadata`), with a janitor that removes what interrupted or retired writes
//! left behind. The write protocol, step by step with what a crash leaves after each, is in
//! [`protocol`]; every other description links there.
//!
//! The rule: the engine knows nothing of s3s, axum or the console (a test greps its sources for them).
//! The S3 layer and the console API translate requests into engine calls and engine errors into their
//! answers.

pub mod access;
pub mod attributes;
pub mod blobs;
pub mod buckets;
pub mod checksum;
pub mod error;
pub mod failpoint;
pub mod janitor;
pub mod lifecycle;
pub mod listing;
pub mod lock;
pub mod multipart;
pub mod objects;
pub mod protocol;
pub mod space;
pub mod versions;

use std::io;
use std::ops::Range;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::Stream;
use tokio_stream::wrappers::ReceiverStream;

use cloudvault_metadata::{
    BlobRef, BucketId, Deleted, Manifest, MetaError, MetaStore, ObjectRecord, UserId, WriteCondition,
};

pub use blobs::{BlobStore, StagedBlob};
pub use error::{EngineError, EngineResult};
pub use listing::{ListParams, Page};
pub use multipart::{Assembly, RequestedPart, UploadState};
pub use objects::{Committed, NewObject};
pub use space::Volume;
pub use versions::parse_version;

/// Milliseconds since the Unix epoch, the unit every stored time uses.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The metadata store and the blob store, and the protocol that ties them together. Both stay private:
/// every caller goes through the engine's operations, so each invariant is enforced here once.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Buckets, object rows, keys, intents.
    meta: MetaStore,
    /// Object bytes.
    blobs: BlobStore,
    /// Free-space policy of the data volume.
    volume: Volume,
    /// The one bucket cache (see [`buckets`]).
    buckets: std::sync::Arc<buckets::BucketCache>,
    /// Where each lifecycle rule's scan resumes on this replica (see [`lifecycle`]).
    lifecycle_cursors: std::sync::Arc<lifecycle::Cursors>,
    /// Bodies of at most this many bytes are stored inline, in the metadata store (0: never).
    inline_max: u64,
}

impl Engine {
    /// The engine over an open metadata store and blob store (the server wires the same store into the
    /// key store; tests keep handles to replay protocol steps by hand).
    pub fn new(meta: MetaStore, blobs: BlobStore) -> Self {
        let volume = Volume::new(blobs.root(), 0, 0);
        Engine {
            meta,
            blobs,
            volume,
            buckets: Default::default(),
            lifecycle_cursors: Default::default(),
            inline_max: 0,
        }
    }

    /// Stores object bodies of at most `max` bytes inline, in the metadata store, written by the
    /// object's commit (`CLOUDVAULT_INLINE_MAX_BYTES`; 0 turns it off, the default of [`Engine::new`]).
    /// Capped at [`crate::limits::MAX_INLINE_BYTES`].
    pub fn with_inline_max(mut self, max: u64) -> Self {
        self.inline_max = max.min(crate::limits::MAX_INLINE_BYTES);
        self
    }

    /// Checks that the metadata database answers (readiness).
    pub async fn ping(&self) -> EngineResult<()> {
        Ok(self.meta.ping().await?)
    }

    /// Closes the metadata store's connections (at shutdown, after the last request).
    pub async fn close(&self) {
        self.meta.close().await;
    }

    /// Sets the volume's free-space policy (`CLOUDVAULT_MIN_FREE_BYTES`, `CLOUDVAULT_RESERVE_BYTES`)
    /// and lays down the reserve file if there is room for it.
    pub async fn with_volume_limits(mut self, data_dir: &Path, min_free: u64, reserve: u64) -> Self {
        self.volume = Volume::new(data_dir, min_free, reserve);
        if let Err(e) = self.volume.restore_reserve().await {
            tracing::warn!(error = %e, "could not create the reserve file on the data volume");
        }
        self
    }

    /// The free-space policy (the janitor restores the reserve through it).
    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    /// Step 1 of the write protocol ([`protocol`]): refuses the write with 503 while the volume is below
    /// its minimum free space (counting `announced` body bytes), then stages `body` into a fsynced
    /// staging file, or keeps it in memory if it ends within the inline threshold (a body announced
    /// longer goes straight to a file). Running out of space mid-write releases the volume's reserve
    /// (so deletes can still commit) and answers [`EngineError::VolumeFull`]; nothing is left behind.
    pub async fn stage<S, E>(
        &self,
        body: S,
        announced: Option<u64>,
        max_size: u64,
        observe: &mut (dyn FnMut(&[u8]) + Send),
    ) -> EngineResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<EngineError>,
    {
        self.volume.check_room(announced.unwrap_or(0))?;
        let inline_max = if announced.is_some_and(|n| n > self.inline_max) { 0 } else { self.inline_max };
        match self.blobs.stage(body, max_size, inline_max, observe).await {
            Err(EngineError::Io(e)) if space::is_storage_full(&e) => {
                self.volume.release_reserve();
                Err(EngineError::VolumeFull { free: 0, needed: announced.unwrap_or(0) })
            }
            other => other,
        }
    }

    /// Opens every blob of `range` of an object before the first byte is sent (see
    /// [`BlobStore::open_read`]), so the read survives an overwrite and the janitor's sweep; an inline
    /// object's bytes are read from the metadata store (they too outlive an overwrite by the grace
    /// period). A missing blob fails here, before any header is sent.
    pub async fn open_read(
        &self,
        manifest: &Manifest,
        range: Range<u64>,
    ) -> EngineResult<ReceiverStream<io::Result<Bytes>>> {
        self.open_read_prefetched(manifest, range, None).await
    }

    /// [`Engine::open_read`] for an object read with [`Engine::object_for_read`]: an inline object's
    /// bytes come from `prefetched` when the read brought them (no second query).
    pub async fn open_read_prefetched(
        &self,
        manifest: &Manifest,
        range: Range<u64>,
        prefetched: Option<Bytes>,
    ) -> EngineResult<ReceiverStream<io::Result<Bytes>>> {
        let Some(blob) = manifest.inline_blob() else {
            return Ok(self.blobs.open_read(manifest, range).await?);
        };
        let data = match prefetched {
            Some(data) => data,
            None => Bytes::from(self.meta.inline_blob(&blob.blob_id).await?.ok_or_else(|| {
                let missing = format!("inline blob {} is missing", blob.blob_id);
                EngineError::Io(io::Error::new(io::ErrorKind::NotFound, missing))
            })?),
        };
        let (start, end) = (range.start.min(data.len() as u64) as usize, range.end.min(data.len() as u64) as usize);
        Ok(blobs::one_chunk(data.slice(start..end.max(start))))
    }

    /// DELETE of `key` without a version id, by `owner_id`: unversioned, the object goes (its blobs to
    /// the janitor's queue, see [`protocol`]); versioned, a delete marker hides it and the versions stay
    /// (`cloudvault_metadata`'s `MetaStore::delete_object` has the rules). See [`Engine::deleting`] for
    /// a full volume. A key longer than S3 allows is `KeyTooLongError` (a delete marker is a row too).
    pub async fn delete_object(&self, bucket_id: BucketId, key: &[u8], owner_id: UserId) -> EngineResult<Deleted> {
        if key.len() > crate::limits::MAX_KEY_LENGTH {
            return Err(EngineError::rejected("KeyTooLongError", "Your key is too long (at most 1024 bytes)."));
        }
        self.deleting(|| self.meta.delete_object(bucket_id, key, owner_id, now_ms())).await
    }

    /// Runs one delete transaction between the delete failpoints. On a full volume the reserve is
    /// released and the delete retried once, so deleting is how a full volume gets its space back.
    pub(crate) async fn deleting<F, Fut>(&self, delete: F) -> EngineResult<Deleted>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Deleted, MetaError>>,
    {
        failpoint::hit("delete.before_commit")?;
        let deleted = match delete().await {
            Err(e) if e.is_storage_full() => {
                self.volume.release_reserve();
                delete().await?
            }
            other => other?,
        };
        failpoint::hit("delete.committed")?;
        Ok(deleted)
    }

    /// Makes a staged blob the bytes of `object` (whose manifest is replaced by it): steps 2–4 of the
    /// write protocol ([`protocol`]): record the intent, move the blob to its durable name, then commit
    /// the metadata transaction under `condition` (which fails if the intent was swept meanwhile). An
    /// inline blob skips steps 2 and 3: its bytes are written by the commit itself, so any failure
    /// leaves nothing behind.
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
    ) -> EngineResult<Option<String>> {
        if let Some(data) = staged.inline_bytes() {
            failpoint::hit("inline.staged")?;
            object.manifest = Manifest::single(staged.blob_ref());
            let version_id = self.meta.commit_inline_object(bucket_id, &object, data, condition, now_ms()).await?;
            failpoint::hit("inline.committed")?;
            return Ok(version_id);
        }
        failpoint::hit("put.staged")?;
        let (blob, now) = self.place_with_intent(staged, ["put.intent_recorded", "put.placed"]).await?;
        let blob_id = blob.blob_id.clone();
        object.manifest = Manifest::single(blob);
        match self.meta.commit_object(bucket_id, &object, condition, now).await {
            Ok(version_id) => {
                failpoint::hit("put.committed")?;
                Ok(version_id)
            }
            Err(
                e @ (MetaError::PreconditionFailed
                | MetaError::NoSuchBucket
                | MetaError::IntentLost(_)
                | MetaError::ObjectLocked
                | MetaError::LockNotEnabled
                | MetaError::Corrupt(_)),
            ) => {
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
        failpoint::hit("part.staged")?;
        let (blob, now) = self.place_with_intent(staged, ["part.intent_recorded", "part.placed"]).await?;
        match self.meta.put_part(upload_id, part_number, &blob, checksum, now).await {
            Ok(()) => {
                failpoint::hit("part.committed")?;
                Ok(blob)
            }
            Err(e @ (MetaError::NoSuchUpload | MetaError::IntentLost(_))) => {
                self.discard(&blob.blob_id).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Completes a multipart upload: the one transaction of the protocol's "Complete" ([`protocol`]),
    /// which makes `object` (whose manifest lists the part blobs) visible and retires the upload.
    /// Returns the new version's id (`None` in an unversioned bucket).
    pub async fn complete_upload(
        &self,
        upload_id: &str,
        bucket_id: BucketId,
        object: &ObjectRecord,
        condition: &WriteCondition,
    ) -> EngineResult<Option<String>> {
        failpoint::hit("complete.before_commit")?;
        let version_id = self.meta.complete_upload(upload_id, bucket_id, object, condition, now_ms()).await?;
        failpoint::hit("complete.committed")?;
        Ok(version_id)
    }

    /// Steps 2 and 3 of the write protocol: record the blob's intent, then move it to its durable name.
    /// Returns the placed blob and the time the intent was recorded (the commit uses it too). `steps`
    /// names the failpoints after each step.
    async fn place_with_intent(&self, staged: StagedBlob, steps: [&'static str; 2]) -> EngineResult<(BlobRef, i64)> {
        let staged = self.blobs.spill(staged).await?;
        let now = now_ms();
        let blob_id = staged.blob_id.clone();
        self.meta.register_pending_blob(&blob_id, now).await?;
        failpoint::hit(steps[0])?;
        let placed = match self.blobs.place(staged).await {
            Ok(placed) => placed,
            // The staging file is gone: the write stalled past the grace period, so the janitor claimed
            // its intent and removed the file (this process's own staging sweep skips live files).
            // Nothing is visible and nothing is left: the same outcome as a commit finding it claimed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(MetaError::IntentLost(blob_id).into()),
            Err(e) => return Err(e.into()),
        };
        failpoint::hit(steps[1])?;
        Ok((placed, now))
    }

    /// Removes a placed blob whose commit definitely failed, and then its intent. If the removal fails,
    /// the intent stays and the janitor retries after the grace period.
    async fn discard(&self, blob_id: &str) {
        if self.blobs.remove(blob_id).await.is_ok() {
            let _ = self.meta.forget_pending_blob(blob_id).await;
        }
    }
}
