//! Object lock through the engine: a bucket's lock configuration and each version's retention and
//! legal hold. Enforcement (what may destroy a version) happens inside the metadata transactions that
//! would destroy it (`cloudvault_metadata`'s `lock.rs`), for every caller alike.

use cloudvault_metadata::{Bucket, BucketLock, LockMode, Retention, RetentionPeriod};

use super::{Engine, EngineError, EngineResult, now_ms};

/// Longest default retention AWS accepts, in days.
pub const MAX_DEFAULT_DAYS: i64 = 36_500;
/// Longest default retention AWS accepts, in years.
pub const MAX_DEFAULT_YEARS: i64 = 100;

/// Whether a write of bytes into `bucket` asking for `asked` must carry a digest (Content-MD5 or a
/// checksum), as AWS requires of every upload (PutObject, UploadPart) that object lock will protect:
/// one asking for a retention or legal hold, or any into a bucket with a default retention.
pub fn needs_digest(bucket: &Bucket, asked: &Retention) -> bool {
    asked.is_set() || bucket.object_lock.is_some_and(|l| l.default.is_some())
}

/// A bucket's default retention period, checked as AWS checks it: exactly one of `days` and `years`
/// (`MalformedXML`), in 1..=36500 days or 1..=100 years (`InvalidArgument`).
pub fn default_period(days: Option<i64>, years: Option<i64>) -> EngineResult<RetentionPeriod> {
    match (days, years) {
        (Some(n), None) if (1..=MAX_DEFAULT_DAYS).contains(&n) => Ok(RetentionPeriod::Days(n)),
        (None, Some(n)) if (1..=MAX_DEFAULT_YEARS).contains(&n) => Ok(RetentionPeriod::Years(n)),
        (Some(_), Some(_)) | (None, None) => {
            Err(EngineError::rejected("MalformedXML", "A default retention has Days or Years, not both."))
        }
        _ => {
            Err(EngineError::rejected("InvalidArgument", "Default retention period must be a positive integer value."))
        }
    }
}

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
