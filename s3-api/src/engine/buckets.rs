//! Buckets through the engine: the one bucket cache, and every bucket mutation (which invalidates it).
//!
//! INVARIANTS
//! - The cache holds only buckets that exist (a missing name is never cached, so it can never be a
//!   reason to allow anything), is bounded in entries ([`MAX_CACHED_BUCKETS`]) and never holds a name
//!   longer than a bucket name can be.
//! - Every create, delete and settings change made through the engine invalidates the name on this
//!   replica at once. Other replicas may use what they cached for up to [`BUCKET_CACHE_TTL`]; that stale
//!   window is safe because a bucket is identified by its id, never reused (AUTOINCREMENT): whatever is
//!   done with a stale entry names the old id, which the commit transaction checks (`lock_bucket`,
//!   `set_bucket_setting`'s row count), so a write fails with `NoSuchBucket` and a read finds nothing,
//!   instead of reaching a re-created bucket of the same name. The authorizer uses the cache only for
//!   anonymous callers; signed-in callers are decided on [`Engine::bucket_fresh`]. What the window
//!   does allow: a policy, ACL or Block Public Access change made on another replica reaches
//!   anonymous callers here up to [`BUCKET_CACHE_TTL`] late (a revoked public grant keeps working
//!   that long; the README says so).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudvault_metadata::{Bucket, BucketSetting, NewBucketAccess, UserId};

use super::access::{NewAccess, Ownership};
use super::{Engine, EngineResult, now_ms};

/// How long a cached bucket (owner, policy, ACL, ownership, Block Public Access, CORS) is trusted without asking the database again: the
/// longest a policy change made on another replica takes to apply here.
pub const BUCKET_CACHE_TTL: Duration = Duration::from_secs(2);
/// Most buckets cached per replica; past it the cache is emptied and refills from the database.
pub const MAX_CACHED_BUCKETS: usize = 10_000;
/// Longest bucket name (AWS's rule; the S3 layer rejects longer names before they get here).
pub const MAX_BUCKET_NAME: usize = 63;

/// Buckets by name, each with the time it was read.
#[derive(Debug, Default)]
pub struct BucketCache {
    entries: Mutex<HashMap<String, (Instant, Arc<Bucket>)>>,
}

impl BucketCache {
    fn get(&self, name: &str) -> Option<Arc<Bucket>> {
        let entries = self.entries.lock().ok()?;
        entries.get(name).filter(|(at, _)| at.elapsed() < BUCKET_CACHE_TTL).map(|(_, b)| b.clone())
    }

    fn put(&self, bucket: Arc<Bucket>) {
        if bucket.name.len() > MAX_BUCKET_NAME {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED_BUCKETS {
                entries.retain(|_, (at, _)| at.elapsed() < BUCKET_CACHE_TTL);
                if entries.len() >= MAX_CACHED_BUCKETS {
                    entries.clear();
                }
            }
            entries.insert(bucket.name.clone(), (Instant::now(), bucket));
        }
    }

    /// Forgets `name` (after any change to that bucket made through the engine).
    pub(super) fn invalidate(&self, name: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(name);
        }
    }
}

impl Engine {
    /// The bucket called `name`, from the cache when it is fresh (see the module's invariants), else
    /// from the database. `None` when it does not exist (never cached).
    pub async fn bucket_cached(&self, name: &str) -> EngineResult<Option<Arc<Bucket>>> {
        if let Some(hit) = self.buckets.get(name) {
            return Ok(Some(hit));
        }
        self.bucket_fresh(name).await
    }

    /// The bucket called `name` as the database has it now; refreshes the cache.
    pub async fn bucket_fresh(&self, name: &str) -> EngineResult<Option<Arc<Bucket>>> {
        self.buckets.invalidate(name);
        if name.len() > MAX_BUCKET_NAME {
            return Ok(None);
        }
        let found = self.meta.bucket(name).await?.map(Arc::new);
        if let Some(b) = &found {
            self.buckets.put(b.clone());
        }
        Ok(found)
    }

    /// Creates a bucket (with `object_lock`: locked and versioned for good); the database's unique index
    /// decides between racing creators (also across replicas): `BucketAlreadyOwnedByYou` /
    /// `BucketAlreadyExists`.
    pub async fn create_bucket(
        &self,
        name: &str,
        owner_id: UserId,
        region: &str,
        object_lock: bool,
        access: &NewAccess,
    ) -> EngineResult<Bucket> {
        let acl = access.checked_acl(owner_id)?;
        let stored = NewBucketAccess { ownership: access.ownership.map(Ownership::as_str), acl: acl.as_deref() };
        let created = self.meta.create_bucket_with(name, owner_id, region, object_lock, stored, now_ms()).await;
        self.buckets.invalidate(name);
        Ok(created?)
    }

    /// Deletes an empty bucket (`BucketNotEmpty` otherwise), aborting its incomplete uploads.
    pub async fn delete_bucket(&self, bucket: &Bucket) -> EngineResult<()> {
        let deleted = self.meta.delete_bucket(bucket.id, now_ms()).await;
        self.buckets.invalidate(&bucket.name);
        Ok(deleted?)
    }

    /// Sets (or with `None`, removes) a bucket setting; `NoSuchBucket` when that bucket (by id) is gone.
    pub async fn set_bucket_setting(
        &self,
        bucket: &Bucket,
        setting: BucketSetting,
        value: Option<&str>,
    ) -> EngineResult<()> {
        let set = self.meta.set_bucket_setting(bucket.id, setting, value).await;
        self.buckets.invalidate(&bucket.name);
        Ok(set?)
    }
}

/// The bucket an S3 request was authorized against, carried in the request's extensions so that the
/// operation acts on exactly that bucket (by id) and does not look it up a second time.
#[derive(Debug, Clone)]
pub struct AuthorizedBucket(pub Arc<Bucket>);
