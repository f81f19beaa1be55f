//! `/api/buckets/{bucket}/access`, `/policy`, `/acl`: a bucket's access settings for the console's
//! access page: object ownership, Block Public Access, the bucket policy (validated as
//! PutBucketPolicy validates it) and the bucket ACL. Each call is authorized as its S3 counterpart and
//! goes through the same engine calls, so the same rules (ACLs disabled under BucketOwnerEnforced,
//! Block Public Access) hold.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use cloudvault_metadata::Bucket;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::objects::authorized_bucket;
use super::session::Session;
use crate::auth::action_of;
use crate::auth::context::canonical_id;
use crate::auth::iam::PolicyDocument;
use crate::engine::access::{Acl, Canned, Grantee, Ownership, PublicAccessBlock, acls_enabled};
use crate::limits::MAX_POLICY_BYTES;

async fn grants_json(state: &ApiState, bucket: &Bucket) -> ApiResult<Vec<Value>> {
    let acl = Acl::of_bucket(bucket);
    let mut out = Vec::with_capacity(acl.grants.len());
    for g in &acl.grants {
        let (grantee, id) = match g.grantee {
            Grantee::User(user) => (state.keys.user_name(user).await?, Some(canonical_id(user))),
            Grantee::AllUsers => ("AllUsers".to_owned(), None),
            Grantee::AuthenticatedUsers => ("AuthenticatedUsers".to_owned(), None),
            Grantee::LogDelivery => ("LogDelivery".to_owned(), None),
        };
        out.push(json!({ "grantee": grantee, "id": id, "permission": g.permission.as_str() }));
    }
    Ok(out)
}

fn flags_json(bucket: &Bucket) -> Value {
    match bucket.public_access_block {
        None => Value::Null,
        Some(_) => serde_json::to_value(PublicAccessBlock::of(bucket)).unwrap_or(Value::Null),
    }
}

/// `GET /api/buckets/{bucket}/access`: `{"ownership", "acls_enabled", "public_access_block",
/// "policy", "policy_public", "acl"}`. Authorized like GetBucketOwnershipControls,
/// GetPublicAccessBlock, GetBucketPolicy and GetBucketAcl.
pub async fn details(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let b = authorized_bucket(&state, &me, &action_of("GetBucketOwnershipControls", false), &name, None).await?;
    for operation in ["GetPublicAccessBlock", "GetBucketPolicy", "GetBucketAcl"] {
        state.authorizer.authorize(Some(&me), &action_of(operation, false), Some(&name), None).await?;
    }
    let public = state.authorizer.policy_of(&b).is_some_and(|p| p.public);
    Ok(Json(json!({
        "ownership": Ownership::of(&b).map(Ownership::as_str),
        "acls_enabled": acls_enabled(&b),
        "public_access_block": flags_json(&b),
        "policy": b.policy,
        "policy_public": public,
        "acl": grants_json(&state, &b).await?,
    })))
}

/// Body of `PUT /api/buckets/{bucket}/access/ownership`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnershipRequest {
    /// `BucketOwnerEnforced`, `BucketOwnerPreferred`, `ObjectWriter`, or `null` (no controls).
    pub ownership: Option<String>,
}

