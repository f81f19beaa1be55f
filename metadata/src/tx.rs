//! Write transactions that either really commit or report why they did not, and SQLite's group commit.
//!
//! sqlx's own `Transaction` tracks its nesting depth in the connection. When SQLite rolls a
//! transaction back by itself (`SQLITE_FULL`, `SQLITE_IOERR`: the volume is full) and sqlx's ROLLBACK
//! then fails, that depth stays at one, and every later `begin()` on the connection opens a
//! SAVEPOINT instead of a transaction: "commits" only release savepoints, clients get 200s, and a
//! restart loses all of it. A lost MySQL connection mid-transaction is the same shape of hazard.
//!
//! [`WriteTx`] removes the hazard by construction: it issues `BEGIN` and `COMMIT` itself (sqlx never
//! believes a transaction is open), and the connection goes back to the pool **only after a COMMIT
//! that succeeded**, the one state in which it is proven to be outside a transaction. On every other
//! path (an error in any statement, a failed COMMIT, an early return, a cancelled request) the
//! connection is closed instead, which makes the database roll back whatever was open. What a crash
//! leaves behind: nothing of an uncommitted transaction; the next connection starts clean.
//!
//! On SQLite, whose one writer commits one transaction at a time and fsyncs each, concurrent write
//! transactions are **batched** ([`GroupCommit`]): the first opens `BEGIN IMMEDIATE`, each runs inside
//! its own SAVEPOINT (so one that fails, a precondition say, rolls back only its own statements),
//! and one COMMIT (one fsync) makes the whole batch durable. INVARIANT: [`WriteTx::commit`] returns
//! `Ok` only after the batch's COMMIT succeeded, so nothing is acknowledged before it is on disk; a
//! failed COMMIT fails every member. A crash mid-batch leaves none of it: no member was acknowledged.
//! A member may see the statements of earlier members of its batch (one connection); they become
//! durable together or not at all.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::error::{MetaError, MetaResult};
use crate::store::{Backend, MetaStore};
use crate::versions::BucketLockMode;

/// Bounds of SQLite's group commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitLimits {
    /// Most write transactions one COMMIT covers.
    pub max_batch: usize,
    /// A batch this old is committed by its next member even while more are waiting.
    pub max_wait: Duration,
}

impl Default for GroupCommitLimits {
    /// 64 transactions, 10 ms (`CLOUDVAULT_GROUP_COMMIT_MAX`, `CLOUDVAULT_GROUP_COMMIT_WAIT_MS`).
    fn default() -> Self {
        GroupCommitLimits { max_batch: 64, max_wait: Duration::from_millis(10) }
    }
}

