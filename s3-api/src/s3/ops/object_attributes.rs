//! GetObjectAttributes: what `x-amz-object-attributes` asks for (ETag, Checksum, ObjectParts with
//! `max-parts` / `part-number-marker` paging, StorageClass, ObjectSize) of the current object or the
//! version `versionId` names, without reading its bytes.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::limits::MAX_PARTS_PER_PAGE;
use crate::s3::attributes::{ObjectAttributes, timestamp};
use crate::s3::vault::{CloudVault, reported_version};

/// GetObjectAttributes. Parts are listed with their sizes (per-part checksums are not kept after
/// completion); a single-part object has no ObjectParts, as on AWS.
pub async fn get_object_attributes(
    v: &CloudVault,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let i = req.input;
    // One header, comma-separated (s3s may hand it over as one element).
    let names: Vec<String> =
        i.object_attributes.iter().flat_map(|a| a.as_str().split(',').map(|n| n.trim().to_owned())).collect();
    let wanted = |name: &str| names.iter().any(|a| a == name);
    let known = [
        s3s::dto::ObjectAttributes::ETAG,
        s3s::dto::ObjectAttributes::CHECKSUM,
        s3s::dto::ObjectAttributes::OBJECT_PARTS,
        s3s::dto::ObjectAttributes::STORAGE_CLASS,
        s3s::dto::ObjectAttributes::OBJECT_SIZE,
    ];
    if names.is_empty() || names.iter().any(|a| !known.contains(&a.as_str())) {
        return Err(s3_error!(InvalidArgument, "Invalid attribute name specified."));
    }
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let (object, _) = v.object_at(bucket.id, &i.key, i.version_id.as_deref()).await?;
    let stored = ObjectAttributes::decode(&object.attributes)?;
    let mut out = GetObjectAttributesOutput {
        last_modified: Some(timestamp(object.last_modified)),
        version_id: reported_version(&bucket, &object.version_id),
        ..Default::default()
    };
    if wanted(s3s::dto::ObjectAttributes::ETAG) {
        out.e_tag = Some(ETag::Strong(object.etag.clone()));
    }
    if wanted(s3s::dto::ObjectAttributes::CHECKSUM) {
        out.checksum = stored.checksum.as_ref().map(|c| c.dto());
    }
    if wanted(s3s::dto::ObjectAttributes::STORAGE_CLASS) {
        out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
    }
    if wanted(s3s::dto::ObjectAttributes::OBJECT_SIZE) {
        out.object_size = Some(object.size);
    }
    if wanted(s3s::dto::ObjectAttributes::OBJECT_PARTS) && object.parts_count.is_some() {
        let max = i.max_parts.map_or(MAX_PARTS_PER_PAGE, |m| m.clamp(0, MAX_PARTS_PER_PAGE)) as usize;
        let after = usize::try_from(i.part_number_marker.unwrap_or(0))
            .map_err(|_| s3_error!(InvalidArgument, "part-number-marker must be a part number."))?;
        let parts: Vec<ObjectPart> = object
            .manifest
            .0
            .iter()
            .enumerate()
            .skip(after)
            .take(max)
            .map(|(n, b)| ObjectPart { part_number: Some(n as i32 + 1), size: Some(b.size), ..Default::default() })
            .collect();
        let last = parts.last().and_then(|p| p.part_number);
        let truncated = after + parts.len() < object.manifest.0.len();
        out.object_parts = Some(GetObjectAttributesParts {
            total_parts_count: object.parts_count.map(|n| n as i32),
            part_number_marker: Some(after as i32),
            next_part_number_marker: last,
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            parts: Some(parts),
        });
    }
    Ok(S3Response::new(out))
}
