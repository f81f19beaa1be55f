//! GetObject and HeadObject: conditionals, ranges, `partNumber`, `response-content-*` overrides.

use std::ops::Range as ByteRange;

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::ObjectRecord;

use super::lifecycle::expiration_header;
use crate::s3::attributes::{ObjectAttributes, etag, timestamp};
use crate::s3::checksums::{Stored, set_checksum_fields};
use crate::s3::conditional::{Conditions, Validators};
use crate::s3::vault::{CloudVault, reported_version};

/// What GET and HEAD share: the object (the version asked for), its attributes, and the byte range to
/// serve.
struct Selected {
    object: ObjectRecord,
    /// `x-amz-expiration`, when a lifecycle rule will expire this (current) version.
    expiration: Option<String>,
    /// The version id to report (none in a bucket that never had versioning).
    version_id: Option<String>,
    attributes: ObjectAttributes,
    /// An inline object's bytes, when the lookup brought them (GET of the current version).
    prefetched: Option<bytes::Bytes>,
    range: ByteRange<u64>,
    /// `Content-Range` when the answer is partial (206).
    content_range: Option<String>,
}

/// What a GET or HEAD names: the object and which version of it.
struct Target<'a> {
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    /// A GET: read an inline object's bytes with its row.
    with_bytes: bool,
}

/// Resolves the object (the version `versionId` names, else the current one), evaluates the
/// conditions, and picks the range (`Range` or `partNumber`).
async fn select(
    v: &CloudVault,
    ext: &http::Extensions,
    target: Target<'_>,
    conditions: Conditions<'_>,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<Selected> {
    let bucket = v.bucket(ext, target.bucket).await?;
    let (object, prefetched) = match target.version_id {
        None if target.with_bytes => v.object_with_bytes(bucket.id, target.key).await?,
        _ => (v.object_at(bucket.id, target.key, target.version_id).await?.0, None),
    };
    let version_id = reported_version(&bucket, &object.version_id);
    conditions.check_read(Validators { etag: &object.etag, last_modified_ms: object.last_modified })?;
    let size = object.size.max(0) as u64;
    let (range, partial) = match (range, part_number) {
        (Some(_), Some(_)) => return Err(s3_error!(InvalidRequest, "Range and partNumber cannot both be given.")),
        (Some(r), None) => {
            let r = r
                .check(size)
                .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable (object size {size})."))?;
            (r, true)
        }
        (None, Some(n)) => (part_range(&object, n)?, object.parts_count.is_some()),
        (None, None) => (0..size, false),
    };
    let content_range = partial.then(|| {
        if range.is_empty() {
            format!("bytes */{size}")
        } else {
            format!("bytes {}-{}/{size}", range.start, range.end - 1)
        }
    });
    let attributes = ObjectAttributes::decode(&object.attributes)?;
    let expiration = match target.version_id {
        None => expiration_header(
            &bucket,
            &object.key,
            object.size,
            &attributes.tags,
            object.last_modified,
            v.lifecycle_day_ms,
        ),
        Some(_) => None,
    };
    Ok(Selected { object, expiration, version_id, attributes, prefetched, range, content_range })
}

/// The byte range of part `n` (1-based). A single-part object has exactly one part, the whole object.
fn part_range(object: &ObjectRecord, n: i32) -> S3Result<ByteRange<u64>> {
    let parts = &object.manifest.0;
    let count = if object.parts_count.is_some() { parts.len() } else { 1 };
    let index = usize::try_from(n).ok().filter(|n| (1..=count).contains(n)).ok_or_else(|| {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("InvalidPartNumber".into()),
            "The requested partnumber is not satisfiable",
        );
        e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        e
    })?;
    if object.parts_count.is_none() {
        return Ok(0..object.size.max(0) as u64);
    }
    let start: u64 = parts[..index - 1].iter().map(|b| b.size.max(0) as u64).sum();
    Ok(start..start + parts[index - 1].size.max(0) as u64)
}

/// The stored checksum, returned with `x-amz-checksum-mode: ENABLED` when the whole object is served
/// (a range has no stored checksum).
fn returned_checksum(mode: Option<&ChecksumMode>, s: &Selected) -> Option<Stored> {
    let enabled = mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED));
    let whole = s.range.start == 0 && s.range.end == s.object.size.max(0) as u64;
    if enabled && whole { s.attributes.checksum.clone() } else { None }
}

/// What S3 reports for an object stored without a Content-Type.
fn default_content_type() -> Option<String> {
    Some(crate::s3::attributes::DEFAULT_CONTENT_TYPE.to_owned())
}

fn http_date(ts: &Timestamp) -> Option<String> {
    let mut out = Vec::new();
    ts.format(TimestampFormat::HttpDate, &mut out).ok()?;
    String::from_utf8(out).ok()
}

