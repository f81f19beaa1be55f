//! ListObjects (V1) and ListObjectsV2.
//!
//! Both are served by the engine's one keyset scan ([`crate::engine::listing`]); V1's
//! `marker`/`NextMarker` and V2's `start-after` and its continuation token all mean "after this key".
//! ListObjectVersions, the same scan over versions, is in [`super::versioning`].

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Bucket, ListColumns, ListedObject};

use super::owner;
use crate::engine::{ListParams, Page};
use crate::limits::MAX_KEYS_PER_PAGE;
use crate::s3::attributes::{etag, timestamp};
use crate::s3::vault::CloudVault;

/// Characters `encoding-type=url` leaves as they are: RFC 3986 unreserved ones and `/`.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// Renders a key or prefix for the response: percent-encoded when the client asked for
/// `encoding-type=url` (botocore always does, and decodes what it gets back).
pub(super) fn render(bytes: &[u8], url: bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    if url { utf8_percent_encode(&text, URL_ENCODE).to_string() } else { text.into_owned() }
}

pub(super) fn wants_url(encoding_type: Option<&EncodingType>) -> S3Result<bool> {
    match encoding_type.map(EncodingType::as_str) {
        None => Ok(false),
        Some(EncodingType::URL) => Ok(true),
        Some(other) => Err(s3_error!(InvalidArgument, "Invalid Encoding Method specified in Request: {other}")),
    }
}

pub(super) fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(MAX_KEYS_PER_PAGE as usize),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must be a non-negative integer.")),
        Some(n) => Ok((n as u32).min(MAX_KEYS_PER_PAGE) as usize),
    }
}

/// A continuation token naming where a listing resumes (opaque to clients).
pub(super) fn encode_token(last: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

/// The resume point of a continuation token (`InvalidArgument` for one CloudVault did not issue).
pub(super) fn decode_token(token: &str) -> S3Result<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| s3_error!(InvalidArgument, "The continuation token provided is incorrect"))
}

/// A listing request's normalized parameters and its page.
struct Listing {
    url: bool,
    limit: usize,
    prefix: String,
    delimiter: Option<String>,
    page: Page<ListedObject>,
}

async fn list_page(
    v: &CloudVault,
    bucket: &Bucket,
    prefix: Option<String>,
    delimiter: Option<String>,
    encoding_type: Option<&EncodingType>,
    max_keys_requested: Option<i32>,
    resume: Option<Vec<u8>>,
) -> S3Result<Listing> {
    let url = wants_url(encoding_type)?;
    let limit = max_keys(max_keys_requested)?;
    let prefix = prefix.unwrap_or_default();
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let params = ListParams {
        prefix: prefix.as_bytes(),
        delimiter: delimiter.as_deref().map(str::as_bytes),
        marker: resume.as_deref(),
        marker_id: None,
        max: limit,
        columns: ListColumns::Bare,
    };
    let mut page = v.engine.list_objects(bucket.id, params).await?;
    // `max-keys=0` asks for nothing and gets nothing, not a truncated listing (as AWS answers).
    page.truncated &= limit > 0;
    Ok(Listing { url, limit, prefix, delimiter, page })
}

/// Runs [`list_page`] for a ListObjects / ListObjectsV2 input (same field names).
macro_rules! list_common {
    ($v:expr, $ext:expr, $i:expr, $resume:expr) => {
        list_page(
            $v,
            &*$v.bucket($ext, &$i.bucket).await?,
            $i.prefix.clone(),
            $i.delimiter.clone(),
            $i.encoding_type.as_ref(),
            $i.max_keys,
            $resume,
        )
    };
}

async fn contents(v: &CloudVault, objects: Vec<ListedObject>, with_owner: bool, url: bool) -> S3Result<Vec<Object>> {
    let mut out = Vec::with_capacity(objects.len());
    for o in objects {
        let owner = if with_owner { Some(owner(o.owner_id, v.keys.user_name(o.owner_id).await?)) } else { None };
        out.push(Object {
            key: Some(render(&o.key, url)),
            size: Some(o.size),
            e_tag: Some(etag(&o.etag)),
            last_modified: Some(timestamp(o.last_modified)),
            storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
            owner,
            ..Default::default()
        });
    }
    Ok(out)
}

pub(super) fn common_prefixes(prefixes: &[Vec<u8>], url: bool) -> Vec<CommonPrefix> {
    prefixes.iter().map(|p| CommonPrefix { prefix: Some(render(p, url)) }).collect()
}

/// ListObjects (V1): `marker` / `NextMarker` paging (NextMarker only with a delimiter, as AWS does;
/// clients resume from the last key otherwise), owners always included.
pub async fn list_objects(v: &CloudVault, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
    let i = req.input;
    let resume = i.marker.as_ref().map(|m| m.as_bytes().to_vec());
    let Listing { url, limit, prefix, delimiter, page } = list_common!(v, &req.extensions, i, resume).await?;
    let next_marker =
        (page.truncated && delimiter.is_some()).then(|| page.last.as_deref().map(|l| render(l, url))).flatten();
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(i.bucket),
        prefix: Some(render(prefix.as_bytes(), url)),
        marker: Some(i.marker.map(|m| render(m.as_bytes(), url)).unwrap_or_default()),
        max_keys: Some(limit as i32),
        delimiter: delimiter.map(|d| render(d.as_bytes(), url)),
        is_truncated: Some(page.truncated),
        next_marker,
        contents: Some(contents(v, page.items, true, url).await?),
        common_prefixes: Some(common_prefixes(&page.prefixes, url)),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}

/// ListObjectsV2: opaque continuation token (the base64 of where the page ended), `start-after`,
/// `fetch-owner`, `KeyCount`.
pub async fn list_objects_v2(
    v: &CloudVault,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let i = req.input;
    let resume = match &i.continuation_token {
        Some(token) => Some(decode_token(token)?),
        None => i.start_after.as_ref().map(|s| s.as_bytes().to_vec()),
    };
    let Listing { url, limit, prefix, delimiter, page } = list_common!(v, &req.extensions, i, resume).await?;
    let key_count = (page.items.len() + page.prefixes.len()) as i32;
    let next = if page.truncated { page.last.as_deref().map(encode_token) } else { None };
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket),
        prefix: Some(render(prefix.as_bytes(), url)),
        delimiter: delimiter.map(|d| render(d.as_bytes(), url)),
        max_keys: Some(limit as i32),
        key_count: Some(key_count),
        continuation_token: i.continuation_token,
        next_continuation_token: next,
        start_after: i.start_after.map(|s| render(s.as_bytes(), url)),
        is_truncated: Some(page.truncated),
        contents: Some(contents(v, page.items, i.fetch_owner.unwrap_or(false), url).await?),
        common_prefixes: Some(common_prefixes(&page.prefixes, url)),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}
