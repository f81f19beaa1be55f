//! Users and access keys.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{MetaError, MetaResult};
use crate::model::{AccessKey, KeyPurpose, User, UserId};
use crate::store::{MetaStore, dynamic};
use crate::tx::WriteTx;

fn user_from_row(row: &AnyRow) -> MetaResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn key_from_row(row: &AnyRow) -> MetaResult<AccessKey> {
    Ok(AccessKey {
        access_key_id: row.try_get("access_key_id")?,
        user_id: row.try_get::<UserId, _>("user_id")?,
        secret: row.try_get("secret")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        purpose: KeyPurpose::parse(&row.try_get::<String, _>("purpose")?),
        scope: row.try_get("bucket_scope")?,
    })
}

/// The access-key columns `key_from_row` reads, from `access_keys k`.
const KEY_COLUMNS: &str = "k.access_key_id, k.user_id, k.secret, k.expires_at, k.created_at, k.purpose, k.bucket_scope";

/// What deleting a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDeletion {
    /// The user and their access keys are gone.
    Deleted,
    /// No such user.
    NotFound,
    /// The user still owns buckets; nothing was changed.
    OwnsBuckets,
}

impl MetaStore {
    /// Returns the user called `name`, creating it with `role` if it does not exist yet (safe when two
    /// replicas do it at once: the unique index decides, and both read the winner's row).
    pub async fn ensure_user(&self, name: &str, role: &str, now_ms: i64) -> MetaResult<User> {
        self.timed(async move {
            let inserted = sqlx::query("INSERT INTO users (name, role, created_at) VALUES (?, ?, ?)")
                .bind(name)
                .bind(role)
                .bind(now_ms)
                .execute(&self.writer)
                .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
                Err(e) => return Err(e.into()),
            }
            self.user_by_name(name).await?.ok_or(MetaError::Database(sqlx::Error::RowNotFound))
        })
        .await
    }

    /// The oldest admin user, if any exists (the bootstrap root user).
    pub async fn first_admin(&self) -> MetaResult<Option<User>> {
        self.timed(async move {
            let row = sqlx::query(self.users_where("WHERE role = 'admin' ORDER BY id LIMIT 1"))
                .fetch_optional(&self.reader)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        })
        .await
    }

    /// Stores a new access key.
    pub async fn insert_access_key(&self, key: &AccessKey) -> MetaResult<()> {
        self.timed(async move {
            sqlx::query(
                "INSERT INTO access_keys \
                 (access_key_id, user_id, secret, enabled, created_at, expires_at, purpose, bucket_scope) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&key.access_key_id)
            .bind(key.user_id)
            .bind(&key.secret)
            .bind(key.enabled)
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.purpose.as_str())
            .bind(key.scope.as_deref())
            .execute(&self.writer)
            .await?;
            Ok(())
        })
        .await
    }

    /// The user's console signing key (the oldest, if several replicas raced to create one).
    pub async fn console_key(&self, user_id: UserId) -> MetaResult<Option<AccessKey>> {
        self.timed(async move {
            let enabled = self.enabled_as_int().replace("enabled", "k.enabled");
            let row = sqlx::query(dynamic(format!(
                "SELECT {KEY_COLUMNS}, {enabled} AS enabled FROM access_keys k \
                 WHERE k.user_id = ? AND k.purpose = 'console' ORDER BY k.created_at, k.access_key_id LIMIT 1"
            )))
            .bind(user_id)
            .fetch_optional(&self.writer)
            .await?;
            row.as_ref().map(key_from_row).transpose()
        })
        .await
    }

    /// Looks an access key up by its public id. Keys of disabled users come back disabled.
    pub async fn access_key(&self, access_key_id: &str) -> MetaResult<Option<AccessKey>> {
        self.timed(async move {
            let enabled = self.enabled_as_int();
            let row = sqlx::query(dynamic(format!(
                "SELECT {KEY_COLUMNS}, ({e_k} * {e_u}) AS enabled \
                 FROM access_keys k JOIN users u ON u.id = k.user_id WHERE k.access_key_id = ?",
                e_k = enabled.replace("enabled", "k.enabled"),
                e_u = enabled.replace("enabled", "u.enabled"),
            )))
            .bind(access_key_id)
            .fetch_optional(&self.reader)
            .await?;
            row.as_ref().map(key_from_row).transpose()
        })
        .await
    }

    /// `SELECT <user columns> FROM users <rest>`, with `enabled` read as an integer on both backends.
    /// `rest` is a constant clause; values are bound.
    fn users_where(&self, rest: &str) -> sqlx::AssertSqlSafe<String> {
        dynamic(format!("SELECT id, name, role, created_at, {} AS enabled FROM users {rest}", self.enabled_as_int()))
    }

    /// An expression that reads the `enabled` flag as a 64-bit integer on both backends (MySQL's BOOLEAN
    /// is TINYINT, which the `Any` driver will not decode as i64).
    fn enabled_as_int(&self) -> &'static str {
        match self.backend {
            crate::Backend::Sqlite => "enabled",
            crate::Backend::MySql => "CAST(enabled AS SIGNED)",
        }
    }
}

impl MetaStore {
    /// Looks a user up by id.
    pub async fn user(&self, id: UserId) -> MetaResult<Option<User>> {
        self.timed(async move {
            let row = sqlx::query(self.users_where("WHERE id = ?")).bind(id).fetch_optional(&self.reader).await?;
            row.as_ref().map(user_from_row).transpose()
        })
        .await
    }

