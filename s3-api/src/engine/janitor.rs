//! The janitor: a background task on every replica that deletes what no committed object references.
//!
//! Each pass removes
//! - blobs retired by overwrites and deletes (`garbage_blobs`) once they have waited out the grace
//!   period (a GET that read the old manifest just before the overwrite may still be streaming them),
//!   files and inline blobs alike (an inline blob's bytes go with its garbage row);
//! - blobs of writes that recorded an intent but never committed (`pending_blobs` older than the grace
//!   period), each first claimed against its commit (see [`super::protocol`]), so no clock skew between
//!   replicas and no stalled commit can leave a row without its blob;
//! - staging files untouched for longer than the grace period (writes cut off by a crash);
//! - incomplete multipart uploads idle (no part uploaded) for longer than the multipart expiry: each is
//!   aborted only after re-checking, under its row lock, that no part arrived meanwhile;
//! - and it applies the buckets' lifecycle rules ([`super::lifecycle`]), which only ever act through
//!   the engine's conditional delete transactions.
//!
//! Replicas may run passes at the same time: deleting a file twice is not an error and the row deletes
//! are idempotent. The file is always deleted before its row, so a crash between the two only repeats
//! the deletion on the next pass.

use std::time::Duration;

use super::{Engine, failpoint, now_ms};

/// Rows handled per query in one pass.
const BATCH: u32 = 500;

/// How long failed sign-ins are kept (longer than the console's 15-minute throttle window).
pub const LOGIN_FAILURE_RETENTION: Duration = Duration::from_secs(3600);

/// What the janitor waits for before removing things.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Age of staging files, stale intents and retired blobs before they are deleted.
    pub grace: Duration,
    /// Idle time after which an incomplete multipart upload is aborted.
    pub multipart_expiry: Duration,
    /// The length of a day in lifecycle rules (a real day, except in tests).
    pub lifecycle_day: Duration,
}

/// Runs one janitor pass; returns how many uploads, blobs and staging files were removed.
pub async fn sweep_once(engine: &Engine, policy: Policy) -> super::EngineResult<usize> {
    let now = now_ms();
    let mut removed = 0;
    let idle_cutoff = now - policy.multipart_expiry.as_millis() as i64;
    for upload_id in engine.meta.idle_uploads(idle_cutoff, BATCH).await? {
        if engine.meta.abort_idle_upload(&upload_id, idle_cutoff, now).await? {
            tracing::info!(upload_id, "aborted an expired multipart upload");
            removed += 1;
        }
    }
    let grace = policy.grace;
    let cutoff = now - grace.as_millis() as i64;
    // Stale intents are first claimed (moved to the garbage queue in one transaction, racing the commit
    // that would claim them), and only then removed with the rest of the garbage below.
    for blob_id in engine.meta.stale_pending_blobs(cutoff, BATCH).await? {
        if engine.meta.expire_pending_blob(&blob_id, cutoff).await? {
            failpoint::hit("janitor.claimed")?;
        }
    }
    for blob_id in engine.meta.garbage_blobs(cutoff, BATCH).await? {
        // An inline blob has no file: forgetting its garbage row deletes its bytes.
        if !cloudvault_metadata::is_inline_blob(&blob_id) {
            engine.blobs.remove(&blob_id).await?;
        }
        failpoint::hit("janitor.removed")?;
        engine.meta.forget_garbage_blob(&blob_id).await?;
        removed += 1;
    }
    removed += engine.blobs.sweep_staging(grace).await?;
    if let Err(e) = engine.volume().restore_reserve().await {
        tracing::debug!(error = %e, "reserve not restored yet");
    }
    let day = i64::try_from(policy.lifecycle_day.as_millis()).unwrap_or(i64::MAX);
    let applied = engine.lifecycle_pass(now, day).await?;
    if applied != super::lifecycle::Applied::default() {
        tracing::info!(?applied, "lifecycle rules applied");
    }
    removed += applied.expired + applied.removed + applied.aborted;
    // Failed sign-ins older than the throttle window no longer count; keep an hour for the audit trail.
    engine.meta.prune_login_failures(now - LOGIN_FAILURE_RETENTION.as_millis() as i64).await?;
    Ok(removed)
}

/// Runs [`sweep_once`] every `interval` until the task is aborted. Errors are logged and retried on the
/// next pass (a database outage must not kill the janitor).
pub async fn run(engine: Engine, policy: Policy, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match sweep_once(&engine, policy).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "janitor pass"),
            Err(e) => tracing::warn!(error = %e, "janitor pass failed"),
        }
    }
}
