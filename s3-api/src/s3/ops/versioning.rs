//! Versioning: Put/GetBucketVersioning and ListObjectVersions. Reads, writes and deletes by version id
//! are in the files of those operations; what a write or delete does to the versions of a key is
//! decided in the engine's commit transaction.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{ListColumns, ListedVersion, Versioning};

use super::list::{common_prefixes, max_keys, render, wants_url};
use super::owner;
use crate::engine::{ListParams, parse_version};
use crate::s3::attributes::{etag, timestamp};
use crate::s3::vault::CloudVault;

/// GetBucketVersioning: `Enabled` or `Suspended`; an empty configuration for a bucket that never had
/// versioning (as on AWS). MFA delete is never on.
pub async fn get_bucket_versioning(
    v: &CloudVault,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let status = match bucket.versioning {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
        Versioning::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
    };
    let mfa_delete = status.as_ref().map(|_| MFADeleteStatus::from_static(MFADeleteStatus::DISABLED));
    Ok(S3Response::new(GetBucketVersioningOutput { status, mfa_delete }))
}

/// PutBucketVersioning: `Enabled` or `Suspended` (a bucket never returns to unversioned). MFA delete
/// is not offered: asking for it is refused, never ignored.
pub async fn put_bucket_versioning(
    v: &CloudVault,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let config = i.versioning_configuration;
    if config.mfa_delete.as_ref().is_some_and(|m| m.as_str() == MFADeleteStatus::ENABLED) || i.mfa.is_some() {
        return Err(s3_error!(NotImplemented, "MFA delete is not supported."));
    }
    let state = match config.status.as_ref().map(BucketVersioningStatus::as_str) {
        Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
        _ => return Err(s3_error!(MalformedXML, "The versioning Status must be Enabled or Suspended.")),
    };
    v.engine.set_versioning(&bucket, state).await?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

/// ListObjectVersions: every version and delete marker, by key and newest first, with prefix,
/// delimiter, `key-marker` / `version-id-marker` paging and `encoding-type`; served by the engine's
/// keyset scan over both version tables (a page costs O(page), however many versions there are).
pub async fn list_object_versions(
    v: &CloudVault,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let url = wants_url(i.encoding_type.as_ref())?;
    let limit = max_keys(i.max_keys)?;
    let key_marker = i.key_marker.clone().filter(|m| !m.is_empty());
    let version_marker = i.version_id_marker.clone().filter(|m| !m.is_empty());
    if let Some(id) = &version_marker {
        if key_marker.is_none() {
            return Err(s3_error!(InvalidArgument, "A version-id marker cannot be specified without a key marker."));
        }
        parse_version(id)?;
    }
    let prefix = i.prefix.clone().unwrap_or_default();
    let delimiter = i.delimiter.clone().filter(|d| !d.is_empty());
    let params = ListParams {
        prefix: prefix.as_bytes(),
        delimiter: delimiter.as_deref().map(str::as_bytes),
        marker: key_marker.as_deref().map(str::as_bytes),
        marker_id: version_marker.as_deref(),
        max: limit,
        columns: ListColumns::Bare,
    };
    let mut page = v.engine.list_versions(bucket.id, params).await?;
    page.truncated &= limit > 0;
    let (versions, delete_markers) = entries(v, page.items, url).await?;
    let next_key = if page.truncated { page.last.as_deref().map(|l| render(l, url)) } else { None };
    let next_version = next_key.as_ref().and(Some(page.last_id)).filter(|id| !id.is_empty());
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(i.bucket),
        prefix: Some(render(prefix.as_bytes(), url)),
        delimiter: delimiter.map(|d| render(d.as_bytes(), url)),
        key_marker: Some(i.key_marker.map(|m| render(m.as_bytes(), url)).unwrap_or_default()),
        version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
        max_keys: Some(limit as i32),
        is_truncated: Some(page.truncated),
        next_version_id_marker: next_version,
        next_key_marker: next_key,
        versions: Some(versions),
        delete_markers: (!delete_markers.is_empty()).then_some(delete_markers),
        common_prefixes: Some(common_prefixes(&page.prefixes, url)),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}

/// The page's rows as `Version` and `DeleteMarker` entries.
async fn entries(
    v: &CloudVault,
    items: Vec<ListedVersion>,
    url: bool,
) -> S3Result<(Vec<ObjectVersion>, Vec<DeleteMarkerEntry>)> {
    let (mut versions, mut markers) = (Vec::new(), Vec::new());
    for item in items {
        let o = &item.object;
        let who = Some(owner(o.owner_id, v.keys.user_name(o.owner_id).await?));
        if item.is_marker {
            markers.push(DeleteMarkerEntry {
                key: Some(render(&o.key, url)),
                version_id: Some(item.version_id),
                is_latest: Some(item.is_latest),
                last_modified: Some(timestamp(o.last_modified)),
                owner: who,
            });
            continue;
        }
        versions.push(ObjectVersion {
            key: Some(render(&o.key, url)),
            version_id: Some(item.version_id),
            is_latest: Some(item.is_latest),
            e_tag: Some(etag(&o.etag)),
            size: Some(o.size),
            last_modified: Some(timestamp(o.last_modified)),
            storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
            owner: who,
            ..Default::default()
        });
    }
    Ok((versions, markers))
}
