//! PutObject.

use base64::Engine as _;
use futures::TryStreamExt;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, TrailingHeaders, s3_error};

use cloudvault_metadata::WriteCondition;

use super::acl::{AclRequest, grant_headers, write_acl};
use super::lifecycle::expiration_header;
use super::lock::{requested_retention, require_integrity};
use crate::engine::lock::needs_digest;
use crate::engine::{EngineError, NewObject, StagedBlob};
use crate::s3::attributes::{ObjectAttributes, attributes_from_input, etag};
use crate::s3::checksums::{self, Algorithm, Expectation, Kind, given_checksums, set_checksum_fields};
use crate::s3::error::body_error;
use crate::s3::vault::CloudVault;

/// The `Content-MD5` header as sent: s3s drops an empty one, which AWS refuses as `InvalidDigest`, so
/// the raw header wins over the parsed input.
pub fn content_md5_header<'a>(headers: &'a http::HeaderMap, parsed: Option<&'a str>) -> Option<&'a str> {
    match headers.get("content-md5") {
        Some(raw) => Some(raw.to_str().unwrap_or("")),
        None => parsed,
    }
}

/// Decodes a `Content-MD5` header: base64 of exactly 16 bytes, else `InvalidDigest`.
pub fn parse_content_md5(value: &str) -> S3Result<[u8; 16]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    bytes.try_into().map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))
}

/// The condition of a conditional write: `If-None-Match: *` (create only) or `If-Match: <etag>`.
pub fn write_condition(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
) -> S3Result<WriteCondition> {
    match (if_match, if_none_match) {
        (None, None) => Ok(WriteCondition::None),
        (None, Some(ETagCondition::Any)) => Ok(WriteCondition::IfAbsent),
        (None, Some(ETagCondition::ETag(e))) => Ok(WriteCondition::IfNotEtag(e.value().to_owned())),
        (Some(ETagCondition::ETag(e)), None) => Ok(WriteCondition::IfEtag(e.value().to_owned())),
        (Some(ETagCondition::Any), None) => Ok(WriteCondition::IfExists),
        (Some(_), Some(_)) => Err(s3_error!(InvalidRequest, "If-Match and If-None-Match cannot be combined.")),
    }
}

/// A request body staged on the data volume, with what was verified about it.
#[derive(Debug)]
pub struct VerifiedBody {
    /// The staged blob (dropping it deletes the file).
    pub staged: StagedBlob,
    /// The flexible checksum computed (and verified, when the client sent a value), if one was asked for.
    pub checksum: Option<(Algorithm, String)>,
}

/// Stages a PutObject / UploadPart body and checks everything the client claimed about it: the length
/// (`IncompleteBody`), `Content-MD5` (`BadDigest`) and the flexible checksum, from a header or from the
/// aws-chunked trailer, which can only be read once the body is consumed (`BadDigest`). On any failure
/// the staged file is deleted and nothing was committed.
pub async fn stage_verified(
    v: &CloudVault,
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
    content_md5: Option<&str>,
    expectation: Option<&Expectation>,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<VerifiedBody> {
    let expected_md5 = content_md5.map(parse_content_md5).transpose()?;
    let mut hasher = expectation.map(|e| e.algorithm.hasher());
    let mut observe = |chunk: &[u8]| {
        if let Some(h) = hasher.as_mut() {
            h.update(chunk);
        }
    };
    let staged = match body {
        Some(body) => {
            let announced = content_length.and_then(|n| u64::try_from(n).ok());
            v.engine.stage(body.map_err(body_error), announced, v.max_object_size, &mut observe).await?
        }
        None => {
            let empty = futures::stream::empty::<Result<bytes::Bytes, EngineError>>();
            v.engine.stage(empty, Some(0), 0, &mut observe).await?
        }
    };
    staged.check_length(content_length.map(|n| u64::try_from(n).unwrap_or(u64::MAX)))?;
    if expected_md5.is_some_and(|md5| md5 != staged.md5) {
        return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
    }
    let checksum = match (expectation, hasher) {
        (Some(e), Some(h)) => {
            let trailer_map = trailers.and_then(TrailingHeaders::take);
            Some((e.algorithm, checksums::verify(e, &h.finalize(), trailer_map.as_ref())?))
        }
        _ => None,
    };
    Ok(VerifiedBody { staged, checksum })
}

/// PutObject: stream the body to a staging blob while hashing it, verify Content-MD5 and any flexible
/// checksum (`BadDigest`: nothing stored, the previous object untouched), then commit (see
/// `Engine::put_object`). `aws-chunked` never reaches the stored Content-Encoding, and the size is the
/// decoded length.
pub async fn put_object(v: &CloudVault, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
    let input = req.input;
    let bucket = v.bucket(&req.extensions, &input.bucket).await?;
    let acl = AclRequest {
        canned: input.acl.as_ref().map(ObjectCannedACL::as_str),
        headers: grant_headers!(input),
        body: None,
        bucket: false,
    };
    let (owner_id, acl) = write_acl(v, &req.extensions, &bucket, acl).await?;
    let retention = requested_retention(
        &bucket,
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    if needs_digest(&bucket, &retention) {
        require_integrity(&req.headers)?;
    }
    let condition = write_condition(input.if_match, input.if_none_match)?;
    let given = given_checksums!(input);
    let expectation = checksums::expectation(&req.headers, &given, input.checksum_algorithm.as_ref(), None)?;
    let body = stage_verified(
        v,
        input.body,
        input.content_length,
        content_md5_header(&req.headers, input.content_md5.as_deref()),
        expectation.as_ref(),
        req.trailing_headers.as_ref(),
    )
    .await?;
    let checksum =
        body.checksum.map(|(algorithm, value)| checksums::Stored { algorithm, value, kind: Kind::FullObject });
    let attributes = ObjectAttributes { checksum: checksum.clone(), acl, ..attributes_from_input!(input) };
    let tags = attributes.tags.clone();
    let new = NewObject { key: input.key.into_bytes(), owner_id, attributes, retention };
    let key = new.key.clone();
    let committed = v.engine.put_object(bucket.id, new, body.staged, &condition).await?;
    let day = v.lifecycle_day_ms;
    let expiration = expiration_header(&bucket, &key, committed.size as i64, &tags, committed.last_modified, day);
    let mut output = PutObjectOutput {
        e_tag: Some(etag(&committed.etag)),
        version_id: committed.version_id,
        expiration,
        ..Default::default()
    };
    if let Some(c) = checksum {
        set_checksum_fields!(output, c.dto());
        output.checksum_type = Some(c.kind.dto());
    }
    Ok(S3Response::new(output))
}
