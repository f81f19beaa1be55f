//! A bucket's data-protection settings for the console: `GET /api/buckets/{bucket}` (counters,
//! versioning, object lock, lifecycle rules), and `PUT .../versioning`, `PUT .../object-lock`,
//! `PUT`/`DELETE .../lifecycle`.
//!
//! Each call is authorized as its S3 counterpart and goes through the same engine calls and the same
//! validation ([`Lifecycle::validated`], [`default_period`]) as the S3 operations. Unknown fields are
//! refused, never ignored: a setting the console API does not know is an error.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use cloudvault_metadata::{Bucket, BucketLock, LockMode, RetentionPeriod, Versioning};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::objects::authorized_bucket;
use super::session::Session;
use crate::auth::action_of;
use crate::engine::lifecycle::{Filter, Lifecycle, Rule};
use crate::engine::lock::default_period;

/// The API's name of a versioning state.
pub(super) fn versioning_name(v: Versioning) -> &'static str {
    match v {
        Versioning::Unversioned => "Unversioned",
        Versioning::Enabled => "Enabled",
        Versioning::Suspended => "Suspended",
    }
}

/// A default retention as the API shows and takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRetention {
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
    /// The period in days (exactly one of `days` and `years`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// The period in years (of 365 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i64>,
}

fn lock_json(lock: Option<&BucketLock>) -> Value {
    let Some(lock) = lock else { return Value::Null };
    let default = lock.default.map(|(mode, period)| {
        let (days, years) = match period {
            RetentionPeriod::Days(d) => (Some(d), None),
            RetentionPeriod::Years(y) => (None, Some(y)),
        };
        DefaultRetention { mode: mode.as_str().to_owned(), days, years }
    });
    json!({ "enabled": true, "default_retention": default })
}

/// One lifecycle rule as the API shows and takes it (the engine's rule, named for JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleJson {
    /// Unique within the bucket, at most 255 characters; empty or missing gets `rule-N`.
    #[serde(default)]
    pub id: String,
    /// Whether the rule is applied.
    pub enabled: bool,
    /// Keys starting with this (empty: every key).
    #[serde(default)]
    pub prefix: String,
    /// Objects carrying all of these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Objects larger than this many bytes.
    #[serde(default)]
    pub size_greater_than: Option<i64>,
    /// Objects smaller than this many bytes.
    #[serde(default)]
    pub size_less_than: Option<i64>,
    /// Expire current versions this many days after they were written.
    #[serde(default)]
    pub expiration_days: Option<i64>,
    /// Expire current versions from this time on (unix ms, a midnight UTC).
    #[serde(default)]
    pub expiration_date: Option<i64>,
    /// Remove delete markers that are the only version left of their key.
    #[serde(default)]
    pub expired_object_delete_marker: bool,
    /// Expire noncurrent versions this many days after they became noncurrent.
    #[serde(default)]
    pub noncurrent_days: Option<i64>,
    /// ...but keep this many of the newest noncurrent versions.
    #[serde(default)]
    pub newer_noncurrent_versions: Option<i64>,
    /// Abort incomplete multipart uploads this many days after they started.
    #[serde(default)]
    pub abort_incomplete_days: Option<i64>,
}

impl From<&Rule> for RuleJson {
    fn from(r: &Rule) -> Self {
        RuleJson {
            id: r.id.clone(),
            enabled: r.enabled,
            prefix: r.filter.prefix.clone(),
            tags: r.filter.tags.clone(),
            size_greater_than: r.filter.size_greater_than,
            size_less_than: r.filter.size_less_than,
            expiration_days: r.expiration_days,
            expiration_date: r.expiration_date_ms,
            expired_object_delete_marker: r.expired_object_delete_marker,
            noncurrent_days: r.noncurrent_days,
            newer_noncurrent_versions: r.newer_noncurrent_versions,
            abort_incomplete_days: r.abort_incomplete_days,
        }
    }
}

impl From<RuleJson> for Rule {
    fn from(r: RuleJson) -> Self {
        Rule {
            id: r.id,
            enabled: r.enabled,
            filter: Filter {
                prefix: r.prefix,
                tags: r.tags,
                size_greater_than: r.size_greater_than,
                size_less_than: r.size_less_than,
            },
            expiration_days: r.expiration_days,
            expiration_date_ms: r.expiration_date,
            expired_object_delete_marker: r.expired_object_delete_marker,
            noncurrent_days: r.noncurrent_days,
            newer_noncurrent_versions: r.newer_noncurrent_versions,
            abort_incomplete_days: r.abort_incomplete_days,
        }
    }
}

fn lifecycle_json(bucket: &Bucket) -> ApiResult<Value> {
    Ok(match Lifecycle::of(bucket)? {
        None => Value::Null,
        Some(l) => json!({ "rules": l.rules.iter().map(RuleJson::from).collect::<Vec<_>>() }),
    })
}

