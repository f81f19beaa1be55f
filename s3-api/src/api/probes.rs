//! Health, readiness and metrics on the API listener.
//!
//! - `GET /healthz`: liveness. 200 while the process serves; deliberately checks no dependency, so a
//!   database outage does not make Kubernetes restart every replica.
//! - `GET /readyz`: readiness. 200 only when the database answers, the data volume takes a durable
//!   write, and it has at least `CLOUDVAULT_MIN_FREE_BYTES` free; 503 with the failing checks otherwise.
//! - `GET /metrics`: Prometheus text format (see `metrics`).

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use serde_json::json;

use super::ApiState;

/// How long each readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /healthz`.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" })))
}

async fn check_database(state: &ApiState) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, state.engine.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// How long a write probe of the data volume is trusted: `/readyz` is unauthenticated, so at most
/// one probe file is written and fsynced per this period, however often it is called.
pub const VOLUME_PROBE_TTL: Duration = Duration::from_secs(2);

/// The last write probe of the data volume and its outcome (see [`VOLUME_PROBE_TTL`]).
#[derive(Debug, Default)]
pub struct VolumeProbe(tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>);

impl VolumeProbe {
    /// Whether the data volume takes a durable write, probed at most once per [`VOLUME_PROBE_TTL`]
    /// (concurrent callers wait for the one probe in progress).
    async fn writable(&self, data_dir: &std::path::Path) -> Result<(), String> {
        let mut last = self.0.lock().await;
        if let Some((at, outcome)) = last.as_ref()
            && at.elapsed() < VOLUME_PROBE_TTL
        {
            return outcome.clone();
        }
        let probe = data_dir.join("staging").join(format!(".readyz-{}", uuid::Uuid::new_v4().simple()));
        let write = async {
            tokio::fs::write(&probe, b"ok").await?;
            tokio::fs::File::open(&probe).await?.sync_all().await?;
            tokio::fs::remove_file(&probe).await
        };
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("not writable: {e}")),
            Err(_) => Err("write timed out".to_owned()),
        };
        *last = Some((std::time::Instant::now(), outcome.clone()));
        outcome
    }
}

async fn check_volume(state: &ApiState) -> Result<u64, String> {
    state.volume_probe.writable(&state.data_dir).await?;
    let free = crate::engine::space::free_bytes(&state.data_dir).map_err(|e| format!("statvfs: {e}"))?;
    if free < state.min_free_bytes {
        return Err(format!("only {free} bytes free (need {})", state.min_free_bytes));
    }
    Ok(free)
}

/// `GET /readyz`.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let (database, volume) = tokio::join!(check_database(&state), check_volume(&state));
    let ready = database.is_ok() && volume.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": database.err().unwrap_or_else(|| "ok".to_owned()),
        "data_volume": volume.as_ref().err().cloned().unwrap_or_else(|| "ok".to_owned()),
        "free_bytes": volume.ok(),
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<ApiState>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
        .into_response()
}
