//! Object operations both fronts call: look up, write (around [`Engine::commit_single`]), update the
//! stored attributes, delete by prefix, and the buckets a user sees.

use cloudvault_metadata::{
    Bucket, BucketId, BucketUsage, ListBound, ListColumns, Manifest, ObjectRecord, Retention, UserId, VersionSel,
    WriteCondition, key_successor,
};

use futures::TryStreamExt;

use super::attributes::ObjectAttributes;
use super::{Engine, EngineError, EngineResult, StagedBlob, now_ms};
use crate::limits::MAX_KEYS_PER_PAGE;

/// What a single-blob write stores besides its bytes.
#[derive(Debug, Clone)]
pub struct NewObject {
    /// The key.
    pub key: Vec<u8>,
    /// The writing user.
    pub owner_id: UserId,
    /// HTTP attributes, user metadata, tags and checksum.
    pub attributes: ObjectAttributes,
    /// The object lock protection the write asks for (the bucket's default applies when it names
    /// none; a bucket without object lock refuses any).
    pub retention: Retention,
}

/// What a committed write answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The ETag (hex MD5, unquoted).
    pub etag: String,
    /// The size in bytes.
    pub size: u64,
    /// The commit time (ms since the epoch).
    pub last_modified: i64,
    /// The new version's id (`None` in an unversioned bucket).
    pub version_id: Option<String>,
}

impl StagedBlob {
    /// Checks the staged length against the length the client announced (`IncompleteBody` otherwise;
    /// dropping the staged blob then deletes its file).
    pub fn check_length(&self, announced: Option<u64>) -> EngineResult<()> {
        match announced {
            Some(n) if n != self.size => {
                Err(EngineError::rejected("IncompleteBody", "The request body length does not match Content-Length."))
            }
            _ => Ok(()),
        }
    }
}

impl Engine {
    /// The current object under `key`, if any.
    pub async fn object(&self, bucket_id: BucketId, key: &[u8]) -> EngineResult<Option<ObjectRecord>> {
        Ok(self.meta.object(bucket_id, key).await?)
    }

    /// The current object under `key` and, when it is inline, its bytes, read together (for a GET: see
    /// [`Engine::open_read_prefetched`]).
    pub async fn object_for_read(
        &self,
        bucket_id: BucketId,
        key: &[u8],
    ) -> EngineResult<Option<(ObjectRecord, Option<bytes::Bytes>)>> {
        let found = self.meta.object_with_inline(bucket_id, key).await?;
        Ok(found.map(|(object, data)| (object, data.map(bytes::Bytes::from))))
    }

    /// Copies `range` of `source`'s bytes into a new staged blob (a copy never shares a file with its
    /// source), showing every chunk to `observe` (a checksum). Fails, dropping the staged blob, if the
    /// source turned out shorter than its manifest says.
    pub async fn stage_copy(
        &self,
        source: &ObjectRecord,
        range: std::ops::Range<u64>,
        observe: &mut (dyn FnMut(&[u8]) + Send),
    ) -> EngineResult<StagedBlob> {
        let expected = range.end - range.start;
        let bytes = self.open_read(&source.manifest, range).await?.map_err(EngineError::Io);
        let staged = self.stage(bytes, Some(expected), u64::MAX, observe).await?;
        if staged.size != expected {
            return Err(EngineError::rejected("InternalError", "The copy source changed while it was being copied."));
        }
        Ok(staged)
    }

    /// Makes `staged` the object `new.key` under `condition` (the write protocol's steps 2–4, see
    /// [`Engine::commit_single`]).
    pub async fn put_object(
        &self,
        bucket_id: BucketId,
        new: NewObject,
        staged: StagedBlob,
        condition: &WriteCondition,
    ) -> EngineResult<Committed> {
        let mut committed =
            Committed { etag: hex::encode(staged.md5), size: staged.size, last_modified: now_ms(), version_id: None };
        let record = ObjectRecord {
            key: new.key,
            version_id: String::new(),
            size: staged.size as i64,
            etag: committed.etag.clone(),
            last_modified: committed.last_modified,
            owner_id: new.owner_id,
            attributes: new.attributes.encode(),
            manifest: Manifest::default(),
            parts_count: None,
            retention: new.retention,
        };
        committed.version_id = self.commit_single(bucket_id, staged, record, condition).await?;
        Ok(committed)
    }

    /// Replaces the attributes of `object`, the version read before (the current one, or the one a
    /// `versionId` named), guarded by its version id and ETag: the update lands on exactly that version,
    /// current or not by now, and fails (`NoSuchKey`) if that version is gone.
    pub async fn update_attributes(
        &self,
        bucket_id: BucketId,
        object: &ObjectRecord,
        attributes: &ObjectAttributes,
    ) -> EngineResult<()> {
        let gone = || EngineError::rejected("NoSuchKey", "The object changed while its attributes were being updated.");
        let sel = VersionSel::parse(&object.version_id).ok_or_else(gone)?;
        let encoded = attributes.encode();
        if self.meta.update_version_attributes(bucket_id, &object.key, &sel, &object.etag, &encoded).await? {
            Ok(())
        } else {
            Err(gone())
        }
    }

    /// Deletes every object under `prefix` (empty: the whole bucket) as `owner_id`, in key order, one
    /// commit each (in a versioned bucket each gets a delete marker); objects written under the prefix
    /// meanwhile may be deleted too. Returns how many were deleted.
    pub async fn delete_prefix(&self, bucket_id: BucketId, prefix: &[u8], owner_id: UserId) -> EngineResult<i64> {
        let end = key_successor(prefix).filter(|_| !prefix.is_empty());
        let mut deleted = 0;
        loop {
            let start = if prefix.is_empty() { ListBound::Unbounded } else { ListBound::From(prefix) };
            let batch =
                self.meta.list_objects(bucket_id, start, end.as_deref(), MAX_KEYS_PER_PAGE, ListColumns::Bare).await?;
            if batch.is_empty() {
                return Ok(deleted);
            }
            for o in batch {
                if self.delete_object(bucket_id, &o.key, owner_id).await?.changed {
                    deleted += 1;
                }
            }
        }
    }

    /// The buckets of `owner` (every bucket for `None`), by name.
    pub async fn list_buckets(&self, owner: Option<UserId>) -> EngineResult<Vec<Bucket>> {
        Ok(self.meta.list_buckets(owner).await?)
    }

    /// [`Engine::list_buckets`] with what each bucket holds.
    pub async fn list_buckets_with_usage(&self, owner: Option<UserId>) -> EngineResult<Vec<(Bucket, BucketUsage)>> {
        Ok(self.meta.list_buckets_with_usage(owner).await?)
    }

    /// What `bucket` holds now, from its counters.
    pub async fn bucket_usage(&self, bucket: &Bucket) -> EngineResult<BucketUsage> {
        Ok(self.meta.bucket_usage(bucket.id).await?)
    }
}
