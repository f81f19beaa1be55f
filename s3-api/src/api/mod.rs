//! The API listener (`CLOUDVAULT_API_ADDR`, default `0.0.0.0:4000`), built on axum:
//! - probes and metrics (`probes`): `/healthz`, `/readyz`, `/metrics`;
//! - the console's JSON API under `/api` (`session`, `buckets`, `protection`, `access`, `objects`,
//!   `versions`, `presign`, `keys`, `users`, `info`): sign-in issues a short-lived JWT, and every call is authorized by the same `Authorizer` as
//!   the S3 endpoint, then calls the engine, as the S3 operations do (no S3 requests are built here; a
//!   test in `tests/architecture.rs` keeps it so). Errors are JSON
//!   `{"code": "...", "message": "..."}` (`error`). The contract is `docs/console-api.md` and
//!   `/api/openapi.json`;
//! - the console bundle at `/` when one is built (`crate::console`).

pub mod access;
pub mod buckets;
pub mod error;
pub mod info;
pub mod keys;
pub mod objects;
pub mod presign;
pub mod probes;
pub mod protection;
pub mod session;
pub mod users;
pub mod versions;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::auth::Authorizer;
use crate::auth::KeyStore;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::presign::Presigner;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The storage engine (database and data volume).
    pub engine: Engine,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The data directory whose volume readiness checks.
    pub data_dir: PathBuf,
    /// Least free space on the data volume for the replica to be ready.
    pub min_free_bytes: u64,
    /// The readiness check's cached write probe of the data volume.
    pub volume_probe: Arc<probes::VolumeProbe>,
    /// Users and access keys.
    pub keys: Arc<KeyStore>,
    /// The authorization decision shared with the S3 endpoint.
    pub authorizer: Arc<Authorizer>,
    /// Token signing and sign-in throttling.
    pub sessions: Arc<session::Sessions>,
    /// The bounded password hashing pool (`CLOUDVAULT_PASSWORD_HASH_CONCURRENCY`).
    pub passwords: Arc<crate::auth::passwords::PasswordPool>,
    /// The region new buckets get (`CLOUDVAULT_REGION`).
    pub region: String,
    /// Largest single upload (`CLOUDVAULT_MAX_OBJECT_SIZE`).
    pub max_object_size: u64,
    /// Mints presigned URLs on the public S3 address.
    pub presigner: Presigner,
    /// The console bundle served at `/`, when one is built.
    pub console_dir: Option<PathBuf>,
    /// The S3 endpoint's origin as browsers reach it (`CLOUDVAULT_PUBLIC_S3_URL`), for the console's
    /// Content-Security-Policy.
    pub s3_origin: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed (`CLOUDVAULT_TRUSTED_PROXIES`), for sign-in throttling.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The API router: probes at the root, the console API under `/api`.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(info::openapi))
        .route("/config", get(info::config))
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/me", get(session::me))
        .route("/me/password", post(users::change_own))
        .route("/usage", get(buckets::usage))
        .route("/buckets", get(buckets::list).post(buckets::create))
        .route("/buckets/{bucket}", get(protection::details).delete(buckets::remove))
        .route("/buckets/{bucket}/versioning", put(protection::set_versioning))
        .route("/buckets/{bucket}/object-lock", put(protection::set_lock))
        .route("/buckets/{bucket}/lifecycle", put(protection::set_lifecycle).delete(protection::remove_lifecycle))
        .route("/buckets/{bucket}/versions", get(versions::list))
        .route("/buckets/{bucket}/object/restore", post(versions::restore))
        .route("/buckets/{bucket}/public", put(buckets::set_public))
        .route("/buckets/{bucket}/access", get(access::details))
        .route("/buckets/{bucket}/access/ownership", put(access::set_ownership))
        .route("/buckets/{bucket}/access/block", put(access::set_block))
        .route("/buckets/{bucket}/policy", put(access::set_policy).delete(access::remove_policy))
        .route("/buckets/{bucket}/acl", put(access::set_acl))
        .route("/buckets/{bucket}/objects", get(objects::list))
        .route("/buckets/{bucket}/objects/count", get(objects::count))
        .route("/buckets/{bucket}/objects/delete", post(objects::delete_many))
        .route("/buckets/{bucket}/object", get(objects::metadata).delete(objects::delete_one))
        .route("/buckets/{bucket}/object/content", get(objects::download).put(objects::upload))
        .route("/buckets/{bucket}/share", post(presign::share))
        .route("/buckets/{bucket}/upload-url", post(presign::upload_url))
        .route("/buckets/{bucket}/multipart", post(presign::create_multipart))
        .route("/buckets/{bucket}/multipart/{upload_id}", delete(presign::abort_multipart))
        .route("/buckets/{bucket}/multipart/{upload_id}/parts", post(presign::part_urls))
        .route("/buckets/{bucket}/multipart/{upload_id}/complete", post(presign::complete_multipart))
        .route("/keys", get(keys::list).post(keys::create))
        .route("/keys/{id}", delete(keys::remove))
        .route("/keys/{id}/disable", post(keys::disable))
        .route("/keys/{id}/enable", post(keys::enable))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", delete(users::remove))
        .route("/users/{id}/disable", post(users::disable))
        .route("/users/{id}/enable", post(users::enable))
        .route("/users/{id}/password", post(users::reset_password))
        .fallback(info::no_such_endpoint)
        .layer(axum::middleware::map_response(error::json_rejections));
    let router = Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .nest("/api", api);
    let router = match &state.console_dir {
        Some(dir) => {
            let csp = crate::console::content_security_policy(state.s3_origin.as_deref());
            router.fallback_service(crate::console::static_files(dir, &csp))
        }
        None => router,
    };
    router.with_state(state)
}
