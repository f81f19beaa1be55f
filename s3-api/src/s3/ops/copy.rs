//! CopyObject and UploadPartCopy.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::ObjectRecord;

use super::acl::{AclRequest, grant_headers, write_acl};
use super::put::write_condition;
use crate::auth::context::version_keys;
use crate::auth::{Principal, action_of};
use crate::engine::{NewObject, StagedBlob, now_ms};
use crate::limits::MAX_COPY_SIZE;
use crate::s3::attributes::{ObjectAttributes, attributes_from_input, etag, timestamp};
use crate::s3::checksums::{Algorithm, Kind, Stored, set_checksum_fields};
use crate::s3::conditional::{Conditions, Validators};
use crate::s3::vault::{CloudVault, reported_version};

/// A resolved copy source: the version read, and the version id to report as
/// `x-amz-copy-source-version-id` (none from a bucket that never had versioning).
struct Source {
    object: ObjectRecord,
    version_id: Option<String>,
}

/// Resolves `x-amz-copy-source` to the current object (or the version its `?versionId=` names), checks
/// that `caller` may read it (the access hook only authorized the destination; a named version needs
/// `s3:GetObjectVersion`), and checks the `x-amz-copy-source-if-*` conditions (any failure is 412).
async fn copy_source(
    v: &CloudVault,
    caller: &Principal,
    source: &CopySource,
    conditions: Conditions<'_>,
) -> S3Result<Source> {
    let CopySource::Bucket { bucket, key, version_id } = source else {
        return Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported."));
    };
    let action = action_of("GetObject", version_id.is_some());
    let keys = version_keys(version_id.as_deref());
    let bucket = v
        .authorizer
        .authorize_with(Some(caller), &action, Some(bucket), Some(key), keys)
        .await?
        .ok_or_else(|| s3_error!(NoSuchBucket))?;
    let (object, _) = v.object_at(bucket.id, key, version_id.as_deref()).await?;
    conditions.check_copy_source(Validators { etag: &object.etag, last_modified_ms: object.last_modified })?;
    Ok(Source { version_id: reported_version(&bucket, &object.version_id), object })
}

/// The `x-amz-copy-source-if-*` conditions of a CopyObject / UploadPartCopy input.
macro_rules! copy_source_conditions {
    ($i:expr) => {
        Conditions {
            if_match: $i.copy_source_if_match.as_ref(),
            if_none_match: $i.copy_source_if_none_match.as_ref(),
            if_modified_since: $i.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $i.copy_source_if_unmodified_since.as_ref(),
        }
    };
}

/// Copies `range` of the source into a new staged blob ([`crate::engine::Engine::stage_copy`]),
/// computing `algorithm` (if any) on the way.
async fn copy_bytes(
    v: &CloudVault,
    source: &ObjectRecord,
    range: std::ops::Range<u64>,
    algorithm: Option<Algorithm>,
) -> S3Result<(StagedBlob, Option<Stored>)> {
    let mut hasher = algorithm.map(Algorithm::hasher);
    let mut observe = |chunk: &[u8]| {
        if let Some(h) = hasher.as_mut() {
            h.update(chunk);
        }
    };
    let staged = v.engine.stage_copy(source, range, &mut observe).await?;
    let checksum = match (algorithm, hasher) {
        (Some(algorithm), Some(h)) => algorithm.value_in(&h.finalize()).map(|value| Stored {
            algorithm,
            value: value.clone(),
            kind: Kind::FullObject,
        }),
        _ => None,
    };
    Ok((staged, checksum))
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
fn copy_range(range: Option<&str>, size: u64) -> S3Result<std::ops::Range<u64>> {
    let Some(range) = range else { return Ok(0..size) };
    let invalid =
        || s3_error!(InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last.");
    let (first, last) = range.trim().strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(invalid)?;
    let (first, last): (u64, u64) = (first.parse().map_err(|_| invalid())?, last.parse().map_err(|_| invalid())?);
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable: bytes={first}-{last} of a {size}-byte source."
        ));
    }
    Ok(first..last + 1)
}

