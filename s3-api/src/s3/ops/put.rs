//! PutObject.

use base64::Engine as _;
use futures::TryStreamExt;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Manifest, ObjectRecord, WriteCondition};

use crate::engine::now_ms;
use crate::s3::attributes::{ObjectAttributes, etag, metadata_from_dto, strip_aws_chunked};
use crate::s3::error::body_error;
use crate::s3::vault::CloudVault;

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
        (None, Some(ETagCondition::ETag(_))) => {
            Err(s3_error!(NotImplemented, "If-None-Match on writes supports only '*'."))
        }
        (Some(ETagCondition::ETag(e)), None) => Ok(WriteCondition::IfEtag(e.value().to_owned())),
        (Some(ETagCondition::Any), None) => Err(s3_error!(NotImplemented, "If-Match: * is not supported on writes.")),
        (Some(_), Some(_)) => Err(s3_error!(InvalidRequest, "If-Match and If-None-Match cannot be combined.")),
    }
}

/// PutObject: stream the body to a staging blob while hashing it, verify Content-MD5 (`BadDigest`,
/// nothing stored and the previous object untouched), then commit (see `Engine::commit_single`).
pub async fn put_object(v: &CloudVault, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
    let me = v.principal(&req).await?;
    let input = req.input;
    let bucket = v.bucket(&input.bucket).await?;
    let expected_md5 = input.content_md5.as_deref().map(parse_content_md5).transpose()?;
    let condition = write_condition(input.if_match, input.if_none_match)?;
    let staged = match input.body {
        Some(body) => v.engine.blobs.stage(body.map_err(body_error), v.max_object_size).await?,
        None => {
            v.engine
                .blobs
                .stage(futures::stream::empty::<Result<bytes::Bytes, crate::engine::EngineError>>(), 0)
                .await?
        }
    };
    if let Some(declared) = input.content_length
        && u64::try_from(declared).ok() != Some(staged.size)
    {
        return Err(s3_error!(IncompleteBody, "The request body length does not match Content-Length."));
    }
    if expected_md5.is_some_and(|md5| md5 != staged.md5) {
        return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
    }
    let attributes = ObjectAttributes {
        content_type: input.content_type,
        content_encoding: strip_aws_chunked(input.content_encoding),
        content_disposition: input.content_disposition,
        content_language: input.content_language,
        cache_control: input.cache_control,
        expires: input.expires,
        user_metadata: metadata_from_dto(input.metadata),
    };
    let etag_hex = hex::encode(staged.md5);
    let record = ObjectRecord {
        key: input.key.into_bytes(),
        size: staged.size as i64,
        etag: etag_hex.clone(),
        last_modified: now_ms(),
        owner_id: me.user_id,
        attributes: attributes.encode(),
        manifest: Manifest::default(),
        parts_count: None,
    };
    v.engine.commit_single(bucket.id, staged, record, &condition).await?;
    Ok(S3Response::new(PutObjectOutput { e_tag: Some(etag(&etag_hex)), ..Default::default() }))
}
