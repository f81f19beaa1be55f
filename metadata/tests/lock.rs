//! The object lock contract, on BOTH backends (see `common`): what a retention or a legal hold lets
//! through each transaction that could destroy a version, default retention, and the one-way rules
//! (lock never off, versioning never suspended under lock, COMPLIANCE never shortened).

mod common;

use cloudvault_metadata::{
    BucketLock, LockMode, MetaError, MetaStore, ObjectRecord, Retention, RetentionPeriod, VersionSel, Versioning,
    WriteCondition,
};
use common::{TestDb, commit, object, owner};

const HOUR: i64 = 3_600_000;
/// "Now" in these tests (the stores take times as arguments).
const NOW: i64 = 1_800_000_000_000;

async fn locked_bucket(s: &MetaStore, name: &str) -> i64 {
    let b = s.create_bucket(name, owner(s).await, "us-east-1", true, 1).await.expect("create");
    assert_eq!((b.versioning, b.object_lock), (Versioning::Enabled, Some(BucketLock::default())));
    b.id
}

/// Writes `key` with `retention`; returns its version id.
async fn put(s: &MetaStore, bucket: i64, key: &[u8], blob: &str, retention: Retention) -> String {
    let o = ObjectRecord { retention, ..object(key, "e", blob, 1) };
    commit(s, bucket, &o, &WriteCondition::None, NOW).await.expect("commit").expect("versioned")
}

fn sel(id: &str) -> VersionSel {
    VersionSel::parse(id).expect("an issued id")
}

fn until(mode: LockMode, ms: i64) -> Retention {
    Retention { mode: Some(mode), until_ms: Some(ms), legal_hold: false }
}

async fn compliance_stops_everybody_until_it_ends(db: &TestDb) {
    let s = &db.store;
    let b = locked_bucket(s, "compliance").await;
    let v = put(s, b, b"k", "b1", until(LockMode::Compliance, NOW + HOUR)).await;
    for bypass in [false, true] {
        let refused = s.delete_version(b, b"k", &sel(&v), bypass, NOW).await;
        assert!(matches!(refused, Err(MetaError::ObjectLocked)), "bypass={bypass}: {refused:?}");
    }
    let marker = s.delete_object(b, b"k", 1, NOW).await.expect("a delete marker is always allowed");
    assert!(marker.marker);
    assert!(s.object_version(b, b"k", &sel(&v)).await.expect("get").is_some(), "the version is still there");
    let shorter = s.set_retention(b, b"k", &v, Some((LockMode::Compliance, NOW + 1)), true, NOW).await;
    assert!(matches!(shorter, Err(MetaError::ObjectLocked)), "COMPLIANCE cannot be shortened: {shorter:?}");
    let weaker = s.set_retention(b, b"k", &v, Some((LockMode::Governance, NOW + 2 * HOUR)), true, NOW).await;
    assert!(matches!(weaker, Err(MetaError::ObjectLocked)), "nor turned into GOVERNANCE");
    assert!(matches!(s.set_retention(b, b"k", &v, None, true, NOW).await, Err(MetaError::ObjectLocked)));
    s.set_retention(b, b"k", &v, Some((LockMode::Compliance, NOW + 2 * HOUR)), false, NOW).await.expect("extend");
    let after_first_end = NOW + HOUR + 1;
    assert!(matches!(s.delete_version(b, b"k", &sel(&v), false, after_first_end).await, Err(MetaError::ObjectLocked)));
    let gone = s.delete_version(b, b"k", &sel(&v), false, NOW + 2 * HOUR + 1).await.expect("expired");
    assert!(gone.changed);
}

