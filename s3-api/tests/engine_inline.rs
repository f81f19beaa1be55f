//! Inline objects on a real engine (embedded SQLite, temporary data directory), threshold 1 KiB: a
//! small body leaves no file anywhere and reads back whole and by range; a body one byte over the
//! threshold (announced or not) is a file with the same bytes; an overwrite keeps the old inline bytes
//! readable until the janitor's sweep deletes them; a failed condition leaves no inline row; a small
//! part is written to a file (parts are never inline) and completes like any other.

use std::time::Duration;

use bytes::Bytes;
use cloudvault_metadata::{Manifest, MetaError, ObjectRecord, Upload, WriteCondition};
use cloudvault_s3_api::engine::attributes::ObjectAttributes;
use cloudvault_s3_api::engine::janitor::{Policy, sweep_once};
use cloudvault_s3_api::engine::{Engine, EngineError, NewObject, StagedBlob, now_ms};
use futures::StreamExt;
use md5::{Digest, Md5};

mod common;
use common::{Fixture, files_under, fixture, record};

const THRESHOLD: u64 = 1024;

const NOW: Policy = Policy {
    grace: Duration::ZERO,
    multipart_expiry: Duration::from_secs(3600),
    lifecycle_day: Duration::from_secs(86_400),
};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed)).collect()
}

/// `data` in chunks of 100 bytes, so a body crosses the threshold mid-stream.
fn chunked(data: &[u8]) -> impl futures::Stream<Item = Result<Bytes, EngineError>> + Unpin + use<> {
    let chunks: Vec<_> = data.chunks(100).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks)
}

fn engine(f: &Fixture) -> Engine {
    f.engine.clone().with_inline_max(THRESHOLD)
}

async fn stage(engine: &Engine, data: &[u8], announced: bool) -> StagedBlob {
    let len = announced.then_some(data.len() as u64);
    engine.stage(chunked(data), len, 1 << 20, &mut |_| {}).await.expect("stage")
}

/// Puts `data` under `key`; returns the staged blob's id and the outcome.
async fn put_as(
    engine: &Engine,
    f: &Fixture,
    key: &[u8],
    data: &[u8],
    condition: &WriteCondition,
) -> (String, Result<(), EngineError>) {
    let staged = stage(engine, data, false).await;
    let blob_id = staged.blob_id.clone();
    let new = NewObject {
        key: key.to_vec(),
        owner_id: 1,
        attributes: ObjectAttributes::default(),
        retention: Default::default(),
    };
    (blob_id, engine.put_object(f.bucket_id, new, staged, condition).await.map(|_| ()))
}

async fn put(
    engine: &Engine,
    f: &Fixture,
    key: &[u8],
    data: &[u8],
    condition: &WriteCondition,
) -> Result<(), EngineError> {
    put_as(engine, f, key, data, condition).await.1
}

async fn current(f: &Fixture, key: &[u8]) -> ObjectRecord {
    f.engine.object(f.bucket_id, key).await.expect("lookup").expect("object present")
}

