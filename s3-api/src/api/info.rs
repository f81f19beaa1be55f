//! What the console reads before and besides signing in: the OpenAPI document of this API, the public
//! S3 address (for the aws-cli / rclone snippets it shows), and the JSON 404 for unknown `/api` paths.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;

/// The OpenAPI 3 document of the console API, kept true by `tests/e2e/test_openapi.py` (schemathesis).
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// `GET /api/config`: `{"s3_endpoint", "region"}` (public: nothing here is secret).
pub async fn config(State(state): State<ApiState>) -> Json<Value> {
    Json(json!({ "s3_endpoint": state.presigner.endpoint(), "region": state.region }))
}

/// Any other `/api` path: 404 `not_found` as JSON.
pub async fn no_such_endpoint() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such API endpoint.")
}
