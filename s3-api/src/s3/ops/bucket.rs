//! ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::acl::{AclRequest, grant_headers};
use super::list::{decode_token, encode_token};
use super::owner;
use cloudvault_metadata::MetaError;

use crate::engine::EngineError;
use crate::engine::access::{NewAccess, Ownership};
use crate::limits::MAX_BUCKETS_PER_PAGE;
use crate::s3::attributes::timestamp;
use crate::s3::vault::CloudVault;

/// ListBuckets: the caller's buckets, by name; a key restricted to named buckets sees only those.
/// `prefix` and `bucket-region` filter; `max-buckets` (1..=10000) pages, with `continuation-token`
/// resuming after the last bucket of the previous page.
pub async fn list_buckets(v: &CloudVault, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
    let me = v.principal(&req).await?;
    let i = req.input;
    let max = match i.max_buckets {
        None => MAX_BUCKETS_PER_PAGE,
        Some(n) if n >= 1 && n as usize <= MAX_BUCKETS_PER_PAGE => n as usize,
        Some(_) => return Err(s3_error!(InvalidArgument, "max-buckets must be between 1 and {MAX_BUCKETS_PER_PAGE}")),
    };
    let after = i.continuation_token.as_deref().map(decode_token).transpose()?;
    let mine = v.engine.list_buckets(Some(me.user_id)).await?;
    let mut page: Vec<_> = mine
        .into_iter()
        .filter(|b| i.prefix.as_deref().is_none_or(|p| b.name.starts_with(p)))
        .filter(|b| i.bucket_region.as_deref().is_none_or(|r| b.region == r))
        .filter(|b| after.as_deref().is_none_or(|a| b.name.as_bytes() > a))
        .filter(|b| me.scope.as_ref().is_none_or(|scope| scope.allows("s3:ListBucket", Some(&b.name))))
        .take(max + 1)
        .collect();
    let more = page.len() > max;
    page.truncate(max);
    let continuation_token = more.then(|| page.last().map(|b| encode_token(b.name.as_bytes()))).flatten();
    let buckets = page
        .into_iter()
        .map(|b| Bucket {
            name: Some(b.name),
            creation_date: Some(timestamp(b.created_at)),
            bucket_region: Some(b.region),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner(me.user_id, me.name)),
        prefix: i.prefix,
        continuation_token,
    }))
}

/// The region where re-creating one's own bucket succeeds (AWS's legacy behaviour of North Virginia).
const LEGACY_REGION: &str = "us-east-1";

/// CreateBucket: any LocationConstraint is accepted and remembered; an existing bucket of the caller
/// answers `BucketAlreadyOwnedByYou` (in us-east-1: 200, as AWS answers there), someone else's
/// `BucketAlreadyExists`. (s3s has already validated
/// the name against AWS's rules: `InvalidBucketName`.) `x-amz-bucket-object-lock-enabled: true` creates
/// the bucket with object lock on and versioning enabled, both for good. `x-amz-object-ownership`
/// (default BucketOwnerEnforced, ACLs disabled) and the ACL (`x-amz-acl`, `x-amz-grant-*`) are set in
/// the same insert; a non-private ACL with ACLs disabled is `InvalidBucketAclWithObjectOwnership`.
pub async fn create_bucket(
    v: &CloudVault,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let me = v.principal(&req).await?;
    let input = req.input;
    let region = input
        .create_bucket_configuration
        .and_then(|c| c.location_constraint)
        .map(|lc| lc.as_str().to_owned())
        .filter(|lc| !lc.is_empty())
        .unwrap_or_else(|| v.region.clone());
    let object_lock = input.object_lock_enabled_for_bucket == Some(true);
    let ownership = match input.object_ownership.as_ref() {
        Some(o) => Some(super::acl::ownership_of(o.as_str())?),
        None => Some(Ownership::BucketOwnerEnforced),
    };
    let request = AclRequest {
        canned: input.acl.as_ref().map(BucketCannedACL::as_str),
        headers: grant_headers!(input, bucket),
        body: None,
        bucket: true,
    };
    let acl = request.resolve(v, me.user_id, me.user_id).await?;
    let access = NewAccess { ownership, acl };
    match v.engine.create_bucket(&input.bucket, me.user_id, &region, object_lock, &access).await {
        Ok(_) => {}
        // AWS's us-east-1 legacy: re-creating one's own bucket there answers 200 and changes nothing
        // (unless it asks for object lock, which an existing bucket cannot be given this way).
        Err(EngineError::Meta(MetaError::BucketAlreadyOwnedByYou)) if region == LEGACY_REGION && !object_lock => {}
        Err(e) => return Err(e.into()),
    }
    Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", input.bucket)), ..Default::default() }))
}

/// HeadBucket: 200 with the bucket's region, or 404 without a body.
pub async fn head_bucket(v: &CloudVault, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(bucket.region.clone()), ..Default::default() }))
}

/// DeleteBucket: only when empty (`BucketNotEmpty`); incomplete multipart uploads go with it.
pub async fn delete_bucket(
    v: &CloudVault,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.delete_bucket(&bucket).await?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

/// GetBucketLocation: the LocationConstraint, empty for us-east-1 as AWS answers.
pub async fn get_bucket_location(
    v: &CloudVault,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let location_constraint =
        (bucket.region != "us-east-1").then(|| BucketLocationConstraint::from(bucket.region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
}