    /// Creates a user; `Ok(None)` when the name is taken.
    pub async fn create_user(
        &self,
        name: &str,
        role: &str,
        password_hash: Option<&str>,
        now_ms: i64,
    ) -> MetaResult<Option<User>> {
        self.timed(async move {
            let inserted = sqlx::query("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)")
                .bind(name)
                .bind(role)
                .bind(password_hash)
                .bind(now_ms)
                .execute(&self.writer)
                .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            self.user_by_name(name).await
        })
        .await
    }

    /// Looks a user up by name.
    pub async fn user_by_name(&self, name: &str) -> MetaResult<Option<User>> {
        self.timed(async move {
            let row = sqlx::query(self.users_where("WHERE name = ?")).bind(name).fetch_optional(&self.writer).await?;
            row.as_ref().map(user_from_row).transpose()
        })
        .await
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> MetaResult<Vec<User>> {
        self.timed(async move {
            let rows = sqlx::query(self.users_where("ORDER BY name")).fetch_all(&self.reader).await?;
            rows.iter().map(user_from_row).collect()
        })
        .await
    }

    /// Enables or disables a user (a disabled user's keys stop working). Returns whether it exists.
    pub async fn set_user_enabled(&self, id: UserId, enabled: bool) -> MetaResult<bool> {
        self.timed(async move {
            let done = sqlx::query("UPDATE users SET enabled = ?, token_version = token_version + 1 WHERE id = ?")
                .bind(enabled)
                .bind(id)
                .execute(&self.writer)
                .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    /// Every access key of a user that the user sees (purpose `user`; secrets sealed as stored), oldest
    /// first.
    pub async fn list_access_keys(&self, user_id: UserId) -> MetaResult<Vec<AccessKey>> {
        self.timed(async move {
            let enabled = self.enabled_as_int().replace("enabled", "k.enabled");
            let rows = sqlx::query(dynamic(format!(
                "SELECT {KEY_COLUMNS}, {enabled} AS enabled FROM access_keys k \
                 WHERE k.user_id = ? AND k.purpose = 'user' ORDER BY k.created_at, k.access_key_id"
            )))
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?;
            rows.iter().map(key_from_row).collect()
        })
        .await
    }

    /// Deletes a user and their access keys, unless they still own buckets (which would be left without an
    /// owner). The check and the delete are one transaction.
    pub async fn delete_user(&self, id: UserId) -> MetaResult<UserDeletion> {
        self.timed(async move {
            let mut tx = WriteTx::begin(self).await?;
            let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM buckets WHERE owner_id = ?")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            if owned > 0 {
                return Ok(UserDeletion::OwnsBuckets);
            }
            sqlx::query("DELETE FROM access_keys WHERE user_id = ?").bind(id).execute(&mut *tx).await?;
            let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(if done.rows_affected() > 0 { UserDeletion::Deleted } else { UserDeletion::NotFound })
        })
        .await
    }

    /// Enables or disables an access key. Returns whether it exists.
    pub async fn set_access_key_enabled(&self, access_key_id: &str, enabled: bool) -> MetaResult<bool> {
        self.timed(async move {
            let done = sqlx::query("UPDATE access_keys SET enabled = ? WHERE access_key_id = ?")
                .bind(enabled)
                .bind(access_key_id)
                .execute(&self.writer)
                .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    /// Deletes an access key. Returns whether it existed.
    pub async fn delete_access_key(&self, access_key_id: &str) -> MetaResult<bool> {
        self.timed(async move {
            let done = sqlx::query("DELETE FROM access_keys WHERE access_key_id = ?")
                .bind(access_key_id)
                .execute(&self.writer)
                .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    /// Stores a new password hash and bumps the user's token version, so tokens issued before the change
    /// stop working.
    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> MetaResult<bool> {
        self.timed(async move {
            let done =
                sqlx::query("UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?")
                    .bind(hash)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    /// Bumps the user's token version (sign-out everywhere).
    pub async fn bump_token_version(&self, id: UserId) -> MetaResult<()> {
        self.timed(async move {
            sqlx::query("UPDATE users SET token_version = token_version + 1 WHERE id = ?")
                .bind(id)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
        .await
    }

    /// A user with what sign-in needs: the password hash and the current token version.
    pub async fn user_credentials(&self, name: &str) -> MetaResult<Option<(User, Option<String>, i64)>> {
        self.timed(async move {
            let row = sqlx::query(dynamic(format!(
                "SELECT id, name, role, created_at, {} AS enabled, password_hash, token_version FROM users WHERE name = ?",
                self.enabled_as_int()
            )))
            .bind(name)
            .fetch_optional(&self.writer)
            .await?;
            row.map(|r| Ok((user_from_row(&r)?, r.try_get("password_hash")?, r.try_get("token_version")?))).transpose()
        })
        .await
    }

    /// A user and their current token version, by id (token validation).
    pub async fn user_session(&self, id: UserId) -> MetaResult<Option<(User, i64)>> {
        self.timed(async move {
            let row = sqlx::query(dynamic(format!(
                "SELECT id, name, role, created_at, {} AS enabled, token_version FROM users WHERE id = ?",
                self.enabled_as_int()
            )))
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
            row.map(|r| Ok((user_from_row(&r)?, r.try_get("token_version")?))).transpose()
        })
        .await
    }
}
