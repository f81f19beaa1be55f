//! Who is calling: access keys resolved to users, for s3s's signature check and for ownership.
//!
//! Lookups are cached for [`KEY_CACHE_TTL`], so a disabled or deleted key stops working within that time
//! on every replica without a database round trip per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use s3s::{S3Result, s3_error};

use cloudvault_metadata::{AccessKey, KeyPurpose, MetaStore, UserId};

use super::authorizer::KeyScope;
use super::origin::Origin;
use super::secrets::{MasterKey, SecretError, hash_password, random_alphanumeric, verify_password};
use crate::engine::now_ms;

/// How long a key lookup (hit or miss) is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// Most access keys (and misses) the cache holds.
pub const KEY_CACHE_MAX: usize = 10_000;
/// Longest access key id looked up (AWS's limit); longer ids are refused without a lookup.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 128;

/// Why the key store could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] cloudvault_metadata::MetaError),
    /// The root password could not be hashed.
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// The user behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's id.
    pub user_id: UserId,
    /// The user's name (reported as the owner's display name).
    pub name: String,
    /// Admins may act on every bucket.
    pub is_admin: bool,
    /// The restriction of the access key that signed the request (`None`: the user's full rights).
    pub scope: Option<KeyScope>,
    /// Where the request came from (filled by the front that resolved the principal; the default,
    /// unknown, for calls made inside the process).
    pub origin: Origin,
}

