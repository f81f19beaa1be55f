//! CloudVault's metadata store: the only code that speaks SQL.
//!
//! One contract ([`MetaStore`]) over two backends, chosen by the database URL:
//! - SQLite (`sqlite://...`), the embedded default: WAL journal, `synchronous=FULL` (a commit is on disk
//!   before it is acknowledged), one writer connection so write transactions never conflict, and a pool of
//!   readers that WAL lets run beside the writer.
//! - MySQL / MariaDB (`mysql://...`), production: one pool shared by many stateless replicas, at READ
//!   COMMITTED. Object writes hold their bucket row shared and lock their key's row, so writers of
//!   different keys run side by side while conditional writes stay exact; rarer writes and settings
//!   changes hold the bucket row exclusively (`versions.rs`, `BucketLockMode`). Bucket counters are
//!   deltas in shard rows (`bucket_counters`).
//!
//! Object keys are bytes (`BLOB` / `VARBINARY(1024)`), ordered by byte value, and listings are index range
//! scans over the `(bucket_id, object_key)` primary key. Versions other than the current one live in
//! `object_versions`, keyed `(bucket_id, object_key, vorder)` (`versions.rs`).

mod browse;
mod buckets;
mod error;
mod gc;
mod identity;
mod lock;
mod model;
mod multipart;
mod objects;
mod store;
mod throttle;
mod tx;
mod versions;

pub use buckets::{DEFAULT_OWNERSHIP, NewBucketAccess};
pub use error::{MetaError, MetaResult};
pub use identity::UserDeletion;
pub use model::{
    AccessKey, BlobRef, Bucket, BucketId, BucketLock, BucketSetting, BucketUsage, Deleted, INLINE_BLOB_PREFIX,
    KeyPurpose, ListedObject, ListedVersion, LockMode, Manifest, NULL_VERSION, ObjectRecord, Retention,
    RetentionPeriod, User, UserId, VersionRecord, VersionSel, Versioning, WriteCondition, is_inline_blob,
};
pub use multipart::{Part, Upload};
pub use objects::{ListBound, ListColumns, key_successor};
pub use store::{Backend, DEFAULT_OPERATION_TIMEOUT, MetaStore};
pub use tx::{BatchHook, GroupCommitLimits, set_batch_hook};
