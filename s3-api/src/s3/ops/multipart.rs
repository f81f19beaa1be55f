//! Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads.
//!
//! Completing copies no data: the object's manifest is the ordered list of its part blobs, and GET,
//! ranged GET across part boundaries and `partNumber` GET stream straight from them.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{ListColumns, Upload};

use super::acl::{AclRequest, grant_headers, write_acl};
use super::owner;
use super::put::{stage_verified, write_condition};
use crate::engine::lock::needs_digest;
use crate::engine::{ListParams, RequestedPart, UploadState};
use crate::limits::{MAX_PART_NUMBER, MAX_PARTS_PER_PAGE};
use crate::s3::attributes::{ObjectAttributes, attributes_from_input, etag, timestamp};
use crate::s3::checksums::{self, Algorithm, Kind, PartChecksum, Stored, given_checksums, set_checksum_fields};
use crate::s3::vault::CloudVault;

/// The upload named by a request, checked against its bucket and key (`NoSuchUpload` otherwise).
async fn upload_of(
    v: &CloudVault,
    ext: &http::Extensions,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> S3Result<Upload> {
    let bucket = v.bucket(ext, bucket).await?;
    Ok(v.engine.upload(bucket.id, key.as_bytes(), upload_id).await?)
}

/// A CompleteMultipartUpload of an upload that is gone: when the key's current version was completed
/// from it (a client retrying a Complete whose answer it lost), the same answer again, as AWS gives;
/// otherwise `gone` (NoSuchUpload).
async fn completed_before(
    v: &CloudVault,
    ext: &http::Extensions,
    i: &CompleteMultipartUploadInput,
    gone: s3s::S3Error,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let bucket = v.bucket(ext, &i.bucket).await?;
    let Some(object) = v.engine.object(bucket.id, i.key.as_bytes()).await? else { return Err(gone) };
    let attributes = ObjectAttributes::decode(&object.attributes)?;
    if attributes.upload_id.as_deref() != Some(i.upload_id.as_str()) {
        return Err(gone);
    }
    let mut output = CompleteMultipartUploadOutput {
        version_id: crate::s3::vault::reported_version(&bucket, &object.version_id),
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(etag(&object.etag)),
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        ..Default::default()
    };
    if let Some(c) = attributes.checksum {
        set_checksum_fields!(output, c.dto());
        output.checksum_type = Some(c.kind.dto());
    }
    Ok(S3Response::new(output))
}

/// The upload named by a part request, after checking the part number (1..=10000, else
/// `InvalidArgument`).
pub async fn upload_checked(
    v: &CloudVault,
    ext: &http::Extensions,
    bucket: &str,
    key: &str,
    upload_id: &str,
    part_number: i32,
) -> S3Result<Upload> {
    if !(1..=MAX_PART_NUMBER).contains(&part_number) {
        return Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"));
    }
    upload_of(v, ext, bucket, key, upload_id).await
}

/// The checksum algorithm and type an upload was created with.
pub fn upload_checksum(upload: &Upload) -> S3Result<Option<(Algorithm, Kind)>> {
    Ok(UploadState::of(upload)?.checksum)
}

/// CreateMultipartUpload: fixes the object's attributes and returns a new upload id.
pub async fn create_multipart_upload(
    v: &CloudVault,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let acl = AclRequest {
        canned: i.acl.as_ref().map(ObjectCannedACL::as_str),
        headers: grant_headers!(i),
        body: None,
        bucket: false,
    };
    let (owner_id, acl) = write_acl(v, &req.extensions, &bucket, acl).await?;
    let retention = super::lock::requested_retention(
        &bucket,
        i.object_lock_mode.as_ref(),
        i.object_lock_retain_until_date.as_ref(),
        i.object_lock_legal_hold_status.as_ref(),
    )?;
    let attributes = ObjectAttributes { acl, ..attributes_from_input!(i) };
    let algorithm = i.checksum_algorithm.as_ref().map(Algorithm::from_dto).transpose()?;
    let kind = i.checksum_type.as_ref().map(Kind::parse).transpose()?;
    let checksum = match (algorithm, kind) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(s3_error!(InvalidRequest, "x-amz-checksum-type needs x-amz-checksum-algorithm."));
        }
        (Some(a), None) => Some((a, a.default_kind())),
        (Some(a), Some(Kind::FullObject)) if !a.is_crc() => {
            return Err(s3_error!(InvalidRequest, "The FULL_OBJECT checksum type is not supported for {}.", a.name()));
        }
        (Some(Algorithm::Crc64Nvme), Some(Kind::Composite)) => {
            return Err(s3_error!(InvalidRequest, "The COMPOSITE checksum type is not supported for CRC64NVME."));
        }
        (Some(a), Some(k)) => Some((a, k)),
    };
    let state = UploadState { attributes, checksum, lock: retention.into() };
    let upload_id = v.engine.create_upload(bucket.id, i.key.as_bytes(), owner_id, &state).await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(upload_id),
        checksum_algorithm: checksum.map(|(a, _)| ChecksumAlgorithm::from(a.name().to_owned())),
        checksum_type: checksum.map(|(_, k)| k.dto()),
        ..Default::default()
    }))
}

