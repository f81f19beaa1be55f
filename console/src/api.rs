//! The console API's JSON types (docs/console-api.md) and the one function that calls it.
//! The browser build uses gloo-net with relative `/api/...` URLs; the native build (tests, clippy)
//! has no network and answers every call with an error.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An API error: `{"code","message"}` plus the HTTP status (0 when the request never got an answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status, or 0 for network errors.
    pub status: u16,
    /// Stable error code.
    pub code: String,
    /// Human text.
    pub message: String,
}

impl ApiError {
    /// An error that is not an API answer (network, decoding).
    pub fn local(message: impl Into<String>) -> Self {
        Self { status: 0, code: "network".into(), message: message.into() }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{} ({} {})", self.message, self.status, self.code)
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// Turn a non-2xx answer into an [`ApiError`].
pub fn error_from(status: u16, body: &str) -> ApiError {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) => ApiError { status, code: e.code, message: e.message },
        Err(_) => ApiError {
            status,
            code: "http".into(),
            message: if body.trim().is_empty() { format!("HTTP {status}") } else { body.chars().take(200).collect() },
        },
    }
}

/// Decode a 2xx body (an empty body decodes as JSON `null`, e.g. into `()`).
pub fn decode<T: DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    let text = if body.trim().is_empty() { "null" } else { body };
    serde_json::from_str(text).map_err(|e| ApiError::local(format!("unexpected answer from the API: {e}")))
}

/// HTTP methods the console uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

/// Call the API: `path` starts with `/api/`; `body` is sent as JSON.
pub async fn request<T: DeserializeOwned>(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<T, ApiError> {
    let (status, text) = crate::platform::http(method, path, token, body.map(|b| b.to_string())).await?;
    if (200..300).contains(&status) { decode(&text) } else { Err(error_from(status, &text)) }
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// Id.
    pub id: serde_json::Value,
    /// Name.
    pub name: String,
    /// `admin` or `user`.
    pub role: String,
}

/// `POST /api/login` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginAnswer {
    /// Bearer token.
    pub token: String,
    /// Expiry (unix s).
    pub expires_at: i64,
    /// Who signed in.
    pub user: User,
}

/// A bucket in `GET /api/buckets`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Bucket {
    /// Name.
    pub name: String,
    /// Region.
    #[serde(default)]
    pub region: String,
    /// Creation (unix ms).
    #[serde(default)]
    pub created_at: i64,
    /// Objects.
    pub object_count: u64,
    /// Bytes.
    pub bytes_used: u64,
    /// Anonymous reads allowed.
    #[serde(default)]
    pub public: bool,
    /// Anonymous listing allowed.
    #[serde(default)]
    pub public_listing: bool,
    /// `Unversioned`, `Enabled` or `Suspended`.
    #[serde(default)]
    pub versioning: String,
    /// Object lock is on (for good).
    #[serde(default)]
    pub object_lock: bool,
    /// Noncurrent versions.
    #[serde(default)]
    pub noncurrent_count: u64,
    /// Their bytes.
    #[serde(default)]
    pub noncurrent_bytes: u64,
}

/// `GET /api/buckets`.
#[derive(Debug, Clone, Deserialize)]
pub struct Buckets {
    /// The buckets.
    pub buckets: Vec<Bucket>,
}

/// An object in a listing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectEntry {
    /// Full key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// ETag.
    #[serde(default)]
    pub etag: String,
    /// Unix ms.
    #[serde(default)]
    pub last_modified: i64,
    /// Content type.
    #[serde(default)]
    pub content_type: Option<String>,
}

impl crate::logic::Sortable for ObjectEntry {
    fn sort_name(&self) -> &str {
        &self.key
    }
    fn sort_size(&self) -> u64 {
        self.size
    }
    fn sort_modified(&self) -> i64 {
        self.last_modified
    }
    fn sort_type(&self) -> String {
        crate::logic::type_label(self.content_type.as_deref(), &self.key)
    }
}

/// `GET /api/buckets/{b}/objects`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectList {
    /// Objects of this page.
    pub objects: Vec<ObjectEntry>,
    /// Sub-folders (with a delimiter).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Token for the next page.
    #[serde(default)]
    pub next_after: Option<String>,
}

/// `GET /api/buckets/{b}/objects/count`.
#[derive(Debug, Clone, Deserialize)]
pub struct Count {
    /// Objects under the prefix.
    pub count: u64,
    /// Their bytes.
    #[serde(default)]
    pub bytes: u64,
}

