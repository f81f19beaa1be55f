//! `/api/buckets`: list (with object count and size, kept as counters), create, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::session::Session;
use crate::engine::now_ms;

/// `GET /api/buckets`: the caller's own buckets (as S3 ListBuckets answers), with their counters.
pub async fn list(State(state): State<ApiState>, Session(me): Session) -> ApiResult<Json<Value>> {
    let buckets = state.engine.meta.list_buckets(Some(me.user_id)).await?;
    let items: Vec<Value> = buckets
        .into_iter()
        .map(|b| {
            json!({
                "name": b.name,
                "region": b.region,
                "created_at": b.created_at,
                "object_count": b.object_count,
                "bytes_used": b.bytes_used,
                "public": b.policy.is_some(),
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
}

/// `POST /api/buckets` `{"name"}`: AWS naming rules (`invalid_bucket_name`), `already_exists`.
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
    state.engine.meta.create_bucket(&body.name, me.user_id, &state.region, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": body.name }))))
}

/// `DELETE /api/buckets/{name}`: only when empty (`bucket_not_empty`); authorized like S3 DeleteBucket.
pub async fn remove(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.authorizer.authorize(Some(&me), "s3:DeleteBucket", Some(&name), None).await?;
    let bucket = state
        .engine
        .meta
        .bucket(&name)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such bucket."))?;
    state.engine.meta.delete_bucket(bucket.id, now_ms()).await?;
    state.authorizer.invalidate(&name);
    Ok(StatusCode::NO_CONTENT)
}
