//! The records the metadata store reads and writes.

use crate::error::{MetaError, MetaResult};

/// A user's id (row id of `users`).
pub type UserId = i64;
/// A bucket's id (row id of `buckets`).
pub type BucketId = i64;

/// What a bucket holds, from the counters every object write keeps (`MetaStore::bucket_usage`): not
/// part of [`Bucket`], which requests read on their hot path, because summing the counter shards is
/// work only the console's usage pages need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketUsage {
    /// Number of objects (current versions).
    pub object_count: i64,
    /// Sum of object sizes.
    pub bytes_used: i64,
    /// Number of noncurrent versions (delete markers not counted).
    pub noncurrent_count: i64,
    /// Sum of the sizes of noncurrent versions.
    pub noncurrent_bytes: i64,
}

/// A bucket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Row id; object rows reference it.
    pub id: BucketId,
    /// The S3 bucket name (validated by the S3 layer before it gets here).
    pub name: String,
    /// The user who created it.
    pub owner_id: UserId,
    /// The LocationConstraint it was created with (the server's region when none was given).
    pub region: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// The bucket policy document (JSON), if one is set.
    pub policy: Option<String>,
    /// Bucket tags (JSON written by the S3 layer), if set.
    pub tags: Option<String>,
    /// CORS rules (JSON written by the S3 layer), if set.
    pub cors: Option<String>,
    /// Whether writes keep the versions they replace.
    pub versioning: Versioning,
    /// The bucket's object lock, once switched on (it never goes off); `None` without one.
    pub object_lock: Option<BucketLock>,
    /// Lifecycle rules (JSON written by the engine), if set.
    pub lifecycle: Option<String>,
    /// The object ownership control (written by the engine); `None`: no controls (ObjectWriter).
    pub ownership: Option<String>,
    /// Block Public Access flags (JSON written by the engine), if set.
    pub public_access_block: Option<String>,
    /// ACL grants (JSON written by the engine); `None`: private.
    pub acl: Option<String>,
}

/// An object lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Protected until the retain-until date, except from users allowed to bypass governance retention
    /// who ask to (`x-amz-bypass-governance-retention: true`).
    Governance,
    /// Protected until the retain-until date from everybody, the bucket owner and admins included; the
    /// date can only move later.
    Compliance,
}

impl LockMode {
    /// The S3 and stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// Parses the S3 and stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// How long a bucket's default retention protects a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPeriod {
    /// This many days.
    Days(i64),
    /// This many years (of 365 days).
    Years(i64),
}

impl RetentionPeriod {
    /// The retain-until time of a version written at `now_ms`.
    pub fn until(self, now_ms: i64) -> i64 {
        const DAY_MS: i64 = 86_400_000;
        let days = match self {
            RetentionPeriod::Days(d) => d,
            RetentionPeriod::Years(y) => y.saturating_mul(365),
        };
        now_ms.saturating_add(days.saturating_mul(DAY_MS))
    }
}

/// A bucket's object lock configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketLock {
    /// The retention new versions get when their write names none.
    pub default: Option<(LockMode, RetentionPeriod)>,
}

/// What protects one version from deletion: a retention (mode and retain-until time) and a legal hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// The retention mode, if the version has a retention.
    pub mode: Option<LockMode>,
    /// Retain-until, ms since the epoch (set exactly when `mode` is).
    pub until_ms: Option<i64>,
    /// A legal hold blocks deletion, whatever the retention, until it is removed.
    pub legal_hold: bool,
}

impl Retention {
    /// Whether the retention is still running at `now_ms`.
    pub fn active(&self, now_ms: i64) -> Option<LockMode> {
        self.mode.filter(|_| self.until_ms.is_some_and(|u| u > now_ms))
    }

    /// Whether this protection forbids destroying the version now: a legal hold always, a running
    /// COMPLIANCE retention always, a running GOVERNANCE retention unless `bypass`.
    pub fn blocks_delete(&self, now_ms: i64, bypass: bool) -> bool {
        self.legal_hold
            || match self.active(now_ms) {
                Some(LockMode::Compliance) => true,
                Some(LockMode::Governance) => !bypass,
                None => false,
            }
    }

    /// Whether any lock setting is present (a bucket without object lock refuses these).
    pub fn is_set(&self) -> bool {
        self.mode.is_some() || self.legal_hold
    }
}

/// A bucket's versioning state. A bucket starts unversioned; once enabled it can only be suspended and
/// enabled again, never return to unversioned (as on AWS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versioning {
    /// Never enabled: every write replaces the key's only version (version id `null`).
    #[default]
    Unversioned,
    /// Every write adds a version with a new id; a delete without a version id adds a delete marker.
    Enabled,
    /// Writes replace the key's `null` version and keep the others; deletes leave a `null` marker.
    Suspended,
}

