//! Concurrent writers of one bucket (issue 14: no per-bucket write serialization on MySQL), on both
//! backends unless named:
//! - 16 writers overwriting and deleting 40 keys of one unversioned bucket: the bucket's counters equal
//!   what a listing counts, to the byte;
//! - 12 writers putting and deleting 3 keys of a versioned bucket: every acknowledged operation is
//!   exactly one version, each key's versions are strictly ordered, the current row is the newest
//!   version unless that is a delete marker, and the counters are exact;
//! - MySQL: a transaction holding the bucket row shared, one key's row and a counter shard (a writer in
//!   flight) does not delay commits of other keys; a commit of its key waits for it; DeleteBucket waits
//!   for it.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::{TestDb, commit, object, owner};

use cloudvault_metadata::{Backend, ListBound, ListColumns, MetaError, MetaStore, Versioning, WriteCondition};
use sqlx::Executor;

/// A tiny deterministic generator, so a failure can be replayed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn counted(s: &MetaStore, name: &str) -> (i64, i64, i64, i64) {
    let b = s.bucket(name).await.expect("lookup").expect("present");
    let u = s.bucket_usage(b.id).await.expect("usage");
    (u.object_count, u.bytes_used, u.noncurrent_count, u.noncurrent_bytes)
}

async fn parallel_writers_keep_exact_counters(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("counters", me, "us-east-1", false, 1).await.expect("create");
    let mut tasks = Vec::new();
    for writer in 0..16u64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (writer + 1);
            for op in 0..30 {
                let key = format!("k{:02}", next(&mut rng) % 40);
                if next(&mut rng).is_multiple_of(4) {
                    s.delete_object(b.id, key.as_bytes(), me, 10).await.expect("delete");
                } else {
                    let size = (next(&mut rng) % 1000) as i64;
                    let blob = format!("{writer:02x}{op:02x}");
                    let record = object(key.as_bytes(), &format!("e{blob}"), &blob, size);
                    commit(&s, b.id, &record, &WriteCondition::None, 10).await.expect("commit");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let listed = s.list_objects(b.id, ListBound::Unbounded, None, 1000, ListColumns::Bare).await.expect("list");
    let actual = (listed.len() as i64, listed.iter().map(|o| o.size).sum::<i64>(), 0, 0);
    assert!(actual.0 > 0, "some keys remain");
    assert_eq!(counted(s, "counters").await, actual, "the counters are what the listing counts");
}

async fn versioned_races_keep_the_version_order(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("races", me, "us-east-1", false, 1).await.expect("create");
    s.set_versioning(b.id, Versioning::Enabled).await.expect("versioning");
    let mut tasks = Vec::new();
    for writer in 0..12u64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = 0x2545_f491_4f6c_dd1d ^ (writer + 1);
            let mut ids = Vec::new();
            for op in 0..15 {
                let key = format!("v{}", next(&mut rng) % 3);
                let id = if next(&mut rng).is_multiple_of(3) {
                    s.delete_object(b.id, key.as_bytes(), me, 10).await.expect("delete").version_id
                } else {
                    let blob = format!("{writer:02x}{op:02x}");
                    let record = object(key.as_bytes(), &format!("e{blob}"), &blob, 1 + (writer * 15 + op) as i64);
                    commit(&s, b.id, &record, &WriteCondition::None, 10).await.expect("commit")
                };
                ids.push(id.expect("a versioned bucket names every new version"));
            }
            ids
        }));
    }
    let mut acknowledged = HashSet::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("writer"));
    }
    assert_eq!(acknowledged.len(), 12 * 15, "every acknowledged operation got its own version id");

    let versions = s.list_versions(b.id, b"", i64::MIN, None, 1000).await.expect("versions");
    let listed: HashSet<String> = versions.iter().map(|v| v.version_id.clone()).collect();
    assert_eq!(listed, acknowledged, "every acknowledged version is listed, and nothing else");
    let mut by_key: BTreeMap<Vec<u8>, Vec<_>> = BTreeMap::new();
    for v in &versions {
        by_key.entry(v.object.key.clone()).or_default().push(v);
    }
    let (mut current, mut noncurrent) = ((0, 0), (0, 0));
    for (key, list) in &by_key {
        assert!(list.windows(2).all(|w| w[0].vorder < w[1].vorder), "strictly ordered, newest first: {key:?}");
        assert!(list[0].is_latest && list[1..].iter().all(|v| !v.is_latest));
        let row = s.object(b.id, key).await.expect("lookup");
        match row {
            Some(row) => {
                assert!(!list[0].is_marker, "a current row only under a newest version");
                assert_eq!(row.version_id, list[0].version_id, "the current row is the newest version");
                current = (current.0 + 1, current.1 + row.size);
            }
            None => assert!(list[0].is_marker, "no current row only under a delete marker: {key:?}"),
        }
        for v in list[1..].iter().filter(|v| !v.is_marker) {
            noncurrent = (noncurrent.0 + 1, noncurrent.1 + v.object.size);
        }
    }
    assert_eq!(counted(s, "races").await, (current.0, current.1, noncurrent.0, noncurrent.1), "exact counters");
}

