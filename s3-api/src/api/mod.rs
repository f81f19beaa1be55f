//! The API listener (`CLOUDVAULT_API_ADDR`, default `0.0.0.0:4000`), built on axum:
//! - probes and metrics (`probes`): `/healthz`, `/readyz`, `/metrics`;
//! - the console's JSON API under `/api` (`session`, `buckets`, `keys`): sign-in issues a short-lived JWT,
//!   and every call is authorized by the same `Authorizer` as the S3 endpoint. Errors are JSON
//!   `{"code": "...", "message": "..."}` (`error`).

pub mod buckets;
pub mod error;
pub mod keys;
pub mod probes;
pub mod session;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::s3::access::Authorizer;
use crate::s3::identity::KeyStore;

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
    /// Users and access keys.
    pub keys: Arc<KeyStore>,
    /// The authorization decision shared with the S3 endpoint.
    pub authorizer: Arc<Authorizer>,
    /// Token signing and sign-in throttling.
    pub sessions: Arc<session::Sessions>,
    /// The region new buckets get (`CLOUDVAULT_REGION`).
    pub region: String,
}

/// The API router: probes at the root, the console API under `/api`.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/me", get(session::me))
        .route("/buckets", get(buckets::list).post(buckets::create))
        .route("/buckets/{name}", delete(buckets::remove))
        .route("/keys", get(keys::list).post(keys::create))
        .route("/keys/{id}", delete(keys::remove))
        .route("/keys/{id}/disable", post(keys::disable))
        .route("/keys/{id}/enable", post(keys::enable));
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .nest("/api", api)
        .with_state(state)
}
