//! Bucket sub-resources CloudVault does not offer, answered the way AWS answers a bucket that has none
//! configured (instead of 501): SDKs, rclone and Terraform probe these and treat "not configured" as
//! normal. (ACLs, ownership controls and Block Public Access are real: `acl.rs`.)

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::vault::CloudVault;

/// AWS's "no such configuration" error: the code, its message, and 404 (s3s defaults some of these
/// codes to 400).
pub(super) fn not_found(code: S3ErrorCode, message: &'static str) -> S3Error {
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(http::StatusCode::NOT_FOUND);
    e
}

/// Answers "this bucket has no such configuration" with AWS's code, after checking the bucket exists.
macro_rules! not_configured {
    ($(#[$doc:meta])* $name:ident, $input:ident, $output:ident, $code:expr, $message:literal) => {
        $(#[$doc])*
        pub async fn $name(v: &CloudVault, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
            v.bucket(&req.extensions, &req.input.bucket).await?;
            Err(not_found($code, $message))
        }
    };
}

not_configured!(
    /// GetBucketEncryption: none (encrypt the volume instead).
    get_bucket_encryption,
    GetBucketEncryptionInput,
    GetBucketEncryptionOutput,
    S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
    "The server side encryption configuration was not found"
);
not_configured!(
    /// GetBucketWebsite: none.
    get_bucket_website,
    GetBucketWebsiteInput,
    GetBucketWebsiteOutput,
    S3ErrorCode::NoSuchWebsiteConfiguration,
    "The specified bucket does not have a website configuration"
);
not_configured!(
    /// GetBucketReplication: none.
    get_bucket_replication,
    GetBucketReplicationInput,
    GetBucketReplicationOutput,
    S3ErrorCode::ReplicationConfigurationNotFoundError,
    "The replication configuration was not found"
);
/// GetBucketAccelerateConfiguration: never enabled (empty).
pub async fn get_bucket_accelerate_configuration(
    v: &CloudVault,
    req: S3Request<GetBucketAccelerateConfigurationInput>,
) -> S3Result<S3Response<GetBucketAccelerateConfigurationOutput>> {
    v.bucket(&req.extensions, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketAccelerateConfigurationOutput::default()))
}

/// GetBucketRequestPayment: the bucket owner pays.
pub async fn get_bucket_request_payment(
    v: &CloudVault,
    req: S3Request<GetBucketRequestPaymentInput>,
) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
    v.bucket(&req.extensions, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketRequestPaymentOutput { payer: Some(Payer::from_static(Payer::BUCKET_OWNER)) }))
}

/// GetBucketLogging: never enabled (empty).
pub async fn get_bucket_logging(
    v: &CloudVault,
    req: S3Request<GetBucketLoggingInput>,
) -> S3Result<S3Response<GetBucketLoggingOutput>> {
    v.bucket(&req.extensions, &req.input.bucket).await?;
    Ok(S3Response::new(GetBucketLoggingOutput::default()))
}
