//! Object tagging (Put/Get/DeleteObjectTagging, `x-amz-tagging` on writes, the tag count on GET) and
//! bucket tagging. Object tags live with the object's attributes; bucket tags in the bucket row.

use std::collections::BTreeMap;
use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Bucket, BucketSetting, ObjectRecord};

use crate::limits::{MAX_BUCKET_TAGS, MAX_OBJECT_TAGS};
use crate::s3::attributes::ObjectAttributes;
use crate::s3::vault::{CloudVault, reported_version};

/// Validates a tag set against AWS's rules (`InvalidTag`): keys 1..=128 characters, values up to 256,
/// no duplicate keys, at most `max` tags.
fn validate(pairs: Vec<(String, String)>, max: usize) -> S3Result<BTreeMap<String, String>> {
    if pairs.len() > max {
        return Err(s3_error!(InvalidTag, "At most {max} tags are allowed."));
    }
    let mut tags = BTreeMap::new();
    for (key, value) in pairs {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(s3_error!(InvalidTag, "The TagKey you have provided is invalid"));
        }
        if value.chars().count() > 256 {
            return Err(s3_error!(InvalidTag, "The TagValue you have provided is invalid"));
        }
        if tags.insert(key, value).is_some() {
            return Err(s3_error!(InvalidTag, "Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(tags)
}

fn from_dto(tag_set: TagSet, max: usize) -> S3Result<BTreeMap<String, String>> {
    validate(tag_set.into_iter().map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect(), max)
}

fn to_dto(tags: &BTreeMap<String, String>) -> TagSet {
    tags.iter().map(|(k, v)| Tag { key: Some(k.clone()), value: Some(v.clone()) }).collect()
}

/// Parses the `x-amz-tagging` header of PutObject / CreateMultipartUpload / CopyObject
/// (`k1=v1&k2=v2`, URL-encoded).
pub fn parse_tagging_header(header: Option<&str>) -> S3Result<BTreeMap<String, String>> {
    let Some(header) = header.filter(|h| !h.is_empty()) else { return Ok(BTreeMap::new()) };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| s3_error!(InvalidTag, "The x-amz-tagging header is not valid UTF-8."))
    };
    let mut pairs = Vec::new();
    for pair in header.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((decode(k)?, decode(v)?));
    }
    validate(pairs, MAX_OBJECT_TAGS)
}

