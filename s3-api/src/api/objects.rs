//! `/api/buckets/{bucket}/objects` and `/object`: browse (prefix, delimiter, paging, search in the
//! metadata store), totals of a prefix, metadata, delete one / many / a whole prefix (with the count
//! confirmed), and streamed upload and download.
//!
//! Every handler asks the shared authorizer, then calls the engine: the same operations the S3
//! endpoint translates to, so every invariant holds for both.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use cloudvault_metadata::{Bucket, ListColumns, ListedObject, ObjectRecord, WriteCondition};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::session::Session;
use super::versions::readable_version;
use crate::auth::authorizer::AccessRequest;
use crate::auth::context::{ConditionKeys, version_keys};
use crate::auth::iam::PolicyDocument;
use crate::auth::{Principal, action_of};
use crate::engine::access::object_owner;
use crate::engine::attributes::ObjectAttributes;
use crate::engine::lock::needs_digest;
use crate::engine::{EngineError, ListParams, NewObject, parse_version};
use crate::limits::{CONSOLE_DEFAULT_PAGE, MAX_DELETE_KEYS, MAX_KEY_LENGTH, MAX_KEYS_PER_PAGE};

/// Authorizes `action` on `bucket` (and `key`) for the session's user and returns the bucket.
pub(super) async fn authorized_bucket(
    state: &ApiState,
    me: &Principal,
    action: &str,
    bucket: &str,
    key: Option<&str>,
) -> ApiResult<std::sync::Arc<Bucket>> {
    authorized_bucket_with(state, me, action, bucket, key, ConditionKeys::new()).await
}

/// [`authorized_bucket`] with request condition keys (a listing's `s3:prefix`, a version's
/// `s3:versionid`).
pub(super) async fn authorized_bucket_with(
    state: &ApiState,
    me: &Principal,
    action: &str,
    bucket: &str,
    key: Option<&str>,
    keys: ConditionKeys,
) -> ApiResult<std::sync::Arc<Bucket>> {
    state
        .authorizer
        .authorize_with(Some(me), action, Some(bucket), key, keys)
        .await?
        .ok_or_else(|| ApiError::not_found("No such bucket."))
}

/// Authorizes a console listing as `action` (ListObjects' `s3:ListBucket`, ListObjectVersions'
/// `s3:ListBucketVersions`), with its `s3:prefix`, `s3:delimiter` and `s3:max-keys`, so policy
/// conditions on them hold in the console as over S3.
pub(super) async fn listing_bucket(
    state: &ApiState,
    me: &Principal,
    action: &str,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    limit: u32,
) -> ApiResult<std::sync::Arc<Bucket>> {
    // As over S3, an empty prefix is no `s3:prefix` at all.
    let mut keys = ConditionKeys::from([("s3:max-keys".to_owned(), vec![limit.to_string()])]);
    if !prefix.is_empty() {
        keys.insert("s3:prefix".into(), vec![prefix.to_owned()]);
    }
    if let Some(d) = delimiter {
        keys.insert("s3:delimiter".into(), vec![d.to_owned()]);
    }
    authorized_bucket_with(state, me, action, bucket, None, keys).await
}

/// Refuses keys S3 would refuse (empty, or over 1024 bytes) before any body is read.
pub(super) fn check_key(key: &str) -> ApiResult<()> {
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(ApiError::bad_request("Object keys are 1 to 1024 bytes."));
    }
    Ok(())
}

/// An ETag as S3 sends it: in double quotes.
pub(super) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// The stored Content-Type of an object (S3's default when none was given).
fn content_type(attributes: &str) -> String {
    ObjectAttributes::decode(attributes).unwrap_or_default().content_type_or_default()
}

/// A key as JSON text (invalid UTF-8 replaced).
pub(super) fn key_text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

fn listed_json(o: &ListedObject) -> Value {
    json!({
        "key": key_text(&o.key),
        "size": o.size,
        "etag": quoted(&o.etag),
        "last_modified": o.last_modified,
        "content_type": content_type(&o.attributes),
    })
}

/// Query of `GET /api/buckets/{bucket}/objects`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Roll keys up at this string into `prefixes` (folders). Ignored when searching.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Only keys whose remainder after the prefix contains this, ignoring case (searches the whole
    /// subtree).
    #[serde(default)]
    pub search: Option<String>,
    /// Resume after this key or folder: the `next_after` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// Page size, 1..=1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /api/buckets/{bucket}/objects`: one page of objects and folders, in key order.
