//! The one place where CloudVault's errors become S3 error codes.

use cloudvault_metadata::MetaError;
use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::engine::EngineError;

/// Maps a metadata error to the S3 error AWS would answer.
pub fn meta_error(e: MetaError) -> S3Error {
    match e {
        MetaError::NoSuchBucket => s3_error!(NoSuchBucket),
        MetaError::BucketAlreadyOwnedByYou => s3_error!(BucketAlreadyOwnedByYou),
        MetaError::BucketAlreadyExists => s3_error!(BucketAlreadyExists),
        MetaError::BucketNotEmpty => s3_error!(BucketNotEmpty),
        MetaError::PreconditionFailed => s3_error!(PreconditionFailed),
        MetaError::NoSuchUpload => s3_error!(NoSuchUpload),
        MetaError::InvalidPart => s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found, or its entity tag did not match."
        ),
        MetaError::ObjectLocked => {
            s3_error!(AccessDenied, "Access Denied because object protected by object lock.")
        }
        MetaError::LockNotEnabled => s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration"),
        MetaError::InvalidBucketState(why) => s3_error!(InvalidBucketState, "{why}"),
        MetaError::NoSuchVersion => s3_error!(NoSuchVersion, "The specified version does not exist."),
        MetaError::IntentLost(_) => S3Error::with_message(
            S3ErrorCode::ServiceUnavailable,
            "The write stalled past the cleanup grace period and was not stored; retry.",
        ),
        e if e.is_storage_full() => {
            tracing::warn!(error = %e, "metadata store: volume full");
            S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                "The metadata store's volume is full; nothing was changed. Retry after space is freed.",
            )
        }
        e if e.is_unavailable() => {
            tracing::warn!(error = %e, "metadata store unavailable");
            S3Error::with_message(S3ErrorCode::ServiceUnavailable, "The metadata store is unavailable; retry.")
        }
        e => {
            tracing::error!(error = %e, "metadata store error");
            S3Error::internal_error(e)
        }
    }
}

impl From<EngineError> for S3Error {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Meta(e) => meta_error(e),
            EngineError::Body { code, message } => {
                let code = S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::IncompleteBody);
                S3Error::with_message(code, message)
            }
            EngineError::Rejected { code, message } => {
                let code = S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::InvalidRequest);
                S3Error::with_message(code, message)
            }
            EngineError::Corrupt(what) => {
                tracing::error!(what, "corrupt stored data");
                S3Error::with_message(S3ErrorCode::InternalError, "corrupt stored data")
            }
            EngineError::TooLarge { limit } => S3Error::with_message(
                S3ErrorCode::EntityTooLarge,
                format!("Your proposed upload exceeds the maximum allowed object size ({limit} bytes)."),
            ),
            EngineError::VolumeFull { free, needed } => {
                tracing::warn!(free, needed, "write refused: data volume full");
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    format!(
                        "The data volume is full ({free} bytes free, {needed} needed to keep \
                         CLOUDVAULT_MIN_FREE_BYTES free); retry after space is freed."
                    ),
                )
            }
            EngineError::Io(e) if crate::engine::space::is_storage_full(&e) => {
                tracing::warn!(error = %e, "data volume full");
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "The data volume is full; retry after space is freed.",
                )
            }
            EngineError::Io(e) => {
                tracing::error!(error = %e, "data volume error");
                S3Error::internal_error(e)
            }
        }
    }
}

/// Classifies an error raised by a request body stream (from s3s or hyper) as the S3 error to answer.
pub fn body_error(e: s3s::StdError) -> EngineError {
    let code = if e.downcast_ref::<s3s::BodySizeLimitExceeded>().is_some() {
        S3ErrorCode::EntityTooLarge
    } else if let Some(e) = e.downcast_ref::<s3s::stream::upload_stream::UploadStreamError>() {
        e.to_s3_error_code()
    } else if let Some(e) = e.downcast_ref::<s3s::stream::aws_chunked_stream::AwsChunkedStreamError>() {
        match e {
            s3s::stream::aws_chunked_stream::AwsChunkedStreamError::SignatureMismatch => {
                S3ErrorCode::SignatureDoesNotMatch
            }
            _ => S3ErrorCode::IncompleteBody,
        }
    } else if let Some(e) = e.downcast_ref::<S3Error>() {
        e.code().clone()
    } else {
        S3ErrorCode::IncompleteBody
    };
    EngineError::Body { code: code.as_str().to_owned(), message: e.to_string() }
}