async fn governance_yields_only_to_bypass(db: &TestDb) {
    let s = &db.store;
    let b = locked_bucket(s, "governance").await;
    let v = put(s, b, b"k", "b1", until(LockMode::Governance, NOW + HOUR)).await;
    assert!(matches!(s.delete_version(b, b"k", &sel(&v), false, NOW).await, Err(MetaError::ObjectLocked)));
    let shorter = s.set_retention(b, b"k", &v, Some((LockMode::Governance, NOW + 1)), false, NOW).await;
    assert!(matches!(shorter, Err(MetaError::ObjectLocked)));
    s.set_retention(b, b"k", &v, Some((LockMode::Governance, NOW + 1)), true, NOW).await.expect("bypass shortens");
    s.set_retention(b, b"k", &v, Some((LockMode::Governance, NOW + HOUR)), false, NOW).await.expect("extend");
    assert!(s.delete_version(b, b"k", &sel(&v), true, NOW).await.expect("bypass deletes").changed);
}

async fn legal_hold_blocks_until_removed(db: &TestDb) {
    let s = &db.store;
    let b = locked_bucket(s, "hold").await;
    let v = put(s, b, b"k", "b1", Retention { legal_hold: true, ..Default::default() }).await;
    assert!(matches!(s.delete_version(b, b"k", &sel(&v), true, NOW).await, Err(MetaError::ObjectLocked)));
    s.set_legal_hold(b, b"k", &v, false).await.expect("release");
    assert!(s.delete_version(b, b"k", &sel(&v), false, NOW).await.expect("delete").changed);
    assert!(matches!(s.set_legal_hold(b, b"k", &v, true).await, Err(MetaError::NoSuchVersion)));
}

async fn default_retention_applies_to_new_versions(db: &TestDb) {
    let s = &db.store;
    let b = locked_bucket(s, "defaults").await;
    let lock = BucketLock { default: Some((LockMode::Compliance, RetentionPeriod::Days(2))) };
    s.set_bucket_lock(b, &lock).await.expect("set default");
    assert_eq!(s.bucket("defaults").await.expect("get").expect("exists").object_lock, Some(lock));
    let v = put(s, b, b"k", "b1", Retention::default()).await;
    let got = s.object_version(b, b"k", &sel(&v)).await.expect("get").expect("exists").object.retention;
    assert_eq!(got, until(LockMode::Compliance, NOW + 48 * HOUR), "two days from the commit");
    let explicit = put(s, b, b"k", "b2", until(LockMode::Governance, NOW + HOUR)).await;
    let got = s.object_version(b, b"k", &sel(&explicit)).await.expect("get").expect("exists").object.retention;
    assert_eq!(got, until(LockMode::Governance, NOW + HOUR), "what the write names wins");
}

async fn lock_rules_are_one_way(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let plain = s.create_bucket("plain", me, "us-east-1", false, 1).await.expect("create");
    let o = ObjectRecord { retention: until(LockMode::Governance, NOW + HOUR), ..object(b"k", "e", "b1", 1) };
    let refused = commit(s, plain.id, &o, &WriteCondition::None, NOW).await;
    assert!(matches!(refused, Err(MetaError::LockNotEnabled)), "{refused:?}");
    let on_unversioned = s.set_bucket_lock(plain.id, &BucketLock::default()).await;
    assert!(matches!(on_unversioned, Err(MetaError::InvalidBucketState(_))));
    s.set_versioning(plain.id, Versioning::Enabled).await.expect("enable");
    s.set_bucket_lock(plain.id, &BucketLock::default()).await.expect("lock on a versioned bucket");
    let suspend = s.set_versioning(plain.id, Versioning::Suspended).await;
    assert!(matches!(suspend, Err(MetaError::InvalidBucketState(_))), "versioning stays on under lock");
    let locked = locked_bucket(s, "locked").await;
    assert!(matches!(s.set_versioning(locked, Versioning::Suspended).await, Err(MetaError::InvalidBucketState(_))));
}

contract!(
    compliance_stops_everybody_until_it_ends,
    governance_yields_only_to_bypass,
    legal_hold_blocks_until_removed,
    default_retention_applies_to_new_versions,
    lock_rules_are_one_way,
);
