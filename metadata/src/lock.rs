//! Object lock: a bucket's lock configuration, each version's retention and legal hold, and the one
//! check every transaction that could destroy a version makes ([`ensure_deletable`]).
//!
//! INVARIANT: a version is destroyed (its row deleted, its blobs queued) only inside a transaction that
//! holds the bucket row lock and has just read the version's protection from its row: a running
//! COMPLIANCE retention or a legal hold refuses everybody, a running GOVERNANCE retention everybody who
//! does not bypass it. Delete markers may always be added (they destroy nothing). A running retention
//! can only be extended in its mode, unless it is GOVERNANCE and bypassed.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{MetaError, MetaResult};
use crate::model::{BucketId, BucketLock, LockMode, ObjectRecord, Retention, RetentionPeriod, VersionSel, Versioning};
use crate::store::{MetaStore, dynamic};
use crate::tx::WriteTx;
use crate::versions::{BucketLockMode, BucketState, find_version};

/// The bucket columns [`lock_from_row`] reads.
pub(crate) const BUCKET_LOCK_COLUMNS: &str = "lock_enabled, lock_default_mode, lock_default_days, lock_default_years";

/// A bucket row's lock configuration (`None`: no object lock).
pub(crate) fn lock_from_row(row: &AnyRow) -> MetaResult<Option<BucketLock>> {
    if row.try_get::<i64, _>("lock_enabled")? == 0 {
        return Ok(None);
    }
    let mode: Option<String> = row.try_get("lock_default_mode")?;
    let days: Option<i64> = row.try_get("lock_default_days")?;
    let years: Option<i64> = row.try_get("lock_default_years")?;
    let period = match (days, years) {
        (Some(d), None) => Some(RetentionPeriod::Days(d)),
        (None, Some(y)) => Some(RetentionPeriod::Years(y)),
        _ => None,
    };
    let mode = mode.map(|m| LockMode::parse(&m).ok_or_else(|| MetaError::Corrupt(format!("lock mode {m:?}"))));
    Ok(Some(BucketLock { default: mode.transpose()?.zip(period) }))
}

/// A version row's protection (either table).
pub(crate) fn retention_from_row(row: &AnyRow) -> MetaResult<Retention> {
    let mode: Option<String> = row.try_get("lock_mode")?;
    let mode = mode.map(|m| LockMode::parse(&m).ok_or_else(|| MetaError::Corrupt(format!("lock mode {m:?}"))));
    Ok(Retention {
        mode: mode.transpose()?,
        until_ms: row.try_get("lock_until")?,
        legal_hold: row.try_get::<i64, _>("legal_hold")? != 0,
    })
}

/// THE CHECK before a version is destroyed: `ObjectLocked` while its protection forbids it (see the
/// module's invariant). `bypass` is the caller's `x-amz-bypass-governance-retention`, already
/// authorized.
pub(crate) fn ensure_deletable(version: &ObjectRecord, now_ms: i64, bypass: bool) -> MetaResult<()> {
    if version.retention.blocks_delete(now_ms, bypass) {
        return Err(MetaError::ObjectLocked);
    }
    Ok(())
}

impl BucketState {
    /// The protection a new version gets: what its write asked for, else the bucket's default retention.
    /// Lock settings on a bucket without object lock are `LockNotEnabled`.
    pub(crate) fn retention_for(&self, asked: &Retention, now_ms: i64) -> MetaResult<Retention> {
        let Some(lock) = self.lock else {
            return if asked.is_set() { Err(MetaError::LockNotEnabled) } else { Ok(Retention::default()) };
        };
        match (asked.mode, lock.default) {
            (None, Some((mode, period))) => {
                Ok(Retention { mode: Some(mode), until_ms: Some(period.until(now_ms)), ..*asked })
            }
            _ => Ok(*asked),
        }
    }
}

/// Which table holds a version row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Current,
    Noncurrent,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Current => "objects",
            Table::Noncurrent => "object_versions",
        }
    }
}

