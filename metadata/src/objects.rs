//! Objects: the commit transaction of a write, deletes, lookups and listing range scans.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{MetaError, MetaResult};
use crate::lock::{ensure_deletable, retention_from_row};
use crate::model::{
    BlobRef, BucketId, Deleted, ListedObject, LockMode, Manifest, NULL_VERSION, ObjectRecord, UserId, Versioning,
    WriteCondition,
};
use crate::store::{Backend, MetaStore, dynamic};
use crate::tx::WriteTx;
use crate::versions::{BucketLockMode, BucketState};

/// Where a listing scan starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListBound<'a> {
    /// From the first key of the bucket.
    Unbounded,
    /// From the first key strictly greater than this one.
    After(&'a [u8]),
    /// From the first key greater than or equal to this one.
    From(&'a [u8]),
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None` when there is
/// none (empty prefix, or all bytes 0xFF). Listings use it as the exclusive end of a prefix range and to
/// skip past a whole common prefix in one index seek.
pub fn key_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The columns of an object row that [`object_from_row`] reads (both tables have them).
pub(crate) const OBJECT_COLUMNS: &str = "object_key, version_id, vorder, size, etag, last_modified, owner_id, \
                                         attributes, manifest, parts_count, lock_mode, lock_until, legal_hold";

/// An object row of either table.
pub(crate) fn object_from_row(row: &AnyRow) -> MetaResult<ObjectRecord> {
    let manifest: String = row.try_get("manifest")?;
    let ListedObject { key, size, etag, last_modified, owner_id, attributes } = listed_from_row(row)?;
    Ok(ObjectRecord {
        key,
        version_id: row.try_get("version_id")?,
        size,
        etag,
        last_modified,
        owner_id,
        attributes,
        manifest: Manifest::decode(&manifest)?,
        parts_count: row.try_get("parts_count")?,
        retention: retention_from_row(row)?,
    })
}

/// The columns [`listed_from_row`] reads.
pub(crate) const LISTED_COLUMNS: &str = "object_key, size, etag, last_modified, owner_id, attributes";

/// Which columns [`MetaStore::list_objects`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListColumns {
    /// Key, size, ETag, time and owner; `attributes` is left empty. An S3 listing returns no attributes,
    /// which can be kilobytes per row.
    #[default]
    Bare,
    /// Also each object's stored attributes (the console shows the content type).
    WithAttributes,
}

impl ListColumns {
    fn sql(self) -> &'static str {
        match self {
            ListColumns::Bare => "object_key, size, etag, last_modified, owner_id, '' AS attributes",
            ListColumns::WithAttributes => LISTED_COLUMNS,
        }
    }
}

/// One listing row.
pub(crate) fn listed_from_row(row: &AnyRow) -> MetaResult<ListedObject> {
    Ok(ListedObject {
        key: row.try_get("object_key")?,
        size: row.try_get("size")?,
        etag: row.try_get("etag")?,
        last_modified: row.try_get("last_modified")?,
        owner_id: row.try_get("owner_id")?,
        attributes: row.try_get("attributes")?,
    })
}

impl MetaStore {
    /// The current object under `key`, if any.
    pub async fn object(&self, bucket_id: BucketId, key: &[u8]) -> MetaResult<Option<ObjectRecord>> {
        self.timed(async move {
            let row = sqlx::query(dynamic(format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = ? AND object_key = ?"
            )))
            .bind(bucket_id)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
            row.as_ref().map(object_from_row).transpose()
        })
        .await
    }

    /// [`MetaStore::object`] with, when the object is inline, its bytes, in the same query (a GET needs
    /// both; a file-backed object answers `None` for them). The bytes belong to the row read: an
    /// overwrite committed meanwhile does not mix them up.
    pub async fn object_with_inline(
        &self,
        bucket_id: BucketId,
        key: &[u8],
    ) -> MetaResult<Option<(ObjectRecord, Option<Vec<u8>>)>> {
        self.timed(async move {
            let row = sqlx::query(dynamic(format!(
                "SELECT {OBJECT_COLUMNS}, d.data AS inline_data FROM objects o \
                 LEFT JOIN inline_blobs d ON o.manifest LIKE 'i%' \
                 AND d.blob_id = SUBSTR(o.manifest, 1, INSTR(o.manifest, ' ') - 1) \
                 WHERE o.bucket_id = ? AND o.object_key = ?"
            )))
            .bind(bucket_id)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some((object_from_row(&row)?, row.try_get("inline_data")?)))
        })
        .await
    }

    /// The key's current version, read inside `tx` with the key's row locked (MySQL), so that writers of
    /// one key are serialized however the bucket is locked. At READ COMMITTED (every MySQL connection)
    /// the read sees the latest committed row, and a key without one locks nothing: a concurrent
    /// writer that inserts it first makes this transaction's own insert fail on the primary key, and
    /// the transaction is retried ([`MetaStore::retrying`]).
    pub(crate) async fn current_in_tx(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        key: &[u8],
    ) -> MetaResult<Option<ObjectRecord>> {
        Ok(self.current_locked(tx, bucket_id, key).await?.map(|(object, _)| object))
    }

    /// [`MetaStore::current_in_tx`] with the row's ordering key (`vorder`).
    pub(crate) async fn current_locked(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        key: &[u8],
    ) -> MetaResult<Option<(ObjectRecord, i64)>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket_id = ? AND object_key = ?{}",
            self.for_update()
        )))
        .bind(bucket_id)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((object_from_row(&row)?, row.try_get("vorder")?)))
    }

    /// THE COMMIT POINT of an object write. In one transaction: lock the bucket, evaluate `condition`
    /// against the current version, make the object the key's current version (the one it replaces is
    /// deleted or kept as a noncurrent version, as versioning says: [`MetaStore::commit_in_tx`]), hand
    /// the blobs of what was deleted to the janitor (`garbage_blobs`), claim the new blobs' intents
    /// (`pending_blobs`; a missing one fails the commit with [`MetaError::IntentLost`], see
    /// [`MetaStore::claim_intent`]) and adjust the bucket's counters. Before this commits nobody can see
    /// the new version; after it, everybody does. A crash before the commit leaves only pending intents
    /// and files that the janitor removes after the grace period; a crash after it leaves old blobs
    /// queued in `garbage_blobs`, removed by the next sweep. Returns the new version's id (`None` in an
    /// unversioned bucket).
    pub async fn commit_object(
        &self,
        bucket_id: BucketId,
        object: &ObjectRecord,
        condition: &WriteCondition,
        now_ms: i64,
    ) -> MetaResult<Option<String>> {
        if object.manifest.0.iter().any(BlobRef::is_inline) {
            return Err(MetaError::Corrupt("an inline blob is committed with its bytes (commit_inline_object)".into()));
        }
        self.commit_with(bucket_id, object, None, condition, now_ms).await
    }

    /// [`MetaStore::commit_object`] for an inline object: `object`'s manifest is its one inline blob,
    /// and `data` (its bytes) is inserted into `inline_blobs` by the same transaction, in place of the
    /// intent a file blob's commit claims. A crash or a failed condition leaves nothing at all; after
    /// the COMMIT the bytes are exactly as durable as the row.
    pub async fn commit_inline_object(
        &self,
        bucket_id: BucketId,
        object: &ObjectRecord,
        data: &[u8],
        condition: &WriteCondition,
        now_ms: i64,
    ) -> MetaResult<Option<String>> {
        match object.manifest.inline_blob() {
            Some(blob) if blob.size == data.len() as i64 => {}
            _ => return Err(MetaError::Corrupt("an inline commit names one inline blob of its bytes' length".into())),
        }
        self.commit_with(bucket_id, object, Some(data), condition, now_ms).await
    }

    /// The transaction of [`MetaStore::commit_object`] and [`MetaStore::commit_inline_object`], run by
    /// [`MetaStore::retrying`]: under the bucket's shared lock first, so writers of different keys of
    /// one bucket commit side by side.
    async fn commit_with(
        &self,
        bucket_id: BucketId,
        object: &ObjectRecord,
        inline: Option<&[u8]>,
        condition: &WriteCondition,
        now_ms: i64,
    ) -> MetaResult<Option<String>> {
        self.timed(self.retrying(|mode| async move {
            let mut tx = WriteTx::begin(self).await?;
            let result: MetaResult<_> = async {
                let mut state = self.lock_bucket(&mut tx, bucket_id, mode).await?;
                for blob in &object.manifest.0 {
                    match inline {
                        Some(data) => self.insert_inline_blob(&mut tx, &blob.blob_id, data).await?,
                        None => self.claim_intent(&mut tx, &blob.blob_id).await?,
                    }
                }
                let version_id = self.commit_in_tx(&mut tx, &mut state, object, condition, now_ms).await?;
                state.finish(self, &mut tx).await?;
                Ok(version_id)
            }
            .await;
            tx.end(result).await
        }))
        .await
    }

    /// INVARIANT "no row without its blob", made unconditional: a commit that references a freshly placed
    /// blob deletes that blob's intent row and requires that it was still there. The janitor removes a
    /// stale intent's file *before* its row, so a present row proves the file was not swept; a missing
    /// row (a sweeper whose clock runs ahead, a commit stalled past the grace period) fails the commit
    /// with [`MetaError::IntentLost`], and nothing becomes visible. No clock assumption is involved.
    pub(crate) async fn claim_intent(&self, tx: &mut WriteTx, blob_id: &str) -> MetaResult<()> {
        let done = sqlx::query("DELETE FROM pending_blobs WHERE blob_id = ?").bind(blob_id).execute(&mut **tx).await?;
        if done.rows_affected() != 1 {
            return Err(MetaError::IntentLost(blob_id.to_owned()));
        }
        Ok(())
    }

    /// The body of [`MetaStore::commit_object`], for transactions that have locked the bucket row and
    /// do more in the same commit (completing a multipart upload). Returns the new version's id (`None`
    /// in an unversioned bucket, where S3 reports none).
    ///
    /// Versioning decides what happens to the key's current version: unversioned (and a suspended
    /// bucket's `null` current version) it is replaced in place and its blobs queued; otherwise it moves
    /// to `object_versions` with its blobs. A suspended bucket's write also removes an older `null`
    /// version. The condition is evaluated against the current version (a delete marker counts as
    /// absent).
    pub(crate) async fn commit_in_tx(
        &self,
        tx: &mut WriteTx,
        state: &mut BucketState,
        object: &ObjectRecord,
        condition: &WriteCondition,
        now_ms: i64,
    ) -> MetaResult<Option<String>> {
        let locked = self.current_locked(tx, state.id, &object.key).await?;
        let newest = match &locked {
            Some((_, vorder)) => Some(*vorder),
            None if state.versioning == Versioning::Unversioned => None,
            None => self.newest_noncurrent(tx, state.id, &object.key).await?,
        };
        let previous = locked.map(|(object, _)| object);
        match (condition, &previous) {
            (WriteCondition::None, _) => {}
            (WriteCondition::IfAbsent, None) => {}
            (WriteCondition::IfEtag(want), Some(prev)) if *want == prev.etag => {}
            (WriteCondition::IfExists, Some(_)) => {}
            (WriteCondition::IfNotEtag(_), None) => {}
            (WriteCondition::IfNotEtag(unwanted), Some(prev)) if *unwanted != prev.etag => {}
            _ => return Err(MetaError::PreconditionFailed),
        }
        let retention = state.retention_for(&object.retention, now_ms)?;
        let (vorder, version_id) = state.next_version(newest);
        let in_place = match (&previous, state.versioning) {
            (Some(_), Versioning::Unversioned) => true,
            (Some(prev), Versioning::Suspended) => prev.version_id == NULL_VERSION,
            _ => false,
        };
        match &previous {
            Some(prev) if in_place => {
                ensure_deletable(prev, now_ms, false)?;
                self.retire_blobs(tx, &prev.manifest, &object.manifest, now_ms).await?;
                state.current(-1, prev.size);
            }
            Some(prev) => {
                // INVARIANT: a version never shares a blob with another version, or deleting one would
                // delete the other's bytes (the engine copies bytes in versioned buckets).
                if prev.manifest.0.iter().any(|b| object.manifest.0.iter().any(|n| n.blob_id == b.blob_id)) {
                    return Err(MetaError::Corrupt("a new version would share a blob with the previous one".into()));
                }
                self.archive_current(tx, state, prev).await?;
            }
            None => {}
        }
        if state.versioning == Versioning::Suspended {
            self.remove_null_version(tx, state, &object.key, now_ms).await?;
        }
        let object = ObjectRecord { retention, ..object.clone() };
        self.write_current_row(tx, state.id, &object, vorder, &version_id, previous.is_some()).await?;
        if previous.is_none() && state.versioning != Versioning::Unversioned {
            // The newest version was read before this row existed. Now that it does (and is locked), a
            // version archived meanwhile by a writer of the key's old row shows here: this write is
            // then not the newest and is retried (a new version is only ever archived by a holder of
            // the key's row, or under the bucket's exclusive lock).
            let newest_now = self.newest_noncurrent(tx, state.id, &object.key).await?;
            if newest_now.is_some_and(|n| n <= vorder) {
                return Err(MetaError::WriteConflict);
            }
        }
        state.current(1, object.size);
        Ok((state.versioning != Versioning::Unversioned).then_some(version_id))
    }

    /// Writes `object` as the `objects` row of its key (an UPDATE when the key had one).
    async fn write_current_row(
        &self,
        tx: &mut WriteTx,
        bucket_id: BucketId,
        object: &ObjectRecord,
        vorder: i64,
        version_id: &str,
        exists: bool,
    ) -> MetaResult<()> {
        // One bind order for both statements: the row's columns, then its key.
        let sql = if exists {
            "UPDATE objects SET version_id = ?, vorder = ?, size = ?, etag = ?, last_modified = ?, owner_id = ?, \
             attributes = ?, manifest = ?, parts_count = ?, lock_mode = ?, lock_until = ?, legal_hold = ? \
             WHERE bucket_id = ? AND object_key = ?"
        } else {
            "INSERT INTO objects (version_id, vorder, size, etag, last_modified, owner_id, attributes, manifest, \
             parts_count, lock_mode, lock_until, legal_hold, bucket_id, object_key) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        };
        sqlx::query(sql)
            .bind(version_id)
            .bind(vorder)
            .bind(object.size)
            .bind(&object.etag)
            .bind(object.last_modified)
            .bind(object.owner_id)
            .bind(&object.attributes)
            .bind(object.manifest.encode())
            .bind(object.parts_count)
            .bind(object.retention.mode.map(LockMode::as_str))
            .bind(object.retention.until_ms)
            .bind(i64::from(object.retention.legal_hold))
            .bind(bucket_id)
            .bind(&object.key)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Queues the blobs of a replaced or deleted manifest for deletion, except those in `keep` (the new
    /// object of an unversioned metadata-only self-copy keeps the same blobs).
    pub(crate) async fn retire_blobs(
        &self,
        tx: &mut WriteTx,
        old: &Manifest,
        keep: &Manifest,
        now_ms: i64,
    ) -> MetaResult<()> {
        for blob in &old.0 {
            if keep.0.iter().any(|b| b.blob_id == blob.blob_id) {
                continue;
            }
            self.enqueue_garbage(tx, &blob.blob_id, now_ms).await?;
        }
        Ok(())
    }

    /// DELETE without a version id. Unversioned: deletes the key's object and queues its blobs (a
    /// missing key changes nothing). Enabled: the current version becomes noncurrent and a delete marker
    /// with a new id hides the key (even when there was nothing to hide, as on AWS). Suspended: the
    /// `null` version, current or not, is deleted and a `null` delete marker takes its place; another
    /// current version becomes noncurrent. One transaction; files are removed later by the janitor, so
    /// a crash never leaves a row pointing at a missing file.
    pub async fn delete_object(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        owner_id: UserId,
        now_ms: i64,
    ) -> MetaResult<Deleted> {
        self.delete_current_if(bucket_id, key, None, owner_id, now_ms).await
    }

    /// [`MetaStore::delete_object`], only if the key's current version is still the one with this
    /// ETag and Last-Modified (the lifecycle worker's expiry: a version written meanwhile is never
    /// expired for its predecessor, and a second replica expiring the same version changes nothing).
    pub async fn expire_current(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        expected: (&str, i64),
        owner_id: UserId,
        now_ms: i64,
    ) -> MetaResult<Deleted> {
        self.delete_current_if(bucket_id, key, Some(expected), owner_id, now_ms).await
    }

    /// The transaction of [`MetaStore::delete_object`] and [`MetaStore::expire_current`], run by
    /// [`MetaStore::retrying`]. Under the bucket's shared lock it deletes (or archives) a current
    /// version, whose row it holds locked; a delete marker for a key without a current version has no
    /// row to lock, so it asks for the exclusive lock instead.
    async fn delete_current_if(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        expected: Option<(&str, i64)>,
        owner_id: UserId,
        now_ms: i64,
    ) -> MetaResult<Deleted> {
        self.timed(async move {
            if self.delete_changes_nothing(bucket_id, key).await? {
                return Ok(Deleted::default());
            }
            self.retrying(|mode| async move {
                let mut tx = WriteTx::begin(self).await?;
                let result: MetaResult<_> = async {
                    let mut state = self.lock_bucket(&mut tx, bucket_id, mode).await?;
                    let deleted = self.delete_in_tx(&mut tx, &mut state, key, expected, owner_id, now_ms).await?;
                    state.finish(self, &mut tx).await?;
                    Ok(deleted)
                }
                .await;
                tx.end(result).await
            })
            .await
        })
        .await
    }

    /// The body of [`MetaStore::delete_current_if`]: what a DELETE without a version id does to `key`
    /// as versioning says.
    async fn delete_in_tx(
        &self,
        tx: &mut WriteTx,
        state: &mut BucketState,
        key: &[u8],
        expected: Option<(&str, i64)>,
        owner_id: UserId,
        now_ms: i64,
    ) -> MetaResult<Deleted> {
        let previous = self.current_in_tx(tx, state.id, key).await?;
        if let Some((etag, last_modified)) = expected
            && !previous.as_ref().is_some_and(|p| p.etag == etag && p.last_modified == last_modified)
        {
            return Ok(Deleted::default());
        }
        match (state.versioning, previous) {
            (Versioning::Unversioned, None) => Ok(Deleted::default()),
            (Versioning::Unversioned, Some(prev)) => {
                self.delete_current_row(tx, state, &prev, false, now_ms).await?;
                Ok(Deleted { version_id: None, marker: false, changed: true })
            }
            (_, None) if state.mode == BucketLockMode::Shared && self.backend() == Backend::MySql => {
                Err(MetaError::NeedsExclusiveLock)
            }
            (versioning, previous) => {
                if let Some(prev) = previous {
                    if versioning == Versioning::Suspended && prev.version_id == NULL_VERSION {
                        self.delete_current_row(tx, state, &prev, false, now_ms).await?;
                    } else {
                        self.archive_current(tx, state, &prev).await?;
                        self.drop_current_row(tx, state.id, key).await?;
                    }
                }
                if versioning == Versioning::Suspended {
                    self.remove_null_version(tx, state, key, now_ms).await?;
                }
                let id = self.insert_marker(tx, state, key, owner_id, now_ms).await?;
                Ok(Deleted { version_id: Some(id), marker: true, changed: true })
            }
        }
    }

    /// Whether a DELETE of `key` would change nothing: the bucket exists, is unversioned and has no such
    /// key. One read, no write transaction: the delete is ordered at that read, so a write of the key
    /// committed after it simply comes after the delete (as if the delete had run first). A versioned
    /// bucket always gets its delete marker; a missing bucket goes on to fail with `NoSuchBucket`.
    async fn delete_changes_nothing(&self, bucket_id: BucketId, key: &[u8]) -> MetaResult<bool> {
        let row = sqlx::query(
            "SELECT b.versioning, (SELECT COUNT(*) FROM objects o WHERE o.bucket_id = b.id AND o.object_key = ?) \
             AS present FROM buckets b WHERE b.id = ?",
        )
        .bind(key)
        .bind(bucket_id)
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let versioning = Versioning::parse(&row.try_get::<String, _>("versioning")?)?;
        Ok(versioning == Versioning::Unversioned && row.try_get::<i64, _>("present")? == 0)
    }

    /// Deletes the key's current version for good: the row goes and its blobs are queued. Refused
    /// (`ObjectLocked`) while object lock protects it ([`ensure_deletable`]).
    pub(crate) async fn delete_current_row(
        &self,
        tx: &mut WriteTx,
        state: &mut BucketState,
        current: &ObjectRecord,
        bypass: bool,
        now_ms: i64,
    ) -> MetaResult<()> {
        ensure_deletable(current, now_ms, bypass)?;
        self.drop_current_row(tx, state.id, &current.key).await?;
        self.retire_blobs(tx, &current.manifest, &Manifest::default(), now_ms).await?;
        state.current(-1, current.size);
        Ok(())
    }

    /// Removes the key's `objects` row (its version was archived or is being deleted).
    async fn drop_current_row(&self, tx: &mut WriteTx, bucket_id: BucketId, key: &[u8]) -> MetaResult<()> {
        sqlx::query("DELETE FROM objects WHERE bucket_id = ? AND object_key = ?")
            .bind(bucket_id)
            .bind(key)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Up to `limit` objects in key order, starting at `start` and stopping before `end` (exclusive),
    /// with the `columns` asked for. An index range scan on the primary key: the cost is the page, never
    /// the bucket.
    pub async fn list_objects(
        &self,
        bucket_id: BucketId,
        start: ListBound<'_>,
        end: Option<&[u8]>,
        limit: u32,
        columns: ListColumns,
    ) -> MetaResult<Vec<ListedObject>> {
        let columns = columns.sql();
        self.timed(async move {
            let mut sql = format!("SELECT {columns} FROM objects WHERE bucket_id = ?");
            match start {
                ListBound::Unbounded => {}
                ListBound::After(_) => sql.push_str(" AND object_key > ?"),
                ListBound::From(_) => sql.push_str(" AND object_key >= ?"),
            }
            if end.is_some() {
                sql.push_str(" AND object_key < ?");
            }
            sql.push_str(" ORDER BY object_key LIMIT ?");
            let mut query = sqlx::query(dynamic(sql)).bind(bucket_id);
            if let ListBound::After(k) | ListBound::From(k) = start {
                query = query.bind(k);
            }
            if let Some(end) = end {
                query = query.bind(end);
            }
            let rows = query.bind(i64::from(limit)).fetch_all(&self.reader).await?;
            rows.iter().map(listed_from_row).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::key_successor;

    #[test]
    fn successor_increments_last_byte_and_carries_over_ff() {
        assert_eq!(key_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(key_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(key_successor(b"\xff\xff"), None);
        assert_eq!(key_successor(b""), None);
    }
}
