//! Inline blobs, on both backends: an inline object's bytes are written by its commit and read back
//! exactly (64 KiB included: the largest threshold), alone or with the object's row; a failed condition stores no bytes; a replaced or
//! deleted inline blob waits in the garbage queue with its bytes until the janitor forgets it; a
//! commit that does not match its bytes, or a file-style commit naming an inline blob, is refused.

mod common;

use common::{TestDb, blob, commit, object, owner};

use cloudvault_metadata::{Manifest, MetaError, MetaStore, WriteCondition, is_inline_blob};

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)).collect()
}

async fn put_inline(
    s: &MetaStore,
    bucket: i64,
    key: &[u8],
    id: &str,
    data: &[u8],
    condition: &WriteCondition,
) -> Result<Option<String>, MetaError> {
    s.commit_inline_object(bucket, &object(key, "e", id, data.len() as i64), data, condition, 100).await
}

async fn inline_commits_store_and_retire_their_bytes(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("inline", me, "us-east-1", false, 1).await.expect("create");
    assert!(is_inline_blob("i1") && !is_inline_blob("0f1e"), "inline ids start with i, file ids are hex");
    let (small, largest) = (bytes(10, 1), bytes(64 * 1024, 2));
    put_inline(s, b.id, b"k", "i1", &small, &WriteCondition::None).await.expect("commit");
    put_inline(s, b.id, b"big", "i2", &largest, &WriteCondition::None).await.expect("commit 64 KiB");
    assert_eq!(s.inline_blob("i1").await.expect("read").as_deref(), Some(&small[..]));
    assert_eq!(s.inline_blob("i2").await.expect("read").as_deref(), Some(&largest[..]), "64 KiB round-trips");
    let o = s.object(b.id, b"k").await.expect("lookup").expect("present");
    assert_eq!(o.manifest.inline_blob().map(|b| b.blob_id.as_str()), Some("i1"));
    assert!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage").is_empty());
    // A GET's lookup brings the bytes along; a file-backed object and a missing key bring none.
    let (row, data) = s.object_with_inline(b.id, b"big").await.expect("read").expect("present");
    assert_eq!((row.size, data.as_deref()), (64 * 1024, Some(&largest[..])));
    commit(s, b.id, &object(b"file", "f", "0fed", 4), &WriteCondition::None, 150).await.expect("file");
    let (row, data) = s.object_with_inline(b.id, b"file").await.expect("read").expect("present");
    assert_eq!((row.manifest.0[0].blob_id.as_str(), data), ("0fed", None));
    assert!(s.object_with_inline(b.id, b"missing").await.expect("read").is_none());

    // A failed condition stores nothing.
    let err = put_inline(s, b.id, b"k", "i3", b"loser", &WriteCondition::IfAbsent).await;
    assert!(matches!(err, Err(MetaError::PreconditionFailed)), "got {err:?}");
    assert_eq!(s.inline_blob("i3").await.expect("read"), None, "the loser's bytes were rolled back");

    // Replaced by a file blob: the inline bytes wait in the garbage queue, then go with their row.
    commit(s, b.id, &object(b"k", "f", "0abc", 4), &WriteCondition::None, 200).await.expect("overwrite");
    assert_eq!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage"), vec!["i1".to_owned()]);
    assert!(s.inline_blob("i1").await.expect("read").is_some(), "still readable until the janitor's pass");
    s.forget_garbage_blob("i1").await.expect("forget");
    assert_eq!(s.inline_blob("i1").await.expect("read"), None, "its bytes went with its garbage row");

    // Deleted: the same queue.
    s.delete_object(b.id, b"big", me, 300).await.expect("delete");
    assert_eq!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage"), vec!["i2".to_owned()]);
    s.forget_garbage_blob("i2").await.expect("forget");
    assert_eq!(s.inline_blob("i2").await.expect("read"), None);
}

async fn mismatched_inline_commits_are_refused(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("refused", me, "us-east-1", false, 1).await.expect("create");
    let err = s.commit_inline_object(b.id, &object(b"k", "e", "i9", 5), b"four", &WriteCondition::None, 1).await;
    assert!(matches!(err, Err(MetaError::Corrupt(_))), "a length that differs from the bytes: {err:?}");
    let two = object(b"k", "e", "i9", 8);
    let two = cloudvault_metadata::ObjectRecord { manifest: Manifest(vec![blob("i9", 4), blob("i8", 4)]), ..two };
    let err = s.commit_inline_object(b.id, &two, b"eightbyt", &WriteCondition::None, 1).await;
    assert!(matches!(err, Err(MetaError::Corrupt(_))), "an inline object is one blob: {err:?}");
    let err = s.commit_object(b.id, &object(b"k", "e", "i9", 4), &WriteCondition::None, 1).await;
    assert!(matches!(err, Err(MetaError::Corrupt(_))), "a file commit cannot name an inline blob: {err:?}");
    assert!(s.object(b.id, b"k").await.expect("lookup").is_none(), "nothing was committed");
    assert_eq!(s.inline_blob("i9").await.expect("read"), None);
}

contract!(inline_commits_store_and_retire_their_bytes, mismatched_inline_commits_are_refused);
