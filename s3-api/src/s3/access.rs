//! Access checks that run after the signature is verified and before the operation.

use s3s::access::{S3Access, S3AccessContext};
use s3s::{S3Result, s3_error};

/// Denies every request that carries no valid signature. (Public buckets, owners and key restrictions
/// arrive with the identity issue; until then every authenticated key acts as its user with full access.)
#[derive(Debug, Clone, Copy)]
pub struct DenyAnonymous;

#[async_trait::async_trait]
impl S3Access for DenyAnonymous {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        match cx.credentials() {
            Some(_) => Ok(()),
            None => Err(s3_error!(AccessDenied, "Anonymous access is denied.")),
        }
    }
}