/// A test's hook at the named steps of a batch's COMMIT (see [`set_batch_hook`]).
pub type BatchHook = fn(step: &'static str, members: usize) -> std::io::Result<()>;

static BATCH_HOOK: std::sync::OnceLock<BatchHook> = std::sync::OnceLock::new();

/// Installs `hook`, called with the number of members at `batch.before_commit` (an `Err` fails the
/// batch as a failed COMMIT would: every member gets the error, nothing of it is committed) and at
/// `batch.committed` (after the COMMIT, before any member is answered). For the server's failpoint
/// build only (`s3-api/src/engine/failpoint.rs`), which crashes there to prove that a crash mid-batch
/// loses no acknowledged write and shows no unacknowledged one. The first hook installed stays.
pub fn set_batch_hook(hook: BatchHook) {
    let _ = BATCH_HOOK.set(hook);
}

fn batch_step(step: &'static str, members: usize) -> std::io::Result<()> {
    BATCH_HOOK.get().map_or(Ok(()), |hook| hook(step, members))
}

/// How a batch ended, as its members learn it.
#[derive(Debug, Clone)]
enum Outcome {
    Committed,
    Failed { storage_full: bool, message: String },
}

/// The open batch: the writer connection inside `BEGIN IMMEDIATE`, while `conn` is `Some`.
struct Batch {
    conn: Option<PoolConnection<Any>>,
    members: usize,
    started: Instant,
    outcome: watch::Sender<Option<Outcome>>,
}

/// SQLite's group commit: the writer connection, shared by the members of one batch at a time.
pub(crate) struct GroupCommit {
    batch: Arc<Mutex<Batch>>,
    /// Transactions begun (or waiting to begin) and not yet finished: the last to finish commits.
    pending: AtomicUsize,
    limits: GroupCommitLimits,
    /// COMMITs issued (each one fsync), for tests and diagnostics.
    pub(crate) commits: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub(crate) fn new(limits: GroupCommitLimits) -> Arc<Self> {
        let batch = Batch { conn: None, members: 0, started: Instant::now(), outcome: watch::channel(None).0 };
        Arc::new(GroupCommit {
            batch: Arc::new(Mutex::new(batch)),
            pending: AtomicUsize::new(0),
            limits,
            commits: AtomicU64::new(0),
        })
    }

    /// Joins the open batch (opening one if none is), inside a fresh SAVEPOINT.
    ///
    /// Cancel safety: the steps run in their own task, so a request dropped meanwhile (its client went
    /// away) cannot stay counted as pending, which would keep its batch from ever committing; the
    /// member such a task returns to nobody is dropped, and its drop leaves the batch.
    async fn join(self: &Arc<Self>, pool: &AnyPool) -> MetaResult<Member> {
        let (group, pool) = (self.clone(), pool.clone());
        tokio::spawn(async move { group.join_now(&pool).await }).await.map_err(task_failed)?
    }

    async fn join_now(self: &Arc<Self>, pool: &AnyPool) -> MetaResult<Member> {
        self.pending.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.batch.clone().lock_owned().await;
        if guard.conn.is_none()
            && let Err(e) = Self::open(&mut guard, pool).await
        {
            // Nothing was joined: the batch stays closed, and this transaction is no longer pending.
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(e);
        }
        // From here a failure drops the member, whose rollback leaves the batch (see `abandon`).
        let mut member = Member { guard: Some(guard), group: self.clone() };
        member.conn().execute("SAVEPOINT member").await?;
        Ok(member)
    }

    /// Opens a batch: the writer connection, `BEGIN IMMEDIATE`, a fresh outcome for its members.
    async fn open(guard: &mut Batch, pool: &AnyPool) -> MetaResult<()> {
        let mut conn = pool.acquire().await?;
        if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
            conn.close_on_drop();
            return Err(e.into());
        }
        guard.conn = Some(conn);
        guard.members = 0;
        guard.started = Instant::now();
        guard.outcome = watch::channel(None).0;
        Ok(())
    }

    /// Ends the open batch: COMMIT, and every member learns the outcome. `Err` is the COMMIT's own error.
    async fn finish(&self, guard: &mut Batch) -> MetaResult<()> {
        let Some(mut conn) = guard.conn.take() else { return Ok(()) };
        self.commits.fetch_add(1, Ordering::Relaxed);
        let committed = match batch_step("batch.before_commit", guard.members) {
            Ok(()) => conn.execute("COMMIT").await.map(|_| ()),
            Err(e) => Err(sqlx::Error::Io(e)),
        };
        match committed {
            Ok(()) => {
                // A failure here is reported, but the batch is durable: its members are acknowledged.
                let _ = batch_step("batch.committed", guard.members);
                guard.outcome.send_replace(Some(Outcome::Committed));
                Ok(())
            }
            Err(e) => {
                conn.close_on_drop();
                let e = MetaError::from(e);
                guard
                    .outcome
                    .send_replace(Some(Outcome::Failed { storage_full: e.is_storage_full(), message: e.to_string() }));
                Err(e)
            }
        }
    }

    /// Abandons the open batch after a statement failed in a way that leaves the connection unknown:
    /// the connection is closed (the database rolls the batch back) and every member fails.
    fn fail(guard: &mut Batch, error: &MetaError) {
        if let Some(mut conn) = guard.conn.take() {
            conn.close_on_drop();
        }
        let message = format!("the group commit was rolled back: {error}");
        guard.outcome.send_replace(Some(Outcome::Failed { storage_full: error.is_storage_full(), message }));
    }

    /// A member leaves (committed or rolled back); the last one out, or a full or old batch, commits.
    async fn leave(&self, guard: &mut Batch) -> MetaResult<()> {
        let last = self.pending.fetch_sub(1, Ordering::SeqCst) == 1;
        let full = guard.members >= self.limits.max_batch || guard.started.elapsed() >= self.limits.max_wait;
        if last || full { self.finish(guard).await } else { Ok(()) }
    }

    /// A member's RELEASE SAVEPOINT, then it leaves the batch (the last one out commits it).
    async fn release(&self, mut guard: OwnedMutexGuard<Batch>) -> MetaResult<()> {
        let released = match guard.conn.as_mut() {
            Some(conn) => conn.execute("RELEASE SAVEPOINT member").await.map(|_| ()).map_err(MetaError::from),
            None => Err(MetaError::Corrupt("the batch ended under an open member".into())),
        };
        if let Err(e) = released {
            Self::fail(&mut guard, &e);
            let _ = self.leave(&mut guard).await;
            return Err(e);
        }
        guard.members += 1;
        self.leave(&mut guard).await
    }

    /// The rollback of a member dropped without committing (an error, a cancelled request), run
    /// holding the batch: its savepoint is rolled back, or the whole batch fails if that fails.
    async fn abandon(self: Arc<Self>, mut guard: OwnedMutexGuard<Batch>) {
        if let Some(conn) = guard.conn.as_mut() {
            let rolled_back = match conn.execute("ROLLBACK TO SAVEPOINT member").await {
                Ok(_) => conn.execute("RELEASE SAVEPOINT member").await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = rolled_back {
                Self::fail(&mut guard, &MetaError::from(e));
            }
        }
        if let Err(e) = self.leave(&mut guard).await {
            tracing::warn!(error = %e, "group commit failed after a member rolled back");
        }
    }
}

/// A group-commit step's task panicked or was cancelled at shutdown: nothing of it is known to be
/// committed.
fn task_failed(e: tokio::task::JoinError) -> MetaError {
    MetaError::BatchFailed { storage_full: false, message: format!("the group commit task failed: {e}") }
}

/// One write transaction's place in a batch: holds the batch (and so the connection) from its
/// SAVEPOINT to its RELEASE.
struct Member {
    guard: Option<OwnedMutexGuard<Batch>>,
    group: Arc<GroupCommit>,
}

impl Member {
    fn conn(&mut self) -> &mut AnyConnection {
        // INVARIANT: a member holds the batch while its transaction is open, and the batch holds the
        // connection until a COMMIT or a failure, both of which end the member first.
        self.guard.as_mut().and_then(|g| g.conn.as_deref_mut()).expect("a batch member holds the open connection")
    }

    /// Releases the savepoint, leaves the batch and waits until the batch is durable.
    ///
    /// Cancel safety: releasing and leaving run in their own task, so they finish even if the request
    /// is dropped meanwhile (the batch must not be left held or counted); only the wait is cancelled.
    async fn commit(&mut self) -> MetaResult<()> {
        let Some(guard) = self.guard.take() else {
            return Err(MetaError::Corrupt("a write transaction committed twice".into()));
        };
        let mut outcome = guard.outcome.subscribe();
        let group = self.group.clone();
        // The COMMIT's own error goes to the member that ran it; the others learn it below.
        tokio::spawn(async move { group.release(guard).await }).await.map_err(task_failed)??;
        let ended = outcome.wait_for(Option::is_some).await.map(|o| o.clone());
        match ended {
            Ok(Some(Outcome::Committed)) => Ok(()),
            Ok(Some(Outcome::Failed { storage_full, message })) => {
                Err(MetaError::BatchFailed { storage_full, message })
            }
            _ => Err(MetaError::BatchFailed { storage_full: false, message: "the group commit ended unseen".into() }),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(self.group.clone().abandon(guard));
            }
            Err(_) => {
                let error = MetaError::Corrupt("a write transaction was dropped outside the runtime".into());
                GroupCommit::fail(&mut guard, &error);
                self.group.pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// Where a write transaction runs: its own pooled connection (MySQL), or a batch (SQLite).
enum Lease {
    Own(PoolConnection<Any>),
    Member(Member),
}

/// An open write transaction on a connection of the writer pool. Dereferences to the connection, so
/// statements run with `.execute(&mut **tx)` (or `&mut *tx` when owned). Dropped without
/// [`WriteTx::commit`], the connection is closed, never reused (on SQLite: its savepoint is rolled
/// back, and the batch goes on).
pub(crate) struct WriteTx {
    lease: Lease,
    /// Set by a successful COMMIT or ROLLBACK: only then may the connection serve another request.
    committed: bool,
}

impl WriteTx {
    /// Begins a write transaction. On SQLite it joins the open batch (`BEGIN IMMEDIATE` takes the write
    /// lock up front, so a transaction never fails half-way to upgrade its lock).
    pub(crate) async fn begin(store: &MetaStore) -> MetaResult<Self> {
        if let (Backend::Sqlite, Some(group)) = (store.backend, &store.group) {
            let member = group.join(&store.writer).await?;
            return Ok(WriteTx { lease: Lease::Member(member), committed: false });
        }
        let mut conn = store.writer.acquire().await?;
        let begin = match store.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::MySql => "BEGIN",
        };
        if let Err(e) = conn.execute(begin).await {
            conn.close_on_drop();
            return Err(e.into());
        }
        Ok(WriteTx { lease: Lease::Own(conn), committed: false })
    }

    /// Commits. `Ok` means the database acknowledged the COMMIT (on SQLite: the batch's); any error
    /// reaches the caller (and the connection is discarded, so whatever state it was left in dies
    /// with it).
    pub(crate) async fn commit(mut self) -> MetaResult<()> {
        match &mut self.lease {
            Lease::Own(conn) => {
                conn.execute("COMMIT").await?;
            }
            Lease::Member(member) => member.commit().await?,
        }
        self.committed = true;
        Ok(())
    }

    /// Commits when `result` is `Ok`, else rolls back, and returns `result` (or the COMMIT's error).
    /// Rolling back keeps a MySQL connection for the pool (a transaction refused for a failed
    /// precondition or a lost race need not cost a new connection); if the ROLLBACK itself fails, the
    /// connection is discarded as on drop.
    pub(crate) async fn end<T>(mut self, result: MetaResult<T>) -> MetaResult<T> {
        match result {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(e) => {
                if let Lease::Own(conn) = &mut self.lease
                    && conn.execute("ROLLBACK").await.is_ok()
                {
                    self.committed = true;
                }
                Err(e)
            }
        }
    }
}

/// Attempts of one write transaction that loses races (see [`MetaStore::retrying`]).
pub(crate) const MAX_WRITE_ATTEMPTS: u32 = 4;

impl MetaStore {
    /// Runs `attempt`, one whole write transaction that locks its bucket in the mode it is given, first
    /// with the bucket's shared lock; again with the exclusive lock when it asks for it
    /// ([`MetaError::NeedsExclusiveLock`]) or when it lost a race with a concurrent writer of the same
    /// key ([`MetaError::is_conflict`]: each attempt was rolled back whole). Under the exclusive lock no
    /// other writer of the bucket runs, so the retry does not lose again; after
    /// [`MAX_WRITE_ATTEMPTS`] the caller gets [`MetaError::WriteConflict`].
    pub(crate) async fn retrying<T, F, Fut>(&self, mut attempt: F) -> MetaResult<T>
    where
        F: FnMut(BucketLockMode) -> Fut,
        Fut: std::future::Future<Output = MetaResult<T>>,
    {
        let mut mode = BucketLockMode::Shared;
        for n in 1..=MAX_WRITE_ATTEMPTS {
            match attempt(mode).await {
                Err(MetaError::NeedsExclusiveLock) => mode = BucketLockMode::Exclusive,
                Err(e) if e.is_conflict() && n < MAX_WRITE_ATTEMPTS => mode = BucketLockMode::Exclusive,
                Err(e) if e.is_conflict() => return Err(MetaError::WriteConflict),
                other => return other,
            }
        }
        Err(MetaError::WriteConflict)
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let (false, Lease::Own(conn)) = (self.committed, &mut self.lease) {
            // Closing the connection rolls back anything still open on the server side.
            conn.close_on_drop();
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.lease {
            Lease::Own(conn) => conn,
            Lease::Member(member) => {
                member.guard.as_ref().and_then(|g| g.conn.as_deref()).expect("a batch member holds the open connection")
            }
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.lease {
            Lease::Own(conn) => conn,
            Lease::Member(member) => member.conn(),
        }
    }
}
