//! The s3s access hook: every S3 request is authorized by the shared [`crate::auth::Authorizer`] after
//! s3s verified its signature.

use std::sync::Arc;

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;

use crate::auth::{Authorizer, action_of};
use crate::engine::buckets::AuthorizedBucket;

/// The s3s access hook: resolves the signed access key to its user (once per request) and asks the
/// [`Authorizer`]. The principal and the authorized bucket go into the request's extensions, where the
/// operation finds them.
#[derive(Debug, Clone)]
pub struct S3Authz(pub Arc<Authorizer>);

#[async_trait::async_trait]
impl S3Access for S3Authz {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let operation = cx.s3_op().name().to_owned();
        if let Some(slot) = cx.extensions_mut().get::<crate::metrics::OperationSlot>() {
            slot.set(&operation);
        }
        let caller = match cx.credentials() {
            Some(creds) => Some(self.0.keys.principal(&creds.access_key).await?),
            None => None,
        };
        if let Some(p) = &caller {
            cx.extensions_mut().insert(p.clone());
        }
        let versioned = cx.uri().query().is_some_and(|q| q.split('&').any(|p| p.starts_with("versionId=")));
        let action = action_of(&operation, versioned);
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        if let Some(found) = self.0.authorize(caller.as_ref(), &action, bucket.as_deref(), key.as_deref()).await? {
            cx.extensions_mut().insert(AuthorizedBucket(found));
        }
        Ok(())
    }
}
