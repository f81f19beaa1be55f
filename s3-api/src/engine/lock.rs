//! Object lock through the engine: a bucket's lock configuration and each version's retention and
//! legal hold. Enforcement (what may destroy a version) happens inside the metadata transactions that
//! would destroy it (`cloudvault_metadata`'s `lock.rs`), for every caller alike.

use cloudvault_metadata::{Bucket, BucketLock, LockMode};

use super::{Engine, EngineResult, now_ms};

impl Engine {
    /// Switches object lock on for `bucket` (for good; versioning must be enabled) with its default
    /// retention.
    pub async fn set_bucket_lock(&self, bucket: &Bucket, lock: &BucketLock) -> EngineResult<()> {
        let set = self.meta.set_bucket_lock(bucket.id, lock).await;
        self.buckets.invalidate(&bucket.name);
        Ok(set?)
    }

    /// Sets (or with `None` removes) the retention of one version; a running retention only becomes
    /// stricter, unless it is GOVERNANCE and `bypass` (already authorized) is set.
    pub async fn set_retention(
        &self,
        bucket: &Bucket,
        key: &[u8],
        version_id: &str,
        retention: Option<(LockMode, i64)>,
        bypass: bool,
    ) -> EngineResult<()> {
        Ok(self.meta.set_retention(bucket.id, key, version_id, retention, bypass, now_ms()).await?)
    }

    /// Puts a legal hold on one version, or removes it.
    pub async fn set_legal_hold(&self, bucket: &Bucket, key: &[u8], version_id: &str, on: bool) -> EngineResult<()> {
        Ok(self.meta.set_legal_hold(bucket.id, key, version_id, on).await?)
    }
}