/// UploadPart: streams the part to its own blob (Content-MD5 verified: `BadDigest`, nothing kept); a
/// re-sent part number replaces the earlier part.
pub async fn upload_part(v: &CloudVault, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
    let i = req.input;
    let upload = upload_checked(v, &req.extensions, &i.bucket, &i.key, &i.upload_id, i.part_number).await?;
    let state = UploadState::of(&upload)?;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    if needs_digest(&bucket, &state.lock.retention()?) {
        super::lock::require_integrity(&req.headers)?;
    }
    let given = given_checksums!(i);
    let fallback = state.checksum.map(|(a, _)| a);
    let expectation = checksums::expectation(&req.headers, &given, i.checksum_algorithm.as_ref(), fallback)?;
    if let (Some(e), Some(upload_alg)) = (&expectation, fallback)
        && e.algorithm != upload_alg
    {
        return Err(s3_error!(
            InvalidRequest,
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            upload_alg.name().to_ascii_lowercase(),
            e.algorithm.name().to_ascii_lowercase()
        ));
    }
    let body = stage_verified(
        v,
        i.body,
        i.content_length,
        super::put::content_md5_header(&req.headers, i.content_md5.as_deref()),
        expectation.as_ref(),
        req.trailing_headers.as_ref(),
    )
    .await?;
    let stored = body.checksum.map(|(algorithm, value)| Stored { algorithm, value, kind: Kind::FullObject });
    let encoded = stored.as_ref().map(Stored::encode_part);
    let blob =
        v.engine.commit_part(&upload.upload_id, i64::from(i.part_number), body.staged, encoded.as_deref()).await?;
    let mut output = UploadPartOutput { e_tag: Some(etag(&blob.md5_hex)), ..Default::default() };
    if let Some(c) = stored {
        set_checksum_fields!(output, c.dto());
    }
    Ok(S3Response::new(output))
}

