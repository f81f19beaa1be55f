//! Buckets: create, look up, list, delete.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{MetaError, MetaResult};
use crate::lock::lock_from_row;
use crate::model::{Bucket, BucketId, BucketSetting, BucketUsage, UserId, Versioning};
use crate::store::{MetaStore, dynamic};
use crate::tx::WriteTx;
use crate::versions::BucketLockMode;

/// The columns of a bucket as [`bucket_from_row`] reads them.
const BUCKET_COLUMNS: &str = "id, name, owner_id, region, created_at, policy, tags, cors, versioning, lock_enabled, \
    lock_default_mode, lock_default_days, lock_default_years, lifecycle, ownership, public_access_block, acl";

/// The counters of a bucket as [`usage_from_row`] reads them, from `buckets` (unaliased): each is the
/// bucket row's column (the count before migration 0010) plus the sum of its counter shards, exact at
/// every commit since both change only inside object-write transactions.
const USAGE_COLUMNS: &str = "\
    CAST(object_count + (SELECT COALESCE(SUM(c.d_objects), 0) FROM bucket_counters c WHERE c.bucket_id = buckets.id) AS SIGNED) AS object_count, \
    CAST(bytes_used + (SELECT COALESCE(SUM(c.d_bytes), 0) FROM bucket_counters c WHERE c.bucket_id = buckets.id) AS SIGNED) AS bytes_used, \
    CAST(noncurrent_count + (SELECT COALESCE(SUM(c.d_noncurrent), 0) FROM bucket_counters c WHERE c.bucket_id = buckets.id) AS SIGNED) AS noncurrent_count, \
    CAST(noncurrent_bytes + (SELECT COALESCE(SUM(c.d_noncurrent_bytes), 0) FROM bucket_counters c WHERE c.bucket_id = buckets.id) AS SIGNED) AS noncurrent_bytes";

fn usage_from_row(row: &AnyRow) -> MetaResult<BucketUsage> {
    Ok(BucketUsage {
        object_count: row.try_get("object_count")?,
        bytes_used: row.try_get("bytes_used")?,
        noncurrent_count: row.try_get("noncurrent_count")?,
        noncurrent_bytes: row.try_get("noncurrent_bytes")?,
    })
}

/// The ownership control a bucket gets when its creator names none: ACLs disabled, AWS's default.
pub const DEFAULT_OWNERSHIP: &str = "BucketOwnerEnforced";

/// The access settings a new bucket is created with (stored as the engine writes them).
#[derive(Debug, Clone, Copy, Default)]
pub struct NewBucketAccess<'a> {
    /// The ownership control (`None`: no controls).
    pub ownership: Option<&'a str>,
    /// The ACL grants (`None`: private).
    pub acl: Option<&'a str>,
}

fn bucket_from_row(row: &AnyRow) -> MetaResult<Bucket> {
    Ok(Bucket {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner_id: row.try_get("owner_id")?,
        region: row.try_get("region")?,
        created_at: row.try_get("created_at")?,
        policy: row.try_get("policy")?,
        tags: row.try_get("tags")?,
        cors: row.try_get("cors")?,
        versioning: Versioning::parse(&row.try_get::<String, _>("versioning")?)?,
        object_lock: lock_from_row(row)?,
        lifecycle: row.try_get("lifecycle")?,
        ownership: row.try_get("ownership")?,
        public_access_block: row.try_get("public_access_block")?,
        acl: row.try_get("acl")?,
    })
}

impl MetaStore {
    /// Creates a bucket. An existing name gives [`MetaError::BucketAlreadyOwnedByYou`] when `owner_id`
    /// owns it, else [`MetaError::BucketAlreadyExists`]; the unique index decides races between replicas.
    /// With `object_lock` the bucket is created with object lock on and versioning enabled, both for good.
    pub async fn create_bucket(
        &self,
        name: &str,
        owner_id: UserId,
        region: &str,
        object_lock: bool,
        now_ms: i64,
    ) -> MetaResult<Bucket> {
        let access = NewBucketAccess { ownership: Some(DEFAULT_OWNERSHIP), acl: None };
        self.create_bucket_with(name, owner_id, region, object_lock, access, now_ms).await
    }