/// `GET /api/buckets/{b}/object`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectDetails {
    /// Key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// ETag.
    #[serde(default)]
    pub etag: String,
    /// Unix ms.
    #[serde(default)]
    pub last_modified: i64,
    /// Content type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// User metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The version id (`null` without versioning).
    #[serde(default)]
    pub version_id: String,
    /// Object lock retention, if any.
    #[serde(default)]
    pub retention: Option<Retention>,
    /// Legal hold on.
    #[serde(default)]
    pub legal_hold: bool,
}

/// A version's object lock retention.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Retention {
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
    /// Retain-until (unix ms).
    pub retain_until: i64,
}

/// One row of `GET /api/buckets/{b}/versions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VersionEntry {
    /// Full key.
    pub key: String,
    /// Version id (`null` included).
    pub version_id: String,
    /// The key's newest version.
    pub is_latest: bool,
    /// A delete marker.
    pub is_delete_marker: bool,
    /// Bytes.
    pub size: u64,
    /// ETag (none for a delete marker).
    #[serde(default)]
    pub etag: Option<String>,
    /// Unix ms.
    pub last_modified: i64,
}

/// `GET /api/buckets/{b}/versions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VersionList {
    /// Versions of this page, by key and newest first.
    pub versions: Vec<VersionEntry>,
    /// Sub-folders (with a delimiter).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Paging: the key to resume after.
    #[serde(default)]
    pub next_key: Option<String>,
    /// Paging: the version to resume after.
    #[serde(default)]
    pub next_version: Option<String>,
}

/// A bucket's default retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefaultRetention {
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
    /// Days (or `years`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// Years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i64>,
}

/// A bucket's object lock.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectLock {
    /// The retention new versions get.
    #[serde(default)]
    pub default_retention: Option<DefaultRetention>,
}

/// One lifecycle rule, as the API shows and takes it (fields the console does not edit are kept).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// Unique id.
    #[serde(default)]
    pub id: String,
    /// Applied.
    pub enabled: bool,
    /// Key prefix.
    #[serde(default)]
    pub prefix: String,
    /// Tag filter.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Size filter.
    #[serde(default)]
    pub size_greater_than: Option<i64>,
    /// Size filter.
    #[serde(default)]
    pub size_less_than: Option<i64>,
    /// Expire current versions after days.
    #[serde(default)]
    pub expiration_days: Option<i64>,
    /// Expire current versions from (unix ms).
    #[serde(default)]
    pub expiration_date: Option<i64>,
    /// Remove lone delete markers.
    #[serde(default)]
    pub expired_object_delete_marker: bool,
    /// Expire noncurrent versions after days.
    #[serde(default)]
    pub noncurrent_days: Option<i64>,
    /// Keep this many newest noncurrent versions.
    #[serde(default)]
    pub newer_noncurrent_versions: Option<i64>,
    /// Abort incomplete uploads after days.
    #[serde(default)]
    pub abort_incomplete_days: Option<i64>,
}

/// A bucket's lifecycle rules.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Lifecycle {
    /// The rules.
    pub rules: Vec<LifecycleRule>,
}

/// `GET /api/buckets/{b}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BucketDetail {
    /// Name.
    pub name: String,
    /// Current objects.
    pub object_count: u64,
    /// Their bytes.
    pub bytes_used: u64,
    /// Noncurrent versions.
    pub noncurrent_count: u64,
    /// Their bytes.
    pub noncurrent_bytes: u64,
    /// `Unversioned`, `Enabled` or `Suspended`.
    pub versioning: String,
    /// Object lock, when on.
    #[serde(default)]
    pub object_lock: Option<ObjectLock>,
    /// Lifecycle rules, when set.
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
}

/// A presigned URL answer (`share`).
#[derive(Debug, Clone, Deserialize)]
pub struct Presigned {
    /// The URL.
    pub url: String,
    /// Expiry (unix s).
    #[serde(default)]
    pub expires_at: i64,
}

/// `upload-url` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadUrl {
    /// Presigned PUT URL.
    pub url: String,
    /// Headers the PUT must carry.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The PUT must carry Content-MD5 (a bucket with a default retention).
    #[serde(default)]
    pub digest_required: bool,
}

/// `multipart` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct MultipartStarted {
    /// Upload id.
    pub upload_id: String,
}

/// One presigned part URL.
#[derive(Debug, Clone, Deserialize)]
pub struct PartUrl {
    /// Part number.
    pub part_number: u32,
    /// Presigned PUT URL.
    pub url: String,
}

/// `multipart/{id}/parts` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct PartUrls {
    /// The URLs.
    pub urls: Vec<PartUrl>,
    /// When they expire (unix seconds; 0 when not said).
    #[serde(default)]
    pub expires_at: i64,
    /// Each part PUT must carry Content-MD5 (a bucket with a default retention).
    #[serde(default)]
    pub digest_required: bool,
}

