//! The fixture the engine suites share: a real engine on a temporary data directory with embedded
//! SQLite, one admin user and one bucket, plus handles to the engine's own stores so a test can replay
//! protocol steps by hand.

#![allow(dead_code)] // each suite uses part of it

use cloudvault_metadata::{Manifest, MetaStore, ObjectRecord};
use cloudvault_s3_api::engine::{BlobStore, Engine, now_ms};

/// A fresh engine with one bucket.
pub(crate) struct Fixture {
    /// The engine under test.
    pub(crate) engine: Engine,
    /// The engine's metadata store.
    pub(crate) meta: MetaStore,
    /// The engine's blob store.
    pub(crate) blobs: BlobStore,
    /// The data directory (blobs, staging, the SQLite file).
    pub(crate) dir: tempfile::TempDir,
    /// The bucket `bucket`, owned by `root`.
    pub(crate) bucket_id: i64,
}

/// Opens the engine and creates `root` and `bucket` (through the engine, so its cache sees it).
pub(crate) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let meta = MetaStore::connect(&url, 4).await.expect("metadata store");
    let blobs = BlobStore::open(dir.path()).await.expect("blob store");
    let engine = Engine::new(meta.clone(), blobs.clone());
    let owner = meta.ensure_user("root", "admin", 0).await.expect("user").id;
    let bucket_id =
        engine.create_bucket("bucket", owner, "us-east-1", false, &Default::default()).await.expect("bucket").id;
    Fixture { engine, meta, blobs, dir, bucket_id }
}

/// An object row by `root` with these bytes (`manifest`) and a placeholder ETag.
pub(crate) fn record(key: &[u8], manifest: Manifest) -> ObjectRecord {
    ObjectRecord {
        version_id: String::new(),
        key: key.to_vec(),
        size: manifest.total_size(),
        etag: "e".into(),
        last_modified: now_ms(),
        owner_id: 1,
        attributes: "{}".into(),
        manifest,
        parts_count: None,
        retention: Default::default(),
    }
}

/// How many files are under `dir`, recursively.
pub(crate) fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry"))
        .map(|e| if e.file_type().expect("type").is_dir() { files_under(&e.path()) } else { 1 })
        .sum()
}