    /// [`Self::create_bucket`] with the bucket's ownership control and ACL set in the same insert (so
    /// a crash never leaves a bucket with other access settings than its creator asked for).
    pub async fn create_bucket_with(
        &self,
        name: &str,
        owner_id: UserId,
        region: &str,
        object_lock: bool,
        access: NewBucketAccess<'_>,
        now_ms: i64,
    ) -> MetaResult<Bucket> {
        self.timed(async move {
            let versioning = if object_lock { Versioning::Enabled } else { Versioning::Unversioned };
            let mut tx = WriteTx::begin(self).await?;
            let inserted: MetaResult<()> = async {
                sqlx::query(
                    "INSERT INTO buckets (name, owner_id, region, created_at, versioning, lock_enabled, ownership, acl) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(name)
                .bind(owner_id)
                .bind(region)
                .bind(now_ms)
                .bind(versioning.as_str())
                .bind(i64::from(object_lock))
                .bind(access.ownership)
                .bind(access.acl)
                .execute(&mut *tx)
                .await?;
                // Read back by name: sqlx's Any driver reports no last insert id for SQLite.
                let id: BucketId =
                    sqlx::query_scalar("SELECT id FROM buckets WHERE name = ?").bind(name).fetch_one(&mut *tx).await?;
                self.insert_counter_shards(&mut tx, id).await
            }
            .await;
            match tx.end(inserted).await {
                Ok(()) => {}
                Err(MetaError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    let existing = self.bucket_from(&self.writer, name).await?.ok_or(MetaError::BucketAlreadyExists)?;
                    return Err(if existing.owner_id == owner_id {
                        MetaError::BucketAlreadyOwnedByYou
                    } else {
                        MetaError::BucketAlreadyExists
                    });
                }
                Err(e) => return Err(e),
            }
            self.bucket_from(&self.writer, name).await?.ok_or(MetaError::NoSuchBucket)
        })
        .await
    }

    /// The counter shard rows of a new bucket, inserted by the transaction that creates it (every
    /// object write updates one of them: `BucketState::finish`).
    async fn insert_counter_shards(&self, tx: &mut WriteTx, id: BucketId) -> MetaResult<()> {
        let rows: Vec<String> = (0..self.counter_shards()).map(|shard| format!("(?, {shard})")).collect();
        let sql = format!("INSERT INTO bucket_counters (bucket_id, shard) VALUES {}", rows.join(", "));
        let mut insert = sqlx::query(dynamic(sql));
        for _ in 0..self.counter_shards() {
            insert = insert.bind(id);
        }
        insert.execute(&mut **tx).await?;
        Ok(())
    }

    /// Looks a bucket up by name.
    pub async fn bucket(&self, name: &str) -> MetaResult<Option<Bucket>> {
        self.timed(async move { self.bucket_from(&self.reader, name).await }).await
    }

    async fn bucket_from(&self, pool: &sqlx::AnyPool, name: &str) -> MetaResult<Option<Bucket>> {
        let row = sqlx::query(dynamic(format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?")))
            .bind(name)
            .fetch_optional(pool)
            .await?;
        row.as_ref().map(bucket_from_row).transpose()
    }

    /// Lists buckets by name; only those of `owner_id` when given, all of them otherwise.
    pub async fn list_buckets(&self, owner_id: Option<UserId>) -> MetaResult<Vec<Bucket>> {
        let rows = self.bucket_rows(BUCKET_COLUMNS.to_owned(), owner_id).await?;
        rows.iter().map(bucket_from_row).collect()
    }

    /// [`MetaStore::list_buckets`] with each bucket's usage.
    pub async fn list_buckets_with_usage(&self, owner_id: Option<UserId>) -> MetaResult<Vec<(Bucket, BucketUsage)>> {
        let rows = self.bucket_rows(format!("{BUCKET_COLUMNS}, {USAGE_COLUMNS}"), owner_id).await?;
        rows.iter().map(|row| Ok((bucket_from_row(row)?, usage_from_row(row)?))).collect()
    }

    /// The `columns` of every bucket (of `owner_id`), by name.
    async fn bucket_rows(&self, columns: String, owner_id: Option<UserId>) -> MetaResult<Vec<AnyRow>> {
        self.timed(async move {
            let rows = match owner_id {
                Some(owner) => {
                    sqlx::query(dynamic(format!("SELECT {columns} FROM buckets WHERE owner_id = ? ORDER BY name")))
                        .bind(owner)
                        .fetch_all(&self.reader)
                        .await?
                }
                None => {
                    sqlx::query(dynamic(format!("SELECT {columns} FROM buckets ORDER BY name")))
                        .fetch_all(&self.reader)
                        .await?
                }
            };
            Ok(rows)
        })
        .await
    }

    /// What the bucket holds now (`NoSuchBucket` if it is gone).
    pub async fn bucket_usage(&self, id: BucketId) -> MetaResult<BucketUsage> {
        self.timed(async move {
            let row = sqlx::query(dynamic(format!("SELECT {USAGE_COLUMNS} FROM buckets WHERE id = ?")))
                .bind(id)
                .fetch_optional(&self.reader)
                .await?
                .ok_or(MetaError::NoSuchBucket)?;
            usage_from_row(&row)
        })
        .await
    }

    /// Up to `limit` buckets with lifecycle rules and ids above `after`, by id (the lifecycle worker's
    /// round).
    pub async fn buckets_with_lifecycle(&self, after: BucketId, limit: u32) -> MetaResult<Vec<Bucket>> {
        self.timed(async move {
            let rows = sqlx::query(dynamic(format!(
                "SELECT {BUCKET_COLUMNS} FROM buckets WHERE lifecycle IS NOT NULL AND id > ? ORDER BY id LIMIT ?"
            )))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
            rows.iter().map(bucket_from_row).collect()
        })
        .await
    }

    /// Sets (or with `None`, removes) one of the bucket's settings. `NoSuchBucket` if it is gone.
    pub async fn set_bucket_setting(
        &self,
        id: BucketId,
        setting: BucketSetting,
        value: Option<&str>,
    ) -> MetaResult<()> {
        self.timed(async move {
            let sql = match setting {
                BucketSetting::Policy => "UPDATE buckets SET policy = ? WHERE id = ?",
                BucketSetting::Tags => "UPDATE buckets SET tags = ? WHERE id = ?",
                BucketSetting::Cors => "UPDATE buckets SET cors = ? WHERE id = ?",
                BucketSetting::Lifecycle => "UPDATE buckets SET lifecycle = ? WHERE id = ?",
                BucketSetting::Ownership => "UPDATE buckets SET ownership = ? WHERE id = ?",
                BucketSetting::PublicAccessBlock => "UPDATE buckets SET public_access_block = ? WHERE id = ?",
                BucketSetting::Acl => "UPDATE buckets SET acl = ? WHERE id = ?",
            };
            let done = sqlx::query(sql).bind(value).bind(id).execute(&self.writer).await?;
            if done.rows_affected() == 0 {
                return Err(MetaError::NoSuchBucket);
            }
            Ok(())
        })
        .await
    }

    /// Sets the bucket's versioning state. The engine refuses a return to unversioned before it gets
    /// here. Taken under the bucket row lock, so a write commits wholly under the old or the new
    /// state. `NoSuchBucket` if it is gone.
    pub async fn set_versioning(&self, id: BucketId, state: Versioning) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let current = self.lock_bucket(&mut tx, id, BucketLockMode::Exclusive).await?;
            if current.lock.is_some() && state != Versioning::Enabled {
                return Err(MetaError::InvalidBucketState(
                    "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
                ));
            }
            sqlx::query("UPDATE buckets SET versioning = ? WHERE id = ?")
                .bind(state.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Deletes an empty bucket. Fails with [`MetaError::BucketNotEmpty`] while it holds objects, versions
    /// or delete markers; an
    /// object write racing the delete either commits first (and the delete fails) or finds the bucket
    /// gone (and fails with `NoSuchBucket`). Incomplete multipart uploads of the bucket are aborted and
    /// their part blobs handed to the janitor in the same transaction.
    pub async fn delete_bucket(&self, id: BucketId, now_ms: i64) -> MetaResult<()> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            // Exclusive: object writers hold the row shared, so every one of them has committed (or
            // will find the bucket gone) before the emptiness checks below run.
            self.lock_bucket(&mut tx, id, BucketLockMode::Exclusive).await?;
            let any_object =
                sqlx::query("SELECT 1 FROM objects WHERE bucket_id = ? LIMIT 1").bind(id).fetch_optional(&mut *tx).await?;
            // Noncurrent versions and delete markers count too, as on AWS: a versioned bucket is empty
            // only when ListObjectVersions is.
            let any_version = sqlx::query("SELECT 1 FROM object_versions WHERE bucket_id = ? LIMIT 1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if any_object.is_some() || any_version.is_some() {
                return Err(MetaError::BucketNotEmpty);
            }
            sqlx::query(
                "INSERT INTO garbage_blobs (blob_id, enqueued_at) SELECT p.blob_id, ? FROM multipart_parts p \
                 JOIN multipart_uploads u ON u.upload_id = p.upload_id WHERE u.bucket_id = ?",
            )
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM multipart_parts WHERE upload_id IN (SELECT upload_id FROM multipart_uploads WHERE bucket_id = ?)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM multipart_uploads WHERE bucket_id = ?").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM bucket_counters WHERE bucket_id = ?").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM buckets WHERE id = ?").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
