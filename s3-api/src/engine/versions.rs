//! Versioning through the engine: a bucket's versioning state, reads and deletes by version id, and
//! the ListObjectVersions scan. What happens to a replaced or deleted version is decided inside the
//! commit transaction, under the bucket row lock, from the state the bucket has then
//! (`cloudvault_metadata`'s `versions.rs`): a write never half-applies an old state.

use cloudvault_metadata::{Bucket, BucketId, Deleted, ListedVersion, VersionRecord, VersionSel, Versioning};

use super::listing::{Cursor, ListParams, Listed, Page, UNTIL_KEY_END, scan};
use super::{Engine, EngineError, EngineResult, now_ms};

/// Parses a client's version id (`null` or an id CloudVault issued); anything else is
/// `InvalidArgument`, as on AWS.
pub fn parse_version(id: &str) -> EngineResult<VersionSel> {
    VersionSel::parse(id).ok_or_else(|| EngineError::rejected("InvalidArgument", "Invalid version id specified"))
}

impl Listed for ListedVersion {
    fn key(&self) -> &[u8] {
        &self.object.key
    }

    fn id(&self) -> &str {
        &self.version_id
    }

    async fn fetch(
        engine: &Engine,
        bucket_id: BucketId,
        _p: &ListParams<'_>,
        at: &Cursor,
        end: Option<&[u8]>,
        batch: u32,
    ) -> EngineResult<Vec<Self>> {
        let vorder = match at.after.as_deref() {
            None => i64::MIN,
            Some(UNTIL_KEY_END) => i64::MAX,
            Some(id) => match parse_version(id)? {
                VersionSel::Id { seq, .. } => -seq,
                // The null version's place among the key's versions is its own sequence number; if it
                // went away meanwhile the key is listed again from its newest version.
                VersionSel::Null => engine
                    .meta
                    .object_version(bucket_id, &at.key, &VersionSel::Null)
                    .await?
                    .map_or(i64::MIN, |v| v.vorder),
            },
        };
        Ok(engine.meta.list_versions(bucket_id, &at.key, vorder, end, batch).await?)
    }
}

impl Engine {
    /// Turns versioning on (`Enabled`) or suspends it. A bucket never goes back to unversioned:
    /// asking for that is `IllegalVersioningConfigurationException`.
    pub async fn set_versioning(&self, bucket: &Bucket, state: Versioning) -> EngineResult<()> {
        if state == Versioning::Unversioned {
            return Err(EngineError::rejected(
                "IllegalVersioningConfigurationException",
                "The versioning status must be Enabled or Suspended.",
            ));
        }
        let set = self.meta.set_versioning(bucket.id, state).await;
        self.buckets.invalidate(&bucket.name);
        Ok(set?)
    }

    /// The version of `key` named by `sel`, current or not, delete markers included.
    pub async fn object_version(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        sel: &VersionSel,
    ) -> EngineResult<Option<VersionRecord>> {
        Ok(self.meta.object_version(bucket_id, key, sel).await?)
    }

    /// The id of the delete marker hiding `key`, when its newest version is one.
    pub async fn current_marker(&self, bucket_id: BucketId, key: &[u8]) -> EngineResult<Option<String>> {
        Ok(self.meta.current_marker(bucket_id, key).await?)
    }

    /// Deletes one version of `key` for good (its blobs go to the janitor's queue; when it was the
    /// newest, the next one becomes current). A missing version changes nothing; one object lock
    /// protects is refused (`bypass`: an authorized bypass of GOVERNANCE retention). A full volume is
    /// handled as for [`Engine::delete_object`].
    pub async fn delete_version(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        sel: &VersionSel,
        bypass: bool,
    ) -> EngineResult<Deleted> {
        self.deleting(|| self.meta.delete_version(bucket_id, key, sel, bypass, now_ms())).await
    }

    /// One page of the versions of `bucket_id`, by key and newest first (see [`scan`]; `marker_id` is a
    /// version id).
    pub async fn list_versions(&self, bucket_id: BucketId, p: ListParams<'_>) -> EngineResult<Page<ListedVersion>> {
        scan(self, bucket_id, p).await
    }
}
