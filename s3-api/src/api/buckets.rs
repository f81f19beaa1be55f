//! `/api/buckets`: list (with object count and size, kept as counters), create, delete (a non-empty
//! bucket only with its object count confirmed), the public / private toggle (a bucket policy), and
//! `/api/usage`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use cloudvault_metadata::Versioning;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::objects::{authorized_bucket, delete_prefix};
use super::session::Session;
use crate::auth::iam::PolicyDocument;
use crate::engine::access::NewAccess;

/// Whether the bucket's policy lets anyone read its objects, and list it.
fn public_flags(name: &str, policy: Option<&str>) -> (bool, bool) {
    match policy.and_then(|p| PolicyDocument::parse(name, p).ok()) {
        Some(p) => (
            p.allows_anonymous("s3:GetObject", &format!("arn:aws:s3:::{name}/any-object")),
            p.allows_anonymous("s3:ListBucket", &format!("arn:aws:s3:::{name}")),
        ),
        None => (false, false),
    }
}

/// `GET /api/buckets`: the caller's own buckets (as S3 ListBuckets answers), with their counters.
pub async fn list(State(state): State<ApiState>, Session(me): Session) -> ApiResult<Json<Value>> {
    let buckets = state.engine.list_buckets_with_usage(Some(me.user_id)).await?;
    let items: Vec<Value> = buckets
        .into_iter()
        .map(|(b, u)| {
            let (public, public_listing) = public_flags(&b.name, b.policy.as_deref());
            json!({
                "name": b.name,
                "region": b.region,
                "created_at": b.created_at,
                "object_count": u.object_count,
                "bytes_used": u.bytes_used,
                "noncurrent_count": u.noncurrent_count,
                "noncurrent_bytes": u.noncurrent_bytes,
                "versioning": super::protection::versioning_name(b.versioning),
                "object_lock": b.object_lock.is_some(),
                "public": public,
                "public_listing": public_listing,
            })
        })
        .collect();
    Ok(Json(json!({ "buckets": items })))
}

/// Body of `POST /api/buckets`.
#[derive(Deserialize)]
pub struct CreateBucket {
    /// The bucket name.
    pub name: String,
    /// Create it with object lock (and so versioning) on, for good.
    #[serde(default)]
    pub object_lock: bool,
}

/// `POST /api/buckets` `{"name", "object_lock"}`: AWS naming rules (`invalid_bucket_name`),
/// `already_exists`; with `object_lock` the bucket is versioned and locked for good, as S3's
/// `x-amz-bucket-object-lock-enabled` makes it.
pub async fn create(
    State(state): State<ApiState>,
    Session(me): Session,
    Json(body): Json<CreateBucket>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !s3s::path::check_bucket_name(&body.name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_bucket_name",
            "Bucket names are 3-63 lower-case letters, digits, dots and hyphens, start and end with a letter or digit, and are not IP addresses.",
        ));
    }
    state.engine.create_bucket(&body.name, me.user_id, &state.region, body.object_lock, &NewAccess::default()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": body.name, "object_lock": body.object_lock }))))
}

/// Query of `DELETE /api/buckets/{name}`.
#[derive(Debug, Deserialize)]
pub struct RemoveQuery {
    /// Delete the bucket's objects first.
    #[serde(default)]
    pub force: bool,
    /// With `force`: the object count the user confirmed (`count_mismatch` when it changed).
    #[serde(default)]
    pub confirm_count: Option<i64>,
}

