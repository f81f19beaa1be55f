//! What a crash or an abandoned write leaves behind, and that the janitor cleans exactly that: never a
//! committed object's bytes. Runs the real engine on a temporary data directory with embedded SQLite.

use std::time::Duration;

use bytes::Bytes;
use cloudvault_metadata::{Manifest, ObjectRecord, Upload, WriteCondition};
use cloudvault_s3_api::engine::janitor::{Policy, sweep_once};
use cloudvault_s3_api::engine::{Engine, EngineError, now_ms};
use futures::StreamExt;

mod common;
use common::{files_under, fixture};

fn body(data: &'static [u8]) -> impl futures::Stream<Item = Result<Bytes, EngineError>> + Unpin {
    futures::stream::iter(data.chunks(3).map(|c| Ok(Bytes::from_static(c))))
}

fn record(key: &[u8]) -> ObjectRecord {
    ObjectRecord {
        version_id: String::new(),
        key: key.to_vec(),
        size: 0,
        etag: "e".into(),
        last_modified: now_ms(),
        owner_id: 1,
        attributes: "{}".into(),
        manifest: Manifest::default(),
        parts_count: None,
        retention: Default::default(),
    }
}

const NOW: Policy =
    Policy { grace: Duration::ZERO, multipart_expiry: Duration::ZERO, lifecycle_day: Duration::from_secs(86_400) };
const LATER: Policy = Policy {
    grace: Duration::from_secs(3600),
    multipart_expiry: Duration::from_secs(3600),
    lifecycle_day: Duration::from_secs(86_400),
};

async fn read_all(engine: &Engine, manifest: &Manifest) -> Vec<u8> {
    let size = manifest.total_size() as u64;
    let mut stream = engine.open_read(manifest, 0..size).await.expect("open");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

#[tokio::test]
async fn crash_between_rename_and_commit_is_invisible_and_swept() {
    let f = fixture().await;
    let staged = f.blobs.stage(body(b"half-written object"), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    let blob_id = staged.blob_id.clone();
    f.meta.register_pending_blob(&blob_id, now_ms()).await.expect("intent");
    let placed = f.blobs.place(staged).await.expect("place");
    // The process "dies" here: no commit.
    assert!(f.meta.object(f.bucket_id, b"k").await.expect("lookup").is_none(), "nothing visible");
    assert!(f.blobs.blob_path(&placed.blob_id).exists());
    assert_eq!(sweep_once(&f.engine, LATER).await.expect("sweep"), 0, "young intents are left alone");
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(sweep_once(&f.engine, NOW).await.expect("sweep"), 1);
    assert!(!f.blobs.blob_path(&placed.blob_id).exists(), "the orphan blob is deleted");
    assert!(f.meta.stale_pending_blobs(i64::MAX, 10).await.expect("intents").is_empty());
}

#[tokio::test]
async fn failed_or_cancelled_staging_leaves_no_file() {
    let f = fixture().await;
    let failing = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"some bytes")),
        Err(EngineError::Body { code: "IncompleteBody".into(), message: "client went away".into() }),
    ]);
    let err = f.blobs.stage(failing, 1 << 20, 0, &mut |_| {}).await.expect_err("must fail");
    assert!(matches!(err, EngineError::Body { .. }));
    let too_big = f.blobs.stage(body(b"0123456789"), 4, 0, &mut |_| {}).await.expect_err("too large");
    assert!(matches!(too_big, EngineError::TooLarge { limit: 4 }));
    assert_eq!(files_under(&f.dir.path().join("staging")), 0, "a failed write removes its staging file");
    // A staging file left by a crash (no StagedBlob to drop it) is swept once older than the grace period.
    std::fs::write(f.dir.path().join("staging").join("crashed-write"), b"partial").expect("write");
    assert_eq!(sweep_once(&f.engine, LATER).await.expect("sweep"), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(sweep_once(&f.engine, NOW).await.expect("sweep"), 1);
    assert_eq!(files_under(&f.dir.path().join("staging")), 0);
}

#[tokio::test]
async fn overwrite_retires_old_blob_and_keeps_the_live_one() {
    let f = fixture().await;
    let first = f.blobs.stage(body(b"version one"), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    let first_id = first.blob_id.clone();
    f.engine.commit_single(f.bucket_id, first, record(b"k"), &WriteCondition::None).await.expect("commit 1");
    let second = f.blobs.stage(body(b"version two!"), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    f.engine.commit_single(f.bucket_id, second, record(b"k"), &WriteCondition::None).await.expect("commit 2");
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(sweep_once(&f.engine, NOW).await.expect("sweep"), 1, "only the replaced blob goes");
    assert!(!f.blobs.blob_path(&first_id).exists());
    let live = f.meta.object(f.bucket_id, b"k").await.expect("lookup").expect("present");
    assert_eq!(read_all(&f.engine, &live.manifest).await, b"version two!");
    assert_eq!(files_under(&f.dir.path().join("blobs")), 1, "no gaps, no orphans");
}

#[tokio::test]
async fn failed_precondition_removes_its_blob_at_once() {
    let f = fixture().await;
    let first = f.blobs.stage(body(b"winner"), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    f.engine.commit_single(f.bucket_id, first, record(b"k"), &WriteCondition::IfAbsent).await.expect("create");
    let loser = f.blobs.stage(body(b"loser"), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    let err = f.engine.commit_single(f.bucket_id, loser, record(b"k"), &WriteCondition::IfAbsent).await;
    assert!(matches!(err, Err(EngineError::Meta(cloudvault_metadata::MetaError::PreconditionFailed))));
    assert_eq!(files_under(&f.dir.path().join("blobs")), 1, "the losing blob is gone without waiting for the janitor");
    assert!(f.meta.stale_pending_blobs(i64::MAX, 10).await.expect("intents").is_empty());
}

#[tokio::test]
async fn idle_multipart_uploads_expire_with_their_parts() {
    let f = fixture().await;
    let upload = Upload {
        upload_id: "abandoned".into(),
        bucket_id: f.bucket_id,
        key: b"big".to_vec(),
        initiated_at: now_ms(),
        owner_id: 1,
        attributes: "{}".into(),
    };
    f.meta.create_upload(&upload).await.expect("upload");
    let part = f.blobs.stage(body(b"part one"), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    let blob = f.engine.commit_part("abandoned", 1, part, None).await.expect("part");
    assert_eq!(sweep_once(&f.engine, LATER).await.expect("sweep"), 0, "an active upload is kept");
    assert!(f.meta.upload("abandoned").await.expect("get").is_some());
    tokio::time::sleep(Duration::from_millis(5)).await;
    // One pass aborts the upload and queues its part; the next deletes the part's blob.
    assert_eq!(sweep_once(&f.engine, NOW).await.expect("sweep"), 1);
    assert!(f.meta.upload("abandoned").await.expect("get").is_none());
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(sweep_once(&f.engine, NOW).await.expect("sweep"), 1);
    assert!(!f.blobs.blob_path(&blob.blob_id).exists());
}
