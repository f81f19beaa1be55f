//! Versions: the per-bucket commit sequence, moving a version between `objects` (the current version of
//! each key) and `object_versions` (every other version and every delete marker), deleting one version,
//! lookups by version id and the ListObjectVersions range scan.
//!
//! INVARIANT (kept by every transaction here): a key has an `objects` row exactly when its newest
//! version is not a delete marker, and that row is newer (smaller `vorder`) than all of the key's
//! `object_versions` rows. See `migrations/sqlite/0005_versioning.sql`. Each transaction that changes a
//! key's versions holds either the bucket row exclusively, or the bucket row shared and the key's
//! `objects` row locked (an object commit, a delete of a current version: [`BucketLockMode`]); two
//! shared-lock writers of a key that has no `objects` row meet at its primary key, and the loser is
//! retried under the exclusive lock.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Executor, Row};

use crate::error::{MetaError, MetaResult};
use crate::lock::{BUCKET_LOCK_COLUMNS, ensure_deletable, lock_from_row};
use crate::model::{
    BucketId, BucketLock, Deleted, ListedVersion, Manifest, NULL_VERSION, ObjectRecord, UserId, VersionRecord,
    VersionSel, Versioning,
};
use crate::objects::{OBJECT_COLUMNS, listed_from_row, object_from_row};
use crate::store::{Backend, MetaStore, dynamic};
use crate::tx::WriteTx;

/// How a write transaction locks its bucket's row (MySQL; SQLite's single writer is the lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BucketLockMode {
    /// A shared lock: writers of one bucket run side by side, serialized per key by the key's row
    /// lock. Settings changes and DeleteBucket (which take the row exclusively) wait for them. For the
    /// common writes only: an object commit, and a delete of a key that has a current version.
    Shared,
    /// The exclusive lock: every other writer of the bucket waits. Everything else takes it.
    Exclusive,
}

/// The bucket row as a write transaction locked it: its versioning state, its lock configuration, and
/// the counter changes the transaction has made so far, written back by [`BucketState::finish`].
#[derive(Debug)]
pub(crate) struct BucketState {
    /// The bucket.
    pub(crate) id: BucketId,
    /// Its versioning state, read under the lock (a concurrent change waits for this commit).
    pub(crate) versioning: Versioning,
    /// Its object lock configuration, read under the lock.
    pub(crate) lock: Option<BucketLock>,
    /// How the row is locked.
    pub(crate) mode: BucketLockMode,
    current: (i64, i64),
    noncurrent: (i64, i64),
}

impl BucketState {
    /// The ordering key and id of a new version of a key whose newest version has ordering key
    /// `newest` (`None`: the key has no version). INVARIANT: a key's versions are ordered by `vorder`
    /// (smaller is newer), the negated per-key sequence number its version ids encode; the caller holds
    /// the key's row lock (or the bucket's exclusive lock), so the next number is the newest's plus
    /// one and no concurrent writer of the key can take it too (one that tried loses on the primary
    /// key and is retried). The id is fresh when versioning is enabled, `null` otherwise.
    pub(crate) fn next_version(&self, newest: Option<i64>) -> (i64, String) {
        let seq = newest.map_or(0, |vorder| -vorder) + 1;
        let id = if self.versioning == Versioning::Enabled { VersionSel::issue(seq) } else { NULL_VERSION.into() };
        (-seq, id)
    }

    /// Counts a current version in (`+1`) or out (`-1`) of the bucket's usage.
    pub(crate) fn current(&mut self, sign: i64, size: i64) {
        self.current.0 += sign;
        self.current.1 += sign * size;
    }

    /// Counts a noncurrent version (not a marker) in or out.
    pub(crate) fn noncurrent(&mut self, sign: i64, size: i64) {
        self.noncurrent.0 += sign;
        self.noncurrent.1 += sign * size;
    }

