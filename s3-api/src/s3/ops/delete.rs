//! DeleteObject and DeleteObjects.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::limits::{MAX_DELETE_KEYS, MAX_KEY_LENGTH};
use crate::s3::vault::CloudVault;

/// DeleteObject: 204 whether or not the key existed (unversioned bucket semantics).
pub async fn delete_object(
    v: &CloudVault,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.delete_object(bucket.id, req.input.key.as_bytes()).await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

/// DeleteObjects: up to 1000 keys; each is reported deleted (unless `Quiet`) or as an error entry.
pub async fn delete_objects(
    v: &CloudVault,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let delete = req.input.delete;
    if delete.objects.len() > MAX_DELETE_KEYS {
        return Err(s3_error!(MalformedXML, "A DeleteObjects request may name at most 1000 keys."));
    }
    let quiet = delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    if delete.objects.iter().any(|o| o.key.len() > MAX_KEY_LENGTH) {
        return Err(s3_error!(KeyTooLongError, "Your key is too long (at most {MAX_KEY_LENGTH} bytes)."));
    }
    for object in delete.objects {
        if object.version_id.as_deref().is_some_and(|v| v != "null") {
            errors.push(Error {
                code: Some("NoSuchVersion".to_owned()),
                key: Some(object.key),
                message: Some("The specified version does not exist.".to_owned()),
                version_id: object.version_id,
            });
            continue;
        }
        match v.engine.delete_object(bucket.id, object.key.as_bytes()).await {
            Ok(_) if quiet => {}
            Ok(_) => deleted.push(DeletedObject {
                key: Some(object.key),
                version_id: object.version_id,
                ..Default::default()
            }),
            Err(e) => {
                let e = s3s::S3Error::from(e);
                errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(object.key),
                    message: e.message().map(str::to_owned),
                    version_id: object.version_id,
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}
