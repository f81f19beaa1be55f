//! Connecting, migrating and the pools.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};

use crate::error::{MetaError, MetaResult};
use crate::tx::{GroupCommit, GroupCommitLimits};

/// Which SQL dialect a [`MetaStore`] talks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// MySQL or MariaDB server.
    MySql,
}

/// The metadata store. Cheap to clone (the pools are reference-counted).
#[derive(Debug, Clone)]
pub struct MetaStore {
    /// Connections that run write transactions (one for SQLite, the shared pool for MySQL).
    pub(crate) writer: AnyPool,
    /// Connections for reads (a separate pool for SQLite under WAL, the same pool for MySQL).
    pub(crate) reader: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite's group commit of write transactions (`None` on MySQL, whose writers commit in parallel).
    pub(crate) group: Option<Arc<GroupCommit>>,
    /// The MySQL operation deadline ([`DEFAULT_OPERATION_TIMEOUT`] unless set).
    pub(crate) op_timeout: Duration,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/mysql");

/// Serializes migrations across replicas (MySQL); waits up to 5 minutes for another replica's migration.
const MIGRATION_LOCK: &str = "SELECT CAST(GET_LOCK('cloudvault_migrations', 300) AS SIGNED)";

/// How long a request waits for a pooled connection before failing fast (so a database outage gives
/// quick 503s instead of hung requests).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest one metadata operation (waiting for a connection included) may take on MySQL before it
/// fails with [`MetaError::TimedOut`] (503 to the client): a database server that stops answering (a
/// hung host, a SIGSTOPped mariadbd, a dead network path on which TCP keeps waiting) must not hang
/// requests. A transaction cut off this way is abandoned with its connection, so the server rolls it
/// back when it notices; a COMMIT already sent has an unknown outcome, which the engine's protocol
/// covers (see `s3-api/src/engine/protocol.rs`). SQLite (a local file) has no such deadline. The server
/// sets it from `CLOUDVAULT_DB_OPERATION_TIMEOUT_SECS` ([`MetaStore::with_operation_timeout`]).
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// Counter shard rows per bucket on MySQL: the rows migration 0010
/// (`migrations/mysql/0010_bucket_counters.sql`) created for the buckets that existed then, and the
/// modulus of [`MetaStore::counter_shard`].
pub(crate) const COUNTER_SHARDS: i64 = 32;

impl MetaStore {
    /// Runs one metadata operation under the operation deadline (MySQL only).
    pub(crate) async fn timed<T>(&self, op: impl std::future::Future<Output = MetaResult<T>>) -> MetaResult<T> {
        match self.backend {
            Backend::Sqlite => op.await,
            Backend::MySql => tokio::time::timeout(self.op_timeout, op).await.unwrap_or(Err(MetaError::TimedOut)),
        }
    }

    /// The same store with MySQL operations cut off after `deadline` (see
    /// [`DEFAULT_OPERATION_TIMEOUT`]; no effect on SQLite). Call before the store serves requests.
    pub fn with_operation_timeout(mut self, deadline: Duration) -> Self {
        self.op_timeout = deadline;
        self
    }

