//! Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::auth::iam::PolicyDocument;
use crate::limits::MAX_POLICY_BYTES;
use crate::s3::vault::CloudVault;

/// PutBucketPolicy: validated (`MalformedPolicy`), refused (`AccessDenied`) when public while Block
/// Public Access blocks public policies, stored verbatim, effective on this replica at once and
/// on the others within the authorizer's cache lifetime.
pub async fn put_bucket_policy(
    v: &CloudVault,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let i = req.input;
    if i.policy.len() > MAX_POLICY_BYTES {
        return Err(s3_error!(MalformedPolicy, "Policies must be at most 20 KB."));
    }
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let policy = PolicyDocument::parse(&i.bucket, &i.policy).map_err(|e| s3_error!(MalformedPolicy, "{e}"))?;
    v.engine.set_bucket_policy(&bucket, Some(&i.policy), policy.is_public()).await?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

/// GetBucketPolicy: the stored document, or `NoSuchBucketPolicy`.
pub async fn get_bucket_policy(
    v: &CloudVault,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    match bucket.policy.clone() {
        Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) })),
        None => Err(s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist")),
    }
}

/// DeleteBucketPolicy: 204, the bucket is private again.
pub async fn delete_bucket_policy(
    v: &CloudVault,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.set_bucket_policy(&bucket, None, false).await?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

/// GetBucketPolicyStatus: whether the policy is public as AWS defines it (an unconditioned `Allow` to
/// everyone; see `PolicyDocument::is_public`); a bucket without a policy is
/// not public (`IsPublic: false`, as the Ceph suite expects).
pub async fn get_bucket_policy_status(
    v: &CloudVault,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let public = v.authorizer.policy_of(&bucket).is_some_and(|p| p.public);
    Ok(S3Response::new(GetBucketPolicyStatusOutput { policy_status: Some(PolicyStatus { is_public: Some(public) }) }))
}
