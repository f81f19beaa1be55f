//! The s3s authentication hook: gives s3s the secret of an access key from the shared key store
//! ([`crate::auth::KeyStore`]) so it can verify the SigV4 signature.

use std::sync::Arc;

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::auth::KeyStore;

/// The s3s authentication provider: gives s3s the secret of an access key so it can verify the SigV4
/// signature; unknown, disabled and expired keys get `InvalidAccessKeyId`.
#[derive(Debug, Clone)]
pub struct Auth(pub Arc<KeyStore>);

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.lookup(access_key).await? {
            Some(key) => Ok(SecretKey::from(key.secret)),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}
