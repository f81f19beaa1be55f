//! Account management through the key store: users, access keys, console sessions and sign-in
//! throttling. The console API and the admin commands manage accounts only through these methods, so
//! the key store's caches are invalidated here, once: a key disabled or deleted on this replica stops
//! working at once; on other replicas within [`super::KEY_CACHE_TTL`].

use cloudvault_metadata::{AccessKey, MetaResult, User, UserDeletion, UserId};

use super::KeyStore;

impl KeyStore {
    /// Every user, by name.
    pub async fn list_users(&self) -> MetaResult<Vec<User>> {
        self.meta.list_users().await
    }

    /// Creates a user; `None` when the name is taken.
    pub async fn create_user(
        &self,
        name: &str,
        role: &str,
        hash: Option<&str>,
        now_ms: i64,
    ) -> MetaResult<Option<User>> {
        self.meta.create_user(name, role, hash, now_ms).await
    }

    /// Enables or disables a user (a disabled user's keys and sessions stop working); false when there
    /// is no such user.
    pub async fn set_user_enabled(&self, id: UserId, enabled: bool) -> MetaResult<bool> {
        let found = self.meta.set_user_enabled(id, enabled).await?;
        self.forget_user(id);
        Ok(found)
    }

    /// Replaces a user's password hash; false when there is no such user.
    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> MetaResult<bool> {
        self.meta.set_password_hash(id, hash).await
    }

    /// Deletes a user who owns no buckets (with their keys).
    pub async fn delete_user(&self, id: UserId) -> MetaResult<UserDeletion> {
        let outcome = self.meta.delete_user(id).await?;
        self.forget_user(id);
        Ok(outcome)
    }

    /// A user by name with their password hash and token version, for sign-in.
    pub async fn user_credentials(&self, name: &str) -> MetaResult<Option<(User, Option<String>, i64)>> {
        self.meta.user_credentials(name).await
    }

    /// A user by id with their token version, for checking a session token.
    pub async fn user_session(&self, id: UserId) -> MetaResult<Option<(User, i64)>> {
        self.meta.user_session(id).await
    }

    /// Ends every session of a user (their tokens carry the old version).
    pub async fn bump_token_version(&self, id: UserId) -> MetaResult<()> {
        self.meta.bump_token_version(id).await
    }

    /// The access keys of a user.
    pub async fn list_access_keys(&self, user_id: UserId) -> MetaResult<Vec<AccessKey>> {
        self.meta.list_access_keys(user_id).await
    }

    /// Stores a new access key (see [`super::mint_access_key`]).
    pub async fn insert_access_key(&self, key: &AccessKey) -> MetaResult<()> {
        self.meta.insert_access_key(key).await
    }

    /// The stored access key `access_key_id` (its secret still sealed).
    pub async fn access_key(&self, access_key_id: &str) -> MetaResult<Option<AccessKey>> {
        self.meta.access_key(access_key_id).await
    }

    /// Deletes an access key; it stops working on this replica at once.
    pub async fn delete_access_key(&self, access_key_id: &str) -> MetaResult<bool> {
        let found = self.meta.delete_access_key(access_key_id).await?;
        self.forget_key(access_key_id);
        Ok(found)
    }

    /// Enables or disables an access key; a disabled key stops working on this replica at once.
    pub async fn set_access_key_enabled(&self, access_key_id: &str, enabled: bool) -> MetaResult<bool> {
        let found = self.meta.set_access_key_enabled(access_key_id, enabled).await?;
        self.forget_key(access_key_id);
        Ok(found)
    }

    /// Failed sign-ins of `name` from `address` since `since_ms`: the count and the oldest one's time.
    pub async fn login_failures(&self, name: &str, address: &str, since_ms: i64) -> MetaResult<(i64, Option<i64>)> {
        self.meta.login_failures(name, address, since_ms).await
    }

    /// Records a failed sign-in.
    pub async fn record_login_failure(&self, name: &str, address: &str, now_ms: i64) -> MetaResult<()> {
        self.meta.record_login_failure(name, address, now_ms).await
    }

    /// Forgets the failed sign-ins of `name` from `address` (after a successful one).
    pub async fn clear_login_failures(&self, name: &str, address: &str) -> MetaResult<()> {
        self.meta.clear_login_failures(name, address).await
    }
}
