//! `/api/buckets/{bucket}/versions` and `/object/restore`: the versions of a versioned bucket (delete
//! markers included) and the restore of an old version as the current one. Reads, downloads, shares
//! and deletes of one version are the object calls with a `version_id` (`objects.rs`, `presign.rs`).
//!
//! Each call is authorized as its S3 counterpart (ListObjectVersions; GetObjectVersion + PutObject
//! for a restore, which is a CopyObject of the version onto its own key) and calls the engine, so
//! object lock and versioning are enforced where they are for S3.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use cloudvault_metadata::{Bucket, ListColumns, ListedVersion, ObjectRecord, WriteCondition};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::objects::{authorized_bucket_with, key_text, listing_bucket, quoted};
use super::session::Session;
use crate::auth::context::version_keys;
use crate::auth::{Principal, action_of};
use crate::engine::access::object_owner;
use crate::engine::attributes::ObjectAttributes;
use crate::engine::{ListParams, NewObject, parse_version};
use crate::limits::{CONSOLE_DEFAULT_PAGE, MAX_COPY_SIZE, MAX_KEYS_PER_PAGE};

/// Authorizes reading `key` (or its version `version_id`) and returns the version: the current
/// object without an id; 404 `not_found` when there is none, or the id names a delete marker.
pub(super) async fn readable_version(
    state: &ApiState,
    me: &Principal,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> ApiResult<(std::sync::Arc<Bucket>, ObjectRecord)> {
    let action = action_of("GetObject", version_id.is_some());
    let b = authorized_bucket_with(state, me, &action, bucket, Some(key), version_keys(version_id)).await?;
    let object = match version_id {
        None => state.engine.object(b.id, key.as_bytes()).await?,
        Some(id) => {
            let sel = parse_version(id)?;
            match state.engine.object_version(b.id, key.as_bytes(), &sel).await? {
                Some(v) if v.is_marker => return Err(ApiError::not_found("That version is a delete marker.")),
                other => other.map(|v| v.object),
            }
        }
    };
    Ok((b, object.ok_or_else(|| ApiError::not_found("No such object or version."))?))
}

/// Query of `GET /api/buckets/{bucket}/versions`.
#[derive(Debug, Deserialize)]
pub struct VersionsQuery {
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Roll keys up at this string into `prefixes` (folders).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Resume after this key (the `next_key` of the previous page)...
    #[serde(default)]
    pub after_key: Option<String>,
    /// ...and after this version of it (its `next_version`).
    #[serde(default)]
    pub after_version: Option<String>,
    /// Page size, 1..=1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

fn version_json(v: &ListedVersion) -> Value {
    json!({
        "key": key_text(&v.object.key),
        "version_id": v.version_id,
        "is_latest": v.is_latest,
        "is_delete_marker": v.is_marker,
        "size": v.object.size,
        "etag": if v.is_marker { Value::Null } else { Value::String(quoted(&v.object.etag)) },
        "last_modified": v.object.last_modified,
    })
}

/// `GET /api/buckets/{bucket}/versions`: one page of versions and delete markers, by key and newest
/// first, with folders; `next_key` / `next_version` resume it. Authorized like ListObjectVersions.
pub async fn list(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Query(q): Query<VersionsQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(CONSOLE_DEFAULT_PAGE);
    if !(1..=MAX_KEYS_PER_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000."));
    }
    let after_key = q.after_key.as_deref().filter(|k| !k.is_empty());
    let after_version = q.after_version.as_deref().filter(|v| !v.is_empty());
    if let Some(id) = after_version {
        if after_key.is_none() {
            return Err(ApiError::bad_request("after_version needs after_key."));
        }
        parse_version(id)?;
    }
    let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty());
    let b = listing_bucket(&state, &me, "s3:ListBucketVersions", &bucket, &q.prefix, delimiter, limit).await?;
    let params = ListParams {
        prefix: q.prefix.as_bytes(),
        delimiter: q.delimiter.as_deref().filter(|d| !d.is_empty()).map(str::as_bytes),
        marker: after_key.map(str::as_bytes),
        marker_id: after_version,
        max: limit as usize,
        columns: ListColumns::Bare,
    };
    let page = state.engine.list_versions(b.id, params).await?;
    let next_key = if page.truncated { page.last.as_deref().map(key_text) } else { None };
    let next_version = next_key.as_ref().and(Some(page.last_id)).filter(|id| !id.is_empty());
    Ok(Json(json!({
        "versions": page.items.iter().map(version_json).collect::<Vec<_>>(),
        "prefixes": page.prefixes.iter().map(|p| key_text(p)).collect::<Vec<_>>(),
        "next_key": next_key,
        "next_version": next_version,
    })))
}

/// Body of `POST /api/buckets/{bucket}/object/restore`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The object key.
    pub key: String,
    /// The version to make current again.
    pub version_id: String,
}

/// `POST /api/buckets/{bucket}/object/restore` `{"key", "version_id"}`: copies that version's bytes
/// and attributes (type, metadata, tags) into a new current version, as S3's CopyObject of a version
/// onto its own key does, within its 5 GiB limit; the old version stays. 201 `{"key", "version_id",
/// "etag", "size"}`.
pub async fn restore(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(bucket): Path<String>,
    Json(body): Json<RestoreRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (b, source) = readable_version(&state, &me, &bucket, &body.key, Some(&body.version_id)).await?;
    state.authorizer.authorize(Some(&me), "s3:PutObject", Some(&bucket), Some(&body.key)).await?;
    if source.size > MAX_COPY_SIZE {
        return Err(ApiError::bad_request(
            "A version over 5 GiB cannot be restored in one copy (S3's CopyObject limit); use a multipart copy.",
        ));
    }
    let mut attributes = ObjectAttributes::decode(&source.attributes)?;
    // The copy is rewritten, not linked: its stored checksum would describe bytes it did not hash.
    attributes.checksum = None;
    attributes.upload_id = None;
    // A copy gets the ACL its request asks for (none: private), never the source's.
    attributes.acl = None;
    let staged = state.engine.stage_copy(&source, 0..source.size.max(0) as u64, &mut |_| {}).await?;
    let new = NewObject {
        key: body.key.clone().into_bytes(),
        owner_id: object_owner(&b, Some(me.user_id), None),
        attributes,
        retention: Default::default(),
    };
    let committed = state.engine.put_object(b.id, new, staged, &WriteCondition::None).await?;
    tracing::info!(user = %me.name, bucket = %bucket, version = %body.version_id, "version restored");
    let reply = json!({
        "key": body.key,
        "version_id": committed.version_id,
        "etag": quoted(&committed.etag),
        "size": committed.size,
    });
    Ok((StatusCode::CREATED, Json(reply)))
}