impl Versioning {
    /// The stored form (`''`, `Enabled`, `Suspended`).
    pub fn as_str(self) -> &'static str {
        match self {
            Versioning::Unversioned => "",
            Versioning::Enabled => "Enabled",
            Versioning::Suspended => "Suspended",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> MetaResult<Self> {
        match s {
            "" => Ok(Versioning::Unversioned),
            "Enabled" => Ok(Versioning::Enabled),
            "Suspended" => Ok(Versioning::Suspended),
            other => Err(MetaError::Corrupt(format!("bad versioning state {other:?}"))),
        }
    }
}

/// The version id of versions written while versioning was not enabled.
pub const NULL_VERSION: &str = "null";

/// Which version of a key an operation names: what a client's `versionId` parses to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSel {
    /// `versionId=null`: the version written while versioning was off or suspended.
    Null,
    /// A version id CloudVault issued: its per-key sequence number and the whole id.
    Id {
        /// The per-key sequence number the id encodes (its `vorder`, negated).
        seq: i64,
        /// The id as issued.
        id: String,
    },
}

impl VersionSel {
    /// Parses a client's version id: `null`, or the 32 hex digits CloudVault issues (16 of sequence
    /// number, 16 random). Anything else is `None` (S3 answers InvalidArgument).
    pub fn parse(id: &str) -> Option<Self> {
        if id == NULL_VERSION {
            return Some(VersionSel::Null);
        }
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return None;
        }
        let seq = i64::from_str_radix(&id[..16], 16).ok().filter(|s| *s > 0)?;
        Some(VersionSel::Id { seq, id: id.to_owned() })
    }

    /// A new id for the version with per-key sequence number `seq`.
    pub fn issue(seq: i64) -> String {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("{seq:016x}{}", &random[..16])
    }

    /// The id as a client sees it.
    pub fn as_str(&self) -> &str {
        match self {
            VersionSel::Null => NULL_VERSION,
            VersionSel::Id { id, .. } => id,
        }
    }
}

/// A per-bucket setting stored as a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSetting {
    /// The bucket policy.
    Policy,
    /// The bucket's tag set.
    Tags,
    /// The bucket's CORS rules.
    Cors,
    /// The bucket's lifecycle rules.
    Lifecycle,
    /// The bucket's object ownership control.
    Ownership,
    /// The bucket's Block Public Access flags.
    PublicAccessBlock,
    /// The bucket's ACL.
    Acl,
}

/// One blob of an object's bytes. Single-part objects have one; multipart objects one per part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// Opaque blob id; names the file on the data volume. Never derived from the object key.
    pub blob_id: String,
    /// Length of the blob in bytes.
    pub size: i64,
    /// Hex MD5 of the blob (the part ETag for multipart objects).
    pub md5_hex: String,
}

/// The first character of every inline blob's id. File blob ids are lowercase hex, so the id alone
/// (in a manifest, or a `garbage_blobs` row) says where a blob's bytes are.
pub const INLINE_BLOB_PREFIX: char = 'i';

/// Whether `blob_id` names an inline blob: bytes kept in the metadata store's `inline_blobs` table,
/// written by the commit of the object that names it, instead of a file on the data volume.
pub fn is_inline_blob(blob_id: &str) -> bool {
    blob_id.starts_with(INLINE_BLOB_PREFIX)
}

impl BlobRef {
    /// Whether this blob's bytes are inline (see [`is_inline_blob`]).
    pub fn is_inline(&self) -> bool {
        is_inline_blob(&self.blob_id)
    }
}

/// The ordered list of blobs that make up an object's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest(pub Vec<BlobRef>);

impl Manifest {
    /// A manifest of one blob.
    pub fn single(blob: BlobRef) -> Self {
        Manifest(vec![blob])
    }

    /// The blob of an inline object: a manifest of exactly one inline blob. (Multipart objects are
    /// always made of file blobs.)
    pub fn inline_blob(&self) -> Option<&BlobRef> {
        match self.0.as_slice() {
            [blob] if blob.is_inline() => Some(blob),
            _ => None,
        }
    }

    /// The stored text form: one line per blob, `"<blob id> <size> <md5 hex>"`.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.0.len() * 72);
        for b in &self.0 {
            out.push_str(&b.blob_id);
            out.push(' ');
            out.push_str(&b.size.to_string());
            out.push(' ');
            out.push_str(&b.md5_hex);
            out.push('\n');
        }
        out
    }

    /// Parses the stored text form written by [`Manifest::encode`].
    pub fn decode(text: &str) -> MetaResult<Self> {
        let mut blobs = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut fields = line.split(' ');
            let (Some(id), Some(size), Some(md5), None) = (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(MetaError::Corrupt(format!("bad manifest line {line:?}")));
            };
            let size = size.parse().map_err(|_| MetaError::Corrupt(format!("bad blob size in {line:?}")))?;
            blobs.push(BlobRef { blob_id: id.to_owned(), size, md5_hex: md5.to_owned() });
        }
        Ok(Manifest(blobs))
    }

    /// Sum of the blob sizes: the object's length.
    pub fn total_size(&self) -> i64 {
        self.0.iter().map(|b| b.size).sum()
    }
}