/// Resolves a GET/HEAD input (same field names on both) to the selected object.
macro_rules! select_for {
    ($v:expr, $ext:expr, $i:expr, $with_bytes:expr) => {
        select(
            $v,
            $ext,
            Target { bucket: &$i.bucket, key: &$i.key, version_id: $i.version_id.as_deref(), with_bytes: $with_bytes },
            Conditions {
                if_match: $i.if_match.as_ref(),
                if_none_match: $i.if_none_match.as_ref(),
                if_modified_since: $i.if_modified_since.as_ref(),
                if_unmodified_since: $i.if_unmodified_since.as_ref(),
            },
            $i.range.as_ref(),
            $i.part_number,
        )
    };
}

/// Builds a GetObjectOutput / HeadObjectOutput (same field names) with every header GET and HEAD share:
/// length, range, validators, HTTP attributes with the `response-*` overrides, user metadata, part
/// count and, with checksum mode, the stored checksum.
macro_rules! object_output {
    ($output:ident, $i:expr, $s:expr) => {{
        let checksum = returned_checksum($i.checksum_mode.as_ref(), &$s);
        let a = &$s.attributes;
        let mut output = $output {
            content_length: Some(($s.range.end - $s.range.start) as i64),
            content_range: $s.content_range.clone(),
            accept_ranges: Some("bytes".to_owned()),
            e_tag: Some(etag(&$s.object.etag)),
            last_modified: Some(timestamp($s.object.last_modified)),
            content_type: $i.response_content_type.or(a.content_type.clone()).or_else(default_content_type),
            content_encoding: $i.response_content_encoding.or(a.content_encoding.clone()),
            content_disposition: $i.response_content_disposition.or(a.content_disposition.clone()),
            content_language: $i.response_content_language.or(a.content_language.clone()),
            cache_control: $i.response_cache_control.or(a.cache_control.clone()),
            expires: $i.response_expires.as_ref().and_then(http_date).or(a.expires.clone()),
            metadata: a.metadata_dto(),
            parts_count: $s.object.parts_count.map(|n| n as i32),
            version_id: $s.version_id.clone(),
            expiration: $s.expiration.clone(),
            object_lock_mode: $s.object.retention.mode.map(|m| ObjectLockMode::from(m.as_str().to_owned())),
            object_lock_retain_until_date: $s.object.retention.until_ms.map(timestamp),
            object_lock_legal_hold_status: $s
                .object
                .retention
                .legal_hold
                .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
            ..Default::default()
        };
        if let Some(c) = checksum {
            set_checksum_fields!(output, c.dto());
            output.checksum_type = Some(c.kind.dto());
        }
        output
    }};
}

/// GetObject: the headers, and the selected bytes streamed from the object's blobs. As on AWS, an
/// anonymous request may not override response headers (a public text file must not be served as
/// `text/html`): `InvalidRequest`.
pub async fn get_object(v: &CloudVault, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
    let i = req.input;
    let overrides = [
        &i.response_content_type,
        &i.response_content_disposition,
        &i.response_content_encoding,
        &i.response_content_language,
        &i.response_cache_control,
    ];
    if req.credentials.is_none() && (overrides.iter().any(|o| o.is_some()) || i.response_expires.is_some()) {
        return Err(s3_error!(
            InvalidRequest,
            "Request specific response headers cannot be used for anonymous GET requests."
        ));
    }
    let s = select_for!(v, &req.extensions, i, true).await?;
    let body = v.engine.open_read_prefetched(&s.object.manifest, s.range.clone(), s.prefetched.clone()).await?;
    let tags = s.attributes.tags.len();
    let mut output = object_output!(GetObjectOutput, i, s);
    output.body = Some(StreamingBlob::wrap(body));
    output.tag_count = (tags > 0).then_some(tags as i32);
    Ok(S3Response::new(output))
}

/// HeadObject: the same headers as GetObject, no body (errors too).
pub async fn head_object(v: &CloudVault, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
    let i = req.input;
    let s = select_for!(v, &req.extensions, i, false).await?;
    let tags = s.attributes.tags.len();
    let output = object_output!(HeadObjectOutput, i, s);
    // s3s sets 206 for a GET with Content-Range; a ranged HEAD answers 206 too, as on AWS.
    let mut response = if output.content_range.is_some() {
        S3Response::with_status(output, http::StatusCode::PARTIAL_CONTENT)
    } else {
        S3Response::new(output)
    };
    // HeadObjectOutput has no tag count; AWS sends the header on HEAD as on GET.
    if tags > 0 {
        response.headers.insert("x-amz-tagging-count", http::HeaderValue::from(tags));
    }
    Ok(response)
}
