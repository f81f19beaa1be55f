//! Authorization: the one decision, for the S3 endpoint (as the s3s access hook, after the signature is
//! verified) and for the console API, of whether a caller may perform an action on a bucket or object.
//!
//! In order, as AWS evaluates (see [`Authorizer::decide`]):
//! 1. A restricted access key ([`KeyScope`]) narrows everything: only its buckets, and only reads when
//!    it is read-only. The restriction applies to admins' keys too.
//! 2. Calls on no bucket (ListBuckets) and CreateBucket: any signed-in user; anonymous callers never.
//! 3. A bucket that does not exist: `NoSuchBucket`, for every caller.
//! 4. A few actions are the owner's alone ([`OWNER_ONLY`]: the policy, Block Public Access,
//!    ownership controls, object lock configuration), whatever a policy or ACL grants.
//! 5. The bucket policy ([`super::iam`]) with the request's condition keys ([`super::context`]): an
//!    explicit `Deny` refuses everyone it names — the owner and admins included, as at AWS, except for
//!    Get/Put/DeleteBucketPolicy, which the owner can always use to repair a policy that locks them out.
//! 6. The bucket's owner and admins: everything.
//! 7. Anyone else (other users, anonymous callers): what the policy allows (with Block Public
//!    Access's RestrictPublicBuckets, a public policy allows anonymous callers nothing), else what
//!    the bucket's or the object's ACL grants, when the bucket has ACLs enabled (IgnorePublicAcls:
//!    public grants count for nothing).
//!
//! The bucket each decision is made on comes from the engine's one bucket cache
//! (`engine::buckets`); the decision hands that bucket to the operation, which acts on it by id.

use std::sync::Arc;

use s3s::{S3Result, s3_error};

use cloudvault_metadata::{Bucket, ObjectRecord};

use super::context::{ConditionKeys, add_caller_keys, canonical_id, user_arn};
use super::iam::{Caller, Decision, Facts};
use super::keys::{KeyStore, Principal};
use super::origin::Origin;
use super::policy_cache::{ParsedPolicy, PolicyCache};
use crate::engine::Engine;
use crate::engine::access::{Acl, Permission, PublicAccessBlock, acls_enabled};
use crate::engine::attributes::ObjectAttributes;

/// The actions an explicit `Deny` never takes from the bucket's owner (AWS's rule for the account
/// root), so a policy that locks everyone out can still be repaired.
const OWNER_KEEPS: [&str; 3] = ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"];

/// The actions only the bucket's owner (and admins) may perform, whatever a policy or ACL grants: AWS
/// refuses them to identities outside the owner's account, and each CloudVault user is its own
/// account. (Otherwise a grantee of `s3:*` could rewrite the policy or lift Block Public Access.)
const OWNER_ONLY: [&str; 6] = [
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketObjectLockConfiguration",
];

/// One request as the authorizer sees it.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    /// The signed-in caller (`None`: anonymous).
    pub caller: Option<&'a Principal>,
    /// Where the request came from (for anonymous callers; a principal carries its own).
    pub origin: Origin,
    /// The IAM action (`s3:GetObject`).
    pub action: &'a str,
    /// The bucket it acts on, if any.
    pub bucket: Option<&'a str>,
    /// The object key it acts on, if any.
    pub key: Option<&'a str>,
    /// The request's own condition keys (`s3:prefix`, `s3:x-amz-acl`, ...; see `context`).
    pub keys: ConditionKeys,
    /// The keys are not known yet and each is authorized later with [`Authorizer::judge`]
    /// (DeleteObjects, as AWS authorizes each key as `s3:DeleteObject`; PostObject, whose key is in
    /// the form): the decision here only resolves the bucket and applies the key's scope.
    pub per_key: bool,
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