pub async fn list(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(CONSOLE_DEFAULT_PAGE);
    if !(1..=MAX_KEYS_PER_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000."));
    }
    let b = listing_bucket(&state, &me, "s3:ListBucket", &bucket, &q.prefix, q.delimiter.as_deref(), limit).await?;
    let prefix = q.prefix.as_bytes();
    let after = q.after.as_deref().filter(|a| !a.is_empty()).map(str::as_bytes);
    let (objects, prefixes, next_after) = match q.search.as_deref().filter(|s| !s.is_empty()) {
        Some(needle) => {
            let mut found = state.engine.search_objects(b.id, prefix, after, needle, limit + 1).await?;
            let more = found.len() > limit as usize;
            found.truncate(limit as usize);
            let next = more.then(|| found.last().map(|o| key_text(&o.key))).flatten();
            (found, Vec::new(), next)
        }
        None => {
            let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty()).map(str::as_bytes);
            let params = ListParams {
                prefix,
                delimiter,
                marker: after,
                marker_id: None,
                max: limit as usize,
                columns: ListColumns::WithAttributes,
            };
            let page = state.engine.list_objects(b.id, params).await?;
            let next = page.truncated.then(|| page.last.as_deref().map(key_text)).flatten();
            (page.items, page.prefixes, next)
        }
    };
    Ok(Json(json!({
        "objects": objects.iter().map(listed_json).collect::<Vec<_>>(),
        "prefixes": prefixes.iter().map(|p| key_text(p)).collect::<Vec<_>>(),
        "next_after": next_after,
    })))
}

/// Query naming a prefix.
#[derive(Debug, Deserialize)]
pub struct PrefixQuery {
    /// The prefix (empty: the whole bucket).
    #[serde(default)]
    pub prefix: String,
}

/// `GET /api/buckets/{bucket}/objects/count?prefix=`: `{"count", "bytes"}` (what a folder delete
/// confirms).
pub async fn count(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Query(q): Query<PrefixQuery>,
) -> ApiResult<Json<Value>> {
    let b = listing_bucket(&state, &me, "s3:ListBucket", &bucket, &q.prefix, None, MAX_KEYS_PER_PAGE).await?;
    let (count, bytes) = state.engine.prefix_totals(b.id, q.prefix.as_bytes()).await?;
    Ok(Json(json!({ "count": count, "bytes": bytes })))
}

/// Body of `POST /api/buckets/{bucket}/objects/delete`: named keys, or a prefix with its confirmed count.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DeleteRequest {
    /// Delete these keys (at most 1000).
    Keys {
        /// The keys.
        keys: Vec<String>,
    },
    /// Delete every object under `prefix`, which must hold `confirm_count` objects right now.
    Prefix {
        /// The prefix (a folder ends with `/`).
        prefix: String,
        /// The count the user confirmed (from `objects/count`).
        confirm_count: i64,
    },
}

/// Deletes every object of `bucket` under `prefix`, after checking it holds `confirm_count` objects
/// (`count_mismatch` otherwise, and nothing is deleted). Objects written under the prefix while the
/// delete runs may be deleted too. Returns how many were deleted.
pub(super) async fn delete_prefix(
    state: &ApiState,
    bucket: &Bucket,
    prefix: &[u8],
    confirm_count: i64,
    me: &Principal,
) -> ApiResult<i64> {
    // A delete by prefix cannot authorize each key it removes: only the bucket's owner or an admin
    // may make one, and only while the bucket policy denies no s3:DeleteObject (it might cover some).
    let denies = bucket
        .policy
        .as_deref()
        .and_then(|p| PolicyDocument::parse(&bucket.name, p).ok())
        .is_some_and(|p| p.may_deny("s3:DeleteObject"));
    if !(me.is_admin || me.user_id == bucket.owner_id) || denies {
        return Err(ApiError::forbidden(
            "Only the bucket's owner may delete by prefix, and not while the bucket policy denies deletes; delete \
             the objects by key.",
        ));
    }
    let owner_id = me.user_id;
    let (count, _) = state.engine.prefix_totals(bucket.id, prefix).await?;
    if count != confirm_count {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "count_mismatch",
            format!("The prefix holds {count} objects now, not {confirm_count}; confirm again."),
        ));
    }
    Ok(state.engine.delete_prefix(bucket.id, prefix, owner_id).await?)
}

