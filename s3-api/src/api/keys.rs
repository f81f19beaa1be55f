//! `/api/keys`: the caller's S3 access keys: list, create (the secret is returned once), disable,
//! enable, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use cloudvault_metadata::AccessKey;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::session::Session;
use crate::engine::now_ms;
use crate::secrets::random_alphanumeric;

/// `GET /api/keys`: ids, state and expiry; never secrets.
pub async fn list(State(state): State<ApiState>, Session(me): Session) -> ApiResult<Json<Value>> {
    let keys = state.engine.meta.list_access_keys(me.user_id).await?;
    let items: Vec<Value> = keys
        .into_iter()
        .map(|k| json!({ "access_key_id": k.access_key_id, "enabled": k.enabled, "expires_at": k.expires_at }))
        .collect();
    Ok(Json(json!({ "keys": items })))
}

/// Body of `POST /api/keys`.
#[derive(Deserialize, Default)]
pub struct CreateKey {
    /// Expire the key after this many days.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// `POST /api/keys` `{"expires_in_days"?}` -> `{"access_key_id", "secret_access_key"}` (shown once).
pub async fn create(
    State(state): State<ApiState>,
    Session(me): Session,
    body: Option<Json<CreateKey>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let access_key_id = format!("CV{}", random_alphanumeric(18).to_uppercase());
    let secret = random_alphanumeric(40);
    let key = AccessKey {
        access_key_id: access_key_id.clone(),
        user_id: me.user_id,
        secret: state.keys.seal(&access_key_id, &secret),
        enabled: true,
        expires_at: body.expires_in_days.map(|d| now_ms() + i64::from(d) * 86_400_000),
    };
    state.engine.meta.insert_access_key(&key, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "access_key_id": access_key_id, "secret_access_key": secret }))))
}

/// The key `id` if it belongs to the caller (admins: anyone's), else 404 (no probing of other users' ids).
async fn own_key(state: &ApiState, me: &crate::s3::identity::Principal, id: &str) -> ApiResult<()> {
    match state.engine.meta.access_key(id).await? {
        Some(k) if k.user_id == me.user_id || me.is_admin => Ok(()),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such access key.")),
    }
}

/// `DELETE /api/keys/{id}`: 204.
pub async fn remove(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    own_key(&state, &me, &id).await?;
    state.engine.meta.delete_access_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/keys/{id}/disable`: 204; refused on every replica within the key cache lifetime.
pub async fn disable(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    own_key(&state, &me, &id).await?;
    state.engine.meta.set_access_key_enabled(&id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/keys/{id}/enable`: 204.
pub async fn enable(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    own_key(&state, &me, &id).await?;
    state.engine.meta.set_access_key_enabled(&id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}
