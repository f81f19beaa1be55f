//! Conversions between the attributes stored with an object ([`crate::engine::attributes`]), s3s
//! DTOs and stored times.

use std::collections::BTreeMap;

use s3s::dto::{ETag, Metadata, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::limits::MAX_USER_METADATA_BYTES;

pub use crate::engine::attributes::{DEFAULT_CONTENT_TYPE, ObjectAttributes};

impl ObjectAttributes {
    /// User metadata as the s3s DTO, or `None` when there is none.
    pub fn metadata_dto(&self) -> Option<Metadata> {
        (!self.user_metadata.is_empty()).then(|| self.user_metadata.clone().into_iter().collect())
    }
}

/// Builds the [`ObjectAttributes`] a write request sets, from any s3s input DTO with the standard
/// fields (PutObject, CopyObject with `REPLACE`, CreateMultipartUpload). The checksum is set later,
/// once it has been computed.
macro_rules! attributes_from_input {
    ($input:expr) => {
        $crate::s3::attributes::ObjectAttributes {
            content_type: $input.content_type,
            content_encoding: $crate::s3::attributes::strip_aws_chunked($input.content_encoding),
            content_disposition: $input.content_disposition,
            content_language: $input.content_language,
            cache_control: $input.cache_control,
            expires: $input.expires,
            checksum: None,
            user_metadata: $crate::s3::attributes::metadata_from_dto($input.metadata)?,
            tags: $crate::s3::ops::tagging::parse_tagging_header($input.tagging.as_deref())?,
            acl: None,
            upload_id: None,
        }
    };
}
pub(crate) use attributes_from_input;

/// Converts s3s user metadata into the stored form. As on AWS, the names and values together are at
/// most 2 KB (UTF-8 bytes, without the `x-amz-meta-` prefix): `MetadataTooLarge` otherwise.
pub fn metadata_from_dto(metadata: Option<Metadata>) -> S3Result<BTreeMap<String, String>> {
    let pairs: BTreeMap<String, String> =
        metadata.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    let size: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA_BYTES {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("MetadataTooLarge".into()),
            format!(
                "Your metadata headers exceed the maximum allowed metadata size ({MAX_USER_METADATA_BYTES} bytes)."
            ),
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(e);
    }
    Ok(pairs)
}

/// Drops the `aws-chunked` coding (the transfer framing of streaming uploads, which s3s has already
/// decoded) from a Content-Encoding; `None` when nothing else is left.
pub fn strip_aws_chunked(content_encoding: Option<String>) -> Option<String> {
    let value = content_encoding?;
    let kept: Vec<&str> =
        value.split(',').map(str::trim).filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked")).collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// A stored time (ms since the epoch) as an s3s timestamp.
pub fn timestamp(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// An s3s timestamp as ms since the epoch (the stored unit).
pub fn ms_of(ts: &Timestamp) -> i64 {
    let t = time::OffsetDateTime::from(ts.clone());
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stored (unquoted) ETag as the s3s DTO.
pub fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_removed_from_content_encoding() {
        assert_eq!(strip_aws_chunked(Some("aws-chunked".into())), None);
        assert_eq!(strip_aws_chunked(Some("aws-chunked, gzip".into())), Some("gzip".into()));
        assert_eq!(strip_aws_chunked(Some("gzip,aws-chunked".into())), Some("gzip".into()));
        assert_eq!(strip_aws_chunked(Some("br".into())), Some("br".into()));
        assert_eq!(strip_aws_chunked(None), None);
    }

    #[test]
    fn attributes_round_trip_through_json() {
        let mut a = ObjectAttributes { content_type: Some("text/plain".into()), ..Default::default() };
        a.user_metadata.insert("mtime".into(), "1700000000.5".into());
        assert_eq!(ObjectAttributes::decode(&a.encode()).expect("decode"), a);
        assert_eq!(ObjectAttributes::decode("{}").expect("decode"), ObjectAttributes::default());
    }
}