/// CompleteMultipartUpload: the engine checks the part list ([`crate::engine::Engine::assemble`]:
/// `InvalidPartOrder`, `InvalidPart`, `EntityTooSmall`); with a checksum algorithm, every part must carry
/// it and match what the client lists (`InvalidPart`), and the combined checksum must match a given
/// whole-object value (`BadDigest`). The ETag is the MD5 of the parts' binary MD5s, suffixed `-<count>`.
pub async fn complete_multipart_upload(
    v: &CloudVault,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let i = req.input;
    let condition = write_condition(i.if_match.clone(), i.if_none_match.clone())?;
    let upload = match upload_of(v, &req.extensions, &i.bucket, &i.key, &i.upload_id).await {
        Err(e) if *e.code() == s3s::S3ErrorCode::NoSuchUpload => {
            return completed_before(v, &req.extensions, &i, e).await;
        }
        other => other?,
    };
    let listed = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
    let mut requested = Vec::with_capacity(listed.len());
    for part in &listed {
        let number = part.part_number.ok_or_else(|| s3_error!(MalformedXML, "A part has no PartNumber."))?;
        requested.push(RequestedPart { number, etag: part.e_tag.as_ref().map(|e| e.value().to_owned()) });
    }
    let assembly = v.engine.assemble(&upload, &requested).await?;
    let state = UploadState::of(&upload)?;
    let checksum = match state.checksum {
        Some((algorithm, kind)) => {
            let whole = Checksum {
                checksum_crc32: i.checksum_crc32.clone(),
                checksum_crc32c: i.checksum_crc32c.clone(),
                checksum_crc64nvme: i.checksum_crc64nvme.clone(),
                checksum_sha1: i.checksum_sha1.clone(),
                checksum_sha256: i.checksum_sha256.clone(),
                ..Default::default()
            };
            Some(combined_checksum(algorithm, kind, &listed, &assembly.parts, &whole)?)
        }
        None => None,
    };
    let mut attributes = state.attributes;
    attributes.checksum = checksum.clone();
    attributes.upload_id = Some(upload.upload_id.clone());
    let record = assembly.record(&upload, &attributes, state.lock.retention()?);
    let version_id = v.engine.complete_upload(&upload.upload_id, upload.bucket_id, &record, &condition).await?;
    let mut output = CompleteMultipartUploadOutput {
        version_id,
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(etag(&assembly.etag)),
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        ..Default::default()
    };
    if let Some(c) = checksum {
        set_checksum_fields!(output, c.dto());
        output.checksum_type = Some(c.kind.dto());
    }
    Ok(S3Response::new(output))
}

/// The object's checksum combined from its parts' (`parts`, in the order of `listed`): each part must
/// have been stored with `algorithm` and match the value the client lists for it (`InvalidPart`), and
/// the result must match the whole-object value in `whole`, when given (`BadDigest`).
fn combined_checksum(
    algorithm: Algorithm,
    kind: Kind,
    listed: &[CompletedPart],
    parts: &[cloudvault_metadata::Part],
    whole: &Checksum,
) -> S3Result<Stored> {
    let mut part_checksums = Vec::with_capacity(parts.len());
    for (claimed, p) in listed.iter().zip(parts) {
        let number = p.part_number;
        let stored = p.checksum.as_deref().and_then(Stored::decode_part).filter(|c| c.algorithm == algorithm);
        let stored = stored.ok_or_else(|| {
            s3_error!(InvalidPart, "Part {number} was uploaded without its {} checksum.", algorithm.name())
        })?;
        let claimed = Checksum {
            checksum_crc32: claimed.checksum_crc32.clone(),
            checksum_crc32c: claimed.checksum_crc32c.clone(),
            checksum_crc64nvme: claimed.checksum_crc64nvme.clone(),
            checksum_sha1: claimed.checksum_sha1.clone(),
            checksum_sha256: claimed.checksum_sha256.clone(),
            ..Default::default()
        };
        if algorithm.value_in(&claimed).is_some_and(|c| *c != stored.value) {
            return Err(s3_error!(InvalidPart, "The checksum of part {number} did not match."));
        }
        part_checksums.push(PartChecksum { value: stored.value, size: p.blob.size.max(0) as u64 });
    }
    let value = checksums::combine(algorithm, kind, &part_checksums)?;
    if algorithm.value_in(whole).is_some_and(|claimed| claimed.split('-').next() != value.split('-').next()) {
        return Err(s3_error!(
            BadDigest,
            "The {} you specified did not match the calculated checksum.",
            algorithm.name()
        ));
    }
    Ok(Stored { algorithm, value, kind })
}

