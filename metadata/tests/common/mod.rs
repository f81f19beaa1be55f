//! What the metadata test suites share: a fresh database on either backend (SQLite in a temporary
//! directory, or a new database on the MariaDB/MySQL server at `CLOUDVAULT_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306`, which must be reachable: the suites fail, never skip), records, and
//! the `contract!` macro that runs each test on both.
#![allow(dead_code)]

use cloudvault_metadata::{BlobRef, Manifest, MetaError, MetaStore, ObjectRecord, WriteCondition};

/// A store on a fresh database, and what to drop afterwards.
pub(crate) struct TestDb {
    pub(crate) store: MetaStore,
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    mysql_name: Option<String>,
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
        let store = MetaStore::connect(&url, 4).await.expect("open sqlite");
        TestDb { store, url, _dir: Some(dir), mysql_name: None }
    }

    pub(crate) async fn mysql() -> TestDb {
        let server =
            std::env::var("CLOUDVAULT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
        let name = format!("cv_meta_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&format!("{server}/mysql")).await.unwrap_or_else(|e| {
            panic!("MariaDB/MySQL is required for the metadata contract tests and is not reachable at {server}: {e}")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create db");
        admin.close().await;
        let url = format!("{server}/{name}");
        let store = MetaStore::connect(&url, 8).await.expect("open mysql");
        TestDb { store, url, _dir: None, mysql_name: Some(name) }
    }

    pub(crate) async fn finish(self) {
        self.store.close().await;
        if let Some(name) = self.mysql_name {
            let server = self.url.rsplit_once('/').map(|(s, _)| s.to_owned()).unwrap_or_default();
            let admin = sqlx::AnyPool::connect(&format!("{server}/mysql")).await.expect("reconnect");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&admin).await.expect("drop db");
            admin.close().await;
        }
    }
}

pub(crate) fn blob(id: &str, size: i64) -> BlobRef {
    BlobRef { blob_id: id.to_owned(), size, md5_hex: "00".repeat(16) }
}

pub(crate) fn object(key: &[u8], etag: &str, blob_id: &str, size: i64) -> ObjectRecord {
    ObjectRecord {
        version_id: String::new(),
        key: key.to_vec(),
        size,
        etag: etag.to_owned(),
        last_modified: 1_700_000_000_000,
        owner_id: 1,
        attributes: "{}".to_owned(),
        manifest: Manifest::single(blob(blob_id, size)),
        parts_count: None,
        retention: Default::default(),
    }
}

/// Commits `object` as the engine does: each new blob's intent recorded first (the commit claims it).
pub(crate) async fn commit(
    s: &MetaStore,
    bucket_id: i64,
    object: &ObjectRecord,
    condition: &WriteCondition,
    now_ms: i64,
) -> Result<Option<String>, MetaError> {
    for blob in &object.manifest.0 {
        s.register_pending_blob(&blob.blob_id, now_ms).await.expect("intent");
    }
    s.commit_object(bucket_id, object, condition, now_ms).await
}

/// Records a part as the engine does: its blob's intent first.
pub(crate) async fn put_part(
    s: &MetaStore,
    upload_id: &str,
    part_number: i64,
    blob: &BlobRef,
    checksum: Option<&str>,
    now_ms: i64,
) -> Result<(), MetaError> {
    s.register_pending_blob(&blob.blob_id, now_ms).await.expect("intent");
    s.put_part(upload_id, part_number, blob, checksum, now_ms).await
}

pub(crate) async fn owner(store: &MetaStore) -> i64 {
    store.ensure_user("root", "admin", 0).await.expect("user").id
}

/// Runs each named `async fn(&TestDb)` as a test on SQLite and on MySQL.
#[macro_export]
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$name(&db).await;
                db.finish().await;
            })*
        }
        mod mysql {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let db = $crate::common::TestDb::mysql().await;
                super::$name(&db).await;
                db.finish().await;
            })*
        }
    };
}