/// What an S3 operation (by s3s name) needs, as an IAM action (AWS's table of "actions, resources and
/// condition keys for Amazon S3"); `versioned` when the request names a version (`versionId`), which
/// AWS authorizes as a separate action (a public `s3:GetObject` grant does not reach old versions).
pub fn action_of(operation: &str, versioned: bool) -> String {
    let versioned_name = match operation {
        "GetObject" | "HeadObject" => Some("s3:GetObjectVersion"),
        "DeleteObject" => Some("s3:DeleteObjectVersion"),
        "GetObjectTagging" => Some("s3:GetObjectVersionTagging"),
        "PutObjectTagging" => Some("s3:PutObjectVersionTagging"),
        "DeleteObjectTagging" => Some("s3:DeleteObjectVersionTagging"),
        "GetObjectAcl" => Some("s3:GetObjectVersionAcl"),
        "PutObjectAcl" => Some("s3:PutObjectVersionAcl"),
        "GetObjectAttributes" => Some("s3:GetObjectVersionAttributes"),
        _ => None,
    };
    if let (true, Some(name)) = (versioned, versioned_name) {
        return name.to_owned();
    }
    let name = match operation {
        "GetObject" | "HeadObject" => "s3:GetObject",
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListBuckets" => "s3:ListAllMyBuckets",
        "CopyObject"
        | "UploadPart"
        | "UploadPartCopy"
        | "CreateMultipartUpload"
        | "CompleteMultipartUpload"
        | "PostObject" => "s3:PutObject",
        // DeleteObjects is authorized key by key (`AccessRequest::per_key`).
        "DeleteObjects" => "s3:DeleteObject",
        "ListParts" => "s3:ListMultipartUploadParts",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "s3:PutLifecycleConfiguration",
        "GetBucketCors" => "s3:GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "s3:PutBucketCORS",
        "DeleteBucketTagging" => "s3:PutBucketTagging",
        "DeleteBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration",
        "DeleteBucketWebsite" => "s3:DeleteBucketWebsite",
        "GetObjectRetention" => "s3:GetObjectRetention",
        "GetBucketReplication" => "s3:GetReplicationConfiguration",
        "GetBucketAccelerateConfiguration" => "s3:GetAccelerateConfiguration",
        other => return format!("s3:{other}"),
    };
    name.to_owned()
}

/// The authorizer shared by the S3 service and the console API.
#[derive(Debug)]
pub struct Authorizer {
    engine: Engine,
    /// Parsed policies of the buckets decisions are made on.
    policies: PolicyCache,
    /// The key store (the S3 access hook resolves signers through it).
    pub(crate) keys: Arc<KeyStore>,
}

impl Authorizer {
    /// An authorizer over the engine (its bucket cache) and the key store.
    pub fn new(engine: Engine, keys: Arc<KeyStore>) -> Self {
        Authorizer { engine, keys, policies: PolicyCache::default() }
    }

    /// The parsed policy of `bucket`, from the policy cache: `None` without one, or when the stored
    /// one no longer parses.
    pub fn policy_of(&self, bucket: &Bucket) -> Option<Arc<ParsedPolicy>> {
        self.policies.of(bucket).and_then(Result::ok)
    }

    /// The CORS rules of `bucket` (empty when it has none or does not exist), from the bucket cache.
    pub async fn cors_rules(&self, bucket: &str) -> S3Result<Vec<s3s::dto::CORSRule>> {
        let found = self.engine.bucket_cached(bucket).await?;
        Ok(found.and_then(|b| b.cors.as_deref().and_then(|c| serde_json::from_str(c).ok())).unwrap_or_default())
    }

    /// Decides whether `caller` (None = anonymous; its origin is the one it carries) may perform
    /// `action` on `bucket` / `key` with no request-specific condition keys (the console API's calls);
    /// see [`Self::decide`].
    pub async fn authorize(
        &self,
        caller: Option<&Principal>,
        action: &str,
        bucket: Option<&str>,
        key: Option<&str>,
    ) -> S3Result<Option<Arc<Bucket>>> {
        self.authorize_with(caller, action, bucket, key, ConditionKeys::new()).await
    }

