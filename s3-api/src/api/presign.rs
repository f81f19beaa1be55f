//! Presigned URLs for the console: share links (up to 7 days), browser uploads (a single PUT, or a
//! multipart upload whose parts go straight to the S3 endpoint) and the calls that start, complete and
//! abort such a multipart upload.
//!
//! Every URL is signed with the caller's console key (see `KeyStore::console_key`), so the S3 endpoint
//! authorizes it as the caller; the API checks the same authorizer before minting it.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::objects::{KeyQuery, attachment, authorized_bucket, check_key, quoted};
use super::session::Session;
use super::session::now_secs;
use super::versions::readable_version;
use crate::auth::Principal;
use crate::engine::attributes::ObjectAttributes;
use crate::engine::lock::needs_digest;
use crate::engine::{RequestedPart, UploadState};
use crate::limits::{MAX_PART_NUMBER, MAX_PART_URLS};
use crate::presign::{MAX_EXPIRY, Presign, PresignError};
use cloudvault_metadata::WriteCondition;

/// How long a browser upload URL is valid.
const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);

impl From<PresignError> for ApiError {
    fn from(e: PresignError) -> Self {
        match e {
            PresignError::InvalidExpiry => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_expiry",
                "A link expires after 1 second to 7 days (604800 seconds).",
            ),
            PresignError::Signing(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", m),
        }
    }
}

/// Signs `request` with the caller's console key.
async fn mint(state: &ApiState, me: &Principal, request: &Presign<'_>) -> ApiResult<String> {
    let (access_key_id, secret) = state.keys.console_key(me.user_id).await?;
    Ok(state.presigner.url(&access_key_id, &secret, request)?)
}

/// Body of `POST /api/buckets/{bucket}/share`.
#[derive(Debug, Deserialize)]
pub struct ShareRequest {
    /// The object to share.
    pub key: String,
    /// A version of it (`null` included); without one, the current object.
    #[serde(default)]
    pub version_id: Option<String>,
    /// Seconds until the link stops working: 1 to 604800 (7 days).
    pub expires_in_secs: u64,
    /// `attachment` (download, the default) or `inline` (shown by the browser: previews).
    #[serde(default)]
    pub disposition: Disposition,
}

/// How the browser treats a shared object.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Save it as a file.
    #[default]
    Attachment,
    /// Show it.
    Inline,
}

/// `POST /api/buckets/{bucket}/share`: `{"url", "expires_at"}` for an existing object or version (a
/// delete marker is 404). Authorized like GetObject (GetObjectVersion with a `version_id`).
pub async fn share(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Json(body): Json<ShareRequest>,
) -> ApiResult<Json<Value>> {
    if body.expires_in_secs == 0 || body.expires_in_secs > MAX_EXPIRY.as_secs() {
        return Err(PresignError::InvalidExpiry.into());
    }
    readable_version(&state, &me, &bucket, &body.key, body.version_id.as_deref()).await?;
    let mut query = Vec::new();
    if let Some(id) = &body.version_id {
        query.push(("versionId", id.clone()));
    }
    if body.disposition == Disposition::Attachment {
        query.push(("response-content-disposition", attachment(&body.key)));
    }
    let expires_in = Duration::from_secs(body.expires_in_secs);
    let request = Presign { method: "GET", bucket: &bucket, key: &body.key, query, expires_in };
    let url = mint(&state, &me, &request).await?;
    Ok(Json(json!({ "url": url, "expires_at": now_secs() + body.expires_in_secs })))
}

/// Body of `POST /api/buckets/{bucket}/upload-url` and `.../multipart`.
#[derive(Debug, Deserialize)]
pub struct UploadRequest {
    /// The object key to write.
    pub key: String,
    /// The Content-Type to store (multipart: set when the upload starts; single PUT: the browser sends it).
    #[serde(default)]
    pub content_type: Option<String>,
}

/// `POST /api/buckets/{bucket}/upload-url`: a presigned single PUT, valid for 15 minutes;
/// `digest_required` when the PUT must carry Content-MD5 (a bucket with a default retention).
pub async fn upload_url(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Json(body): Json<UploadRequest>,
) -> ApiResult<Json<Value>> {
    check_key(&body.key)?;
    let b = authorized_bucket(&state, &me, "s3:PutObject", &bucket, Some(&body.key)).await?;
    let request =
        Presign { method: "PUT", bucket: &bucket, key: &body.key, query: Vec::new(), expires_in: UPLOAD_URL_TTL };
    let url = mint(&state, &me, &request).await?;
    let headers = match &body.content_type {
        Some(t) => json!({ "Content-Type": t }),
        None => json!({}),
    };
    Ok(Json(json!({
        "url": url,
        "method": "PUT",
        "headers": headers,
        "expires_at": now_secs() + UPLOAD_URL_TTL.as_secs(),
        "digest_required": needs_digest(&b, &Default::default()),
    })))
}