/// `POST /api/buckets/{bucket}/objects/delete`: `{"deleted": n}`.
pub async fn delete_many(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Json(body): Json<DeleteRequest>,
) -> ApiResult<Json<Value>> {
    // The bucket is resolved (with the key's scope) without a decision on its ARN: each key is
    // authorized below, as S3's DeleteObjects does.
    let resolve = AccessRequest {
        caller: Some(&me),
        origin: me.origin,
        action: "s3:DeleteObject",
        bucket: Some(&bucket),
        key: None,
        keys: ConditionKeys::new(),
        per_key: true,
    };
    let b = state.authorizer.decide(resolve).await?.ok_or_else(|| ApiError::not_found("No such bucket."))?;
    let deleted = match body {
        DeleteRequest::Keys { keys } => {
            if keys.len() > MAX_DELETE_KEYS {
                return Err(ApiError::bad_request("At most 1000 keys per call."));
            }
            // Each key is authorized on its own, as S3's DeleteObjects does, before any is deleted.
            for key in &keys {
                let request = AccessRequest {
                    caller: Some(&me),
                    origin: me.origin,
                    action: "s3:DeleteObject",
                    bucket: Some(&bucket),
                    key: Some(key),
                    keys: ConditionKeys::new(),
                    per_key: false,
                };
                if !state.authorizer.judge(&b, &request).await? {
                    return Err(ApiError::forbidden(format!("You may not delete {key:?}.")));
                }
            }
            let mut deleted = 0;
            for key in keys {
                if state.engine.delete_object(b.id, key.as_bytes(), me.user_id).await?.changed {
                    deleted += 1;
                }
            }
            deleted
        }
        DeleteRequest::Prefix { prefix, confirm_count } => {
            delete_prefix(&state, &b, prefix.as_bytes(), confirm_count, &me).await?
        }
    };
    Ok(Json(json!({ "deleted": deleted })))
}

/// Query naming one object.
#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    /// The object key.
    pub key: String,
}

/// Query naming one object, or one version of it.
#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    /// The object key.
    pub key: String,
    /// A version id (`null` included); without one, the current object.
    #[serde(default)]
    pub version_id: Option<String>,
}

/// The version's object lock protection as JSON: `retention` (`null`, or mode and retain-until) and
/// `legal_hold`.
fn protection_json(o: &ObjectRecord) -> (Value, bool) {
    let retention = match (o.retention.mode, o.retention.until_ms) {
        (Some(mode), Some(until)) => json!({ "mode": mode.as_str(), "retain_until": until }),
        _ => Value::Null,
    };
    (retention, o.retention.legal_hold)
}

/// `GET /api/buckets/{bucket}/object?key=[&version_id=]`: the object's (or that version's) metadata,
/// version id and object lock protection. Authorized like GetObject (GetObjectVersion with an id).
pub async fn metadata(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    let (_, o) = readable_version(&state, &me, &bucket, &q.key, q.version_id.as_deref()).await?;
    let a = ObjectAttributes::decode(&o.attributes)?;
    let (retention, legal_hold) = protection_json(&o);
    Ok(Json(json!({
        "key": q.key,
        "version_id": o.version_id,
        "size": o.size,
        "etag": quoted(&o.etag),
        "last_modified": o.last_modified,
        "content_type": a.content_type_or_default(),
        "metadata": a.user_metadata,
        "tags": a.tags,
        "parts_count": o.parts_count,
        "retention": retention,
        "legal_hold": legal_hold,
    })))
}

/// Query of `DELETE /api/buckets/{bucket}/object`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    /// The object key.
    pub key: String,
    /// Delete this version for good; without one, delete the object (a delete marker in a versioned
    /// bucket).
    #[serde(default)]
    pub version_id: Option<String>,
    /// With `version_id`: override GOVERNANCE retention (needs `s3:BypassGovernanceRetention`).
    #[serde(default)]
    pub bypass_governance: bool,
}

