//! `/api/keys`: the caller's S3 access keys: list, create (the secret is returned once), disable,
//! enable, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use cloudvault_metadata::{AccessKey, KeyPurpose};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::session::Session;
use crate::auth::{KeyAccess, KeyScope};
use crate::engine::now_ms;

/// Longest key lifetime that can be asked for (10 years).
const MAX_EXPIRY_DAYS: u32 = 3650;

/// The restriction fields of a key as JSON (`buckets`: null when unrestricted; `access`).
fn scope_json(scope: Option<&KeyScope>) -> (Value, &'static str) {
    match scope {
        Some(s) => (json!(s.buckets), if s.access == KeyAccess::Read { "read" } else { "readwrite" }),
        None => (Value::Null, "readwrite"),
    }
}

fn key_json(k: &AccessKey) -> Value {
    let scope = k.scope.as_deref().map(KeyScope::from_json);
    let (buckets, access) = scope_json(scope.as_ref());
    json!({
        "access_key_id": k.access_key_id,
        "enabled": k.enabled,
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "buckets": buckets,
        "access": access,
    })
}

/// `GET /api/keys`: ids, state, expiry and restriction; never secrets.
pub async fn list(State(state): State<ApiState>, Session(me): Session) -> ApiResult<Json<Value>> {
    let keys = state.keys.list_access_keys(me.user_id).await?;
    Ok(Json(json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() })))
}

/// Body of `POST /api/keys`.
#[derive(Deserialize, Default)]
pub struct CreateKey {
    /// Expire the key after this many days (1..=3650).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Restrict the key to these buckets.
    #[serde(default)]
    pub buckets: Option<Vec<String>>,
    /// `read` (reads only) or `readwrite` (the default).
    #[serde(default)]
    pub access: Option<KeyAccess>,
}

/// `POST /api/keys` -> `{"access_key_id", "secret_access_key", "expires_at", "buckets", "access"}`
/// (the secret is shown once).
pub async fn create(
    State(state): State<ApiState>,
    Session(me): Session,
    body: Option<Json<CreateKey>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    if body.expires_in_days.is_some_and(|d| !(1..=MAX_EXPIRY_DAYS).contains(&d)) {
        return Err(ApiError::bad_request("expires_in_days must be between 1 and 3650."));
    }
    let scope = match (body.buckets, body.access) {
        (None, None | Some(KeyAccess::ReadWrite)) => None,
        (buckets, access) => {
            // Without a bucket list the restriction is the access alone (read-only on every bucket).
            if let Some(list) = &buckets {
                if list.is_empty() {
                    return Err(ApiError::bad_request("A restricted key names at least one bucket."));
                }
                if list.iter().any(|b| !s3s::path::check_bucket_name(b)) {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_bucket_name",
                        "A bucket name is not valid.",
                    ));
                }
            }
            Some(KeyScope { buckets, access: access.unwrap_or(KeyAccess::ReadWrite) })
        }
    };
    let expires_at = body.expires_in_days.map(|d| now_ms() + i64::from(d) * 86_400_000);
    let (key, secret) = state.keys.mint(me.user_id, KeyPurpose::User, expires_at, scope.as_ref());
    state.keys.insert_access_key(&key).await?;
    let (buckets, access) = scope_json(scope.as_ref());
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "access_key_id": key.access_key_id,
            "secret_access_key": secret,
            "expires_at": expires_at,
            "buckets": buckets,
            "access": access,
        })),
    ))
}

/// The key `id` if it is a user key of the caller (admins: anyone's), else 404 (no probing of other
/// users' ids; console keys are the server's, not the user's to manage).
async fn own_key(state: &ApiState, me: &crate::auth::Principal, id: &str) -> ApiResult<()> {
    match state.keys.access_key(id).await? {
        Some(k) if k.purpose == KeyPurpose::User && (k.user_id == me.user_id || me.is_admin) => Ok(()),
        _ => Err(ApiError::not_found("No such access key.")),
    }
}

/// `DELETE /api/keys/{id}`: 204.
pub async fn remove(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    own_key(&state, &me, &id).await?;
    state.keys.delete_access_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/keys/{id}/disable`: 204; refused on every replica within the key cache lifetime.
pub async fn disable(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    own_key(&state, &me, &id).await?;
    state.keys.set_access_key_enabled(&id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/keys/{id}/enable`: 204.
pub async fn enable(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    own_key(&state, &me, &id).await?;
    state.keys.set_access_key_enabled(&id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}
