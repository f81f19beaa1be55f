//! DELETE without a version id, on both backends: in an unversioned bucket a key that is not there
//! is answered by one read (on SQLite: no COMMIT at all) and changes nothing; a key that is there is
//! deleted; a versioned bucket still gets a delete marker for an absent key; a missing bucket is
//! `NoSuchBucket`.

mod common;

use common::{TestDb, commit, object, owner};

use cloudvault_metadata::{MetaError, Versioning, WriteCondition};

async fn an_absent_key_is_deleted_by_one_read(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("absent", me, "us-east-1", false, 1).await.expect("create");
    commit(s, b.id, &object(b"there", "e", "0b1", 3), &WriteCondition::None, 10).await.expect("put");
    let commits = s.group_commits_for_tests();
    let gone = s.delete_object(b.id, b"not-there", me, 20).await.expect("delete");
    assert!(!gone.changed && !gone.marker && gone.version_id.is_none(), "{gone:?}");
    assert_eq!(s.group_commits_for_tests(), commits, "no write transaction for a delete that changes nothing");
    assert!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage").is_empty());
    let bucket = s.bucket_usage(s.bucket("absent").await.expect("lookup").expect("present").id).await.expect("usage");
    assert_eq!((bucket.object_count, bucket.bytes_used), (1, 3), "the counters are untouched");

    assert!(s.delete_object(b.id, b"there", me, 30).await.expect("delete").changed, "a present key still goes");
    assert!(s.object(b.id, b"there").await.expect("lookup").is_none());
    assert_eq!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage"), ["0b1"]);

    s.set_versioning(b.id, Versioning::Enabled).await.expect("versioning");
    let marked = s.delete_object(b.id, b"never-written", me, 40).await.expect("delete");
    assert!(marked.changed && marked.marker && marked.version_id.is_some(), "a versioned bucket gets a marker");

    let err = s.delete_object(b.id + 1000, b"k", me, 50).await;
    assert!(matches!(err, Err(MetaError::NoSuchBucket)), "got {err:?}");
}

contract!(an_absent_key_is_deleted_by_one_read);