/// CopyObject: copies the source's bytes into a new blob (so source and copy never share a file) and
/// commits the copy like a PUT. `x-amz-metadata-directive: COPY` (default) keeps the source's attributes,
/// `REPLACE` takes the request's. Copying an object onto itself needs `REPLACE` (rclone sets
/// modification times this way), as on AWS.
pub async fn copy_object(v: &CloudVault, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
    let me = v.principal(&req).await?;
    let i = req.input;
    let CopySource::Bucket { bucket: src_bucket, key: src_key, version_id: src_version } = &i.copy_source else {
        return Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported."));
    };
    let Source { object: source, version_id: source_version } =
        copy_source(v, &me, &i.copy_source, copy_source_conditions!(i)).await?;
    let replace = i.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    // Copying an older version onto its own key is how a version is restored; only a copy of the
    // current object onto itself must change something.
    if !replace && src_version.is_none() && **src_bucket == *i.bucket && **src_key == *i.key {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the \
             object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    if source.size > MAX_COPY_SIZE {
        return Err(s3_error!(
            InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
        ));
    }
    let source_attributes = ObjectAttributes::decode(&source.attributes)?;
    let mut attributes = if replace { attributes_from_input!(i) } else { source_attributes.clone() };
    // x-amz-tagging-directive: COPY (default) keeps the source's tags, REPLACE takes x-amz-tagging.
    let replace_tags = i.tagging_directive.as_ref().is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
    attributes.tags = if replace_tags {
        super::tagging::parse_tagging_header(i.tagging.as_deref())?
    } else {
        source_attributes.tags.clone()
    };
    // The copy is a single-part object: its checksum (in the source's algorithm) is recomputed over the
    // whole copy, so a COMPOSITE source yields a FULL_OBJECT copy, as on AWS.
    let algorithm = source_attributes.checksum.as_ref().map(|c| c.algorithm);
    let target_bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let retention = super::lock::requested_retention(
        &target_bucket,
        i.object_lock_mode.as_ref(),
        i.object_lock_retain_until_date.as_ref(),
        i.object_lock_legal_hold_status.as_ref(),
    )?;
    let condition = write_condition(i.if_match, i.if_none_match)?;
    let acl = AclRequest {
        canned: i.acl.as_ref().map(ObjectCannedACL::as_str),
        headers: grant_headers!(i),
        body: None,
        bucket: false,
    };
    let (owner_id, acl) = write_acl(v, &req.extensions, &target_bucket, acl).await?;
    let (staged, checksum) = copy_bytes(v, &source, 0..source.size.max(0) as u64, algorithm).await?;
    attributes.checksum = checksum;
    attributes.upload_id = None;
    attributes.acl = acl;
    let new = NewObject { key: i.key.into_bytes(), owner_id, attributes, retention };
    let committed = v.engine.put_object(target_bucket.id, new, staged, &condition).await?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&committed.etag)),
            last_modified: Some(timestamp(committed.last_modified)),
            ..Default::default()
        }),
        copy_source_version_id: source_version,
        version_id: committed.version_id,
        ..Default::default()
    }))
}

/// UploadPartCopy: copies the source (or `x-amz-copy-source-range` of it) into a new part blob, with the
/// upload's checksum algorithm computed on the way, and commits it as UploadPart does.
pub async fn upload_part_copy(
    v: &CloudVault,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let me = v.principal(&req).await?;
    let i = req.input;
    let upload =
        super::multipart::upload_checked(v, &req.extensions, &i.bucket, &i.key, &i.upload_id, i.part_number).await?;
    let Source { object: source, version_id: source_version } =
        copy_source(v, &me, &i.copy_source, copy_source_conditions!(i)).await?;
    let range = copy_range(i.copy_source_range.as_deref(), source.size.max(0) as u64)?;
    let algorithm = super::multipart::upload_checksum(&upload)?.map(|(a, _)| a);
    let (staged, stored) = copy_bytes(v, &source, range, algorithm).await?;
    let encoded = stored.as_ref().map(Stored::encode_part);
    let blob = v.engine.commit_part(&upload.upload_id, i64::from(i.part_number), staged, encoded.as_deref()).await?;
    let mut result = CopyPartResult {
        e_tag: Some(etag(&blob.md5_hex)),
        last_modified: Some(timestamp(now_ms())),
        ..Default::default()
    };
    if let Some(c) = stored {
        set_checksum_fields!(result, c.dto());
    }
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(result),
        copy_source_version_id: source_version,
        ..Default::default()
    }))
}