/// A completed part for `complete`.
#[derive(Debug, Clone, Serialize)]
pub struct CompletedPart {
    /// Part number.
    pub part_number: u32,
    /// ETag from the part's PUT answer.
    pub etag: String,
}

/// An access key (never with its secret).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AccessKey {
    /// Id.
    pub access_key_id: String,
    /// Enabled.
    pub enabled: bool,
    /// Creation time.
    #[serde(default)]
    pub created_at: serde_json::Value,
    /// Expiry.
    #[serde(default)]
    pub expires_at: serde_json::Value,
    /// Bucket restriction.
    #[serde(default)]
    pub buckets: Option<Vec<String>>,
    /// `read` / `readwrite`.
    #[serde(default)]
    pub access: Option<String>,
}

/// `GET /api/keys`.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessKeys {
    /// Keys.
    pub keys: Vec<AccessKey>,
}

/// `POST /api/keys` answer: the only time the secret is seen.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NewKey {
    /// Id.
    pub access_key_id: String,
    /// Secret (shown once).
    pub secret_access_key: String,
    /// Expiry (unix ms), null for never.
    #[serde(default)]
    pub expires_at: serde_json::Value,
    /// Bucket restriction, `None` for all buckets.
    #[serde(default)]
    pub buckets: Option<Vec<String>>,
    /// `read` / `readwrite`.
    #[serde(default)]
    pub access: Option<String>,
}

/// `POST /api/me/password` answer: a new session token (older ones stop working).
#[derive(Debug, Clone, Deserialize)]
pub struct PasswordChanged {
    /// Bearer token.
    pub token: String,
    /// Expiry (unix s).
    pub expires_at: i64,
}

/// A user (admin page).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserRow {
    /// Id.
    pub id: serde_json::Value,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Creation time.
    #[serde(default)]
    pub created_at: serde_json::Value,
}

fn yes() -> bool {
    true
}

/// `GET /api/users`.
#[derive(Debug, Clone, Deserialize)]
pub struct Users {
    /// Users.
    pub users: Vec<UserRow>,
}

/// Per-bucket usage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BucketUsage {
    /// Bucket.
    pub name: String,
    /// Objects.
    pub object_count: u64,
    /// Bytes.
    pub bytes_used: u64,
    /// Noncurrent versions.
    #[serde(default)]
    pub noncurrent_count: u64,
    /// Their bytes.
    #[serde(default)]
    pub noncurrent_bytes: u64,
}

/// Usage totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UsageTotal {
    /// Buckets.
    pub buckets: u64,
    /// Objects.
    pub object_count: u64,
    /// Bytes.
    pub bytes_used: u64,
    /// Noncurrent versions.
    #[serde(default)]
    pub noncurrent_count: u64,
    /// Their bytes.
    #[serde(default)]
    pub noncurrent_bytes: u64,
}

/// `GET /api/usage`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Usage {
    /// Per bucket.
    pub buckets: Vec<BucketUsage>,
    /// Overall.
    pub total: UsageTotal,
}

/// `GET /api/config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerConfig {
    /// Public S3 endpoint URL.
    pub s3_endpoint: String,
    /// Region.
    #[serde(default)]
    pub region: String,
}

/// The id of a user as it goes into a URL path (numbers or strings).
pub fn id_segment(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(s) => crate::logic::encode(s),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console keeps its own copy of the API's rule type (the wasm build cannot share the server's):
    /// it must name exactly the fields the API documents, or a saved rule would lose settings.
    #[test]
    fn lifecycle_rule_fields_match_the_openapi_document() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../s3-api/src/api/openapi.json")).expect("openapi.json parses");
        let documented: std::collections::BTreeSet<String> =
            doc["components"]["schemas"]["LifecycleRule"]["properties"]
                .as_object()
                .expect("LifecycleRule has properties")
                .keys()
                .cloned()
                .collect();
        let ours: std::collections::BTreeSet<String> = serde_json::to_value(LifecycleRule::default())
            .expect("serializes")
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(ours, documented);
    }

    #[test]
    fn errors_decode() {
        let e = error_from(409, r#"{"code":"count_mismatch","message":"changed"}"#);
        assert_eq!((e.status, e.code.as_str()), (409, "count_mismatch"));
        assert_eq!(error_from(502, "").message, "HTTP 502");
        let unit: Result<(), _> = decode("");
        assert!(unit.is_ok());
        let list: ObjectList = decode(r#"{"objects":[{"key":"a","size":1,"etag":"\"x\"","last_modified":5,"content_type":null}],"prefixes":["d/"],"next_after":null}"#).expect("decodes");
        assert_eq!(list.prefixes, vec!["d/"]);
        assert_eq!(id_segment(&serde_json::json!(7)), "7");
        assert_eq!(id_segment(&serde_json::json!("a b")), "a%20b");
    }
}