/// AbortMultipartUpload: 204; the parts' blobs go to the janitor.
pub async fn abort_multipart_upload(
    v: &CloudVault,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let i = req.input;
    let upload = upload_of(v, &req.extensions, &i.bucket, &i.key, &i.upload_id).await?;
    v.engine.abort_upload(&upload.upload_id).await?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// A stored part as ListParts reports it, with its checksum when one was computed.
fn part_dto(p: cloudvault_metadata::Part) -> Part {
    let mut part = Part {
        part_number: Some(p.part_number as i32),
        e_tag: Some(etag(&p.blob.md5_hex)),
        size: Some(p.blob.size),
        last_modified: Some(timestamp(p.last_modified)),
        ..Default::default()
    };
    if let Some(c) = p.checksum.as_deref().and_then(Stored::decode_part) {
        set_checksum_fields!(part, c.dto());
    }
    part
}

fn page_size(requested: Option<i32>) -> S3Result<u32> {
    match requested {
        None => Ok(MAX_PARTS_PER_PAGE as u32),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "The page size must be a non-negative integer.")),
        Some(n) => Ok(n.min(MAX_PARTS_PER_PAGE) as u32),
    }
}

/// ListParts: ascending part numbers after `part-number-marker`.
pub async fn list_parts(v: &CloudVault, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
    let i = req.input;
    let upload = upload_of(v, &req.extensions, &i.bucket, &i.key, &i.upload_id).await?;
    let limit = page_size(i.max_parts)?;
    let after = i64::from(i.part_number_marker.unwrap_or(0));
    let mut parts = v.engine.list_parts(&upload.upload_id, after, limit + 1).await?;
    let truncated = parts.len() > limit as usize;
    parts.truncate(limit as usize);
    let next = if truncated { parts.last().map(|p| p.part_number as i32) } else { None };
    let who = owner(upload.owner_id, v.keys.user_name(upload.owner_id).await?);
    let checksum = upload_checksum(&upload)?;
    Ok(S3Response::new(ListPartsOutput {
        checksum_algorithm: checksum.map(|(a, _)| ChecksumAlgorithm::from(a.name().to_owned())),
        checksum_type: checksum.map(|(_, k)| k.dto()),
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(upload.upload_id),
        max_parts: Some(limit as i32),
        part_number_marker: i.part_number_marker,
        next_part_number_marker: next,
        is_truncated: Some(truncated),
        initiator: Some(Initiator { id: who.id.clone(), display_name: who.display_name.clone() }),
        owner: Some(who),
        parts: Some(parts.into_iter().map(part_dto).collect()),
        ..Default::default()
    }))
}

/// ListMultipartUploads: uploads in progress in (key, upload id) order, after the key / upload-id
/// markers, under `prefix`, with keys rolled up into CommonPrefixes at `delimiter`.
pub async fn list_multipart_uploads(
    v: &CloudVault,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let limit = page_size(i.max_uploads)?;
    let params = ListParams {
        prefix: i.prefix.as_deref().unwrap_or_default().as_bytes(),
        delimiter: i.delimiter.as_deref().filter(|d| !d.is_empty()).map(str::as_bytes),
        marker: i.key_marker.as_deref().map(str::as_bytes),
        marker_id: i.upload_id_marker.as_deref(),
        max: limit as usize,
        columns: ListColumns::Bare,
    };
    let page = v.engine.list_uploads(bucket.id, params).await?;
    let (next_key, next_id) = match (page.truncated, &page.last) {
        (true, Some(key)) => (Some(String::from_utf8_lossy(key).into_owned()), Some(page.last_id.clone())),
        _ => (None, None),
    };
    let (uploads, prefixes, truncated) = (page.items, page.prefixes, page.truncated);
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
        key_marker: Some(i.key_marker.clone().unwrap_or_default()),
        upload_id_marker: i.upload_id_marker,
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        max_uploads: Some(limit as i32),
        is_truncated: Some(truncated),
        uploads: Some(listed),
        common_prefixes: Some(
            prefixes.iter().map(|p| CommonPrefix { prefix: Some(String::from_utf8_lossy(p).into_owned()) }).collect(),
        ),
        ..Default::default()
    }))
}