async fn read(engine: &Engine, manifest: &Manifest, range: std::ops::Range<u64>) -> Vec<u8> {
    let mut stream = engine.open_read(manifest, range).await.expect("open");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

#[tokio::test]
async fn a_small_body_is_inline_and_reads_back_whole_and_by_range() {
    let f = fixture().await;
    let engine = engine(&f);
    for (key, len) in [(&b"empty"[..], 0usize), (b"small", 700), (b"exact", THRESHOLD as usize)] {
        let data = pattern(len, len as u8);
        put(&engine, &f, key, &data, &WriteCondition::None).await.expect("put");
        let o = current(&f, key).await;
        let blob = o.manifest.inline_blob().expect("an inline manifest").clone();
        assert_eq!((blob.size, o.size), (len as i64, len as i64));
        assert_eq!(o.etag, hex::encode(Md5::digest(&data)), "the ETag is the MD5 of the bytes");
        assert_eq!(f.meta.inline_blob(&blob.blob_id).await.expect("row").as_deref(), Some(&data[..]));
        assert_eq!(read(&engine, &o.manifest, 0..len as u64).await, data);
        if len > 10 {
            assert_eq!(read(&engine, &o.manifest, 3..10).await, &data[3..10], "a range of an inline object");
        }
    }
    assert_eq!(files_under(&f.dir.path().join("blobs")), 0, "no blob file for an inline object");
    assert_eq!(files_under(&f.dir.path().join("staging")), 0, "no staging file either");
}

#[tokio::test]
async fn a_body_over_the_threshold_is_a_file_announced_or_not() {
    let f = fixture().await;
    let engine = engine(&f);
    let data = pattern(THRESHOLD as usize + 1, 7);
    for announced in [true, false] {
        let staged = stage(&engine, &data, announced).await;
        assert!(staged.inline_bytes().is_none(), "announced={announced}: one byte over is a file");
        assert_eq!(staged.md5[..], Md5::digest(&data)[..], "the buffered head and the rest are hashed in order");
        let row = ObjectRecord { size: data.len() as i64, ..record(b"big", Manifest::default()) };
        f.engine.commit_single(f.bucket_id, staged, row, &WriteCondition::None).await.expect("commit");
        let o = current(&f, b"big").await;
        assert!(o.manifest.inline_blob().is_none());
        assert_eq!(read(&engine, &o.manifest, 0..data.len() as u64).await, data, "announced={announced}");
    }
}

#[tokio::test]
async fn an_overwritten_inline_blob_stays_readable_until_the_sweep() {
    let f = fixture().await;
    let engine = engine(&f);
    let (old, new) = (pattern(500, 1), pattern(600, 2));
    put(&engine, &f, b"k", &old, &WriteCondition::None).await.expect("put");
    let before = current(&f, b"k").await;
    put(&engine, &f, b"k", &new, &WriteCondition::None).await.expect("overwrite");
    assert_eq!(read(&engine, &before.manifest, 0..500).await, old, "a reader of the old row still gets its bytes");
    assert_eq!(read(&engine, &current(&f, b"k").await.manifest, 0..600).await, new);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(sweep_once(&engine, NOW).await.expect("sweep"), 1, "the old inline blob is swept");
    let old_id = &before.manifest.0[0].blob_id;
    assert_eq!(f.meta.inline_blob(old_id).await.expect("lookup"), None, "its bytes are gone with its garbage row");
    assert!(f.meta.garbage_blobs(i64::MAX, 10).await.expect("garbage").is_empty());
    let err = engine.open_read(&before.manifest, 0..500).await.expect_err("a swept inline blob is missing");
    assert!(matches!(err, EngineError::Io(ref e) if e.kind() == std::io::ErrorKind::NotFound), "got {err:?}");
    assert_eq!(read(&engine, &current(&f, b"k").await.manifest, 0..600).await, new, "the live one is untouched");
}

#[tokio::test]
async fn a_failed_condition_leaves_no_inline_row() {
    let f = fixture().await;
    let engine = engine(&f);
    put(&engine, &f, b"k", b"first", &WriteCondition::IfAbsent).await.expect("first");
    let (loser, outcome) = put_as(&engine, &f, b"k", b"second", &WriteCondition::IfAbsent).await;
    let err = outcome.expect_err("the key exists");
    assert!(matches!(err, EngineError::Meta(MetaError::PreconditionFailed)), "got {err:?}");
    assert!(loser.starts_with('i'), "the loser was staged inline");
    assert_eq!(f.meta.inline_blob(&loser).await.expect("lookup"), None, "the loser's bytes were not stored");
    let o = current(&f, b"k").await;
    assert_eq!(read(&engine, &o.manifest, 0..5).await, b"first");
}

#[tokio::test]
async fn a_small_part_is_a_file_and_completes_like_any_other() {
    let f = fixture().await;
    let engine = engine(&f);
    let upload = Upload {
        upload_id: "u".into(),
        bucket_id: f.bucket_id,
        key: b"mp".to_vec(),
        initiated_at: now_ms(),
        owner_id: 1,
        attributes: "{}".into(),
    };
    f.meta.create_upload(&upload).await.expect("upload");
    let data = pattern(300, 9);
    let staged = stage(&engine, &data, true).await;
    assert!(staged.inline_bytes().is_some(), "staged in memory");
    let part = engine.commit_part("u", 1, staged, None).await.expect("part");
    assert!(!part.is_inline(), "a part is never inline");
    assert_eq!(std::fs::read(f.blobs.blob_path(&part.blob_id)).expect("the part's file"), data);
    let mut object = record(b"mp", Manifest(vec![part]));
    object.parts_count = Some(1);
    f.meta.complete_upload("u", f.bucket_id, &object, &WriteCondition::None, now_ms()).await.expect("complete");
    assert_eq!(read(&engine, &current(&f, b"mp").await.manifest, 0..300).await, data);
    assert_eq!(files_under(&f.dir.path().join("staging")), 0, "nothing left in staging");
}
