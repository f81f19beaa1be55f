//! `/api/users` (admins only): list, create, disable / enable, reset a password, delete; and
//! `/api/me/password`, where any user changes their own password. Password changes and disabling end
//! the user's sessions (their token version moves on).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use cloudvault_metadata::{UserDeletion, UserId};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::session::Session;
use crate::auth::Principal;
use crate::engine::now_ms;

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

fn require_admin(me: &Principal) -> ApiResult<()> {
    if me.is_admin { Ok(()) } else { Err(ApiError::forbidden("Only administrators manage users.")) }
}

fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN || password.len() > 1024 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "weak_password",
            "Passwords are at least 8 characters (and at most 1024 bytes).",
        ));
    }
    Ok(())
}

/// Hashes a password in the bounded pool (argon2id is deliberately slow and memory-hard).
async fn hash(state: &ApiState, password: String) -> ApiResult<String> {
    Ok(state.passwords.hash(password).await?)
}

/// `GET /api/users`.
pub async fn list(State(state): State<ApiState>, Session(me): Session) -> ApiResult<Json<Value>> {
    require_admin(&me)?;
    let users = state.keys.list_users().await?;
    let items: Vec<Value> = users
        .into_iter()
        .map(
            |u| json!({ "id": u.id, "name": u.name, "role": u.role, "enabled": u.enabled, "created_at": u.created_at }),
        )
        .collect();
    Ok(Json(json!({ "users": items })))
}

/// Body of `POST /api/users`.
#[derive(Debug, Deserialize)]
pub struct CreateUser {
    /// Sign-in name (1 to 128 characters).
    pub name: String,
    /// Initial password (at least 8 characters).
    pub password: String,
    /// `admin` or `user`.
    pub role: Role,
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full access to every bucket and user.
    Admin,
    /// Access to their own buckets.
    User,
}

/// `POST /api/users`: 201 `{"id", "name", "role"}`.
pub async fn create(
    State(state): State<ApiState>,
    Session(me): Session,
    Json(body): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_admin(&me)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request("User names are 1 to 128 printable characters."));
    }
    check_password(&body.password)?;
    let role = if body.role == Role::Admin { "admin" } else { "user" };
    let hash = hash(&state, body.password).await?;
    let user = state
        .keys
        .create_user(name, role, Some(&hash), now_ms())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "already_exists", "A user with this name exists."))?;
    tracing::info!(admin = %me.name, user = %user.name, role, "user created");
    Ok((StatusCode::CREATED, Json(json!({ "id": user.id, "name": user.name, "role": user.role }))))
}

async fn set_enabled(state: &ApiState, me: &Principal, id: UserId, enabled: bool) -> ApiResult<StatusCode> {
    require_admin(me)?;
    if id == me.user_id && !enabled {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "You cannot disable yourself."));
    }
    if !state.keys.set_user_enabled(id, enabled).await? {
        return Err(ApiError::not_found("No such user."));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/users/{id}/disable`: the user can no longer sign in, their sessions end and their keys
/// stop working (within the key cache lifetime). 204.
pub async fn disable(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    set_enabled(&state, &me, id, false).await
}

/// `POST /api/users/{id}/enable`: 204.
pub async fn enable(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    set_enabled(&state, &me, id, true).await
}

/// Body of `POST /api/users/{id}/password`.
#[derive(Debug, Deserialize)]
pub struct ResetPassword {
    /// The new password.
    pub password: String,
}

/// `POST /api/users/{id}/password`: an admin sets a user's password; their sessions end. 204.
pub async fn reset_password(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<UserId>,
    Json(body): Json<ResetPassword>,
) -> ApiResult<StatusCode> {
    require_admin(&me)?;
    check_password(&body.password)?;
    let hash = hash(&state, body.password).await?;
    if !state.keys.set_password_hash(id, &hash).await? {
        return Err(ApiError::not_found("No such user."));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/users/{id}`: 204; refused for oneself and for users who still own buckets.
pub async fn remove(
    State(state): State<ApiState>,
    Session(me): Session,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    require_admin(&me)?;
    if id == me.user_id {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "You cannot delete yourself."));
    }
    match state.keys.delete_user(id).await? {
        UserDeletion::Deleted => Ok(StatusCode::NO_CONTENT),
        UserDeletion::NotFound => Err(ApiError::not_found("No such user.")),
        UserDeletion::OwnsBuckets => Err(ApiError::new(
            StatusCode::CONFLICT,
            "user_owns_buckets",
            "The user still owns buckets; delete them first.",
        )),
    }
}

/// Body of `POST /api/me/password`.
#[derive(Debug, Deserialize)]
pub struct ChangePassword {
    /// The password now.
    pub current_password: String,
    /// The password to set.
    pub new_password: String,
}

/// `POST /api/me/password`: checks the current password, sets the new one, ends every older session and
/// returns a fresh token `{"token", "expires_at"}`. A wrong current password is 403 `forbidden`.
pub async fn change_own(
    State(state): State<ApiState>,
    Session(me): Session,
    extensions: http::Extensions,
    headers: axum::http::HeaderMap,
    Json(body): Json<ChangePassword>,
) -> ApiResult<Json<Value>> {
    check_password(&body.new_password)?;
    let (_, stored, _) = state.keys.user_credentials(&me.name).await?.ok_or_else(ApiError::unauthorized)?;
    let address = super::session::request_address(&extensions, &headers, &state).to_string();
    let name_key = format!("password-change:{}", me.name.to_lowercase());
    let ok = match stored {
        Some(h) => super::session::checked_attempt(&state, &name_key, &address, body.current_password, h).await?,
        None => false,
    };
    if !ok {
        return Err(ApiError::forbidden("The current password is wrong."));
    }
    let hash = hash(&state, body.new_password).await?;
    state.keys.set_password_hash(me.user_id, &hash).await?;
    let (_, version) = state.keys.user_session(me.user_id).await?.ok_or_else(ApiError::unauthorized)?;
    let (token, expires_at) = state.sessions.issue(me.user_id, version)?;
    Ok(Json(json!({ "token": token, "expires_at": expires_at })))
}