    /// Adds the counter changes to one of the bucket's counter shards, in the same transaction (see
    /// `migrations/*/0010_bucket_counters.sql`): never to the bucket row, which writers hold shared.
    pub(crate) async fn finish(self, store: &MetaStore, tx: &mut WriteTx) -> MetaResult<()> {
        if self.current == (0, 0) && self.noncurrent == (0, 0) {
            return Ok(());
        }
        let done = sqlx::query(dynamic(format!(
            "UPDATE bucket_counters SET d_objects = d_objects + ?, d_bytes = d_bytes + ?, \
             d_noncurrent = d_noncurrent + ?, d_noncurrent_bytes = d_noncurrent_bytes + ? \
             WHERE bucket_id = ? AND shard = {}",
            store.counter_shard()
        )))
        .bind(self.current.0)
        .bind(self.current.1)
        .bind(self.noncurrent.0)
        .bind(self.noncurrent.1)
        .bind(self.id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(MetaError::Corrupt(format!("bucket {} has no counter row for this writer", self.id)));
        }
        Ok(())
    }
}

/// The columns of an `object_versions` row that [`version_from_row`] reads.
const VERSION_COLUMNS: &str = "object_key, version_id, vorder, size, etag, last_modified, owner_id, attributes, \
                               manifest, parts_count, lock_mode, lock_until, legal_hold, is_marker";

/// The columns both tables share, in the order the INSERT ... SELECT statements that move a version
/// between them name them.
const MOVED_COLUMNS: &str = "bucket_id, object_key, vorder, version_id, size, etag, last_modified, owner_id, \
                             attributes, manifest, parts_count, lock_mode, lock_until, legal_hold";

/// A stored version row (either table: `objects` rows read with `0 AS is_marker`).
fn version_from_row(row: &AnyRow) -> MetaResult<VersionRecord> {
    Ok(VersionRecord {
        object: object_from_row(row)?,
        is_marker: row.try_get::<i64, _>("is_marker")? != 0,
        is_latest: false,
        vorder: row.try_get("vorder")?,
    })
}

fn listed_version_from_row(row: &AnyRow) -> MetaResult<ListedVersion> {
    Ok(ListedVersion {
        object: listed_from_row(row)?,
        version_id: row.try_get("version_id")?,
        is_marker: row.try_get::<i64, _>("is_marker")? != 0,
        is_latest: false,
        vorder: row.try_get("vorder")?,
    })
}

/// Columns a version listing reads from `table` (no attributes, no manifest); `objects` rows are never
/// markers.
fn listed_version_columns(table: &str) -> String {
    let marker = if table == "objects" { "0" } else { "is_marker" };
    format!(
        "object_key, version_id, vorder, {marker} AS is_marker, size, etag, last_modified, owner_id, '' AS attributes"
    )
}

