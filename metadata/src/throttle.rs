//! Failed sign-ins, counted per (name, address) over a sliding window, in the database so that every
//! replica sees the same count.

use sqlx::Row;

use crate::error::MetaResult;
use crate::store::MetaStore;

/// Names are stored at most this long (they come from unauthenticated requests).
const MAX_NAME_CHARS: usize = 128;

fn clip(name: &str) -> String {
    name.chars().take(MAX_NAME_CHARS).collect()
}

impl MetaStore {
    /// Records a failed sign-in for `name` from `address` at `now_ms`.
    pub async fn record_login_failure(&self, name: &str, address: &str, now_ms: i64) -> MetaResult<()> {
        self.timed(async move {
            sqlx::query("INSERT INTO login_failures (name, address, failed_at) VALUES (?, ?, ?)")
                .bind(clip(name))
                .bind(address)
                .bind(now_ms)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
        .await
    }

    /// How many sign-ins for `name` from `address` failed at or after `since_ms`, and when the oldest of
    /// them was (for `Retry-After`).
    pub async fn login_failures(&self, name: &str, address: &str, since_ms: i64) -> MetaResult<(i64, Option<i64>)> {
        self.timed(async move {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MIN(failed_at) AS oldest FROM login_failures \
                 WHERE name = ? AND address = ? AND failed_at >= ?",
            )
            .bind(clip(name))
            .bind(address)
            .bind(since_ms)
            .fetch_one(&self.writer)
            .await?;
            Ok((row.try_get("n")?, row.try_get("oldest")?))
        })
        .await
    }

    /// Forgets the failures of `name` from `address` (after a successful sign-in).
    pub async fn clear_login_failures(&self, name: &str, address: &str) -> MetaResult<()> {
        self.timed(async move {
            sqlx::query("DELETE FROM login_failures WHERE name = ? AND address = ?")
                .bind(clip(name))
                .bind(address)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
        .await
    }

    /// Deletes failures older than `before_ms` (they no longer count). Returns how many.
    pub async fn prune_login_failures(&self, before_ms: i64) -> MetaResult<u64> {
        self.timed(async move {
            let done = sqlx::query("DELETE FROM login_failures WHERE failed_at < ?")
                .bind(before_ms)
                .execute(&self.writer)
                .await?;
            Ok(done.rows_affected())
        })
        .await
    }
}