/// `GET /api/buckets/{bucket}`: the bucket's counters (current and noncurrent), versioning state,
/// object lock (`null` without one) and lifecycle rules (`null` without any). Authorized like
/// GetBucketVersioning, GetObjectLockConfiguration and GetBucketLifecycleConfiguration.
pub async fn details(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    // A signed-in caller's bucket is read fresh: counters and settings as committed.
    let b = authorized_bucket(&state, &me, "s3:GetBucketVersioning", &name, None).await?;
    for operation in ["GetObjectLockConfiguration", "GetBucketLifecycleConfiguration"] {
        let action = &action_of(operation, false);
        state.authorizer.authorize(Some(&me), action, Some(&name), None).await?;
    }
    let u = state.engine.bucket_usage(&b).await?;
    Ok(Json(json!({
        "name": b.name,
        "region": b.region,
        "created_at": b.created_at,
        "object_count": u.object_count,
        "bytes_used": u.bytes_used,
        "noncurrent_count": u.noncurrent_count,
        "noncurrent_bytes": u.noncurrent_bytes,
        "versioning": versioning_name(b.versioning),
        "object_lock": lock_json(b.object_lock.as_ref()),
        "lifecycle": lifecycle_json(&b)?,
    })))
}

/// Body of `PUT /api/buckets/{bucket}/versioning`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersioningRequest {
    /// `Enabled` or `Suspended` (a bucket never goes back to unversioned).
    pub status: String,
}

/// `PUT /api/buckets/{bucket}/versioning` `{"status"}`: `{"versioning"}`. Suspending a bucket with
/// object lock is 409 `invalid_bucket_state`. Authorized like PutBucketVersioning.
pub async fn set_versioning(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<VersioningRequest>,
) -> ApiResult<Json<Value>> {
    let wanted = match body.status.as_str() {
        "Enabled" => Versioning::Enabled,
        "Suspended" => Versioning::Suspended,
        _ => return Err(ApiError::bad_request("status must be Enabled or Suspended.")),
    };
    let b = authorized_bucket(&state, &me, "s3:PutBucketVersioning", &name, None).await?;
    state.engine.set_versioning(&b, wanted).await?;
    tracing::info!(user = %me.name, bucket = %name, versioning = wanted.as_str(), "bucket versioning changed");
    Ok(Json(json!({ "versioning": versioning_name(wanted) })))
}

/// Body of `PUT /api/buckets/{bucket}/object-lock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockRequest {
    /// The retention new versions get when their write names none (`null`: none).
    #[serde(default)]
    pub default_retention: Option<DefaultRetention>,
}

/// `PUT /api/buckets/{bucket}/object-lock` `{"default_retention"}`: switches object lock on for a
/// versioned bucket (for good: 409 `invalid_bucket_state` when versioning is not enabled) and sets its
/// default retention. Answers the new `object_lock`. Authorized like PutObjectLockConfiguration.
pub async fn set_lock(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<LockRequest>,
) -> ApiResult<Json<Value>> {
    let default = match body.default_retention {
        None => None,
        Some(d) => {
            let mode = LockMode::parse(&d.mode)
                .ok_or_else(|| ApiError::bad_request("mode must be GOVERNANCE or COMPLIANCE."))?;
            Some((mode, default_period(d.days, d.years)?))
        }
    };
    let b = authorized_bucket(&state, &me, &action_of("PutObjectLockConfiguration", false), &name, None).await?;
    let lock = BucketLock { default };
    state.engine.set_bucket_lock(&b, &lock).await?;
    tracing::info!(user = %me.name, bucket = %name, "bucket object lock configured");
    Ok(Json(json!({ "object_lock": lock_json(Some(&lock)) })))
}

/// Body of `PUT /api/buckets/{bucket}/lifecycle`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRequest {
    /// The rules (1 to 1000), replacing the bucket's.
    pub rules: Vec<RuleJson>,
}

/// `PUT /api/buckets/{bucket}/lifecycle` `{"rules"}`: replaces the rules, validated as S3's
/// PutBucketLifecycleConfiguration validates them (400 `bad_request` with AWS's message); answers the
/// stored rules (missing ids filled in). Authorized like PutBucketLifecycleConfiguration.
pub async fn set_lifecycle(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<LifecycleRequest>,
) -> ApiResult<Json<Value>> {
    let rules = Lifecycle { rules: body.rules.into_iter().map(Rule::from).collect() }.validated()?;
    let b = authorized_bucket(&state, &me, &action_of("PutBucketLifecycleConfiguration", false), &name, None).await?;
    state.engine.set_lifecycle(&b, Some(&rules)).await?;
    tracing::info!(user = %me.name, bucket = %name, rules = rules.rules.len(), "bucket lifecycle changed");
    Ok(Json(json!({ "rules": rules.rules.iter().map(RuleJson::from).collect::<Vec<_>>() })))
}

/// `DELETE /api/buckets/{bucket}/lifecycle`: 204; no rule applies any more. Authorized like
/// DeleteBucketLifecycle.
pub async fn remove_lifecycle(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let b = authorized_bucket(&state, &me, &action_of("DeleteBucketLifecycle", false), &name, None).await?;
    state.engine.set_lifecycle(&b, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
