//! Put/Get/DeleteBucketLifecycleConfiguration: AWS's validation of the rules, translated to and from
//! the engine's stored form ([`crate::engine::lifecycle`]), which the janitor applies. Transitions are
//! refused (there are no storage classes), never accepted and ignored.

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::engine::lifecycle::{self as rules, Filter, Lifecycle, MAX_RULES};
use crate::s3::attributes::{ms_of, timestamp};
use crate::s3::vault::CloudVault;

fn filter_of(rule: &LifecycleRule) -> S3Result<Filter> {
    let mut f = Filter::default();
    let Some(filter) = &rule.filter else {
        f.prefix = rule.prefix.clone().unwrap_or_default();
        return Ok(f);
    };
    if rule.prefix.is_some() {
        return Err(s3_error!(MalformedXML, "A rule cannot have both Prefix and Filter."));
    }
    let given = [filter.and.is_some(), filter.prefix.is_some(), filter.tag.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(s3_error!(MalformedXML, "A Filter holds exactly one of Prefix, Tag and And."));
    }
    f.prefix = filter.prefix.clone().unwrap_or_default();
    if let Some(tag) = &filter.tag {
        f.tags.insert(tag.key.clone().unwrap_or_default(), tag.value.clone().unwrap_or_default());
    }
    f.size_greater_than = filter.object_size_greater_than;
    f.size_less_than = filter.object_size_less_than;
    if let Some(and) = &filter.and {
        f.prefix = and.prefix.clone().unwrap_or_default();
        for tag in and.tags.iter().flatten() {
            let key = tag.key.clone().unwrap_or_default();
            if f.tags.insert(key, tag.value.clone().unwrap_or_default()).is_some() {
                return Err(s3_error!(InvalidArgument, "Duplicate Tag Keys are not allowed."));
            }
        }
        f.size_greater_than = and.object_size_greater_than.or(f.size_greater_than);
        f.size_less_than = and.object_size_less_than.or(f.size_less_than);
    }
    Ok(f)
}

/// One rule from its XML form; the XML's shape is checked here (`MalformedXML`), the values by
/// [`Lifecycle::validated`].
fn rule_of(rule: &LifecycleRule) -> S3Result<rules::Rule> {
    if rule.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || rule.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
    {
        return Err(s3_error!(NotImplemented, "Transitions are not supported: CloudVault has one storage class."));
    }
    let enabled = match rule.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(s3_error!(MalformedXML, "Status must be Enabled or Disabled.")),
    };
    let mut out = rules::Rule {
        id: rule.id.clone().unwrap_or_default(),
        enabled,
        filter: filter_of(rule)?,
        ..Default::default()
    };
    if let Some(e) = &rule.expiration {
        let set = [e.days.is_some(), e.date.is_some(), e.expired_object_delete_marker.is_some()];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(s3_error!(
                MalformedXML,
                "Expiration holds exactly one of Days, Date and ExpiredObjectDeleteMarker."
            ));
        }
        out.expiration_days = e.days.map(i64::from);
        out.expiration_date_ms = e.date.as_ref().map(ms_of);
        out.expired_object_delete_marker = e.expired_object_delete_marker == Some(true);
    }
    if let Some(n) = &rule.noncurrent_version_expiration {
        out.noncurrent_days = n.noncurrent_days.map(i64::from);
        if out.noncurrent_days.is_none() {
            return Err(s3_error!(MalformedXML, "NoncurrentVersionExpiration needs NoncurrentDays."));
        }
        out.newer_noncurrent_versions = n.newer_noncurrent_versions.map(i64::from);
    }
    if let Some(a) = &rule.abort_incomplete_multipart_upload {
        out.abort_incomplete_days = a.days_after_initiation.map(i64::from);
        if out.abort_incomplete_days.is_none() {
            return Err(s3_error!(MalformedXML, "AbortIncompleteMultipartUpload needs DaysAfterInitiation."));
        }
    }
    Ok(out)
}

