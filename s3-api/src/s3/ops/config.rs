//! Bucket sub-resources CloudVault does not offer, answered the way AWS answers a bucket that has none
//! configured (instead of 501): SDKs, rclone and Terraform probe these and treat "not configured" as
//! normal. ACLs report the owner's FULL_CONTROL and accept only the `private` canned ACL.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::owner;
use crate::s3::vault::CloudVault;

/// The owner-only ACL of a bucket or object.
async fn owner_acl(v: &CloudVault, owner_id: i64) -> S3Result<(Owner, Vec<Grant>)> {
    let who = owner(owner_id, v.keys.user_name(owner_id).await?);
    let grant = Grant {
        grantee: Some(Grantee {
            id: who.id.clone(),
            display_name: who.display_name.clone(),
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    };
    Ok((who, vec![grant]))
}

/// GetBucketAcl: the owner with FULL_CONTROL.
pub async fn get_bucket_acl(
    v: &CloudVault,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let (owner, grants) = owner_acl(v, bucket.owner_id).await?;
    Ok(S3Response::new(GetBucketAclOutput { owner: Some(owner), grants: Some(grants) }))
}

/// GetObjectAcl: the object's writer with FULL_CONTROL.
pub async fn get_object_acl(
    v: &CloudVault,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let object = v.object(bucket.id, &req.input.key).await?;
    let (owner, grants) = owner_acl(v, object.owner_id).await?;
    Ok(S3Response::new(GetObjectAclOutput { owner: Some(owner), grants: Some(grants), ..Default::default() }))
}

/// Whether a PutBucketAcl / PutObjectAcl input names explicit grants (which CloudVault does not support).
macro_rules! has_grants {
    ($i:expr) => {
        $i.access_control_policy.is_some()
            || $i.grant_full_control.is_some()
            || $i.grant_read.is_some()
            || $i.grant_read_acp.is_some()
            || $i.grant_write.is_some()
            || $i.grant_write_acp.is_some()
    };
}

fn only_private(canned: Option<&str>, has_grants: bool) -> S3Result<()> {
    match (canned, has_grants) {
        (None | Some("private"), false) => Ok(()),
        _ => Err(s3_error!(
            NotImplemented,
            "Only the private canned ACL is supported; use a bucket policy for public access."
        )),
    }
}

/// PutBucketAcl: accepts `private` (the only ACL CloudVault has).
pub async fn put_bucket_acl(
    v: &CloudVault,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let i = &req.input;
    v.bucket(&req.extensions, &i.bucket).await?;
    only_private(i.acl.as_ref().map(BucketCannedACL::as_str), has_grants!(i))?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

/// PutObjectAcl: accepts `private`.
pub async fn put_object_acl(
    v: &CloudVault,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let i = &req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    v.object(bucket.id, &i.key).await?;
    only_private(i.acl.as_ref().map(ObjectCannedACL::as_str), has_grants!(i))?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

/// AWS's "no such configuration" error: the code, its message, and 404 (s3s defaults some of these
/// codes to 400).
fn not_found(code: S3ErrorCode, message: &'static str) -> S3Error {
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
not_configured!(
    /// GetBucketOwnershipControls: none.
    get_bucket_ownership_controls,
    GetBucketOwnershipControlsInput,
    GetBucketOwnershipControlsOutput,
    S3ErrorCode::OwnershipControlsNotFoundError,
    "The bucket ownership controls were not found"
);

/// GetPublicAccessBlock: none (public access is governed by the bucket policy alone).
pub async fn get_public_access_block(
    v: &CloudVault,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    v.bucket(&req.extensions, &req.input.bucket).await?;
    Err(not_found(
        S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
        "The public access block configuration was not found",
    ))
}

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
