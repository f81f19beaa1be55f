//! The s3s access hook: every S3 request is authorized by the shared [`crate::auth::Authorizer`] after
//! s3s verified its signature, with the condition keys its headers and query carry.

use std::sync::Arc;

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;

use crate::auth::authorizer::AccessRequest;
use crate::auth::context::s3_request_keys;
use crate::auth::origin::Origin;
use crate::auth::{Authorizer, Principal, action_of};
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
        // The listener records where the request came from (`server::RequestIds`).
        let origin = cx.extensions_mut().get::<Origin>().copied().unwrap_or_default();
        let caller = match cx.credentials() {
            Some(creds) => Some(Principal { origin, ..self.0.keys.principal(&creds.access_key).await? }),
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
        let request = AccessRequest {
            caller: caller.as_ref(),
            origin,
            action: &action,
            bucket: bucket.as_deref(),
            key: key.as_deref(),
            keys: s3_request_keys(cx.headers(), cx.uri().query()),
            per_key: operation == "DeleteObjects",
        };
        if let Some(found) = self.0.decide(request).await? {
            cx.extensions_mut().insert(AuthorizedBucket(found));
        }
        Ok(())
    }
}