/// PutBucketLifecycleConfiguration: replaces the bucket's rules, validated by
/// [`Lifecycle::validated`] (≤ 1000, ids ≤ 255 characters and unique; a missing id gets one).
pub async fn put_bucket_lifecycle_configuration(
    v: &CloudVault,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let config = i.lifecycle_configuration.ok_or_else(|| s3_error!(MalformedXML))?;
    if config.rules.len() > MAX_RULES {
        return Err(s3_error!(MalformedXML, "A lifecycle configuration holds 1 to {MAX_RULES} rules."));
    }
    let rules = config.rules.iter().map(rule_of).collect::<S3Result<Vec<_>>>()?;
    let stored = Lifecycle { rules }.validated()?;
    v.engine.set_lifecycle(&bucket, Some(&stored)).await?;
    Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
}

fn filter_dto(f: &Filter) -> LifecycleRuleFilter {
    let tags: Vec<Tag> = f.tags.iter().map(|(k, v)| Tag { key: Some(k.clone()), value: Some(v.clone()) }).collect();
    let sizes = f.size_greater_than.is_some() || f.size_less_than.is_some();
    if tags.len() > 1 || (!tags.is_empty() && (!f.prefix.is_empty() || sizes)) {
        return LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some(f.prefix.clone()),
                tags: Some(tags),
                object_size_greater_than: f.size_greater_than,
                object_size_less_than: f.size_less_than,
            }),
            ..Default::default()
        };
    }
    LifecycleRuleFilter {
        prefix: tags.is_empty().then(|| f.prefix.clone()),
        tag: tags.into_iter().next(),
        object_size_greater_than: f.size_greater_than,
        object_size_less_than: f.size_less_than,
        ..Default::default()
    }
}

fn rule_dto(r: &rules::Rule) -> LifecycleRule {
    let expiration = (r.expiration_days.is_some() || r.expiration_date_ms.is_some() || r.expired_object_delete_marker)
        .then(|| LifecycleExpiration {
            days: r.expiration_days.and_then(|d| i32::try_from(d).ok()),
            date: r.expiration_date_ms.map(timestamp),
            expired_object_delete_marker: r.expired_object_delete_marker.then_some(true),
        });
    LifecycleRule {
        id: Some(r.id.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter: Some(filter_dto(&r.filter)),
        expiration,
        noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            noncurrent_days: i32::try_from(d).ok(),
            newer_noncurrent_versions: r.newer_noncurrent_versions.and_then(|n| i32::try_from(n).ok()),
        }),
        abort_incomplete_multipart_upload: r
            .abort_incomplete_days
            .map(|d| AbortIncompleteMultipartUpload { days_after_initiation: i32::try_from(d).ok() }),
        prefix: None,
        transitions: None,
        noncurrent_version_transitions: None,
    }
}

/// GetBucketLifecycleConfiguration: `NoSuchLifecycleConfiguration` when the bucket has none.
pub async fn get_bucket_lifecycle_configuration(
    v: &CloudVault,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let stored = Lifecycle::of(&bucket)?
        .ok_or_else(|| s3_error!(NoSuchLifecycleConfiguration, "The lifecycle configuration does not exist"))?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(stored.rules.iter().map(rule_dto).collect()),
        ..Default::default()
    }))
}

/// DeleteBucketLifecycle: 204; no rule applies any more.
pub async fn delete_bucket_lifecycle(
    v: &CloudVault,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.set_lifecycle(&bucket, None).await?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
}

/// The `x-amz-expiration` value for a current object under `bucket`'s rules
/// (`expiry-date="<HTTP date>", rule-id="<id>"`), if a rule will expire it.
pub fn expiration_header(
    bucket: &cloudvault_metadata::Bucket,
    key: &[u8],
    size: i64,
    tags: &BTreeMap<String, String>,
    written: i64,
    day: i64,
) -> Option<String> {
    let rules = Lifecycle::of(bucket).ok().flatten()?;
    let (at, id) = rules.expiry_of(key, size, tags, written, day)?;
    let mut date = Vec::new();
    timestamp(at).format(TimestampFormat::HttpDate, &mut date).ok()?;
    Some(format!("expiry-date=\"{}\", rule-id=\"{id}\"", String::from_utf8_lossy(&date)))
}