    /// Connects to `url` (`sqlite://path?mode=rwc` or `mysql://user:pass@host:port/db`) and applies the
    /// forward-only migrations of that backend. Two replicas starting at once are safe: sqlx's MySQL
    /// migrator holds `GET_LOCK` while it migrates, and SQLite is single-node.
    pub async fn connect(url: &str, max_connections: u32) -> MetaResult<Self> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?;
        let store = if url.starts_with("sqlite:") {
            let writer = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(sqlite_pragmas)
                .connect_with(options.clone())
                .await?;
            // WAL is a property of the database file; set it once, before readers open.
            writer.execute("PRAGMA journal_mode = WAL").await?;
            let reader = AnyPoolOptions::new()
                .max_connections(max_connections.max(2))
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(sqlite_pragmas)
                .connect_with(options)
                .await?;
            let group = Some(GroupCommit::new(GroupCommitLimits::default()));
            MetaStore { writer, reader, backend: Backend::Sqlite, group, op_timeout: DEFAULT_OPERATION_TIMEOUT }
        } else {
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(mysql_session)
                .connect_with(options)
                .await?;
            MetaStore {
                writer: pool.clone(),
                reader: pool,
                backend: Backend::MySql,
                group: None,
                op_timeout: DEFAULT_OPERATION_TIMEOUT,
            }
        };
        match store.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&store.writer).await?,
            Backend::MySql => {
                // Replicas starting together must not interleave: hold a named server lock on one
                // connection and migrate on that same connection (GET_LOCK is connection-scoped). The
                // second replica waits, then finds every migration applied.
                let mut conn = store.writer.acquire().await?;
                let locked: Option<i64> = sqlx::query_scalar(MIGRATION_LOCK).fetch_one(&mut *conn).await?;
                if locked != Some(1) {
                    return Err(MetaError::Migrate(sqlx::migrate::MigrateError::Execute(sqlx::Error::Protocol(
                        "timed out waiting for the migration lock".into(),
                    ))));
                }
                let result = MYSQL_MIGRATIONS.run(&mut *conn).await;
                sqlx::query("SELECT RELEASE_LOCK('cloudvault_migrations')").execute(&mut *conn).await?;
                result?;
            }
        }
        Ok(store)
    }

    /// The same store with SQLite's group commit bounded by `limits` (no effect on MySQL). Call before
    /// the store serves requests.
    pub fn with_group_commit(mut self, limits: GroupCommitLimits) -> Self {
        if self.backend == Backend::Sqlite {
            self.group = Some(GroupCommit::new(limits));
        }
        self
    }

    /// ` LOCK IN SHARE MODE` on MySQL (a shared row lock inside the transaction); empty on SQLite.
    pub(crate) fn share_lock(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::MySql => " LOCK IN SHARE MODE",
        }
    }

    /// The bucket counter shard this connection's transactions update: on MySQL one of
    /// [`COUNTER_SHARDS`] by connection id (the connections of one pool get different shards, so
    /// concurrent writers do not queue on one counter row); on SQLite the one shard, 0.
    pub(crate) fn counter_shard(&self) -> String {
        match self.backend {
            Backend::Sqlite => "0".to_owned(),
            Backend::MySql => format!("CONNECTION_ID() % {COUNTER_SHARDS}"),
        }
    }

    /// How many counter shard rows a bucket has on this backend.
    pub(crate) fn counter_shards(&self) -> i64 {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::MySql => COUNTER_SHARDS,
        }
    }

    /// The dialect in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// ` FOR UPDATE` on MySQL (row lock inside the transaction); empty on SQLite, where the single writer
    /// connection already serializes write transactions.
    pub(crate) fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::MySql => " FOR UPDATE",
        }
    }

    /// What about the database server's settings could lose an acknowledged commit in a crash, one
    /// sentence each; empty when nothing could. SQLite runs with `synchronous = FULL` on every
    /// connection, so only MySQL/MariaDB can answer anything: `innodb_flush_log_at_trx_commit` other
    /// than 1 (the redo log is not flushed at each commit), and with the binary log on, `sync_binlog`
    /// other than 1.
    pub async fn durability_warnings(&self) -> MetaResult<Vec<String>> {
        if self.backend == Backend::Sqlite {
            return Ok(Vec::new());
        }
        let row = sqlx::query(
            "SELECT CAST(@@innodb_flush_log_at_trx_commit AS SIGNED) AS flush, CAST(@@sync_binlog AS SIGNED) AS sync, \
             CAST(@@log_bin AS SIGNED) AS binlog",
        )
        .fetch_one(&self.reader)
        .await?;
        let (flush, sync, binlog): (i64, i64, i64) =
            (row.try_get("flush")?, row.try_get("sync")?, row.try_get("binlog")?);
        let mut warnings = Vec::new();
        if flush != 1 {
            warnings.push(format!(
                "innodb_flush_log_at_trx_commit = {flush}: commits acknowledged in the last second can be lost \
                 if the database server crashes; set it to 1"
            ));
        }
        if binlog != 0 && sync != 1 {
            warnings.push(format!(
                "sync_binlog = {sync} with the binary log on: committed transactions can be missing from the \
                 binary log (and replicas) after a crash; set it to 1"
            ));
        }
        Ok(warnings)
    }

    /// Checks that the database answers (used by readiness probes).
    pub async fn ping(&self) -> MetaResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Closes the pools, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Per-connection SQLite settings: wait for the writer lock instead of failing with SQLITE_BUSY, fsync
/// every commit (`synchronous = FULL`: an acknowledged write survives power loss), enforce foreign keys.
fn sqlite_pragmas<'c>(
    conn: &'c mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>> {
    Box::pin(async move {
        conn.execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").await?;
        Ok(())
    })
}

/// Every MySQL connection runs at READ COMMITTED. Writers of one bucket hold its row shared and lock
/// the rows of their own keys; at REPEATABLE READ a locking read of a key that does not exist yet
/// takes a gap lock, and two writers inserting new keys into the same gap deadlock on each other's.
/// At READ COMMITTED a locking read of a missing key locks nothing, two writers of the same new key
/// meet at its primary key (one fails with a duplicate key and is retried), and every read inside a
/// transaction sees the latest committed state.
fn mysql_session<'c>(
    conn: &'c mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>> {
    Box::pin(async move {
        conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").await?;
        Ok(())
    })
}

/// Marks a statement whose text was assembled from constant fragments only (column lists, dialect
/// keywords such as ` FOR UPDATE`). Values are always bound as parameters, never formatted in.
pub(crate) fn dynamic(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

impl MetaStore {
    /// Open and idle connections of the pool that serves writes (the one shared pool on MySQL).
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.writer.size(), self.writer.num_idle())
    }
}

#[cfg(feature = "testing")]
impl MetaStore {
    /// TEST HOOK (feature `testing`): how many COMMITs SQLite's group commit has issued (0 on MySQL).
    pub fn group_commits_for_tests(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.commits.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// TEST HOOK (feature `testing`): caps the SQLite writer connection's database file at its current
    /// size plus `extra_pages` pages (`PRAGMA max_page_count`), so the next transaction that grows it
    /// fails with `SQLITE_FULL` exactly as on a full volume. The cap lives on that one connection: a
    /// connection that is discarded and reopened no longer has it.
    pub async fn cap_sqlite_writer_for_tests(&self, extra_pages: i64) -> MetaResult<()> {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&self.writer).await?;
        sqlx::query(dynamic(format!("PRAGMA max_page_count = {}", pages + extra_pages))).execute(&self.writer).await?;
        Ok(())
    }
}
