//! Errors of the metadata store. The S3 layer maps each to an S3 error code in one place
//! (`s3-api/src/error.rs`).

/// What can go wrong in a metadata operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The named bucket does not exist.
    #[error("no such bucket")]
    NoSuchBucket,
    /// The bucket exists and belongs to the caller.
    #[error("bucket already owned by you")]
    BucketAlreadyOwnedByYou,
    /// The bucket exists and belongs to someone else.
    #[error("bucket already exists")]
    BucketAlreadyExists,
    /// The bucket still holds objects.
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// A conditional write (`If-Match`, `If-None-Match`) did not hold inside the transaction.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The multipart upload does not exist (never did, or was completed or aborted).
    #[error("no such upload")]
    NoSuchUpload,
    /// A part named in a Complete is not (or no longer) the current part of the upload.
    #[error("invalid part")]
    InvalidPart,
    /// The intent row of a blob this commit references was gone (the janitor swept it as stale): the
    /// commit was refused so that no row can name a deleted file. The caller discards the blob.
    #[error("the intent of blob {0} was swept before the commit")]
    IntentLost(String),
    /// The version is protected by object lock (a retention or a legal hold) from what was asked.
    #[error("protected by object lock")]
    ObjectLocked,
    /// Object lock settings on a bucket that has no object lock.
    #[error("the bucket has no object lock configuration")]
    LockNotEnabled,
    /// The bucket's state does not allow the change (e.g. suspending versioning under object lock).
    #[error("invalid bucket state: {0}")]
    InvalidBucketState(&'static str),
    /// The version named does not exist (or is a delete marker, where a version is needed).
    #[error("no such version")]
    NoSuchVersion,
    /// A stored row could not be decoded (a bug or a manual edit of the database).
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    /// The group commit this write transaction was part of (SQLite) failed: nothing of it was
    /// committed. `storage_full` when the volume was full.
    #[error("{message}")]
    BatchFailed {
        /// The volume was full.
        storage_full: bool,
        /// What failed.
        message: String,
    },
    /// A concurrent transaction changed the key this one was writing (its row was inserted or removed
    /// under it, or the database chose this transaction as a deadlock victim). The store retries such
    /// transactions itself; a caller sees this only when every attempt lost, and may retry (503).
    #[error("a concurrent write of the same key got there first; retry")]
    WriteConflict,
    /// Internal to the store: the transaction needs its bucket's exclusive lock and is run again with
    /// it. Never returned to callers.
    #[error("the transaction needs the bucket's exclusive lock")]
    NeedsExclusiveLock,
    /// The database did not answer within the operation deadline (`CLOUDVAULT_DB_OPERATION_TIMEOUT_SECS`).
    #[error("the database did not answer in time")]
    TimedOut,
    /// The database is unreachable or refused the statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl MetaError {
    /// True when the database itself failed (connection lost, pool timed out, deadlock), as opposed to a
    /// logical outcome such as `NoSuchBucket`. The S3 layer answers these with 503 SlowDown / 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            MetaError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_),
            ) => true,
            MetaError::TimedOut | MetaError::WriteConflict => true,
            // A deadlock or serialization failure: the transaction was rolled back and a retry will
            // succeed.
            MetaError::Database(sqlx::Error::Database(db)) => is_deadlock(db.as_ref()),
            _ => false,
        }
    }
}

impl MetaError {
    /// True when the transaction lost a race with a concurrent writer of the same key and may simply be
    /// run again: [`MetaError::WriteConflict`], a duplicate primary key (another writer inserted the
    /// row first) or a deadlock (SQLSTATE 40001, the transaction was rolled back).
    pub fn is_conflict(&self) -> bool {
        match self {
            MetaError::WriteConflict => true,
            MetaError::Database(sqlx::Error::Database(db)) => db.is_unique_violation() || is_deadlock(db.as_ref()),
            _ => false,
        }
    }

    /// True when the database could not write because its volume is full (SQLite's `SQLITE_FULL`, or
    /// an I/O error of kind `StorageFull`). The transaction was not committed.
    pub fn is_storage_full(&self) -> bool {
        match self {
            MetaError::Database(sqlx::Error::Database(db)) => db.code().as_deref() == Some(SQLITE_FULL),
            MetaError::Database(sqlx::Error::Io(e)) => e.kind() == std::io::ErrorKind::StorageFull,
            MetaError::BatchFailed { storage_full, .. } => *storage_full,
            _ => false,
        }
    }
}

/// A deadlock or serialization failure (SQLSTATE 40001): the database rolled the transaction back.
fn is_deadlock(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.code().as_deref() == Some("40001")
}

/// SQLite's result code for "database or disk is full".
const SQLITE_FULL: &str = "13";

/// Result alias of the metadata store.
pub type MetaResult<T> = Result<T, MetaError>;
