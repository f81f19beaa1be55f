//! Sign-in, sign-out and the session token.
//!
//! `POST /api/login` checks the argon2id password hash and returns a JWT (HS256 only, signed with
//! `CLOUDVAULT_JWT_SECRET`, or a key derived from the master key so every replica agrees) that expires
//! after `CLOUDVAULT_JWT_TTL_SECS`. The token carries the user's token version: sign-out, a password
//! change or disabling the user bumps it, which ends every token issued before. Five failed sign-ins for
//! one name from one address within 15 minutes get 429 with `Retry-After`, for unknown names too (no
//! user enumeration); failures are counted in the metadata store, so the limit holds across replicas.
//! Passwords are never logged.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::auth::Principal;
use crate::auth::origin::Origin;

/// Failed sign-ins allowed per name and address within [`THROTTLE_WINDOW`].
const MAX_FAILURES: i64 = 5;
/// The sign-in throttling window.
const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Largest sign-in request body.
const MAX_LOGIN_BODY: usize = 16 * 1024;
/// An argon2id hash with the default cost, checked for unknown names and users without a password so
/// a refusal takes as long for them as for a wrong password. Its salt and output are random bytes: no
/// known password matches it, and a match would still be refused (no stored hash). A constant, so no
/// request computes a hash outside the bounded pool (a unit test keeps its cost equal to
/// `hash_password`'s).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$tQdoUm6/1hDEmOuPhG+O5w$ij5oSREWt8Qj6IqL1G7luiOPD5EnD5dag/epmxi7Oi4";

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

/// Token keys and lifetime.
pub struct Sessions {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch (token and URL expiries).
pub(super) fn now_secs() -> u64 {
    u64::try_from(crate::engine::now_ms() / 1000).unwrap_or(0)
}

impl Sessions {
    /// Sessions signed with `secret`, valid for `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Sessions { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), ttl }
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
}

/// The origin of a console API request (see [`Origin::of`]), from the peer the listener recorded.
pub(super) fn request_origin(
    extensions: &http::Extensions,
    headers: &axum::http::HeaderMap,
    state: &ApiState,
) -> Origin {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    Origin::of(peer, false, headers, &state.trusted_proxies)
}

/// The address a request came from (see [`crate::auth::origin::client_address`]).
pub(super) fn request_address(
    extensions: &http::Extensions,
    headers: &axum::http::HeaderMap,
    state: &ApiState,
) -> IpAddr {
    request_origin(extensions, headers, state).source_ip.unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// One throttled password attempt of `name_key` from `address` against `hash`. The attempt is recorded
/// as a failure *before* the hash is checked, so N parallel guesses check at most [`MAX_FAILURES`]
/// passwords (each sees its own record and every earlier one); past the limit it answers 429 with
/// `Retry-After`. A right password clears the failures. Used by sign-in and by password change.
pub(super) async fn checked_attempt(
    state: &ApiState,
    name_key: &str,
    address: &str,
    password: String,
    hash: String,
) -> ApiResult<bool> {
    let window = THROTTLE_WINDOW.as_millis() as i64;
    let now = crate::engine::now_ms();
    state.keys.record_login_failure(name_key, address, now).await?;
    let (count, oldest) = state.keys.login_failures(name_key, address, now - window).await?;
    if count > MAX_FAILURES {
        let wait_ms = oldest.map_or(window, |t| t + window - now);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Too many failed password attempts; wait and retry.",
        );
        e.retry_after = Some((wait_ms.max(1000) as u64).div_ceil(1000));
        return Err(e);
    }
    let ok = state.passwords.verify(password, hash).await?;
    if ok {
        state.keys.clear_login_failures(name_key, address).await?;
    }
    Ok(ok)
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
        let (user, version) = state.keys.user_session(user_id).await?.ok_or_else(ApiError::unauthorized)?;
        if !user.enabled || version != claims.ver {
            return Err(ApiError::unauthorized());
        }
        let mut me = Principal::user(user.id, user.name, user.role == "admin");
        me.origin = request_origin(&parts.extensions, &parts.headers, state);
        Ok(Session(me))
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// `POST /api/login` `{"username", "password"}` -> `{"token", "expires_at", "user"}`.
pub async fn login(State(state): State<ApiState>, request: Request) -> ApiResult<Json<Value>> {
    let ip = request_address(request.extensions(), request.headers(), &state);
    let body = axum::body::to_bytes(request.into_body(), MAX_LOGIN_BODY)
        .await
        .map_err(|_| ApiError::bad_request("The request body is too large."))?;
    let LoginRequest { username, password } =
        serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("Expected {\"username\", \"password\"}."))?;
    let (name_key, address) = (username.to_lowercase(), ip.to_string());
    let found = state.keys.user_credentials(&username).await?;
    let hash = found.as_ref().and_then(|(_, h, _)| h.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
    let password_ok = checked_attempt(&state, &name_key, &address, password, hash).await?;
    match found {
        Some((user, Some(_), version)) if password_ok && user.enabled => {
            let (token, expires_at) = state.sessions.issue(user.id, version)?;
            tracing::info!(user = %user.name, "console sign-in");
            Ok(Json(json!({
                "token": token,
                "expires_at": expires_at,
                "user": { "id": user.id, "name": user.name, "role": user.role },
            })))
        }
        _ => {
            tracing::info!(user = %username, %ip, "console sign-in refused");
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "Wrong user name or password."))
        }
    }
}

/// `POST /api/logout`: ends every session of the user (bumps the token version). 204.
pub async fn logout(State(state): State<ApiState>, Session(me): Session) -> ApiResult<StatusCode> {
    state.keys.bump_token_version(me.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/me`.
pub async fn me(Session(me): Session) -> Json<Value> {
    Json(json!({ "id": me.user_id, "name": me.name, "role": if me.is_admin { "admin" } else { "user" } }))
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHash;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_costs_and_matches_nothing() {
        let real = crate::auth::secrets::hash_password("some password").expect("hash");
        let (real, dummy) =
            (PasswordHash::new(&real).expect("real"), PasswordHash::new(super::DUMMY_HASH).expect("dummy"));
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params, "same memory, time and parallelism cost");
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!crate::auth::secrets::verify_password("", super::DUMMY_HASH));
        assert!(!crate::auth::secrets::verify_password("some password", super::DUMMY_HASH));
    }
}