/// One version of an object as stored (the current one, unless read by version id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    /// The key, exactly as the client sent it (UTF-8 bytes; may hold NUL, `../`, trailing spaces).
    pub key: Vec<u8>,
    /// The version id (`null` for versions written while versioning was off or suspended). Assigned by
    /// the commit: what a writer puts here is ignored.
    pub version_id: String,
    /// Length in bytes.
    pub size: i64,
    /// The ETag without quotes: hex MD5, or `hex-N` for multipart objects.
    pub etag: String,
    /// Last-Modified, milliseconds since the Unix epoch.
    pub last_modified: i64,
    /// The user who wrote it.
    pub owner_id: UserId,
    /// HTTP attributes and user metadata, JSON owned by the S3 layer.
    pub attributes: String,
    /// Where the bytes are.
    pub manifest: Manifest,
    /// Number of parts for multipart objects, `None` for single-part ones.
    pub parts_count: Option<i64>,
    /// Object lock protection. What a writer asks for; the commit applies the bucket's default
    /// retention when it names none.
    pub retention: Retention,
}

/// One row of a listing: what ListObjects returns per key, without attributes or manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The key bytes.
    pub key: Vec<u8>,
    /// Length in bytes.
    pub size: i64,
    /// ETag without quotes.
    pub etag: String,
    /// Last-Modified, milliseconds since the Unix epoch.
    pub last_modified: i64,
    /// The writer.
    pub owner_id: UserId,
    /// HTTP attributes and user metadata, JSON owned by the S3 layer (the console shows the type).
    pub attributes: String,
}

/// A version as a lookup by version id or ListObjectVersions returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// The version (a delete marker has size 0, no blobs and empty attributes).
    pub object: ObjectRecord,
    /// Whether this version is a delete marker.
    pub is_marker: bool,
    /// Whether it is the key's newest version.
    pub is_latest: bool,
    /// The ordering key among the key's versions (smaller is newer): where a listing resumes.
    pub vorder: i64,
}

/// One row of ListObjectVersions: a version without its attributes or manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVersion {
    /// Key, size, ETag, time and owner (attributes left empty).
    pub object: ListedObject,
    /// The version id (`null` included).
    pub version_id: String,
    /// Whether this version is a delete marker.
    pub is_marker: bool,
    /// Whether it is the key's newest version (set by the listing, which sees the order).
    pub is_latest: bool,
    /// The ordering key among the key's versions (smaller is newer): where a listing resumes.
    pub vorder: i64,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deleted {
    /// The version removed, or the id of the delete marker created (`None`: nothing existed and no marker
    /// was created, an unversioned bucket's delete of a missing key).
    pub version_id: Option<String>,
    /// The version removed was a delete marker, or a delete marker was created.
    pub marker: bool,
    /// Whether anything changed: a version removed or a marker created.
    pub changed: bool,
}

/// The condition a write must satisfy, evaluated inside the commit transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WriteCondition {
    /// Write unconditionally.
    #[default]
    None,
    /// `If-None-Match: *`: only create; fail if the key exists.
    IfAbsent,
    /// `If-Match: <etag>`: only replace the object whose ETag is this (unquoted).
    IfEtag(String),
    /// `If-Match: *`: only replace an existing object, whatever its ETag.
    IfExists,
    /// `If-None-Match: <etag>`: write unless the current object has this ETag (unquoted); a missing
    /// object counts as a different one.
    IfNotEtag(String),
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: UserId,
    /// Sign-in name.
    pub name: String,
    /// `admin` or `user`.
    pub role: String,
    /// Disabled users cannot sign in and their keys stop working.
    pub enabled: bool,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// An S3 access key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The public id clients send in the SigV4 credential scope.
    pub access_key_id: String,
    /// The owning user.
    pub user_id: UserId,
    /// The secret; SigV4 needs it in plain form to recompute signatures.
    pub secret: String,
    /// Disabled keys are refused.
    pub enabled: bool,
    /// Optional expiry, milliseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Who uses the key: the user, or the server signing the console's presigned URLs for the user.
    pub purpose: KeyPurpose,
    /// Optional restriction to named buckets and read-only access (JSON owned by the S3 layer).
    pub scope: Option<String>,
}

/// Who uses an access key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Created by (or for) the user, shown in their key list.
    User,
    /// Held by the server to sign presigned URLs (share links, browser uploads) on the user's behalf;
    /// never shown, never leaves the server. Requests signed with it are authorized as the user.
    Console,
}

impl KeyPurpose {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::User => "user",
            KeyPurpose::Console => "console",
        }
    }

    /// Parses the stored form (anything unknown is a user key).
    pub fn parse(s: &str) -> Self {
        if s == "console" { KeyPurpose::Console } else { KeyPurpose::User }
    }
}