contract!(parallel_writers_keep_exact_counters, versioned_races_keep_the_version_order);

/// Commits `key` (a fresh blob), waiting at most `wait`: `None` when it did not finish in time.
async fn commit_within(s: &MetaStore, bucket: i64, key: &str, blob: &str, wait: Duration) -> Option<()> {
    let record = object(key.as_bytes(), &format!("e{blob}"), blob, 7);
    let done = tokio::time::timeout(wait, commit(s, bucket, &record, &WriteCondition::None, 20)).await.ok()?;
    done.expect("commit");
    Some(())
}

/// Commits 16 keys `{prefix}{i}` at once, each waiting at most `wait`: whether every one finished in time.
async fn commit_16_within(s: &MetaStore, bucket: i64, prefix: &str, wait: Duration) -> bool {
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (s, key, blob) = (s.clone(), format!("{prefix}{i}"), format!("{prefix}-{i:02x}"));
            tokio::spawn(async move { commit_within(&s, bucket, &key, &blob, wait).await })
        })
        .collect();
    let mut all = true;
    for t in tasks {
        all &= t.await.expect("join").is_some();
    }
    all
}

/// A new connection to `url` whose counter shard (`CONNECTION_ID() % 32`) no other connection to the
/// database `name` uses (a few tries: connection ids are consecutive).
async fn free_shard_connection(url: &str, name: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    for _ in 0..40 {
        let mut conn = sqlx::AnyConnection::connect(url).await.expect("outside connection");
        let mine: i64 =
            sqlx::query_scalar("SELECT CAST(CONNECTION_ID() AS SIGNED)").fetch_one(&mut conn).await.expect("id");
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> ?",
        )
        .bind(name)
        .bind(mine)
        .fetch_all(&mut conn)
        .await
        .expect("processlist");
        if ids.iter().all(|id| id % 32 != mine % 32) {
            return conn;
        }
    }
    panic!("no connection with a counter shard of its own in 40 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_writer_in_flight_delays_only_its_own_key() {
    let db = TestDb::mysql().await;
    let s = &db.store;
    assert_eq!(s.backend(), Backend::MySql);
    let me = owner(s).await;
    let b = s.create_bucket("inflight", me, "us-east-1", false, 1).await.expect("create");
    // Warm the pool to its size (8), so the shard the outside writer takes is one none of the store's
    // connections uses (a shard is CONNECTION_ID() % 32).
    assert!(commit_16_within(s, b.id, "warm", Duration::from_secs(10)).await, "warm-up commits");
    commit_within(s, b.id, "held", "b0", Duration::from_secs(5)).await.expect("the held key exists");

    let name = db.url.rsplit('/').next().expect("db name").to_owned();
    let mut conn = free_shard_connection(&db.url, &name).await;

    // The outside transaction is a writer in flight: bucket row shared, its key's row, its shard.
    conn.execute("BEGIN").await.expect("begin");
    sqlx::query("SELECT id FROM buckets WHERE id = ? LOCK IN SHARE MODE")
        .bind(b.id)
        .fetch_one(&mut conn)
        .await
        .expect("share");
    sqlx::query("SELECT size FROM objects WHERE bucket_id = ? AND object_key = ? FOR UPDATE")
        .bind(b.id)
        .bind(&b"held"[..])
        .fetch_one(&mut conn)
        .await
        .expect("key lock");
    let shard = sqlx::query(
        "UPDATE bucket_counters SET d_objects = d_objects WHERE bucket_id = ? AND shard = CONNECTION_ID() % 32",
    )
    .bind(b.id)
    .execute(&mut conn)
    .await
    .expect("shard");
    assert_eq!(shard.rows_affected(), 1);

    assert!(
        commit_16_within(s, b.id, "other", Duration::from_secs(5)).await,
        "a commit of another key waited for the writer in flight"
    );
    let same = {
        let s = s.clone();
        tokio::spawn(async move { commit_within(&s, b.id, "held", "d0", Duration::from_secs(10)).await })
    };
    let delete = {
        let s = s.clone();
        tokio::spawn(async move { tokio::time::timeout(Duration::from_secs(10), s.delete_bucket(b.id, 30)).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!same.is_finished(), "a commit of the held key must wait for the writer in flight");
    assert!(!delete.is_finished(), "DeleteBucket must wait for the writer in flight");
    conn.execute("COMMIT").await.expect("commit outside");
    assert!(same.await.expect("join").is_some(), "the held key's commit goes on after the writer in flight");
    let deleted = delete.await.expect("join").expect("DeleteBucket answered");
    assert!(matches!(deleted, Err(MetaError::BucketNotEmpty)), "{deleted:?}");
    assert_eq!(counted(s, "inflight").await.0, 16 + 16 + 1, "every commit counted once");
    drop(conn);
    db.finish().await;
}