impl MetaStore {
    /// Locks the bucket row for the rest of `tx` in `mode` (MySQL; SQLite's single writer is the lock)
    /// and checks it still exists. Every object write locks it first: a settings change or DeleteBucket
    /// (exclusive) waits for the writers in flight, so a write commits wholly under one versioning state
    /// and lock configuration, and never into a deleted bucket; there is no lock-order deadlock, the
    /// bucket row always being taken before any key's row.
    pub(crate) async fn lock_bucket(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        mode: BucketLockMode,
    ) -> MetaResult<BucketState> {
        let locking = match mode {
            BucketLockMode::Shared => self.share_lock(),
            BucketLockMode::Exclusive => self.for_update(),
        };
        let row = sqlx::query(dynamic(format!(
            "SELECT versioning, {BUCKET_LOCK_COLUMNS} FROM buckets WHERE id = ?{locking}"
        )))
        .bind(bucket_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(MetaError::NoSuchBucket)?;
        Ok(BucketState {
            id: bucket_id,
            versioning: Versioning::parse(&row.try_get::<String, _>("versioning")?)?,
            lock: lock_from_row(&row)?,
            mode,
            current: (0, 0),
            noncurrent: (0, 0),
        })
    }

    /// The ordering key of the newest `object_versions` row of `key` (a plain read: the caller holds
    /// the key's row lock or the bucket's exclusive lock).
    pub(crate) async fn newest_noncurrent(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        key: &[u8],
    ) -> MetaResult<Option<i64>> {
        let row =
            sqlx::query("SELECT MIN(vorder) AS newest FROM object_versions WHERE bucket_id = ? AND object_key = ?")
                .bind(bucket_id)
                .bind(key)
                .fetch_one(&mut **tx)
                .await?;
        Ok(row.try_get("newest")?)
    }

    /// Moves the current version of `key` (its `objects` row, which the caller then replaces or deletes)
    /// into `object_versions` as a noncurrent version. Its blobs stay: they are still that version's.
    pub(crate) async fn archive_current(
        &self,
        tx: &mut WriteTx,
        state: &mut BucketState,
        current: &ObjectRecord,
    ) -> MetaResult<()> {
        sqlx::query(dynamic(format!(
            "INSERT INTO object_versions ({MOVED_COLUMNS}, is_marker) SELECT {MOVED_COLUMNS}, 0 FROM objects \
             WHERE bucket_id = ? AND object_key = ?"
        )))
        .bind(state.id)
        .bind(&current.key)
        .execute(&mut **tx)
        .await?;
        state.current(-1, current.size);
        state.noncurrent(1, current.size);
        Ok(())
    }

    /// Removes the `null` version of `key` from `object_versions` (an unversioned write or a suspended
    /// bucket's write replaces it), queueing its blobs. Does nothing when there is none.
    pub(crate) async fn remove_null_version(
        &self,
        tx: &mut WriteTx,
        state: &mut BucketState,
        key: &[u8],
        now_ms: i64,
    ) -> MetaResult<()> {
        let found = noncurrent_version(tx, state.id, key, &VersionSel::Null).await?;
        if let Some(v) = found {
            self.remove_version_row(tx, state, &v, false, now_ms).await?;
        }
        Ok(())
    }

    /// Adds a delete marker for `key` as its newest version (the key has no `objects` row by now). The
    /// caller holds the key's row lock (the key had a current version, archived by now) or the
    /// bucket's exclusive lock.
    pub(crate) async fn insert_marker(
        &self,
        tx: &mut WriteTx,
        state: &mut BucketState,
        key: &[u8],
        owner_id: UserId,
        now_ms: i64,
    ) -> MetaResult<String> {
        let newest = self.newest_noncurrent(tx, state.id, key).await?;
        let (vorder, version_id) = state.next_version(newest);
        sqlx::query(
            "INSERT INTO object_versions (bucket_id, object_key, vorder, version_id, is_marker, size, etag, \
             last_modified, owner_id, attributes, manifest, parts_count) VALUES (?, ?, ?, ?, 1, 0, '', ?, ?, '', '', NULL)",
        )
        .bind(state.id)
        .bind(key)
        .bind(vorder)
        .bind(&version_id)
        .bind(now_ms)
        .bind(owner_id)
        .execute(&mut **tx)
        .await?;
        Ok(version_id)
    }

    /// Deletes one `object_versions` row and queues its blobs; refused (`ObjectLocked`) while object
    /// lock protects it ([`ensure_deletable`]).
    async fn remove_version_row(
        &self,
        tx: &mut WriteTx,
        state: &mut BucketState,
        v: &VersionRecord,
        bypass: bool,
        now_ms: i64,
    ) -> MetaResult<()> {
        ensure_deletable(&v.object, now_ms, bypass)?;
        let done = sqlx::query("DELETE FROM object_versions WHERE bucket_id = ? AND object_key = ? AND vorder = ?")
            .bind(state.id)
            .bind(&v.object.key)
            .bind(v.vorder)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() != 1 {
            // Read without a lock under the bucket's shared lock, and removed meanwhile by a concurrent
            // writer of the key: retried, so its blobs and counters are not retired twice.
            return Err(MetaError::WriteConflict);
        }
        if !v.is_marker {
            self.retire_blobs(tx, &v.object.manifest, &Manifest::default(), now_ms).await?;
            state.noncurrent(-1, v.object.size);
        }
        Ok(())
    }

    /// After the newest version of `key` went away: makes the next newest current again, moving it to
    /// `objects` when it is not a delete marker (a marker stays where it is and hides the key).
    async fn promote_newest(&self, tx: &mut WriteTx, state: &mut BucketState, key: &[u8]) -> MetaResult<()> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {VERSION_COLUMNS} FROM object_versions WHERE bucket_id = ? AND object_key = ? \
             ORDER BY vorder LIMIT 1"
        )))
        .bind(state.id)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(newest) = row.as_ref().map(version_from_row).transpose()? else { return Ok(()) };
        if newest.is_marker {
            return Ok(());
        }
        sqlx::query(dynamic(format!(
            "INSERT INTO objects ({MOVED_COLUMNS}) SELECT {MOVED_COLUMNS} FROM object_versions \
             WHERE bucket_id = ? AND object_key = ? AND vorder = ?"
        )))
        .bind(state.id)
        .bind(key)
        .bind(newest.vorder)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM object_versions WHERE bucket_id = ? AND object_key = ? AND vorder = ?")
            .bind(state.id)
            .bind(key)
            .bind(newest.vorder)
            .execute(&mut **tx)
            .await?;
        state.noncurrent(-1, newest.object.size);
        state.current(1, newest.object.size);
        Ok(())
    }

    /// Deletes one version of `key` for good (DELETE with a version id): its blobs go to the janitor and,
    /// when it was the newest, the next newest version becomes current. A version that does not exist
    /// changes nothing (`changed: false`; S3 still answers 204). A version object lock protects is
    /// `ObjectLocked` (`bypass`: the caller's authorized bypass of GOVERNANCE retention).
    pub async fn delete_version(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        sel: &VersionSel,
        bypass: bool,
        now_ms: i64,
    ) -> MetaResult<Deleted> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let mut state = self.lock_bucket(&mut tx, bucket_id, BucketLockMode::Exclusive).await?;
            let current = self.current_in_tx(&mut tx, bucket_id, key).await?;
            let deleted = match current {
                Some(cur) if cur.version_id == sel.as_str() => {
                    self.delete_current_row(&mut tx, &mut state, &cur, bypass, now_ms).await?;
                    self.promote_newest(&mut tx, &mut state, key).await?;
                    Deleted { version_id: Some(cur.version_id), marker: false, changed: true }
                }
                current => match noncurrent_version(&mut tx, bucket_id, key, sel).await? {
                    None => Deleted { version_id: Some(sel.as_str().to_owned()), marker: false, changed: false },
                    Some(v) => {
                        self.remove_version_row(&mut tx, &mut state, &v, bypass, now_ms).await?;
                        if current.is_none() {
                            self.promote_newest(&mut tx, &mut state, key).await?;
                        }
                        Deleted { version_id: Some(v.object.version_id), marker: v.is_marker, changed: true }
                    }
                },
            };
            state.finish(self, &mut tx).await?;
            tx.commit().await?;
            Ok(deleted)
        })
        .await
    }

    /// The version of `key` named by `sel`, current or not, delete markers included.
    pub async fn object_version(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        sel: &VersionSel,
    ) -> MetaResult<Option<VersionRecord>> {
        self.timed(async move {
            let mut conn = self.reader.acquire().await?;
            let Some(mut version) = find_version(&mut conn, bucket_id, key, sel).await? else { return Ok(None) };
            // Only a marker can be the newest version while sitting in `object_versions`.
            if version.is_marker {
                let newer = sqlx::query(
                    "SELECT 1 FROM object_versions WHERE bucket_id = ? AND object_key = ? AND vorder < ? LIMIT 1",
                )
                .bind(bucket_id)
                .bind(key)
                .bind(version.vorder)
                .fetch_optional(&mut *conn)
                .await?;
                let current = sqlx::query("SELECT 1 FROM objects WHERE bucket_id = ? AND object_key = ?")
                    .bind(bucket_id)
                    .bind(key)
                    .fetch_optional(&mut *conn)
                    .await?;
                version.is_latest = newer.is_none() && current.is_none();
            }
            Ok(Some(version))
        })
        .await
    }

    /// The id of the delete marker that hides `key`, when its newest version is one (GET and HEAD answer
    /// 404 with `x-amz-delete-marker: true`).
    pub async fn current_marker(&self, bucket_id: BucketId, key: &[u8]) -> MetaResult<Option<String>> {
        self.timed(async move {
            let row = sqlx::query(
                "SELECT version_id, is_marker FROM object_versions WHERE bucket_id = ? AND object_key = ? \
                 ORDER BY vorder LIMIT 1",
            )
            .bind(bucket_id)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
            let Some(row) = row else { return Ok(None) };
            if row.try_get::<i64, _>("is_marker")? == 0 {
                return Ok(None);
            }
            Ok(Some(row.try_get("version_id")?))
        })
        .await
    }

    /// Up to `limit` versions of `bucket_id` after position `(key, vorder)` (use `i64::MIN` for "from
    /// `key` inclusive", `i64::MAX` for "after every version of `key`") and before `end`, ordered by key,
    /// then newest first: the rows of both tables merged. Each side is an index range scan of at most
    /// `limit` rows, so a page costs O(page) however many versions the bucket holds. `is_latest` is set
    /// for the first version of each key in the order.
    pub async fn list_versions(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        vorder: i64,
        end: Option<&[u8]>,
        limit: u32,
    ) -> MetaResult<Vec<ListedVersion>> {
        self.timed(async move {
            // One read transaction: both tables from the same snapshot, so a version moving between them
            // meanwhile is listed exactly once. MySQL connections run at READ COMMITTED (a snapshot per
            // statement), so this one transaction asks for REPEATABLE READ (one snapshot for both).
            let mut conn = self.reader.acquire().await?;
            if self.backend() == Backend::MySql {
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").await?;
            }
            let mut snapshot = sqlx::Connection::begin(&mut *conn).await?;
            let current = self.version_range(&mut snapshot, "objects", bucket_id, key, vorder, end, limit).await?;
            let others =
                self.version_range(&mut snapshot, "object_versions", bucket_id, key, vorder, end, limit).await?;
            snapshot.commit().await?;
            let mut merged = merge_versions(current, others, limit as usize);
            let mut previous: Option<Vec<u8>> = (vorder != i64::MIN).then(|| key.to_vec());
            for v in &mut merged {
                v.is_latest = previous.as_deref() != Some(v.object.key.as_slice());
                previous = Some(v.object.key.clone());
            }
            Ok(merged)
        })
        .await
    }

    /// The rows of one table after `(key, vorder)` in (key, vorder) order: the rest of `key`, then the
    /// keys after it, each an index range (a row-value comparison would not use the index everywhere).
    #[allow(clippy::too_many_arguments)]
    async fn version_range(
        &self,
        conn: &mut sqlx::AnyConnection,
        table: &'static str,
        bucket_id: BucketId,
        key: &[u8],
        vorder: i64,
        end: Option<&[u8]>,
        limit: u32,
    ) -> MetaResult<Vec<ListedVersion>> {
        let columns = listed_version_columns(table);
        let mut out = Vec::new();
        let in_range = end.is_none_or(|e| key < e);
        if in_range && vorder != i64::MAX && vorder != i64::MIN {
            let sql = format!(
                "SELECT {columns} FROM {table} WHERE bucket_id = ? AND object_key = ? AND vorder > ? \
                 ORDER BY vorder LIMIT ?"
            );
            let rows = sqlx::query(dynamic(sql))
                .bind(bucket_id)
                .bind(key)
                .bind(vorder)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            for row in &rows {
                out.push(listed_version_from_row(row)?);
            }
        }
        let rest = limit as usize - out.len().min(limit as usize);
        if rest == 0 {
            return Ok(out);
        }
        let op = if vorder == i64::MIN { ">=" } else { ">" };
        let mut sql = format!("SELECT {columns} FROM {table} WHERE bucket_id = ? AND object_key {op} ?");
        if end.is_some() {
            sql.push_str(" AND object_key < ?");
        }
        sql.push_str(" ORDER BY object_key, vorder LIMIT ?");
        let mut query = sqlx::query(dynamic(sql)).bind(bucket_id).bind(key);
        if let Some(end) = end {
            query = query.bind(end);
        }
        let rows = query.bind(rest as i64).fetch_all(&mut *conn).await?;
        for row in &rows {
            out.push(listed_version_from_row(row)?);
        }
        Ok(out)
    }

    /// Replaces the attributes (HTTP attributes, user metadata, tags) of one version of `key`, current
    /// or not, only if its ETag is still `etag`. Returns whether a version was updated. Under the bucket
    /// row lock, so a version moving between the tables meanwhile is found where it is.
    pub async fn update_version_attributes(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        sel: &VersionSel,
        etag: &str,
        attributes: &str,
    ) -> MetaResult<bool> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            self.lock_bucket(&mut tx, bucket_id, BucketLockMode::Exclusive).await?;
            let mut updated = false;
            for (table, marker) in [("objects", ""), ("object_versions", " AND is_marker = 0")] {
                let sql = format!(
                    "UPDATE {table} SET attributes = ? WHERE bucket_id = ? AND object_key = ? AND version_id = ? \
                     AND etag = ?{marker}"
                );
                let done = sqlx::query(dynamic(sql))
                    .bind(attributes)
                    .bind(bucket_id)
                    .bind(key)
                    .bind(sel.as_str())
                    .bind(etag)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() > 0 {
                    updated = true;
                    break;
                }
            }
            tx.commit().await?;
            Ok(updated)
        })
        .await
    }
}

