//! Object lock: Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold, and
//! the `x-amz-object-lock-*` headers of PutObject, CopyObject and CreateMultipartUpload. What may
//! destroy a protected version is decided in the engine's delete transactions, for S3 and the console
//! alike; this file translates requests and validates them as AWS does.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::{Bucket, BucketLock, LockMode, MetaError, Retention, RetentionPeriod};

use crate::engine::lock::default_period;
use crate::engine::now_ms;
use crate::s3::access::key_allowed;
use crate::s3::attributes::{ms_of, timestamp};
use crate::s3::error::meta_error;
use crate::s3::vault::CloudVault;

fn mode_of(mode: &str) -> S3Result<LockMode> {
    LockMode::parse(mode).ok_or_else(|| s3_error!(InvalidArgument, "Unknown wormMode directive."))
}

/// AWS requires Content-MD5 or a flexible checksum (a header, or a trailer announced by `x-amz-trailer`)
/// on every request with a body that sets object lock settings: PutObject with lock headers or into a
/// bucket with a default retention, and the lock configuration, retention and legal hold calls.
/// Only headers that carry a digest value count: an algorithm name alone (`x-amz-sdk-checksum-algorithm`,
/// `x-amz-checksum-type`) verifies nothing.
pub fn require_integrity(headers: &http::HeaderMap) -> S3Result<()> {
    const VALUE_HEADERS: [&str; 6] = [
        "content-md5",
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-crc64nvme",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
    ];
    let announced = |v: &http::HeaderValue| {
        v.to_str().is_ok_and(|v| VALUE_HEADERS[1..].contains(&v.trim().to_ascii_lowercase().as_str()))
    };
    let has_value = VALUE_HEADERS.iter().any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()));
    if !(has_value || headers.get_all("x-amz-trailer").iter().any(announced)) {
        return Err(s3_error!(
            InvalidRequest,
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"
        ));
    }
    Ok(())
}

/// Lock settings on a bucket without object lock: the one answer for them ([`MetaError::LockNotEnabled`],
/// mapped in `s3/error.rs`).
fn require_lock(bucket: &Bucket) -> S3Result<()> {
    match bucket.object_lock {
        Some(_) => Ok(()),
        None => Err(meta_error(MetaError::LockNotEnabled)),
    }
}

/// The protection a write's `x-amz-object-lock-*` headers ask for, validated as AWS does: only on a
/// bucket with object lock (`InvalidRequest`), mode and retain-until together, the date in the future
/// (`InvalidArgument`).
pub fn requested_retention(
    bucket: &Bucket,
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<Retention> {
    if mode.is_none() && until.is_none() && hold.is_none() {
        return Ok(Retention::default());
    }
    require_lock(bucket)?;
    let (mode, until_ms) = match (mode, until) {
        (None, None) => (None, None),
        (Some(m), Some(u)) => {
            let until_ms = ms_of(u);
            if until_ms <= now_ms() {
                return Err(s3_error!(InvalidArgument, "The retain until date must be in the future!"));
            }
            (Some(mode_of(m.as_str())?), Some(until_ms))
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
            ));
        }
    };
    let legal_hold = match hold.map(ObjectLockLegalHoldStatus::as_str) {
        None | Some(ObjectLockLegalHoldStatus::OFF) => false,
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(_) => return Err(s3_error!(InvalidArgument, "Legal Hold must be either of 'ON' or 'OFF'")),
    };
    Ok(Retention { mode, until_ms, legal_hold })
}

/// Whether the request asks to bypass GOVERNANCE retention of `key` (its version `version`), and may
/// (`s3:BypassGovernanceRetention` on that object; `AccessDenied` when it asks and may not).
pub async fn bypass(
    v: &CloudVault,
    ext: &http::Extensions,
    asked: Option<bool>,
    bucket: &Bucket,
    key: &str,
    version: Option<&str>,
) -> S3Result<bool> {
    if asked != Some(true) {
        return Ok(false);
    }
    match key_allowed(&v.authorizer, ext, bucket, "s3:BypassGovernanceRetention", key, version).await? {
        true => Ok(true),
        false => Err(s3_error!(AccessDenied, "Access Denied")),
    }
}