/// `DELETE /api/buckets/{bucket}/object?key=[&version_id=&bypass_governance=]`: 204 (also when it did
/// not exist, as S3 answers). A version object lock protects is 403 `object_locked`, for everyone, an
/// admin included. Authorized like DeleteObject (DeleteObjectVersion with an id).
pub async fn delete_one(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let Some(id) = q.version_id.as_deref() else {
        if q.bypass_governance {
            return Err(ApiError::bad_request("bypass_governance applies to a version: name it with version_id."));
        }
        let b = authorized_bucket(&state, &me, "s3:DeleteObject", &bucket, Some(&q.key)).await?;
        state.engine.delete_object(b.id, q.key.as_bytes(), me.user_id).await?;
        return Ok(StatusCode::NO_CONTENT);
    };
    let sel = parse_version(id)?;
    // With `s3:versionid`, so conditions on that version's tags read that version, as over S3.
    let delete = action_of("DeleteObject", true);
    let keys = version_keys(Some(id));
    let b = authorized_bucket_with(&state, &me, &delete, &bucket, Some(&q.key), keys.clone()).await?;
    if q.bypass_governance {
        state
            .authorizer
            .authorize_with(Some(&me), "s3:BypassGovernanceRetention", Some(&bucket), Some(&q.key), keys)
            .await?;
    }
    state.engine.delete_version(b.id, q.key.as_bytes(), &sel, q.bypass_governance).await?;
    tracing::info!(user = %me.name, bucket = %bucket, version = %id, "version deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `Content-Disposition: attachment` naming the last path segment of `key` (RFC 6266 `filename*`).
pub(super) fn attachment(key: &str) -> String {
    let name = key.rsplit('/').find(|s| !s.is_empty()).unwrap_or("download");
    // RFC 5987 attr-chars stay as they are; everything else (spaces, quotes, non-ASCII) is escaped.
    const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    format!("attachment; filename*=UTF-8''{}", utf8_percent_encode(name, ESCAPED))
}

/// `GET /api/buckets/{bucket}/object/content?key=[&version_id=]`: the bytes of the object (or that
/// version), streamed, as a download (every blob opened before the first byte, as for an S3 GET).
pub async fn download(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Response> {
    let (_, o) = readable_version(&state, &me, &bucket, &q.key, q.version_id.as_deref()).await?;
    let size = o.size.max(0) as u64;
    let body = state.engine.open_read(&o.manifest, 0..size).await?;
    let mut headers = HeaderMap::new();
    let text = |v: &str| HeaderValue::from_str(v).ok();
    for (name, value) in [
        (header::CONTENT_TYPE, text(&content_type(&o.attributes))),
        (header::CONTENT_DISPOSITION, text(&attachment(&q.key))),
        (header::ETAG, text(&quoted(&o.etag))),
        (header::CONTENT_LENGTH, text(&size.to_string())),
        (header::X_CONTENT_TYPE_OPTIONS, text("nosniff")),
    ] {
        if let Some(value) = value {
            headers.insert(name, value);
        }
    }
    Ok((StatusCode::OK, headers, Body::from_stream(body)).into_response())
}

/// The `Content-MD5` of an upload, if it sent one: base64 of 16 bytes, else 400.
fn content_md5(headers: &HeaderMap) -> ApiResult<Option<[u8; 16]>> {
    use base64::Engine as _;
    let Some(value) = headers.get("content-md5") else { return Ok(None) };
    let invalid = || ApiError::bad_request("Content-MD5 must be the base64 of the body's 16-byte MD5.");
    let bytes = base64::engine::general_purpose::STANDARD.decode(value.as_bytes()).map_err(|_| invalid())?;
    Ok(Some(bytes.try_into().map_err(|_| invalid())?))
}

/// `PUT /api/buckets/{bucket}/object/content?key=`: the request body becomes the object (streamed and
/// staged by the engine, like an S3 PUT; `Content-Type` is stored). A `Content-MD5` is verified (400 on
/// a mismatch, nothing stored), and required in a bucket with a default retention, as S3 requires. 201 `{"key", "etag", "size",
/// "version_id"}` (`null` in a bucket that never had versioning).
pub async fn upload(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Query(q): Query<KeyQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_key(&q.key)?;
    let b = authorized_bucket(&state, &me, "s3:PutObject", &bucket, Some(&q.key)).await?;
    let md5 = content_md5(&headers)?;
    if md5.is_none() && needs_digest(&b, &Default::default()) {
        return Err(ApiError::bad_request(
            "This bucket has a default retention: an upload must carry Content-MD5, as on S3.",
        ));
    }
    let header_text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
    let announced = header_text(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let stream = body.into_data_stream().map_err(|e| EngineError::Body {
        code: "IncompleteBody".to_owned(),
        message: format!("the upload was interrupted: {e}"),
    });
    let staged = state.engine.stage(stream, announced, state.max_object_size, &mut |_| {}).await?;
    staged.check_length(announced)?;
    if md5.is_some_and(|m| m != staged.md5) {
        return Err(ApiError::bad_request("The Content-MD5 does not match the bytes received; nothing was stored."));
    }
    let attributes = ObjectAttributes { content_type: header_text(header::CONTENT_TYPE), ..Default::default() };
    let new = NewObject {
        key: q.key.clone().into_bytes(),
        owner_id: object_owner(&b, Some(me.user_id), None),
        attributes,
        retention: Default::default(),
    };
    let committed = state.engine.put_object(b.id, new, staged, &WriteCondition::None).await?;
    let reply = json!({
        "key": q.key,
        "etag": quoted(&committed.etag),
        "size": committed.size,
        "version_id": committed.version_id,
    });
    Ok((StatusCode::CREATED, Json(reply)))
}