/// A browser form's `tagging` field (a `<Tagging>` XML document, as AWS takes it) in the form of the
/// `x-amz-tagging` header, which the write path reads: validated as PutObjectTagging validates its
/// body (400 `MalformedXML`, `InvalidTag`).
pub fn tagging_document_as_header(xml: &str) -> S3Result<String> {
    let mut reader = s3s::xml::Deserializer::new(xml.as_bytes());
    let parsed = <Tagging as s3s::xml::Deserialize>::deserialize(&mut reader).and_then(|t| {
        reader.expect_eof()?;
        Ok(t)
    });
    let tagging = parsed.map_err(|_| {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    })?;
    let tags = from_dto(tagging.tag_set, MAX_OBJECT_TAGS)?;
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    Ok(tags.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&"))
}

/// The object version a tagging (or ACL) request names (`versionId`, else the current one).
pub(super) struct Target {
    /// The bucket.
    pub(super) bucket: Arc<Bucket>,
    /// The version.
    pub(super) object: ObjectRecord,
    /// Its attributes, to change and [`Target::store`].
    pub(super) attributes: ObjectAttributes,
}

impl Target {
    /// Reads the version named.
    pub(super) async fn resolve(
        v: &CloudVault,
        ext: &http::Extensions,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<Self> {
        let bucket = v.bucket(ext, bucket).await?;
        let (object, _) = v.object_at(bucket.id, key, version_id).await?;
        let attributes = ObjectAttributes::decode(&object.attributes)?;
        Ok(Target { bucket, object, attributes })
    }

    /// Stores the new attributes on exactly the version read (guarded by its id and ETag: an overwrite
    /// racing the tag update never gets the tags).
    pub(super) async fn store(&self, v: &CloudVault) -> S3Result<()> {
        Ok(v.engine.update_attributes(self.bucket.id, &self.object, &self.attributes).await?)
    }

    /// The version id the response reports.
    pub(super) fn version_id(&self) -> Option<String> {
        reported_version(&self.bucket, &self.object.version_id)
    }
}

/// GetObjectTagging (an object without tags has an empty TagSet).
pub async fn get_object_tagging(
    v: &CloudVault,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = &req.input;
    let t = Target::resolve(v, &req.extensions, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    Ok(S3Response::new(GetObjectTaggingOutput { tag_set: to_dto(&t.attributes.tags), version_id: t.version_id() }))
}

/// PutObjectTagging: replaces the whole tag set (an empty TagSet removes every tag).
pub async fn put_object_tagging(
    v: &CloudVault,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let i = req.input;
    let tags = from_dto(i.tagging.tag_set, MAX_OBJECT_TAGS)?;
    let mut t = Target::resolve(v, &req.extensions, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    t.attributes.tags = tags;
    t.store(v).await?;
    Ok(S3Response::new(PutObjectTaggingOutput { version_id: t.version_id() }))
}

/// DeleteObjectTagging: 204, tags gone.
pub async fn delete_object_tagging(
    v: &CloudVault,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = &req.input;
    let mut t = Target::resolve(v, &req.extensions, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    t.attributes.tags.clear();
    t.store(v).await?;
    Ok(S3Response::new(DeleteObjectTaggingOutput { version_id: t.version_id() }))
}

/// GetBucketTagging: `NoSuchTagSet` when the bucket has none.
pub async fn get_bucket_tagging(
    v: &CloudVault,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let tags: BTreeMap<String, String> = match bucket.tags.as_deref() {
        Some(json) => serde_json::from_str(json).map_err(|e| s3_error!(e, InternalError, "corrupt bucket tags"))?,
        None => BTreeMap::new(),
    };
    if tags.is_empty() {
        return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
    }
    Ok(S3Response::new(GetBucketTaggingOutput { tag_set: to_dto(&tags) }))
}

/// PutBucketTagging: replaces the bucket's tag set.
pub async fn put_bucket_tagging(
    v: &CloudVault,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let i = req.input;
    let tags = from_dto(i.tagging.tag_set, MAX_BUCKET_TAGS)?;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let json = serde_json::to_string(&tags).map_err(|e| s3_error!(e, InternalError))?;
    let value = (!tags.is_empty()).then_some(json);
    v.engine.set_bucket_setting(&bucket, BucketSetting::Tags, value.as_deref()).await?;
    Ok(S3Response::new(PutBucketTaggingOutput {}))
}

/// DeleteBucketTagging: 204.
pub async fn delete_bucket_tagging(
    v: &CloudVault,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.set_bucket_setting(&bucket, BucketSetting::Tags, None).await?;
    Ok(S3Response::new(DeleteBucketTaggingOutput {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_header_is_url_decoded_and_validated() {
        let tags = parse_tagging_header(Some("project=cloud%20vault&team=a%2Bb&empty=")).expect("valid");
        assert_eq!(tags.get("project").map(String::as_str), Some("cloud vault"));
        assert_eq!(tags.get("team").map(String::as_str), Some("a+b"));
        assert_eq!(tags.get("empty").map(String::as_str), Some(""));
        assert!(parse_tagging_header(Some("a=1&a=2")).is_err(), "duplicate keys");
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert!(parse_tagging_header(Some(&eleven.join("&"))).is_err(), "more than 10 tags");
        assert!(parse_tagging_header(Some(&format!("{}=v", "k".repeat(129)))).is_err(), "key too long");
        assert!(parse_tagging_header(None).expect("none").is_empty());
    }
}
