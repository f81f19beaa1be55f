//! Put/Get/DeleteBucketCors (the rules are evaluated in `s3::cors`, in front of s3s).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudvault_metadata::BucketSetting;

use crate::s3::cors;
use crate::s3::vault::CloudVault;

/// PutBucketCors: validated (`InvalidRequest`), stored, effective at once on this replica.
pub async fn put_bucket_cors(
    v: &CloudVault,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let i = req.input;
    let bucket = v.bucket(&req.extensions, &i.bucket).await?;
    let rules = i.cors_configuration.cors_rules;
    cors::validate(&rules).map_err(|m| s3_error!(InvalidRequest, "{m}"))?;
    let json = serde_json::to_string(&rules).map_err(|e| s3_error!(e, InternalError))?;
    v.engine.set_bucket_setting(&bucket, BucketSetting::Cors, Some(&json)).await?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

/// GetBucketCors: the rules, or `NoSuchCORSConfiguration`.
pub async fn get_bucket_cors(
    v: &CloudVault,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    let Some(json) = bucket.cors.clone() else {
        let mut e = s3_error!(NoSuchCORSConfiguration, "The CORS configuration does not exist");
        e.set_status_code(http::StatusCode::NOT_FOUND);
        return Err(e);
    };
    let rules: Vec<CORSRule> =
        serde_json::from_str(&json).map_err(|e| s3_error!(e, InternalError, "corrupt CORS rules"))?;
    Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(rules) }))
}

/// DeleteBucketCors: 204.
pub async fn delete_bucket_cors(
    v: &CloudVault,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    let bucket = v.bucket(&req.extensions, &req.input.bucket).await?;
    v.engine.set_bucket_setting(&bucket, BucketSetting::Cors, None).await?;
    Ok(S3Response::new(DeleteBucketCorsOutput {}))
}
