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
//! Bucket owners and policies are cached for [`BUCKET_CACHE_TTL`], so a policy change reaches every
//! replica within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

use cloudvault_metadata::{MetaStore, UserId};

use super::error::meta_error;
use super::identity::{KeyStore, Principal};
use super::policy::BucketPolicy;

/// How long a bucket's owner and policy are trusted without asking the database again.
pub const BUCKET_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
struct BucketAuth {
    owner_id: UserId,
    policy: Option<BucketPolicy>,
    cors: Vec<s3s::dto::CORSRule>,
}

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

/// What an S3 operation (by s3s name) needs, as an IAM action.
pub fn action_of(operation: &str) -> String {
    match operation {
        "GetObject" | "HeadObject" => "s3:GetObject".to_owned(),
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "s3:ListBucket".to_owned(),
        other => format!("s3:{other}"),
    }
}

/// The authorizer shared by the S3 service and the console API.
#[derive(Debug)]
pub struct Authorizer {
    meta: MetaStore,
    keys: Arc<KeyStore>,
    buckets: Mutex<HashMap<String, (Instant, Option<BucketAuth>)>>,
}

impl Authorizer {
    /// An authorizer over the metadata store and key store.
    pub fn new(meta: MetaStore, keys: Arc<KeyStore>) -> Self {
        Authorizer { meta, keys, buckets: Mutex::default() }
    }

    async fn bucket_auth(&self, name: &str) -> S3Result<Option<BucketAuth>> {
        if let Some((at, hit)) = self.buckets.lock().map_err(|_| s3_error!(InternalError))?.get(name)
            && at.elapsed() < BUCKET_CACHE_TTL
        {
            return Ok(hit.clone());
        }
        let bucket = self.meta.bucket(name).await.map_err(meta_error)?;
        let auth = match bucket {
            Some(b) => {
                // A stored policy that no longer parses grants nothing (it was valid when stored).
                let policy = b.policy.as_deref().and_then(|p| BucketPolicy::parse(name, p).ok());
                let cors = b.cors.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
                Some(BucketAuth { owner_id: b.owner_id, policy, cors })
            }
            None => None,
        };
        self.buckets
            .lock()
            .map_err(|_| s3_error!(InternalError))?
            .insert(name.to_owned(), (Instant::now(), auth.clone()));
        Ok(auth)
    }

    /// The CORS rules of `bucket` (empty when it has none or does not exist), from the same cache.
    pub async fn cors_rules(&self, bucket: &str) -> S3Result<Vec<s3s::dto::CORSRule>> {
        Ok(self.bucket_auth(bucket).await?.map(|b| b.cors).unwrap_or_default())
    }

    /// Forgets what is cached about `bucket` (after this replica changed its policy or deleted it).
    pub fn invalidate(&self, bucket: &str) {
        if let Ok(mut cache) = self.buckets.lock() {
            cache.remove(bucket);
        }
    }

    /// Decides whether `caller` (None = anonymous) may perform `action` (an IAM action such as
    /// `s3:GetObject`) on `bucket` / `key`. A missing bucket is let through for signed-in callers, so the
    /// operation answers `NoSuchBucket` (AWS does the same); anonymous callers get AccessDenied.
    pub async fn authorize(
        &self,
        caller: Option<&Principal>,
        action: &str,
        bucket: Option<&str>,
        key: Option<&str>,
    ) -> S3Result<()> {
        let denied = || s3_error!(AccessDenied, "Access Denied");
        if let Some(scope) = caller.and_then(|p| p.scope.as_ref())
            && !scope.allows(action, bucket)
        {
            return Err(denied());
        }
        match (caller, bucket) {
            (Some(p), _) if p.is_admin => Ok(()),
            (Some(_), None) => Ok(()),
            (Some(_), Some(_)) if action == "s3:CreateBucket" => Ok(()),
            (Some(p), Some(bucket)) => match self.bucket_auth(bucket).await? {
                None => Ok(()),
                Some(auth) if auth.owner_id == p.user_id => Ok(()),
                Some(_) => Err(denied()),
            },
            (None, Some(bucket)) => {
                let resource = match key {
                    Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
                    None => format!("arn:aws:s3:::{bucket}"),
                };
                match self.bucket_auth(bucket).await? {
                    Some(BucketAuth { policy: Some(policy), .. }) if policy.allows_anonymous(action, &resource) => {
                        Ok(())
                    }
                    _ => Err(denied()),
                }
            }
            (None, None) => Err(denied()),
        }
    }
}

/// The s3s access hook: resolves the signed access key to its user and asks the [`Authorizer`].
#[derive(Debug, Clone)]
pub struct S3Authz(pub Arc<Authorizer>);

#[async_trait::async_trait]
impl S3Access for S3Authz {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let operation = cx.s3_op().name().to_owned();
        if let Some(slot) = cx.extensions_mut().get::<crate::metrics::OperationSlot>() {
            slot.set(&operation);
        }
        let caller = match cx.credentials() {
            Some(creds) => Some(self.0.keys.principal(&creds.access_key).await?),
            None => None,
        };
        let action = action_of(&operation);
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        self.0.authorize(caller.as_ref(), &action, bucket.as_deref(), key.as_deref()).await
    }
}