    /// [`Self::authorize`] with request condition keys (`s3:versionid` of a version read, `s3:prefix`
    /// of a listing, ...).
    pub async fn authorize_with(
        &self,
        caller: Option<&Principal>,
        action: &str,
        bucket: Option<&str>,
        key: Option<&str>,
        keys: ConditionKeys,
    ) -> S3Result<Option<Arc<Bucket>>> {
        let origin = caller.map(|p| p.origin).unwrap_or_default();
        self.decide(AccessRequest { caller, origin, action, bucket, key, keys, per_key: false }).await
    }

    /// The decision for one request (see the module's list), returning the bucket it was made on (None
    /// for calls on no bucket and for CreateBucket, whose uniqueness the database decides).
    ///
    /// A bucket that does not exist is never a reason to allow anything: every caller, anonymous ones
    /// included, gets `NoSuchBucket`, as AWS answers (bucket names are public knowledge there too).
    ///
    /// A signed-in caller's decision is made on the bucket as the database has it now (one indexed
    /// lookup, which the operation then reuses), so a name deleted and re-created by another user on
    /// another replica refuses the old owner and admits the new one from the first request. Anonymous
    /// callers (public reads, and the traffic an attacker can send) are decided on the bounded cache:
    /// the operation acts on the cached bucket's id, never reused, and a policy / ACL / Block Public
    /// Access change made on another replica reaches them at most `BUCKET_CACHE_TTL` (2 s) late.
    pub async fn decide(&self, request: AccessRequest<'_>) -> S3Result<Option<Arc<Bucket>>> {
        let AccessRequest { caller, action, bucket, .. } = request;
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
        if request.per_key || self.judge(&found, &request).await? { Ok(Some(found)) } else { Err(denied()) }
    }

    /// Steps 4 to 7 of the module's list for a request on `bucket` (already resolved): whether it is
    /// allowed.
    pub async fn judge(&self, bucket: &Bucket, request: &AccessRequest<'_>) -> S3Result<bool> {
        let owner = request.caller.is_some_and(|p| p.is_admin || p.user_id == bucket.owner_id);
        if !owner && OWNER_ONLY.contains(&request.action) {
            return Ok(false);
        }
        let (decision, public) = self.policy_decision(bucket, request).await?;
        let blocks = PublicAccessBlock::of(bucket);
        Ok(match decision {
            Decision::Deny => owner && OWNER_KEEPS.contains(&request.action),
            _ if owner => true,
            Decision::Allow if !(public && blocks.restrict_public_buckets && request.caller.is_none()) => true,
            _ => self.acl_allows(bucket, request, blocks.ignore_public_acls).await?,
        })
    }

    /// Whether the bucket's ACL, or for object actions the object version's, grants the permission
    /// `request.action` needs (AWS's mapping of ACL permissions to actions). Nothing when the bucket
    /// has ACLs disabled.
    async fn acl_allows(&self, bucket: &Bucket, request: &AccessRequest<'_>, ignore_public: bool) -> S3Result<bool> {
        if !acls_enabled(bucket) {
            return Ok(false);
        }
        let caller = request.caller.map(|p| p.user_id);
        if let Some(wanted) = bucket_permission(request.action)
            && Acl::of_bucket(bucket).grants(caller, wanted, ignore_public)
        {
            return Ok(true);
        }
        let (Some(key), Some(wanted)) = (request.key, object_permission(request.action)) else { return Ok(false) };
        let version = request.keys.get("s3:versionid").and_then(|v| v.first());
        let Some(object) = self.named_version(bucket, key, version.map(String::as_str)).await? else {
            return Ok(false);
        };
        // An object's owner may always read and replace its ACL (AWS's implicit READ_ACP / WRITE_ACP).
        if caller == Some(object.owner_id) && matches!(wanted, Permission::ReadAcp | Permission::WriteAcp) {
            return Ok(true);
        }
        let stored = ObjectAttributes::decode(&object.attributes)?.acl;
        Ok(Acl::of_object(bucket, object.owner_id, stored.as_ref()).grants(caller, wanted, ignore_public))
    }