/// `PUT /api/buckets/{bucket}/access/ownership` `{"ownership"}`: 204. Authorized like
/// PutBucketOwnershipControls; `BucketOwnerEnforced` is refused (400) while the bucket ACL grants others.
pub async fn set_ownership(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<OwnershipRequest>,
) -> ApiResult<StatusCode> {
    let b = authorized_bucket(&state, &me, &action_of("PutBucketOwnershipControls", false), &name, None).await?;
    let ownership = match body.ownership.as_deref() {
        None => None,
        Some(o) => Some(Ownership::parse(o).ok_or_else(|| ApiError::bad_request(format!("Unknown ownership {o:?}.")))?),
    };
    state.engine.set_ownership(&b, ownership).await?;
    tracing::info!(user = %me.name, bucket = %name, ownership = ?ownership, "bucket ownership changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /api/buckets/{bucket}/access/block`: the four flags, or `null` for none.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// The Block Public Access flags (`null`: remove the configuration).
    pub public_access_block: Option<PublicAccessBlock>,
}

/// `PUT /api/buckets/{bucket}/access/block` `{"public_access_block"}`: 204. Authorized like
/// PutPublicAccessBlock.
pub async fn set_block(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<BlockRequest>,
) -> ApiResult<StatusCode> {
    let b = authorized_bucket(&state, &me, &action_of("PutPublicAccessBlock", false), &name, None).await?;
    state.engine.set_public_access_block(&b, body.public_access_block).await?;
    tracing::info!(user = %me.name, bucket = %name, flags = ?body.public_access_block, "bucket public access block changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /api/buckets/{bucket}/policy`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// The policy document (JSON text), as PutBucketPolicy takes it.
    pub policy: String,
}

/// `PUT /api/buckets/{bucket}/policy` `{"policy"}`: validated as PutBucketPolicy validates it (400
/// `bad_request` with the reason), refused while Block Public Access blocks public policies (403
/// `public_access_blocked`); answers `{"policy_public"}`. Authorized like PutBucketPolicy.
pub async fn set_policy(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<PolicyRequest>,
) -> ApiResult<Json<Value>> {
    let b = authorized_bucket(&state, &me, &action_of("PutBucketPolicy", false), &name, None).await?;
    if body.policy.len() > MAX_POLICY_BYTES {
        return Err(ApiError::bad_request("Policies must be at most 20 KB."));
    }
    let policy = PolicyDocument::parse(&name, &body.policy).map_err(|e| ApiError::bad_request(e.0))?;
    state.engine.set_bucket_policy(&b, Some(&body.policy), policy.is_public()).await?;
    tracing::info!(user = %me.name, bucket = %name, public = policy.is_public(), "bucket policy set");
    Ok(Json(json!({ "policy_public": policy.is_public() })))
}

/// `DELETE /api/buckets/{bucket}/policy`: 204. Authorized like DeleteBucketPolicy.
pub async fn remove_policy(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let b = authorized_bucket(&state, &me, &action_of("DeleteBucketPolicy", false), &name, None).await?;
    state.engine.set_bucket_policy(&b, None, false).await?;
    tracing::info!(user = %me.name, bucket = %name, "bucket policy removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /api/buckets/{bucket}/acl`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRequest {
    /// A canned bucket ACL (`private`, `public-read`, `public-read-write`, `authenticated-read`,
    /// `log-delivery-write`).
    pub canned: String,
}

/// `PUT /api/buckets/{bucket}/acl` `{"canned"}`: answers the new grants. Authorized like
/// PutBucketAcl; refused (400) while ACLs are disabled, (403 `public_access_blocked`) when public
/// while Block Public Access blocks public ACLs.
pub async fn set_acl(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(name): Path<String>,
    Json(body): Json<AclRequest>,
) -> ApiResult<Json<Value>> {
    let b = authorized_bucket(&state, &me, &action_of("PutBucketAcl", false), &name, None).await?;
    let canned = Canned::parse(&body.canned)
        .filter(|c| !matches!(c, Canned::BucketOwnerRead | Canned::BucketOwnerFullControl))
        .ok_or_else(|| ApiError::bad_request(format!("Unknown bucket ACL {:?}.", body.canned)))?;
    state.engine.set_bucket_acl(&b, &canned.acl(b.owner_id, b.owner_id)).await?;
    tracing::info!(user = %me.name, bucket = %name, acl = %body.canned, "bucket ACL changed");
    // The bucket as just written (the caller may set the ACL without being allowed to read it back
    // through the authorizer; the answer only shows what they set).
    let fresh = state.engine.bucket_fresh(&name).await?.ok_or_else(|| ApiError::not_found("No such bucket."))?;
    Ok(Json(json!({ "acl": grants_json(&state, &fresh).await? })))
}