/// `POST /api/buckets/{bucket}/multipart`: starts a multipart upload, 201 `{"upload_id"}`.
pub async fn create_multipart(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Json(body): Json<UploadRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_key(&body.key)?;
    let b = authorized_bucket(&state, &me, "s3:PutObject", &bucket, Some(&body.key)).await?;
    let attributes = ObjectAttributes { content_type: body.content_type, ..Default::default() };
    let upload_state = UploadState { attributes, checksum: None, lock: Default::default() };
    let owner = crate::engine::access::object_owner(&b, Some(me.user_id), None);
    let upload_id = state.engine.create_upload(b.id, body.key.as_bytes(), owner, &upload_state).await?;
    Ok((StatusCode::CREATED, Json(json!({ "upload_id": upload_id }))))
}

/// Body of `POST /api/buckets/{bucket}/multipart/{upload_id}/parts`.
#[derive(Debug, Deserialize)]
pub struct PartUrlsRequest {
    /// The upload's object key.
    pub key: String,
    /// The parts to mint URLs for (1..=10000, at most 1000 per call).
    pub part_numbers: Vec<u32>,
}

/// `POST /api/buckets/{bucket}/multipart/{upload_id}/parts`: presigned UploadPart URLs (15 minutes);
/// `digest_required` when each part must carry Content-MD5 (a bucket with a default retention).
pub async fn part_urls(
    State(state): State<ApiState>,
    Session(me): Session,
    Path((bucket, upload_id)): Path<(String, String)>,
    Json(body): Json<PartUrlsRequest>,
) -> ApiResult<Json<Value>> {
    if body.part_numbers.is_empty()
        || body.part_numbers.len() > MAX_PART_URLS
        || body.part_numbers.iter().any(|n| !(1..=MAX_PART_NUMBER as u32).contains(n))
    {
        return Err(ApiError::bad_request("Ask for 1 to 1000 part numbers, each 1 to 10000."));
    }
    let b = authorized_bucket(&state, &me, "s3:PutObject", &bucket, Some(&body.key)).await?;
    let mut urls = Vec::with_capacity(body.part_numbers.len());
    for n in &body.part_numbers {
        let query = vec![("partNumber", n.to_string()), ("uploadId", upload_id.clone())];
        let request = Presign { method: "PUT", bucket: &bucket, key: &body.key, query, expires_in: UPLOAD_URL_TTL };
        urls.push(json!({ "part_number": n, "url": mint(&state, &me, &request).await? }));
    }
    Ok(Json(json!({
        "urls": urls,
        "expires_at": now_secs() + UPLOAD_URL_TTL.as_secs(),
        "digest_required": needs_digest(&b, &Default::default()),
    })))
}

/// One uploaded part, as the browser saw it.
#[derive(Debug, Deserialize)]
pub struct UploadedPart {
    /// Its number.
    pub part_number: i32,
    /// The ETag the S3 endpoint answered for it (quoted or not).
    pub etag: String,
}

/// Body of `POST /api/buckets/{bucket}/multipart/{upload_id}/complete`.
#[derive(Debug, Deserialize)]
pub struct CompleteRequest {
    /// The upload's object key.
    pub key: String,
    /// The parts, in order.
    pub parts: Vec<UploadedPart>,
}

/// `POST /api/buckets/{bucket}/multipart/{upload_id}/complete`: `{"key", "etag"}`; the object is visible
/// once this answers.
pub async fn complete_multipart(
    State(state): State<ApiState>,
    Session(me): Session,
    Path((bucket, upload_id)): Path<(String, String)>,
    Json(body): Json<CompleteRequest>,
) -> ApiResult<Json<Value>> {
    let b = authorized_bucket(&state, &me, "s3:PutObject", &bucket, Some(&body.key)).await?;
    let upload = state.engine.upload(b.id, body.key.as_bytes(), &upload_id).await?;
    let upload_state = UploadState::of(&upload)?;
    if upload_state.checksum.is_some() {
        return Err(ApiError::bad_request(
            "This upload was started with a checksum algorithm; complete it through the S3 endpoint.",
        ));
    }
    let requested: Vec<RequestedPart> =
        body.parts.into_iter().map(|p| RequestedPart { number: p.part_number, etag: Some(p.etag) }).collect();
    let assembly = state.engine.assemble(&upload, &requested).await?;
    let record = assembly.record(&upload, &upload_state.attributes, upload_state.lock.retention()?);
    state.engine.complete_upload(&upload.upload_id, b.id, &record, &WriteCondition::None).await?;
    Ok(Json(json!({ "key": body.key, "etag": quoted(&assembly.etag) })))
}

/// `DELETE /api/buckets/{bucket}/multipart/{upload_id}?key=`: abandons the upload and its parts. 204.
pub async fn abort_multipart(
    State(state): State<ApiState>,
    Session(me): Session,
    Path((bucket, upload_id)): Path<(String, String)>,
    Query(q): Query<KeyQuery>,
) -> ApiResult<StatusCode> {
    let b = authorized_bucket(&state, &me, "s3:AbortMultipartUpload", &bucket, Some(&q.key)).await?;
    let upload = state.engine.upload(b.id, q.key.as_bytes(), &upload_id).await?;
    state.engine.abort_upload(&upload.upload_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
