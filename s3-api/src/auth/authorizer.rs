//! Authorization: the one decision, for the S3 endpoint (as the s3s access hook, after the signature is
//! verified) and for the console API, of whether a caller may perform an action on a bucket or object.
//!
//! - Admins may do anything; any signed-in user may list their buckets and create buckets.
//! - A bucket's owner has full access to it; other users get nothing (AWS's 403 AccessDenied).
//! - Anonymous callers get only what the bucket policy grants to everyone, and only reads
//!   (`s3:GetObject`, `s3:ListBucket`, see [`super::policy`]); everything else is AccessDenied.
//! - A restricted access key ([`KeyScope`]) narrows all of the above: only its buckets, and only reads
//!   when it is read-only. The restriction applies to admins' keys too.
//!
//! The bucket each decision is made on comes from the engine's one bucket cache
//! (`engine::buckets`); the decision hands that bucket to the operation, which acts on it by id.

use std::sync::Arc;

use s3s::{S3Result, s3_error};

use cloudvault_metadata::Bucket;

use super::keys::{KeyStore, Principal};
use super::policy::BucketPolicy;
use crate::engine::Engine;

/// The restriction of an access key, stored as JSON `{"buckets": [...], "access": "read" | "readwrite"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyScope {
    /// The only buckets the key may act on (`None`: every bucket the user may; an empty list: none).
    #[serde(default)]
    pub buckets: Option<Vec<String>>,
    /// `read` (Get/List/Head actions only) or `readwrite`.
    pub access: KeyAccess,
}

/// What a restricted key may do within its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAccess {
    /// Reads only: `s3:Get*`, `s3:List*`, `s3:Head*`.
    Read,
    /// Everything the user may do.
    ReadWrite,
}

impl KeyScope {
    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the stored form. A scope that does not parse allows nothing (never everything).
    pub fn from_json(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|_| Self::deny_all())
    }

    /// A scope that allows nothing.
    pub fn deny_all() -> Self {
        KeyScope { buckets: Some(Vec::new()), access: KeyAccess::Read }
    }

    /// Whether the scope allows `action` on `bucket` (None: a call on no bucket, such as ListBuckets).
    pub fn allows(&self, action: &str, bucket: Option<&str>) -> bool {
        let bucket_ok = match (&self.buckets, bucket) {
            (Some(list), Some(b)) => list.iter().any(|x| x == b),
            _ => true,
        };
        let access_ok = self.access == KeyAccess::ReadWrite || is_read_action(action);
        bucket_ok && access_ok
    }
}

/// Whether an IAM action only reads.
pub fn is_read_action(action: &str) -> bool {
    ["s3:Get", "s3:List", "s3:Head"].iter().any(|p| action.starts_with(p))
}

/// What an S3 operation (by s3s name) needs, as an IAM action; `versioned` when the request names a
/// version (`versionId`), which AWS authorizes as a separate action (a public `s3:GetObject` grant
/// does not reach old versions).
pub fn action_of(operation: &str, versioned: bool) -> String {
    match (operation, versioned) {
        ("GetObject" | "HeadObject", false) => "s3:GetObject".to_owned(),
        ("GetObject" | "HeadObject", true) => "s3:GetObjectVersion".to_owned(),
        ("DeleteObject", true) => "s3:DeleteObjectVersion".to_owned(),
        ("GetObjectTagging", true) => "s3:GetObjectVersionTagging".to_owned(),
        ("PutObjectTagging", true) => "s3:PutObjectVersionTagging".to_owned(),
        ("DeleteObjectTagging", true) => "s3:DeleteObjectVersionTagging".to_owned(),
        ("ListObjects" | "ListObjectsV2" | "HeadBucket", _) => "s3:ListBucket".to_owned(),
        ("ListObjectVersions", _) => "s3:ListBucketVersions".to_owned(),
        (other, _) => format!("s3:{other}"),
    }
}

/// The authorizer shared by the S3 service and the console API.
#[derive(Debug)]
pub struct Authorizer {
    engine: Engine,
    /// The key store (the S3 access hook resolves signers through it).
    pub(crate) keys: Arc<KeyStore>,
}

impl Authorizer {
    /// An authorizer over the engine (its bucket cache) and the key store.
    pub fn new(engine: Engine, keys: Arc<KeyStore>) -> Self {
        Authorizer { engine, keys }
    }

    /// The CORS rules of `bucket` (empty when it has none or does not exist), from the bucket cache.
    pub async fn cors_rules(&self, bucket: &str) -> S3Result<Vec<s3s::dto::CORSRule>> {
        let found = self.engine.bucket_cached(bucket).await?;
        Ok(found.and_then(|b| b.cors.as_deref().and_then(|c| serde_json::from_str(c).ok())).unwrap_or_default())
    }

    /// Decides whether `caller` (None = anonymous) may perform `action` (an IAM action such as
    /// `s3:GetObject`) on `bucket` / `key`, and returns the bucket the decision was made on (None for
    /// calls on no bucket and for CreateBucket, whose uniqueness the database decides).
    ///
    /// A bucket that does not exist is never a reason to allow anything: every caller, anonymous ones
    /// included, gets `NoSuchBucket`, as AWS answers (bucket names are public knowledge there too).
    ///
    /// A signed-in caller's decision is made on the bucket as the database has it now (one indexed
    /// lookup, which the operation then reuses), so a name deleted and re-created by another user on
    /// another replica refuses the old owner and admits the new one from the first request. Anonymous
    /// callers (public reads, and the traffic an attacker can send) are decided on the bounded cache;
    /// its stale window is safe because the operation acts on the cached bucket's id, never reused.
    pub async fn authorize(
        &self,
        caller: Option<&Principal>,
        action: &str,
        bucket: Option<&str>,
        key: Option<&str>,
    ) -> S3Result<Option<Arc<Bucket>>> {
        let denied = || s3_error!(AccessDenied, "Access Denied");
        if let Some(scope) = caller.and_then(|p| p.scope.as_ref())
            && !scope.allows(action, bucket)
        {
            return Err(denied());
        }
        let (Some(name), false) = (bucket, action == "s3:CreateBucket") else {
            return if caller.is_some() { Ok(None) } else { Err(denied()) };
        };
        let found = match caller {
            Some(_) => self.engine.bucket_fresh(name).await?,
            None => self.engine.bucket_cached(name).await?,
        };
        let Some(found) = found else {
            return Err(s3_error!(NoSuchBucket));
        };
        match caller {
            Some(p) if p.is_admin || found.owner_id == p.user_id => Ok(Some(found)),
            Some(_) => Err(denied()),
            None => {
                let resource = match key {
                    Some(key) => format!("arn:aws:s3:::{name}/{key}"),
                    None => format!("arn:aws:s3:::{name}"),
                };
                // A stored policy that no longer parses grants nothing (it was valid when stored).
                let policy = found.policy.as_deref().and_then(|p| BucketPolicy::parse(name, p).ok());
                match policy {
                    Some(policy) if policy.allows_anonymous(action, &resource) => Ok(Some(found)),
                    _ => Err(denied()),
                }
            }
        }
    }
}
