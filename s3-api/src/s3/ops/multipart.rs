//! Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads.
//!
//! Completing copies no data: the object's manifest is the ordered list of its part blobs, and GET,
//! ranged GET across part boundaries and `partNumber` GET stream straight from them.

use futures::TryStreamExt;
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Manifest, ObjectRecord, Upload};

use super::owner;
use super::put::{parse_content_md5, write_condition};
use crate::engine::now_ms;
use crate::s3::attributes::{ObjectAttributes, etag, metadata_from_dto, strip_aws_chunked, timestamp};
use crate::s3::error::{body_error, meta_error};
use crate::s3::vault::CloudVault;

/// Smallest part AWS accepts, except the last one.
const MIN_PART_SIZE: i64 = 5 * 1024 * 1024;
/// Highest part number.
const MAX_PART_NUMBER: i32 = 10_000;
/// Largest ListParts / ListMultipartUploads page.
const MAX_PAGE: i32 = 1000;

/// The upload named by a request, checked against its bucket and key (`NoSuchUpload` otherwise).
async fn upload_of(v: &CloudVault, bucket: &str, key: &str, upload_id: &str) -> S3Result<Upload> {
    let bucket = v.bucket(bucket).await?;
    match v.engine.meta.upload(upload_id).await.map_err(meta_error)? {
        Some(u) if u.bucket_id == bucket.id && u.key == key.as_bytes() => Ok(u),
        _ => Err(s3_error!(NoSuchUpload)),
    }
}

/// CreateMultipartUpload: fixes the object's attributes and returns a new upload id.
pub async fn create_multipart_upload(
    v: &CloudVault,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let me = v.principal(&req).await?;
    let i = req.input;
    let bucket = v.bucket(&i.bucket).await?;
    let attributes = ObjectAttributes {
        content_type: i.content_type,
        content_encoding: strip_aws_chunked(i.content_encoding),
        content_disposition: i.content_disposition,
        content_language: i.content_language,
        cache_control: i.cache_control,
        expires: i.expires,
        user_metadata: metadata_from_dto(i.metadata),
    };
    let upload = Upload {
        upload_id: uuid::Uuid::new_v4().simple().to_string(),
        bucket_id: bucket.id,
        key: i.key.clone().into_bytes(),
        initiated_at: now_ms(),
        owner_id: me.user_id,
        attributes: attributes.encode(),
    };
    v.engine.meta.create_upload(&upload).await.map_err(meta_error)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(upload.upload_id),
        ..Default::default()
    }))
}

/// UploadPart: streams the part to its own blob (Content-MD5 verified: `BadDigest`, nothing kept); a
/// re-sent part number replaces the earlier part.
pub async fn upload_part(v: &CloudVault, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
    v.principal(&req).await?;
    let i = req.input;
    if !(1..=MAX_PART_NUMBER).contains(&i.part_number) {
        return Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"));
    }
    let expected_md5 = i.content_md5.as_deref().map(parse_content_md5).transpose()?;
    let upload = upload_of(v, &i.bucket, &i.key, &i.upload_id).await?;
    let staged = match i.body {
        Some(body) => v.engine.blobs.stage(body.map_err(body_error), v.max_object_size).await?,
        None => {
            let empty = futures::stream::empty::<Result<bytes::Bytes, crate::engine::EngineError>>();
            v.engine.blobs.stage(empty, 0).await?
        }
    };
    if let Some(declared) = i.content_length
        && u64::try_from(declared).ok() != Some(staged.size)
    {
        return Err(s3_error!(IncompleteBody, "The request body length does not match Content-Length."));
    }
    if expected_md5.is_some_and(|md5| md5 != staged.md5) {
        return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
    }
    let blob = v.engine.commit_part(&upload.upload_id, i64::from(i.part_number), staged).await?;
    Ok(S3Response::new(UploadPartOutput { e_tag: Some(etag(&blob.md5_hex)), ..Default::default() }))
}

/// CompleteMultipartUpload: the listed parts must be ascending (`InvalidPartOrder`), exist with the given
/// ETags (`InvalidPart`), and all but the last be at least 5 MiB (`EntityTooSmall`). The ETag is the MD5
/// of the parts' binary MD5s, suffixed with `-<count>`.
pub async fn complete_multipart_upload(
    v: &CloudVault,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    v.principal(&req).await?;
    let i = req.input;
    let condition = write_condition(i.if_match, i.if_none_match)?;
    let upload = upload_of(v, &i.bucket, &i.key, &i.upload_id).await?;
    let requested = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
    if requested.is_empty() {
        return Err(s3_error!(MalformedXML, "You must specify at least one part."));
    }
    let stored = v.engine.meta.list_parts(&upload.upload_id, 0, MAX_PART_NUMBER as u32).await.map_err(meta_error)?;
    let mut manifest = Vec::with_capacity(requested.len());
    let mut previous = 0;
    for part in &requested {
        let number = part.part_number.ok_or_else(|| s3_error!(MalformedXML, "A part has no PartNumber."))?;
        if number <= previous {
            return Err(s3_error!(InvalidPartOrder, "The list of parts was not in ascending order."));
        }
        previous = number;
        let found = stored.iter().find(|p| p.part_number == i64::from(number));
        let wanted = part.e_tag.as_ref().map(|e| e.value().trim_matches('"').to_owned());
        match found {
            Some(p) if wanted.as_deref().is_none_or(|w| w == p.blob.md5_hex) => manifest.push(p.blob.clone()),
            _ => {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found, or its entity tag did not match."
                ));
            }
        }
    }
    if manifest[..manifest.len() - 1].iter().any(|b| b.size < MIN_PART_SIZE) {
        return Err(s3_error!(EntityTooSmall, "Your proposed upload is smaller than the minimum allowed object size."));
    }
    let mut md5s = Md5::new();
    for blob in &manifest {
        let raw = hex::decode(&blob.md5_hex).map_err(|_| s3_error!(InternalError, "corrupt part ETag"))?;
        md5s.update(&raw);
    }
    let etag_value = format!("{}-{}", hex::encode(md5s.finalize()), manifest.len());
    let manifest = Manifest(manifest);
    let record = ObjectRecord {
        key: upload.key.clone(),
        size: manifest.total_size(),
        etag: etag_value.clone(),
        last_modified: now_ms(),
        owner_id: upload.owner_id,
        attributes: upload.attributes.clone(),
        parts_count: Some(manifest.0.len() as i64),
        manifest,
    };
    v.engine
        .meta
        .complete_upload(&upload.upload_id, upload.bucket_id, &record, &condition, now_ms())
        .await
        .map_err(meta_error)?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(etag(&etag_value)),
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        ..Default::default()
    }))
}

