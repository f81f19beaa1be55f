//! `CloudVault`, the s3s `S3` implementation: a dispatch table from S3 operations to `ops/`.
//! Operations not listed here keep s3s's default answer, 501 NotImplemented.

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Bucket, ObjectRecord, VersionSel, Versioning};

use super::ops;
use crate::auth::Authorizer;
use crate::auth::{KeyStore, Principal};
use crate::config::Config;
use crate::engine::buckets::AuthorizedBucket;
use crate::engine::{Engine, parse_version};

/// The S3 service state shared by every request.
#[derive(Debug)]
pub struct CloudVault {
    /// The storage engine.
    pub engine: Engine,
    /// Access keys and users.
    pub keys: Arc<KeyStore>,
    /// The authorization decision (its bucket cache is invalidated when this replica changes a policy).
    pub authorizer: Arc<Authorizer>,
    /// The server's region (`CLOUDVAULT_REGION`).
    pub region: String,
    /// Largest single PUT (`CLOUDVAULT_MAX_OBJECT_SIZE`).
    pub max_object_size: u64,
    /// The length of a lifecycle "day" in ms (`CLOUDVAULT_LIFECYCLE_DAY_SECS`), for `x-amz-expiration`.
    pub lifecycle_day_ms: i64,
}

impl CloudVault {
    /// Wraps the engine for s3s.
    pub fn new(engine: Engine, keys: Arc<KeyStore>, authorizer: Arc<Authorizer>, config: &Config) -> Self {
        CloudVault {
            engine,
            keys,
            authorizer,
            region: config.region.clone(),
            max_object_size: config.max_object_size,
            lifecycle_day_ms: i64::try_from(config.lifecycle_day_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        }
    }

    /// The user who signed `req`, for the operations that need a signed-in caller (ListBuckets,
    /// CreateBucket, CopyObject's source check): an anonymous request is refused here even when a
    /// policy let it through (anonymous writes that policies allow, PutObject and
    /// CreateMultipartUpload, take their owner from `ops::acl::write_acl` instead). The access hook
    /// has already resolved the signer and left it in the request's extensions, so this is no second
    /// lookup.
    pub async fn principal<T>(&self, req: &S3Request<T>) -> S3Result<Principal> {
        if let Some(me) = req.extensions.get::<Principal>() {
            return Ok(me.clone());
        }
        match &req.credentials {
            Some(creds) => self.keys.principal(&creds.access_key).await,
            None => Err(s3_error!(AccessDenied)),
        }
    }

    /// The current object under `key`, or `NoSuchKey` (with `x-amz-delete-marker: true` and the
    /// marker's version id when a delete marker hides the key).
    pub async fn object(&self, bucket_id: i64, key: &str) -> S3Result<ObjectRecord> {
        match self.engine.object(bucket_id, key.as_bytes()).await? {
            Some(o) => Ok(o),
            None => Err(self.no_such_key(bucket_id, key).await),
        }
    }

    /// [`CloudVault::object`] with an inline object's bytes read in the same query (GET).
    pub async fn object_with_bytes(&self, bucket_id: i64, key: &str) -> S3Result<(ObjectRecord, Option<bytes::Bytes>)> {
        match self.engine.object_for_read(bucket_id, key.as_bytes()).await? {
            Some(found) => Ok(found),
            None => Err(self.no_such_key(bucket_id, key).await),
        }
    }

    /// `NoSuchKey` for a key with no current object, with `x-amz-delete-marker: true` and the marker's
    /// version id when a delete marker hides it.
    async fn no_such_key(&self, bucket_id: i64, key: &str) -> s3s::S3Error {
        let mut e = s3_error!(NoSuchKey);
        match self.engine.current_marker(bucket_id, key.as_bytes()).await {
            Ok(Some(marker)) => e.set_headers(marker_headers(&marker)),
            Ok(None) => {}
            Err(err) => return err.into(),
        }
        e
    }

    /// The version of `key` a request names with `versionId` (the current object without one), and the
    /// parsed version to act on. A version that does not exist is `NoSuchVersion`; a delete marker
    /// named by id is 405 MethodNotAllowed with `x-amz-delete-marker: true`, as on AWS.
    pub async fn object_at(
        &self,
        bucket_id: i64,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<(ObjectRecord, Option<VersionSel>)> {
        let Some(id) = version_id else { return Ok((self.object(bucket_id, key).await?, None)) };
        let sel = parse_version(id)?;
        let found = self.engine.object_version(bucket_id, key.as_bytes(), &sel).await?;
        let version = found.ok_or_else(|| s3_error!(NoSuchVersion, "The specified version does not exist."))?;
        if version.is_marker {
            let mut e = s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource.");
            e.set_headers(marker_headers(&version.object.version_id));
            return Err(e);
        }
        Ok((version.object, Some(sel)))
    }

    /// The bucket called `name` that the request was authorized against (carried in `ext` by the
    /// access hook), so the operation acts on exactly that bucket, by id, with no second lookup; for a
    /// bucket the hook did not resolve (CopyObject's source, a root-level request), the bucket as the
    /// database has it now. `NoSuchBucket` when there is none.
    pub async fn bucket(&self, ext: &http::Extensions, name: &str) -> S3Result<Arc<Bucket>> {
        if let Some(AuthorizedBucket(b)) = ext.get::<AuthorizedBucket>()
            && b.name == name
        {
            return Ok(b.clone());
        }
        self.engine.bucket_fresh(name).await?.ok_or_else(|| s3_error!(NoSuchBucket))
    }
}

/// `x-amz-delete-marker: true` and `x-amz-version-id` of an answer about a delete marker.
fn marker_headers(version_id: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-amz-delete-marker", http::HeaderValue::from_static("true"));
    if let Ok(v) = http::HeaderValue::from_str(version_id) {
        headers.insert("x-amz-version-id", v);
    }
    headers
}

/// The version id a response reports: none in a bucket that never had versioning (as on AWS).
pub fn reported_version(bucket: &Bucket, version_id: &str) -> Option<String> {
    (bucket.versioning != Versioning::Unversioned).then(|| version_id.to_owned())
}

#[async_trait::async_trait]
impl S3 for CloudVault {
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        ops::bucket::list_buckets(self, req).await
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        ops::bucket::create_bucket(self, req).await
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        ops::bucket::head_bucket(self, req).await
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        ops::bucket::delete_bucket(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        ops::bucket::get_bucket_location(self, req).await
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        ops::put::put_object(self, req).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        ops::read::get_object(self, req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        ops::read::head_object(self, req).await
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        ops::object_attributes::get_object_attributes(self, req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        ops::delete::delete_object(self, req).await
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        ops::delete::delete_objects(self, req).await
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        ops::copy::copy_object(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        ops::multipart::create_multipart_upload(self, req).await
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        ops::multipart::upload_part(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        ops::copy::upload_part_copy(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        ops::multipart::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        ops::multipart::abort_multipart_upload(self, req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        ops::multipart::list_parts(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        ops::multipart::list_multipart_uploads(self, req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        ops::list::list_objects(self, req).await
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        ops::list::list_objects_v2(self, req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        ops::versioning::get_bucket_versioning(self, req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        ops::versioning::put_bucket_versioning(self, req).await
    }

    async fn get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
        ops::acl::get_bucket_acl(self, req).await
    }

    async fn get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
        ops::acl::get_object_acl(self, req).await
    }

    async fn put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
        ops::acl::put_bucket_acl(self, req).await
    }

    async fn put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
        ops::acl::put_object_acl(self, req).await
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        ops::lifecycle::get_bucket_lifecycle_configuration(self, req).await
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        ops::lifecycle::put_bucket_lifecycle_configuration(self, req).await
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        ops::lifecycle::delete_bucket_lifecycle(self, req).await
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        ops::config::get_bucket_encryption(self, req).await
    }

    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        ops::lock::get_object_lock_configuration(self, req).await
    }

    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        ops::lock::put_object_lock_configuration(self, req).await
    }

    async fn put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        ops::lock::put_object_retention(self, req).await
    }

    async fn get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        ops::lock::get_object_retention(self, req).await
    }

    async fn put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        ops::lock::put_object_legal_hold(self, req).await
    }

    async fn get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        ops::lock::get_object_legal_hold(self, req).await
    }

    async fn get_bucket_website(
        &self,
        req: S3Request<GetBucketWebsiteInput>,
    ) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
        ops::config::get_bucket_website(self, req).await
    }

    async fn get_bucket_replication(
        &self,
        req: S3Request<GetBucketReplicationInput>,
    ) -> S3Result<S3Response<GetBucketReplicationOutput>> {
        ops::config::get_bucket_replication(self, req).await
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        ops::acl::get_bucket_ownership_controls(self, req).await
    }

    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        ops::acl::get_public_access_block(self, req).await
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        ops::acl::put_public_access_block(self, req).await
    }

    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        ops::acl::delete_public_access_block(self, req).await
    }

    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        ops::acl::put_bucket_ownership_controls(self, req).await
    }

    async fn delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        ops::acl::delete_bucket_ownership_controls(self, req).await
    }

    async fn get_bucket_accelerate_configuration(
        &self,
        req: S3Request<GetBucketAccelerateConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketAccelerateConfigurationOutput>> {
        ops::config::get_bucket_accelerate_configuration(self, req).await
    }

    async fn get_bucket_request_payment(
        &self,
        req: S3Request<GetBucketRequestPaymentInput>,
    ) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
        ops::config::get_bucket_request_payment(self, req).await
    }

    async fn get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> S3Result<S3Response<GetBucketLoggingOutput>> {
        ops::config::get_bucket_logging(self, req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        ops::tagging::get_object_tagging(self, req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        ops::tagging::put_object_tagging(self, req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        ops::tagging::delete_object_tagging(self, req).await
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        ops::tagging::get_bucket_tagging(self, req).await
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        ops::tagging::put_bucket_tagging(self, req).await
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        ops::tagging::delete_bucket_tagging(self, req).await
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        ops::versioning::list_object_versions(self, req).await
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        ops::policy::put_bucket_policy(self, req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        ops::policy::get_bucket_policy(self, req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        ops::policy::delete_bucket_policy(self, req).await
    }

    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        ops::policy::get_bucket_policy_status(self, req).await
    }

    async fn put_bucket_cors(&self, req: S3Request<PutBucketCorsInput>) -> S3Result<S3Response<PutBucketCorsOutput>> {
        ops::cors::put_bucket_cors(self, req).await
    }

    async fn get_bucket_cors(&self, req: S3Request<GetBucketCorsInput>) -> S3Result<S3Response<GetBucketCorsOutput>> {
        ops::cors::get_bucket_cors(self, req).await
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        ops::cors::delete_bucket_cors(self, req).await
    }
}
