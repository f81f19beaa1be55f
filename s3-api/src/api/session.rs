//! Sign-in, sign-out and the session token.
//!
//! `POST /api/login` checks the argon2id password hash and returns a JWT (HS256 only, signed with
//! `CLOUDVAULT_JWT_SECRET`, or a key derived from the master key so every replica agrees) that expires
//! after `CLOUDVAULT_JWT_TTL_SECS`. The token carries the user's token version: sign-out, a password
//! change or disabling the user bumps it, which ends every token issued before. Five failed sign-ins for
//! one name from one address within 15 minutes get 429 with `Retry-After`, for unknown names too (no
//! user enumeration). Passwords are never logged.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::s3::identity::Principal;
use crate::secrets::verify_password;

/// Failed sign-ins allowed per name and address within [`THROTTLE_WINDOW`].
const MAX_FAILURES: usize = 5;
/// The sign-in throttling window.
const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Largest sign-in request body.
const MAX_LOGIN_BODY: usize = 16 * 1024;
/// A real argon2id hash checked for unknown names and users without a password, so a refusal takes as
/// long for them as for a wrong password.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| crate::secrets::hash_password(&crate::secrets::random_alphanumeric(24)).unwrap_or_default())
        .clone()
}

/// What a session token says.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's token version when the token was issued.
    pub ver: i64,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

/// Token keys, lifetime and the sign-in throttle.
pub struct Sessions {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
    failures: Mutex<HashMap<(String, IpAddr), Vec<Instant>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Sessions {
    /// Sessions signed with `secret`, valid for `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Sessions {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl,
            failures: Mutex::default(),
        }
    }

    /// Issues a token for `user_id` at token version `ver`.
    pub fn issue(&self, user_id: i64, ver: i64) -> ApiResult<(String, u64)> {
        let iat = now_secs();
        let claims = Claims { sub: user_id.to_string(), ver, iat, exp: iat + self.ttl.as_secs() };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
        Ok((token, claims.exp))
    }

    /// Verifies a token: signature (HS256 only: `alg: none` and other algorithms are refused), expiry
    /// (no leeway).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok().map(|d| d.claims)
    }

    /// Seconds until `key` may try again, if it is throttled.
    fn throttled(&self, key: &(String, IpAddr)) -> Option<u64> {
        let mut failures = self.failures.lock().ok()?;
        let list = failures.get_mut(key)?;
        list.retain(|t| t.elapsed() < THROTTLE_WINDOW);
        if list.len() < MAX_FAILURES {
            return None;
        }
        let oldest = list.iter().min()?;
        Some(THROTTLE_WINDOW.saturating_sub(oldest.elapsed()).as_secs().max(1))
    }

    fn record_failure(&self, key: (String, IpAddr)) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.entry(key).or_default().push(Instant::now());
        }
    }

    fn clear_failures(&self, key: &(String, IpAddr)) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }
}

/// The signed-in user of a console API request (from `Authorization: Bearer <jwt>`).
#[derive(Debug, Clone)]
pub struct Session(pub Principal);

impl FromRequestParts<ApiState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        let claims = state.sessions.verify(token.trim()).ok_or_else(ApiError::unauthorized)?;
        let user_id: i64 = claims.sub.parse().map_err(|_| ApiError::unauthorized())?;
        let (user, version) = state.engine.meta.user_session(user_id).await?.ok_or_else(ApiError::unauthorized)?;
        if !user.enabled || version != claims.ver {
            return Err(ApiError::unauthorized());
        }
        Ok(Session(Principal::user(user.id, user.name, user.role == "admin")))
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// `POST /api/login` `{"username", "password"}` -> `{"token", "expires_at", "user"}`.
pub async fn login(State(state): State<ApiState>, request: Request) -> ApiResult<Json<Value>> {
    let ip =
        request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let body = axum::body::to_bytes(request.into_body(), MAX_LOGIN_BODY)
        .await
        .map_err(|_| ApiError::bad_request("The request body is too large."))?;
    let LoginRequest { username, password } =
        serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("Expected {\"username\", \"password\"}."))?;
    let key = (username.to_lowercase(), ip);
    if let Some(retry_after) = state.sessions.throttled(&key) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Too many failed sign-ins; wait and retry.",
        );
        e.retry_after = Some(retry_after);
        return Err(e);
    }
    let found = state.engine.meta.user_credentials(&username).await?;
    let hash = found.as_ref().and_then(|(_, h, _)| h.clone()).unwrap_or_else(dummy_hash);
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    match found {
        Some((user, Some(_), version)) if password_ok && user.enabled => {
            state.sessions.clear_failures(&key);
            let (token, expires_at) = state.sessions.issue(user.id, version)?;
            tracing::info!(user = %user.name, "console sign-in");
            Ok(Json(json!({
                "token": token,
                "expires_at": expires_at,
                "user": { "id": user.id, "name": user.name, "role": user.role },
            })))
        }
        _ => {
            state.sessions.record_failure(key);
            tracing::info!(user = %username, %ip, "console sign-in refused");
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "Wrong user name or password."))
        }
    }
}

/// `POST /api/logout`: ends every session of the user (bumps the token version). 204.
pub async fn logout(State(state): State<ApiState>, Session(me): Session) -> ApiResult<StatusCode> {
    state.engine.meta.bump_token_version(me.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`.
pub async fn me(Session(me): Session) -> Json<Value> {
    Json(json!({ "id": me.user_id, "name": me.name, "role": if me.is_admin { "admin" } else { "user" } }))
}