/// AbortMultipartUpload: 204; the parts' blobs go to the janitor.
pub async fn abort_multipart_upload(
    v: &CloudVault,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    v.principal(&req).await?;
    let i = req.input;
    let upload = upload_of(v, &i.bucket, &i.key, &i.upload_id).await?;
    v.engine.meta.abort_upload(&upload.upload_id, now_ms()).await.map_err(meta_error)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

fn page_size(requested: Option<i32>) -> S3Result<u32> {
    match requested {
        None => Ok(MAX_PAGE as u32),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "The page size must be a non-negative integer.")),
        Some(n) => Ok(n.min(MAX_PAGE) as u32),
    }
}

/// ListParts: ascending part numbers after `part-number-marker`.
pub async fn list_parts(v: &CloudVault, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
    v.principal(&req).await?;
    let i = req.input;
    let upload = upload_of(v, &i.bucket, &i.key, &i.upload_id).await?;
    let limit = page_size(i.max_parts)?;
    let after = i64::from(i.part_number_marker.unwrap_or(0));
    let mut parts = v.engine.meta.list_parts(&upload.upload_id, after, limit + 1).await.map_err(meta_error)?;
    let truncated = parts.len() > limit as usize;
    parts.truncate(limit as usize);
    let next = if truncated { parts.last().map(|p| p.part_number as i32) } else { None };
    let who = owner(upload.owner_id, v.keys.user_name(upload.owner_id).await?);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(upload.upload_id),
        max_parts: Some(limit as i32),
        part_number_marker: i.part_number_marker,
        next_part_number_marker: next,
        is_truncated: Some(truncated),
        initiator: Some(Initiator { id: who.id.clone(), display_name: who.display_name.clone() }),
        owner: Some(who),
        parts: Some(
            parts
                .into_iter()
                .map(|p| Part {
                    part_number: Some(p.part_number as i32),
                    e_tag: Some(etag(&p.blob.md5_hex)),
                    size: Some(p.blob.size),
                    last_modified: Some(timestamp(p.last_modified)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }))
}

/// ListMultipartUploads: uploads in progress in (key, upload id) order, after the key / upload-id
/// markers, under `prefix`. (`delimiter` is echoed but does not roll keys up yet.)
pub async fn list_multipart_uploads(
    v: &CloudVault,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    v.principal(&req).await?;
    let i = req.input;
    let bucket = v.bucket(&i.bucket).await?;
    let limit = page_size(i.max_uploads)?;
    let prefix = i.prefix.clone().unwrap_or_default();
    let key_marker = i.key_marker.clone().unwrap_or_default();
    // Without an upload-id marker, the key marker itself is excluded: start after every upload of it.
    let (from_key, after_id) = match (&i.key_marker, &i.upload_id_marker) {
        (Some(k), Some(id)) => (k.clone().into_bytes(), id.clone()),
        (Some(k), None) => (k.clone().into_bytes(), "\u{10FFFF}".to_owned()),
        (None, _) => (Vec::new(), String::new()),
    };
    let from_key = if from_key.as_slice() < prefix.as_bytes() { prefix.clone().into_bytes() } else { from_key };
    let end = cloudvault_metadata::key_successor(prefix.as_bytes()).filter(|_| !prefix.is_empty());
    let mut uploads = v
        .engine
        .meta
        .list_uploads(bucket.id, &from_key, &after_id, end.as_deref(), limit + 1)
        .await
        .map_err(meta_error)?;
    let truncated = uploads.len() > limit as usize;
    uploads.truncate(limit as usize);
    let (next_key, next_id) = match (truncated, uploads.last()) {
        (true, Some(u)) => (Some(String::from_utf8_lossy(&u.key).into_owned()), Some(u.upload_id.clone())),
        _ => (None, None),
    };
    let mut listed = Vec::with_capacity(uploads.len());
    for u in uploads {
        let who = owner(u.owner_id, v.keys.user_name(u.owner_id).await?);
        listed.push(MultipartUpload {
            key: Some(String::from_utf8_lossy(&u.key).into_owned()),
            upload_id: Some(u.upload_id),
            initiated: Some(timestamp(u.initiated_at)),
            initiator: Some(Initiator { id: who.id.clone(), display_name: who.display_name.clone() }),
            owner: Some(who),
            ..Default::default()
        });
    }
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket),
        prefix: i.prefix,
        delimiter: i.delimiter,
        key_marker: Some(key_marker),
        upload_id_marker: i.upload_id_marker,
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        max_uploads: Some(limit as i32),
        is_truncated: Some(truncated),
        uploads: Some(listed),
        ..Default::default()
    }))
}
