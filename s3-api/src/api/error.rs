//! The console API's errors: JSON with a stable code and a human message, and the one mapping from
//! S3 and metadata errors to them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`unauthorized`, `forbidden`, `not_found`, ...).
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `Retry-After` seconds, for throttled sign-ins.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// 401: no valid session.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Sign in again.")
    }

    /// 404: the named thing does not exist (or the caller may not know it does).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403: signed in, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "code": self.code, "message": self.message }))).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<s3s::S3Error> for ApiError {
    fn from(e: s3s::S3Error) -> Self {
        use s3s::S3ErrorCode as C;
        let message = e.message().unwrap_or("request failed").to_owned();
        let (status, code) = match e.code() {
            C::AccessDenied => (StatusCode::FORBIDDEN, "forbidden"),
            C::NoSuchBucket | C::NoSuchKey | C::NoSuchUpload | C::NoSuchVersion => (StatusCode::NOT_FOUND, "not_found"),
            C::EntityTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            C::InvalidPart
            | C::InvalidPartOrder
            | C::EntityTooSmall
            | C::InvalidArgument
            | C::AccessControlListNotSupported
            | C::InvalidBucketAclWithObjectOwnership
            | C::InvalidRequest
            | C::IncompleteBody
            | C::BadDigest
            | C::KeyTooLongError
            | C::MalformedXML
            | C::IllegalVersioningConfigurationException => (StatusCode::BAD_REQUEST, "bad_request"),
            C::BucketAlreadyExists | C::BucketAlreadyOwnedByYou => (StatusCode::CONFLICT, "already_exists"),
            C::BucketNotEmpty => (StatusCode::CONFLICT, "bucket_not_empty"),
            C::InvalidBucketState => (StatusCode::CONFLICT, "invalid_bucket_state"),
            C::InvalidBucketName => (StatusCode::BAD_REQUEST, "invalid_bucket_name"),
            C::ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, message)
    }
}

impl From<cloudvault_metadata::MetaError> for ApiError {
    fn from(e: cloudvault_metadata::MetaError) -> Self {
        crate::engine::EngineError::from(e).into()
    }
}

impl From<crate::engine::EngineError> for ApiError {
    fn from(e: crate::engine::EngineError) -> Self {
        use crate::engine::EngineError as E;
        use cloudvault_metadata::MetaError as M;
        match e {
            // S3 answers AccessDenied; the console names the reason, so the user sees it is the lock.
            E::Meta(M::ObjectLocked) => ApiError::new(
                StatusCode::FORBIDDEN,
                "object_locked",
                "This version is protected by object lock and cannot be deleted now: a legal hold or COMPLIANCE \
                 retention stops everyone, GOVERNANCE retention yields only to bypass_governance.",
            ),
            // The engine's only AccessDenied refusal is Block Public Access's (`engine::access`).
            E::Rejected { code: "AccessDenied", .. } => ApiError::new(
                StatusCode::FORBIDDEN,
                "public_access_blocked",
                "Block Public Access on this bucket refuses public policies and ACLs; change it in the bucket's \
                 access settings first.",
            ),
            E::Meta(M::InvalidBucketState(why)) => ApiError::new(StatusCode::CONFLICT, "invalid_bucket_state", why),
            e => s3s::S3Error::from(e).into(),
        }
    }
}

impl From<crate::auth::passwords::Busy> for ApiError {
    fn from(e: crate::auth::passwords::Busy) -> Self {
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string());
        error.retry_after = Some(1);
        error
    }
}

/// Result alias of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Turns the plain-text rejections of axum's extractors (a malformed JSON body, a missing or wrongly
/// typed query or path parameter, a missing `Content-Type`) and its empty 405 into the API's JSON
/// errors: 400 `bad_request` (with axum's explanation as the message) and 405 `method_not_allowed`.
pub async fn json_rejections(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let rejected = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
            | StatusCode::PAYLOAD_TOO_LARGE
    );
    if is_json || !(rejected || status == StatusCode::METHOD_NOT_ALLOWED) {
        return response;
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let mut e = ApiError::new(status, "method_not_allowed", "This method is not allowed here.").into_response();
        if let Some(allow) = response.headers().get(header::ALLOW) {
            e.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return e;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "too_large", "The request body is too large.").into_response();
    }
    let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&body).trim().to_owned();
    ApiError::bad_request(if message.is_empty() { "The request is malformed.".to_owned() } else { message })
        .into_response()
}