    /// What the bucket's policy says about `request` (`NoOpinion` without one), and whether the policy
    /// is public. A stored policy that no longer parses (one stored before a rule got stricter, such
    /// as the refusal of policy variables) denies everything but its own repair: failing open would
    /// drop its Deny statements. The server warns about such policies at start.
    async fn policy_decision(&self, bucket: &Bucket, request: &AccessRequest<'_>) -> S3Result<(Decision, bool)> {
        let policy = match self.policies.of(bucket) {
            None => return Ok((Decision::NoOpinion, false)),
            Some(Err(_)) => return Ok((Decision::Deny, false)),
            Some(Ok(parsed)) => parsed,
        };
        let ParsedPolicy { document: policy, public } = &*policy;
        let resource = match request.key {
            Some(key) => format!("arn:aws:s3:::{}/{key}", bucket.name),
            None => format!("arn:aws:s3:::{}", bucket.name),
        };
        let mut keys = request.keys.clone();
        let origin = request.caller.map_or(request.origin, |p| p.origin);
        add_caller_keys(&mut keys, request.caller, &origin, time::OffsetDateTime::now_utc());
        if let Some(key) = request.key
            && policy.reads_key("s3:existingobjecttag/")
        {
            self.add_existing_tags(&mut keys, bucket, key).await?;
        }
        let (id, arn) = match request.caller {
            Some(p) => (canonical_id(p.user_id), user_arn(&p.name)),
            None => (String::new(), String::new()),
        };
        let caller = match request.caller {
            Some(_) => Caller::User { canonical_id: &id, arn: &arn },
            None => Caller::Anonymous,
        };
        let decision = policy.evaluate(&Facts { caller, action: request.action, resource: &resource, context: &keys });
        Ok((decision, *public))
    }

    /// `s3:ExistingObjectTag/<k>`: the tags of the version the request names (`s3:versionid`), else of
    /// the current object under `key`, if there is one.
    async fn add_existing_tags(&self, keys: &mut ConditionKeys, bucket: &Bucket, key: &str) -> S3Result<()> {
        let version = keys.get("s3:versionid").and_then(|v| v.first()).cloned();
        if let Some(object) = self.named_version(bucket, key, version.as_deref()).await? {
            for (k, v) in ObjectAttributes::decode(&object.attributes)?.tags {
                keys.entry(format!("s3:existingobjecttag/{}", k.to_ascii_lowercase())).or_default().push(v);
            }
        }
        Ok(())
    }

    /// The version `version` of `key` (the current object without one); `None` when there is none or
    /// it is a delete marker.
    async fn named_version(&self, bucket: &Bucket, key: &str, version: Option<&str>) -> S3Result<Option<ObjectRecord>> {
        Ok(match version {
            Some(id) => {
                let sel = crate::engine::parse_version(id)?;
                let found = self.engine.object_version(bucket.id, key.as_bytes(), &sel).await?;
                found.filter(|v| !v.is_marker).map(|v| v.object)
            }
            None => self.engine.object(bucket.id, key.as_bytes()).await?,
        })
    }
}

/// The bucket ACL permission that grants `action`, if any.
fn bucket_permission(action: &str) -> Option<Permission> {
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => Permission::Read,
        // Not s3:DeleteObjectVersion: AWS's WRITE lets grantees replace and delete objects, not erase
        // version history.
        "s3:PutObject" | "s3:DeleteObject" | "s3:AbortMultipartUpload" => Permission::Write,
        "s3:GetBucketAcl" => Permission::ReadAcp,
        "s3:PutBucketAcl" => Permission::WriteAcp,
        _ => return None,
    })
}

/// The object ACL permission that grants `action`, if any.
fn object_permission(action: &str) -> Option<Permission> {
    Some(match action {
        "s3:GetObject" | "s3:GetObjectVersion" => Permission::Read,
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => Permission::ReadAcp,
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => Permission::WriteAcp,
        _ => return None,
    })
}

fn denied() -> s3s::S3Error {
    s3_error!(AccessDenied, "Access Denied")
}
