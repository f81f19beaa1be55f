//! DeleteObject and DeleteObjects, with and without version ids.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Bucket, Deleted, UserId};

use super::lock::bypass;
use crate::auth::{Principal, action_of};
use crate::engine::parse_version;
use crate::limits::{MAX_DELETE_KEYS, MAX_KEY_LENGTH};
use crate::s3::access::key_allowed;
use crate::s3::vault::CloudVault;

/// Who a delete marker is recorded as written by: the signer, or for an anonymous delete a bucket
/// policy allowed, the bucket's owner.
fn marker_owner(ext: &http::Extensions, bucket: &Bucket) -> UserId {
    ext.get::<Principal>().map_or(bucket.owner_id, |p| p.user_id)
}

/// Who deletes, and whether they bypass GOVERNANCE retention (authorized).
#[derive(Debug, Clone, Copy)]
struct Deleter {
    owner: UserId,
    bypass: bool,
}

/// One delete: of the version named, else of the key (a delete marker in a versioned bucket).
async fn delete_one(
    v: &CloudVault,
    bucket: &Bucket,
    who: Deleter,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<Deleted> {
    Ok(match version_id {
        Some(id) => v.engine.delete_version(bucket.id, key.as_bytes(), &parse_version(id)?, who.bypass).await?,
        None => v.engine.delete_object(bucket.id, key.as_bytes(), who.owner).await?,
    })
}

/// DeleteObject: 204 whether or not anything existed; 403 AccessDenied for a version object lock
/// protects (GOVERNANCE: unless `x-amz-bypass-governance-retention: true` by a caller allowed to). Reports the version removed or the delete
/// marker created (`x-amz-version-id`, `x-amz-delete-marker`).
pub async fn delete_object(
    v: &CloudVault,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let i = &req.input;
    let bypass =
        bypass(v, &req.extensions, i.bypass_governance_retention, &bucket, &i.key, i.version_id.as_deref()).await?;
    let who = Deleter { owner: marker_owner(&req.extensions, &bucket), bypass };
    let deleted = delete_one(v, &bucket, who, &i.key, i.version_id.as_deref()).await?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: deleted.marker.then_some(true),
        version_id: deleted.version_id,
        ..Default::default()
    }))
}

/// DeleteObjects: up to 1000 keys (each with an optional version id); each is reported deleted
/// (unless `Quiet`) with the marker it created or removed, or as an error entry.
pub async fn delete_objects(
    v: &CloudVault,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let asked = req.input.bypass_governance_retention;
    let delete = req.input.delete;
    if delete.objects.len() > MAX_DELETE_KEYS {
        return Err(s3_error!(MalformedXML, "A DeleteObjects request may name at most 1000 keys."));
    }
    if delete.objects.iter().any(|o| o.key.len() > MAX_KEY_LENGTH) {
        return Err(s3_error!(KeyTooLongError, "Your key is too long (at most {MAX_KEY_LENGTH} bytes)."));
    }
    let quiet = delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for object in delete.objects {
        let outcome = delete_checked(v, &req.extensions, &bucket, asked, &object).await;
        match outcome {
            Ok(_) if quiet => {}
            Ok(d) => deleted.push(reported(object.key, object.version_id, d)),
            Err(e) => errors.push(Error {
                code: Some(e.code().as_str().to_owned()),
                key: Some(object.key),
                message: e.message().map(str::to_owned),
                version_id: object.version_id,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}

/// One key of a DeleteObjects request, authorized on its own as AWS does (`s3:DeleteObject` /
/// `s3:DeleteObjectVersion`, and `s3:BypassGovernanceRetention` when asked, on that object).
async fn delete_checked(
    v: &CloudVault,
    ext: &http::Extensions,
    bucket: &Bucket,
    asked: Option<bool>,
    object: &ObjectIdentifier,
) -> S3Result<Deleted> {
    let version = object.version_id.as_deref();
    let action = action_of("DeleteObject", version.is_some());
    if !key_allowed(&v.authorizer, ext, bucket, &action, &object.key, version).await? {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    let bypass = bypass(v, ext, asked, bucket, &object.key, version).await?;
    let who = Deleter { owner: marker_owner(ext, bucket), bypass };
    delete_one(v, bucket, who, &object.key, version).await
}

/// A `Deleted` entry as AWS reports it: the version id asked for, and when a marker was created or
/// removed, `DeleteMarker` with the marker's id.
fn reported(key: String, asked: Option<String>, d: Deleted) -> DeletedObject {
    DeletedObject {
        key: Some(key),
        delete_marker: d.marker.then_some(true),
        delete_marker_version_id: if d.marker { d.version_id.clone() } else { None },
        version_id: asked,
    }
}