impl Principal {
    /// A user acting with their full rights (console sessions, unrestricted keys).
    pub fn user(user_id: UserId, name: String, is_admin: bool) -> Self {
        Principal { user_id, name, is_admin, scope: None, origin: Origin::default() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CachedKey {
    /// The plain secret.
    pub(crate) secret: String,
    user_id: UserId,
    scope: Option<KeyScope>,
}

/// A new access key for `user_id` with a random id and secret: the record to store (secret sealed with
/// `master`) and the plain secret, which is shown once and never stored.
pub fn mint_access_key(
    master: &MasterKey,
    user_id: UserId,
    purpose: KeyPurpose,
    expires_at: Option<i64>,
    scope: Option<&KeyScope>,
) -> (AccessKey, String) {
    let access_key_id = format!("CV{}", random_alphanumeric(18).to_uppercase());
    let secret = random_alphanumeric(40);
    let key = AccessKey {
        secret: master.seal(&access_key_id, &secret),
        access_key_id,
        user_id,
        enabled: true,
        expires_at,
        created_at: now_ms(),
        purpose,
        scope: scope.map(KeyScope::to_json),
    };
    (key, secret)
}

/// Access keys (the root key from the environment, the rest from the metadata store) and user names.
#[derive(Debug)]
pub struct KeyStore {
    pub(super) meta: MetaStore,
    master: MasterKey,
    root_key: Option<(String, CachedKey)>,
    root: Principal,
    keys: Mutex<HashMap<String, (Instant, Option<CachedKey>)>>,
    users: Mutex<HashMap<UserId, (String, bool)>>,
    console_keys: Mutex<HashMap<UserId, (String, String)>>,
}

impl KeyStore {
    /// Makes sure the root user exists and returns the key store. With `root_credentials` (from
    /// `CLOUDVAULT_ROOT_USER` / `CLOUDVAULT_ROOT_PASSWORD`) the root user is that name and the pair is an
    /// access key. Without them, the first start generates strong credentials, stores them, and prints
    /// them once; later starts reuse the stored ones.
    pub async fn bootstrap(
        meta: MetaStore,
        master: MasterKey,
        root_credentials: Option<(String, String)>,
    ) -> Result<Self, BootstrapError> {
        let (root, root_key) = match root_credentials {
            Some((name, secret)) => {
                let user = meta.ensure_user(&name, "admin", now_ms()).await?;
                // The root password signs in to the console too; (re)hash it when it changed.
                let current = meta.user_credentials(&name).await?.and_then(|(_, hash, _)| hash);
                if !current.as_deref().is_some_and(|h| verify_password(&secret, h)) {
                    meta.set_password_hash(user.id, &hash_password(&secret)?).await?;
                }
                let key = CachedKey { secret, user_id: user.id, scope: None };
                (Principal::user(user.id, name.clone(), true), Some((name, key)))
            }
            None => match meta.first_admin().await? {
                Some(user) => (Principal::user(user.id, user.name, true), None),
                None => {
                    // The generated root user is named after its key id.
                    let (mut key, secret) = mint_access_key(&master, 0, KeyPurpose::User, None, None);
                    let user = meta.ensure_user(&key.access_key_id, "admin", now_ms()).await?;
                    key.user_id = user.id;
                    let access_key_id = key.access_key_id.clone();
                    meta.insert_access_key(&key).await?;
                    meta.set_password_hash(user.id, &hash_password(&secret)?).await?;
                    eprintln!(
                        "\nCloudVault generated root credentials (shown once; store them now):\n  \
                         CLOUDVAULT_ROOT_USER={access_key_id}\n  CLOUDVAULT_ROOT_PASSWORD={secret}\n"
                    );
                    (Principal::user(user.id, access_key_id, true), None)
                }
            },
        };
        Ok(KeyStore {
            meta,
            master,
            root_key,
            root,
            keys: Mutex::default(),
            users: Mutex::default(),
            console_keys: Mutex::default(),
        })
    }

    /// A new access key for `user_id` (see [`mint_access_key`]).
    pub fn mint(
        &self,
        user_id: UserId,
        purpose: KeyPurpose,
        expires_at: Option<i64>,
        scope: Option<&KeyScope>,
    ) -> (AccessKey, String) {
        mint_access_key(&self.master, user_id, purpose, expires_at, scope)
    }

    /// The access key id and plain secret the server signs a user's presigned URLs with (their console
    /// key), created on first use. Requests signed with it are authorized as the user, like any other.
    /// When replicas race to create one, every replica settles on the oldest.
    pub async fn console_key(&self, user_id: UserId) -> S3Result<(String, String)> {
        if let Some(hit) = self.console_keys.lock().map_err(|_| s3_error!(InternalError))?.get(&user_id) {
            return Ok(hit.clone());
        }
        let meta_error = crate::s3::error::meta_error;
        let stored = match self.meta.console_key(user_id).await.map_err(meta_error)? {
            Some(key) => key,
            None => {
                let (key, _) = self.mint(user_id, KeyPurpose::Console, None, None);
                self.meta.insert_access_key(&key).await.map_err(meta_error)?;
                self.meta.console_key(user_id).await.map_err(meta_error)?.ok_or_else(|| s3_error!(InternalError))?
            }
        };
        let secret = self.master.open(&stored.access_key_id, &stored.secret).map_err(|e| {
            tracing::error!(access_key_id = %stored.access_key_id, error = %e, "console key secret does not open");
            s3_error!(InternalError)
        })?;
        let pair = (stored.access_key_id, secret);
        self.console_keys.lock().map_err(|_| s3_error!(InternalError))?.insert(user_id, pair.clone());
        Ok(pair)
    }

    /// The key that signs console session tokens when `CLOUDVAULT_JWT_SECRET` is not set.
    pub fn derived_jwt_key(&self) -> [u8; 32] {
        self.master.derive("cloudvault-jwt-v1")
    }

    /// The root (first admin) user.
    pub fn root(&self) -> &Principal {
        &self.root
    }

    /// The usable key under `access_key_id` (enabled, of an enabled user, unexpired, secret opened),
    /// cached for [`KEY_CACHE_TTL`], misses too; `None` when there is none. Ids longer than
    /// [`MAX_ACCESS_KEY_ID_LEN`] are refused without a lookup, and the cache holds at most
    /// [`KEY_CACHE_MAX`] entries, so unknown ids an attacker invents cannot grow it. The root key from
    /// the environment goes the same way: disabling or deleting the root user stops it, on every
    /// replica within the TTL.
    pub(crate) async fn lookup(&self, access_key_id: &str) -> S3Result<Option<CachedKey>> {
        if access_key_id.len() > MAX_ACCESS_KEY_ID_LEN {
            return Ok(None);
        }
        if let Some((at, hit)) = self.keys.lock().map_err(|_| s3_error!(InternalError))?.get(access_key_id)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(hit.clone());
        }
        let usable = match &self.root_key {
            Some((id, key)) if id == access_key_id => {
                let user = self.meta.user(key.user_id).await.map_err(crate::s3::error::meta_error)?;
                user.filter(|u| u.enabled).map(|_| key.clone())
            }
            _ => self.load(access_key_id).await?,
        };
        let mut keys = self.keys.lock().map_err(|_| s3_error!(InternalError))?;
        if keys.len() >= KEY_CACHE_MAX {
            keys.retain(|_, (at, _)| at.elapsed() < KEY_CACHE_TTL);
        }
        if keys.len() < KEY_CACHE_MAX {
            keys.insert(access_key_id.to_owned(), (Instant::now(), usable.clone()));
        }
        Ok(usable)
    }

    /// Reads a stored key and opens its secret (`None` when it is missing, disabled or expired).
    async fn load(&self, access_key_id: &str) -> S3Result<Option<CachedKey>> {
        let found = self.meta.access_key(access_key_id).await.map_err(crate::s3::error::meta_error)?;
        let now = now_ms();
        Ok(found.filter(|k| k.enabled && k.expires_at.is_none_or(|t| t > now)).and_then(|k| {
            match self.master.open(&k.access_key_id, &k.secret) {
                Ok(secret) => {
                    let scope = k.scope.as_deref().map(KeyScope::from_json);
                    Some(CachedKey { secret, user_id: k.user_id, scope })
                }
                Err(e) => {
                    tracing::error!(access_key_id = %k.access_key_id, error = %e, "access key secret does not open");
                    None
                }
            }
        }))
    }

    /// The user an authenticated access key belongs to.
    pub async fn principal(&self, access_key_id: &str) -> S3Result<Principal> {
        let key = self.lookup(access_key_id).await?.ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
        let (name, is_admin) = self.user(key.user_id).await?;
        Ok(Principal { user_id: key.user_id, name, is_admin, scope: key.scope, origin: Origin::default() })
    }

    /// A user's name and admin flag (cached; neither changes while the process runs).
    async fn user(&self, user_id: UserId) -> S3Result<(String, bool)> {
        if let Some(user) = self.users.lock().map_err(|_| s3_error!(InternalError))?.get(&user_id) {
            return Ok(user.clone());
        }
        let user = match self.meta.user(user_id).await.map_err(crate::s3::error::meta_error)? {
            Some(u) => (u.name, u.role == "admin"),
            None => (format!("user-{user_id}"), false),
        };
        self.users.lock().map_err(|_| s3_error!(InternalError))?.insert(user_id, user.clone());
        Ok(user)
    }

    /// Drops a key from this replica's cache (after it was disabled or deleted).
    pub(super) fn forget_key(&self, access_key_id: &str) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.remove(access_key_id);
        }
    }

    /// Drops a user from this replica's caches (after it was disabled or deleted).
    pub(super) fn forget_user(&self, user_id: UserId) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(&user_id);
        }
        if let Ok(mut console) = self.console_keys.lock() {
            console.remove(&user_id);
        }
    }

    /// Whether a user with this id exists (an ACL grant must name one).
    pub async fn user_exists(&self, user_id: UserId) -> S3Result<bool> {
        Ok(self.meta.user(user_id).await.map_err(crate::s3::error::meta_error)?.is_some())
    }

    /// A user's name, for owner fields.
    pub async fn user_name(&self, user_id: UserId) -> S3Result<String> {
        Ok(self.user(user_id).await?.0)
    }
}