/// The version of `key` named by `sel`, read on `conn` (a write transaction's connection or a reader),
/// current or not, delete markers included. `is_latest` is set for the current version (found in
/// `objects`); a marker's is left to the caller.
pub(crate) async fn find_version(
    conn: &mut AnyConnection,
    bucket_id: BucketId,
    key: &[u8],
    sel: &VersionSel,
) -> MetaResult<Option<VersionRecord>> {
    let current = sqlx::query(dynamic(format!(
        "SELECT {OBJECT_COLUMNS}, 0 AS is_marker FROM objects WHERE bucket_id = ? AND object_key = ? AND version_id = ?"
    )))
    .bind(bucket_id)
    .bind(key)
    .bind(sel.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = current {
        return Ok(Some(VersionRecord { is_latest: true, ..version_from_row(&row)? }));
    }
    noncurrent_version(conn, bucket_id, key, sel).await
}

/// One `object_versions` row of `key` by version: by primary key for an issued id; the `null` version
/// (at most one per key) by scanning the key's versions.
async fn noncurrent_version(
    conn: &mut AnyConnection,
    bucket_id: BucketId,
    key: &[u8],
    sel: &VersionSel,
) -> MetaResult<Option<VersionRecord>> {
    let (filter, vorder) = match sel {
        VersionSel::Null => ("version_id = 'null'", None),
        VersionSel::Id { seq, .. } => ("vorder = ? AND version_id = ?", Some(-seq)),
    };
    let sql =
        format!("SELECT {VERSION_COLUMNS} FROM object_versions WHERE bucket_id = ? AND object_key = ? AND {filter}");
    let mut query = sqlx::query(dynamic(sql)).bind(bucket_id).bind(key);
    if let Some(vorder) = vorder {
        query = query.bind(vorder).bind(sel.as_str());
    }
    let row = query.fetch_optional(&mut *conn).await?;
    row.as_ref().map(version_from_row).transpose()
}

/// Merges two lists each sorted by (key, vorder) and keeps the first `limit`.
fn merge_versions(a: Vec<ListedVersion>, b: Vec<ListedVersion>, limit: usize) -> Vec<ListedVersion> {
    let mut out = Vec::with_capacity(limit.min(a.len() + b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < limit {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (&x.object.key, x.vorder) <= (&y.object.key, y.vorder),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}