/// PutObjectLockConfiguration: switches object lock on (a versioned bucket; for good) and sets the
/// default retention (mode and exactly one of Days / Years, positive).
pub async fn put_object_lock_configuration(
    v: &CloudVault,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    require_integrity(&req.headers)?;
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let config = i.object_lock_configuration.ok_or_else(|| s3_error!(MalformedXML))?;
    if config.object_lock_enabled.as_ref().map(ObjectLockEnabled::as_str) != Some(ObjectLockEnabled::ENABLED) {
        return Err(s3_error!(MalformedXML, "ObjectLockEnabled must be Enabled."));
    }
    let default = match config.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(d) => {
            let mode = mode_of(d.mode.as_ref().ok_or_else(|| s3_error!(MalformedXML))?.as_str())?;
            Some((mode, default_period(d.days.map(i64::from), d.years.map(i64::from))?))
        }
    };
    v.engine.set_bucket_lock(&bucket, &BucketLock { default }).await?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

/// GetObjectLockConfiguration: `ObjectLockConfigurationNotFoundError` on a bucket without object lock.
pub async fn get_object_lock_configuration(
    v: &CloudVault,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let lock = bucket.object_lock.ok_or_else(|| {
        s3_error!(ObjectLockConfigurationNotFoundError, "Object Lock configuration does not exist for this bucket")
    })?;
    let rule = lock.default.map(|(mode, period)| ObjectLockRule {
        default_retention: Some(DefaultRetention {
            mode: Some(ObjectLockRetentionMode::from(mode.as_str().to_owned())),
            days: match period {
                RetentionPeriod::Days(d) => i32::try_from(d).ok(),
                RetentionPeriod::Years(_) => None,
            },
            years: match period {
                RetentionPeriod::Years(y) => i32::try_from(y).ok(),
                RetentionPeriod::Days(_) => None,
            },
        }),
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

/// PutObjectRetention: sets, extends or (GOVERNANCE with bypass) shortens or removes one version's
/// retention. COMPLIANCE only ever gets longer.
pub async fn put_object_retention(
    v: &CloudVault,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    require_integrity(&req.headers)?;
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let bypass =
        bypass(v, &req.extensions, i.bypass_governance_retention, &bucket, &i.key, i.version_id.as_deref()).await?;
    let (object, _) = v.object_at(bucket.id, &i.key, i.version_id.as_deref()).await?;
    let retention = match i.retention {
        Some(ObjectLockRetention { mode: Some(m), retain_until_date: Some(u) }) => {
            let until = ms_of(&u);
            if until <= now_ms() {
                return Err(s3_error!(InvalidArgument, "The retain until date must be in the future!"));
            }
            Some((mode_of(m.as_str())?, until))
        }
        Some(ObjectLockRetention { mode: None, retain_until_date: None }) | None => None,
        Some(_) => return Err(s3_error!(MalformedXML, "Mode and RetainUntilDate must both be given.")),
    };
    v.engine.set_retention(&bucket, i.key.as_bytes(), &object.version_id, retention, bypass).await?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

/// GetObjectRetention: `NoSuchObjectLockConfiguration` when the version has none.
pub async fn get_object_retention(
    v: &CloudVault,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    require_lock(&bucket)?;
    let (object, _) = v.object_at(bucket.id, &i.key, i.version_id.as_deref()).await?;
    let (Some(mode), Some(until)) = (object.retention.mode, object.retention.until_ms) else {
        return Err(s3_error!(
            NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration"
        ));
    };
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from(mode.as_str().to_owned())),
            retain_until_date: Some(timestamp(until)),
        }),
    }))
}

/// PutObjectLegalHold: ON or OFF for one version.
pub async fn put_object_legal_hold(
    v: &CloudVault,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    require_integrity(&req.headers)?;
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let on = match i.legal_hold.and_then(|h| h.status).as_ref().map(ObjectLockLegalHoldStatus::as_str) {
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(ObjectLockLegalHoldStatus::OFF) => false,
        _ => return Err(s3_error!(MalformedXML, "The legal hold Status must be ON or OFF.")),
    };
    let (object, _) = v.object_at(bucket.id, &i.key, i.version_id.as_deref()).await?;
    v.engine.set_legal_hold(&bucket, i.key.as_bytes(), &object.version_id, on).await?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

/// GetObjectLegalHold: the version's hold status (OFF when never set).
pub async fn get_object_legal_hold(
    v: &CloudVault,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    require_lock(&bucket)?;
    let (object, _) = v.object_at(bucket.id, &i.key, i.version_id.as_deref()).await?;
    let status =
        if object.retention.legal_hold { ObjectLockLegalHoldStatus::ON } else { ObjectLockLegalHoldStatus::OFF };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold { status: Some(ObjectLockLegalHoldStatus::from_static(status)) }),
    }))
}