impl MetaStore {
    /// Switches object lock on for a bucket (for good) and sets its default retention. The bucket must
    /// have versioning enabled (`InvalidBucketState`); a bucket created with object lock has.
    pub async fn set_bucket_lock(&self, bucket_id: BucketId, lock: &BucketLock) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let state = self.lock_bucket(&mut tx, bucket_id, BucketLockMode::Exclusive).await?;
            if state.versioning != Versioning::Enabled {
                return Err(MetaError::InvalidBucketState(
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
                ));
            }
            let (mode, days, years) = match lock.default {
                None => (None, None, None),
                Some((mode, RetentionPeriod::Days(d))) => (Some(mode.as_str()), Some(d), None),
                Some((mode, RetentionPeriod::Years(y))) => (Some(mode.as_str()), None, Some(y)),
            };
            sqlx::query(
                "UPDATE buckets SET lock_enabled = 1, lock_default_mode = ?, lock_default_days = ?, \
                 lock_default_years = ? WHERE id = ?",
            )
            .bind(mode)
            .bind(days)
            .bind(years)
            .bind(bucket_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Sets the retention of the version `version_id` of `key` (`None` removes it). Allowed when the
    /// new retention keeps a running one's mode and does not end earlier, when the running one is
    /// GOVERNANCE and `bypass` (this is also how GOVERNANCE becomes COMPLIANCE, as on AWS), or when none
    /// is running; otherwise `ObjectLocked`. `LockNotEnabled` on a bucket without object lock, `NoSuchVersion` when the
    /// version (not a marker) does not exist.
    pub async fn set_retention(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        version_id: &str,
        new: Option<(LockMode, i64)>,
        bypass: bool,
        now_ms: i64,
    ) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let (table, old) = self.locked_version(&mut tx, bucket_id, key, version_id).await?;
            if let Some(running) = old.retention.active(now_ms) {
                let stricter = new.is_some_and(|(mode, until)| {
                    mode == running && until >= old.retention.until_ms.unwrap_or(i64::MAX)
                });
                if !stricter && (running == LockMode::Compliance || !bypass) {
                    return Err(MetaError::ObjectLocked);
                }
            }
            let sql = format!(
                "UPDATE {} SET lock_mode = ?, lock_until = ? WHERE bucket_id = ? AND object_key = ? AND version_id = ?",
                table.name()
            );
            sqlx::query(dynamic(sql))
                .bind(new.map(|(m, _)| m.as_str()))
                .bind(new.map(|(_, u)| u))
                .bind(bucket_id)
                .bind(key)
                .bind(version_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Puts a legal hold on the version `version_id` of `key`, or removes it.
    pub async fn set_legal_hold(&self, bucket_id: BucketId, key: &[u8], version_id: &str, on: bool) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let (table, _) = self.locked_version(&mut tx, bucket_id, key, version_id).await?;
            let sql = format!(
                "UPDATE {} SET legal_hold = ? WHERE bucket_id = ? AND object_key = ? AND version_id = ?",
                table.name()
            );
            sqlx::query(dynamic(sql))
                .bind(i64::from(on))
                .bind(bucket_id)
                .bind(key)
                .bind(version_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Inside `tx`: locks the bucket (which must have object lock) and reads the version's row.
    async fn locked_version(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        key: &[u8],
        version_id: &str,
    ) -> MetaResult<(Table, ObjectRecord)> {
        let state = self.lock_bucket(tx, bucket_id, BucketLockMode::Exclusive).await?;
        if state.lock.is_none() {
            return Err(MetaError::LockNotEnabled);
        }
        let sel = VersionSel::parse(version_id).ok_or(MetaError::NoSuchVersion)?;
        match find_version(tx, bucket_id, key, &sel).await? {
            Some(v) if !v.is_marker => Ok((if v.is_latest { Table::Current } else { Table::Noncurrent }, v.object)),
            _ => Err(MetaError::NoSuchVersion),
        }
    }
}