/// `DELETE /api/buckets/{name}`: only when empty (`bucket_not_empty`), or with `force=true` and the
/// confirmed `confirm_count` of its objects (not for a versioned bucket: `bucket_versioned`);
/// authorized like S3 DeleteBucket (and DeleteObject).
pub async fn remove(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> ApiResult<StatusCode> {
    let bucket = authorized_bucket(&state, &me, "s3:DeleteBucket", &name, None).await?;
    if q.force {
        if bucket.versioning != Versioning::Unversioned {
            // Deleting the keys of a versioned bucket only hides them behind delete markers; the bucket
            // would stay non-empty with every object hidden.
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "bucket_versioned",
                "A versioned bucket keeps every version: delete its versions first, then the bucket.",
            ));
        }
        let confirm = q
            .confirm_count
            .ok_or_else(|| ApiError::bad_request("force=true needs confirm_count, the number of objects."))?;
        delete_prefix(&state, &bucket, b"", confirm, &me).await?;
    }
    state.engine.delete_bucket(&bucket).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /api/buckets/{name}/public`.
#[derive(Debug, Deserialize)]
pub struct PublicToggle {
    /// Anyone may read the objects (`s3:GetObject` for `*`).
    pub public: bool,
    /// Anyone may also list the bucket (only with `public`).
    #[serde(default)]
    pub listing: bool,
}

/// `PUT /api/buckets/{name}/public`: makes the bucket public (objects readable by anyone, and listable
/// when `listing`) or private, by adding (or removing) the policy statements `PublicRead` and
/// `PublicList` (the rest of the policy stays), authorized like PutBucketPolicy; refused with
/// `public_access_blocked` while Block Public Access blocks public policies. Answers `{"public", "public_listing"}`.
pub async fn set_public(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<PublicToggle>,
) -> ApiResult<Json<Value>> {
    let action = if body.public { "s3:PutBucketPolicy" } else { "s3:DeleteBucketPolicy" };
    let bucket = authorized_bucket(&state, &me, action, &name, None).await?;
    // Only the toggle's own statements (by Sid) change; whatever else the policy says stays.
    let mut statements: Vec<Value> = match bucket.policy.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok())
    {
        Some(doc) => match doc.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    statements.retain(|st| !matches!(st.get("Sid").and_then(Value::as_str), Some("PublicRead" | "PublicList")));
    if body.public {
        statements.push(json!({
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": [format!("arn:aws:s3:::{name}/*")],
        }));
        if body.listing {
            statements.push(json!({
                "Sid": "PublicList",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{name}")],
            }));
        }
    }
    let policy =
        (!statements.is_empty()).then(|| json!({ "Version": "2012-10-17", "Statement": statements }).to_string());
    let document = policy
        .as_deref()
        .map(|p| PolicyDocument::parse(&name, p))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.0))?;
    state.engine.set_bucket_policy(&bucket, policy.as_deref(), document.is_some_and(|d| d.is_public())).await?;
    let (public, public_listing) = public_flags(&name, policy.as_deref());
    tracing::info!(user = %me.name, bucket = %name, public, public_listing, "bucket visibility changed");
    Ok(Json(json!({ "public": public, "public_listing": public_listing })))
}

/// `GET /api/usage`: object counts and bytes of the caller's buckets (an admin's: every bucket) and the
/// totals, from the counters every write keeps; current versions and noncurrent versions apart.
pub async fn usage(State(state): State<ApiState>, Session(me): Session) -> ApiResult<Json<Value>> {
    let owner = (!me.is_admin).then_some(me.user_id);
    let buckets = state.engine.list_buckets_with_usage(owner).await?;
    let (mut objects, mut bytes, mut old_count, mut old_bytes) = (0i64, 0i64, 0i64, 0i64);
    let items: Vec<Value> = buckets
        .iter()
        .map(|(b, u)| {
            objects += u.object_count;
            bytes += u.bytes_used;
            old_count += u.noncurrent_count;
            old_bytes += u.noncurrent_bytes;
            json!({
                "name": b.name,
                "object_count": u.object_count,
                "bytes_used": u.bytes_used,
                "noncurrent_count": u.noncurrent_count,
                "noncurrent_bytes": u.noncurrent_bytes,
            })
        })
        .collect();
    Ok(Json(json!({
        "buckets": items,
        "total": {
            "buckets": buckets.len(),
            "object_count": objects,
            "bytes_used": bytes,
            "noncurrent_count": old_count,
            "noncurrent_bytes": old_bytes,
        },
    })))
}
