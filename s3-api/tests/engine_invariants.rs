//! The engine's unconditional invariants, each forced into its failure case on a real engine (embedded
//! SQLite, temporary data directory): a commit whose intent was swept fails and leaves nothing; a read
//! opened before an overwrite and a full sweep still returns every byte; a paused upload survives the
//! staging sweep, and another replica's staging file is judged by change, never by its mtime's clock;
//! the bucket cache never outlives a mutation on its replica and never caches a miss; a
//! write on a nearly full volume answers `VolumeFull` and leaves nothing.

use std::io::Write;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cloudvault_metadata::{BlobRef, Manifest, MetaError, Upload, WriteCondition};
use cloudvault_s3_api::engine::janitor::{Policy, sweep_once};
use cloudvault_s3_api::engine::{EngineError, now_ms};
use futures::StreamExt;

const NOW: Policy = Policy {
    grace: Duration::ZERO,
    multipart_expiry: Duration::from_secs(3600),
    lifecycle_day: Duration::from_secs(86_400),
};

mod common;
use common::{files_under, fixture, record};

fn stream_of(data: Vec<u8>) -> impl futures::Stream<Item = Result<Bytes, EngineError>> + Unpin {
    let chunks: Vec<_> = data.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[tokio::test]
async fn a_commit_whose_intent_was_swept_fails_and_leaves_nothing() {
    let f = fixture().await;
    let staged = f.blobs.stage(stream_of(b"stalled write".to_vec()), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    // The intent is recorded "long ago": a sweeper whose clock runs ahead, or a commit stalled past the
    // grace period, sees it as stale.
    f.meta.register_pending_blob(&staged.blob_id, now_ms() - 10_000).await.expect("intent");
    let blob = f.blobs.place(staged).await.expect("place");
    assert_eq!(sweep_once(&f.engine, NOW).await.expect("sweep"), 1, "the janitor claims and removes the blob");
    assert!(!f.blobs.blob_path(&blob.blob_id).exists());
    let object = record(b"k", Manifest::single(blob.clone()));
    let err = f.meta.commit_object(f.bucket_id, &object, &WriteCondition::None, now_ms()).await;
    assert!(matches!(err, Err(MetaError::IntentLost(ref id)) if *id == blob.blob_id), "got {err:?}");
    assert!(f.meta.object(f.bucket_id, b"k").await.expect("lookup").is_none(), "no row without its blob");
    assert_eq!(files_under(&f.dir.path().join("blobs")), 0);
}

#[tokio::test]
async fn a_read_opened_before_an_overwrite_and_a_full_sweep_returns_every_byte() {
    let f = fixture().await;
    let upload = Upload {
        upload_id: "u".into(),
        bucket_id: f.bucket_id,
        key: b"big".to_vec(),
        initiated_at: now_ms(),
        owner_id: 1,
        attributes: "{}".into(),
    };
    f.meta.create_upload(&upload).await.expect("upload");
    let mut parts: Vec<BlobRef> = Vec::new();
    let mut expected = Vec::new();
    for n in 1..=3u8 {
        let data = pattern(1 << 20, n);
        expected.extend_from_slice(&data);
        let staged = f.blobs.stage(stream_of(data), 1 << 30, 0, &mut |_| {}).await.expect("stage");
        parts.push(f.engine.commit_part("u", i64::from(n), staged, None).await.expect("part"));
    }
    let object = record(b"big", Manifest(parts.clone()));
    f.meta.complete_upload("u", f.bucket_id, &object, &WriteCondition::None, now_ms()).await.expect("complete");

    let mut reader = f.engine.open_read(&object.manifest, 0..expected.len() as u64).await.expect("open");
    let mut got = reader.next().await.expect("first chunk").expect("bytes").to_vec();
    // Overwrite the object and let the janitor remove every old part file while the reader pauses.
    let staged = f.blobs.stage(stream_of(b"new".to_vec()), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    f.engine
        .commit_single(f.bucket_id, staged, record(b"big", Manifest::default()), &WriteCondition::None)
        .await
        .expect("overwrite");
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(sweep_once(&f.engine, NOW).await.expect("sweep"), 3, "all three old parts are swept");
    assert!(parts.iter().all(|p| !f.blobs.blob_path(&p.blob_id).exists()));
    while let Some(chunk) = reader.next().await {
        got.extend_from_slice(&chunk.expect("a swept part is still readable"));
    }
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the old object's bytes, every one");
}

#[tokio::test]
async fn a_paused_upload_keeps_its_staging_file_through_sweeps() {
    let f = fixture().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, EngineError>>(1);
    let blobs = f.blobs.clone();
    let upload = tokio::spawn(async move {
        let body = tokio_stream::wrappers::ReceiverStream::new(rx);
        blobs.stage(body, 1 << 20, 0, &mut |_| {}).await
    });
    tx.send(Ok(Bytes::from_static(b"first half, "))).await.expect("send");
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        sweep_once(&f.engine, NOW).await.expect("sweep");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(files_under(&f.dir.path().join("staging")), 1, "the live staging file is not swept");
    tx.send(Ok(Bytes::from_static(b"second half"))).await.expect("send");
    drop(tx);
    let staged = upload.await.expect("join").expect("the paused upload completes");
    f.engine
        .commit_single(f.bucket_id, staged, record(b"p", Manifest::default()), &WriteCondition::None)
        .await
        .expect("commit");
    let live = f.meta.object(f.bucket_id, b"p").await.expect("lookup").expect("present");
    let mut body = Vec::new();
    let mut reader = f.engine.open_read(&live.manifest, 0..live.manifest.total_size() as u64).await.expect("open");
    while let Some(chunk) = reader.next().await {
        body.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(body, b"first half, second half");
}

/// A staging file this process is not writing (another replica's, or a crash's) is removed only once
/// this sweeper has seen it unchanged for the grace period. Its mtime's clock plays no part: a file
/// stamped two hours ago (its writer's clock behind this one, as under skew) survives its first
/// sighting, and a change (more bytes) restarts the wait.
#[tokio::test]
async fn the_staging_sweep_goes_by_change_not_by_clocks() {
    let f = fixture().await;
    let grace = Duration::from_millis(300);
    let path = f.dir.path().join("staging").join("another-replicas-write");
    std::fs::write(&path, b"first bytes, ").expect("write");
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    let file = std::fs::File::options().append(true).open(&path).expect("open");
    file.set_modified(two_hours_ago).expect("mtime");
    assert_eq!(f.blobs.sweep_staging(grace).await.expect("sweep"), 0, "a first sighting is never swept");
    tokio::time::sleep(Duration::from_millis(200)).await;
    (&file).write_all(b"more bytes").expect("append");
    file.set_modified(two_hours_ago).expect("mtime");
    assert_eq!(f.blobs.sweep_staging(grace).await.expect("sweep"), 0, "changed since the last sweep");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.blobs.sweep_staging(grace).await.expect("sweep"), 0, "unchanged for less than the grace");
    assert!(path.exists(), "the other replica's file is still there");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.blobs.sweep_staging(grace).await.expect("sweep"), 1, "unchanged for longer than the grace");
    assert!(!path.exists());
}

#[tokio::test]
async fn bucket_mutations_invalidate_the_cache_and_misses_are_not_cached() {
    let f = fixture().await;
    assert!(f.engine.bucket_cached("fresh").await.expect("lookup").is_none());
    let owner = f.meta.ensure_user("alice", "user", 0).await.expect("user").id;
    let created =
        f.engine.create_bucket("fresh", owner, "us-east-1", false, &Default::default()).await.expect("create");
    let cached = f.engine.bucket_cached("fresh").await.expect("lookup").expect("the new bucket, not a cached miss");
    assert_eq!((cached.id, cached.owner_id), (created.id, owner));
    f.engine.set_bucket_setting(&cached, cloudvault_metadata::BucketSetting::Policy, Some("{}")).await.expect("set");
    let cached = f.engine.bucket_cached("fresh").await.expect("lookup").expect("present");
    assert_eq!(cached.policy.as_deref(), Some("{}"), "a settings change is seen at once");
    f.engine.delete_bucket(&cached).await.expect("delete");
    assert!(f.engine.bucket_cached("fresh").await.expect("lookup").is_none(), "a deleted bucket is gone at once");
    let again = f.engine.create_bucket("fresh", 1, "us-east-1", false, &Default::default()).await.expect("re-create");
    let cached = f.engine.bucket_cached("fresh").await.expect("lookup").expect("present");
    assert_eq!((cached.id, cached.owner_id), (again.id, 1));
    assert_ne!(again.id, created.id, "a re-created name is a new bucket id");
    // A write through a stale view of the old bucket names the old id and fails.
    let staged = f.blobs.stage(stream_of(b"x".to_vec()), 1 << 20, 0, &mut |_| {}).await.expect("stage");
    let err =
        f.engine.commit_single(created.id, staged, record(b"k", Manifest::default()), &WriteCondition::None).await;
    assert!(matches!(err, Err(EngineError::Meta(MetaError::NoSuchBucket))), "got {err:?}");
}

#[tokio::test]
async fn a_write_below_the_minimum_free_space_is_refused_and_leaves_nothing() {
    let f = fixture().await;
    let engine = f.engine.clone().with_volume_limits(f.dir.path(), u64::MAX / 2, 0).await;
    let err = engine.stage(stream_of(b"no room".to_vec()), Some(7), 1 << 20, &mut |_| {}).await;
    assert!(matches!(err, Err(EngineError::VolumeFull { .. })), "got {err:?}");
    assert_eq!(files_under(&f.dir.path().join("staging")), 0);
    let roomy = f.engine.clone().with_volume_limits(f.dir.path(), 0, 1 << 20).await;
    roomy.stage(stream_of(b"room".to_vec()), Some(4), 1 << 20, &mut |_| {}).await.expect("room enough");
    let reserve = std::fs::metadata(f.dir.path().join("reserve.ballast")).expect("the reserve file is laid down");
    assert_eq!(reserve.len(), 1 << 20);
}
