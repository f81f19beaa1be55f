//! The versioning contract, on BOTH backends (see `common`): what each write and delete does to a key's
//! versions under each bucket state, the counters, the garbage queue, and ListObjectVersions paging.

mod common;

use cloudvault_metadata::{MetaError, MetaStore, NULL_VERSION, VersionSel, Versioning, WriteCondition};
use common::{TestDb, commit, object, owner};

/// Commits `key` with a fresh blob named `blob` of `size` bytes; returns the version id.
async fn put(s: &MetaStore, bucket: i64, key: &[u8], blob: &str, size: i64, now: i64) -> Option<String> {
    commit(s, bucket, &object(key, &format!("etag-{blob}"), blob, size), &WriteCondition::None, now)
        .await
        .expect("commit")
}

/// Every version of the bucket as (key, version id, is marker, is latest), paged `page` at a time the
/// way the engine resumes: after the (key, vorder) of the last row.
async fn all_versions(s: &MetaStore, bucket: i64, page: u32) -> Vec<(Vec<u8>, String, bool, bool)> {
    let (mut key, mut vorder, mut out) = (Vec::new(), i64::MIN, Vec::new());
    loop {
        let rows = s.list_versions(bucket, &key, vorder, None, page).await.expect("list versions");
        for r in &rows {
            out.push((r.object.key.clone(), r.version_id.clone(), r.is_marker, r.is_latest));
        }
        match rows.last() {
            Some(last) if rows.len() == page as usize => (key, vorder) = (last.object.key.clone(), last.vorder),
            _ => return out,
        }
    }
}

async fn garbage(s: &MetaStore) -> Vec<String> {
    let mut g = s.garbage_blobs(i64::MAX, 1000).await.expect("garbage");
    g.sort();
    g
}

async fn versioning_is_a_one_way_switch(db: &TestDb) {
    let s = &db.store;
    let b = s.create_bucket("switch", owner(s).await, "us-east-1", false, 1).await.expect("create");
    assert_eq!(b.versioning, Versioning::Unversioned);
    s.set_versioning(b.id, Versioning::Enabled).await.expect("enable");
    assert_eq!(s.bucket("switch").await.expect("get").expect("exists").versioning, Versioning::Enabled);
    s.set_versioning(b.id, Versioning::Suspended).await.expect("suspend");
    assert_eq!(s.bucket("switch").await.expect("get").expect("exists").versioning, Versioning::Suspended);
    assert!(matches!(s.set_versioning(b.id + 1000, Versioning::Enabled).await, Err(MetaError::NoSuchBucket)));
}

async fn unversioned_writes_keep_no_versions(db: &TestDb) {
    let s = &db.store;
    let b = s.create_bucket("plain", owner(s).await, "us-east-1", false, 1).await.expect("create");
    assert_eq!(put(s, b.id, b"k", "b1", 10, 2).await, None, "no version id is reported unversioned");
    assert_eq!(put(s, b.id, b"k", "b2", 20, 3).await, None);
    assert_eq!(garbage(s).await, ["b1"], "the overwritten object's blob is garbage at once");
    assert_eq!(all_versions(s, b.id, 10).await, [(b"k".to_vec(), NULL_VERSION.to_owned(), false, true)]);
    let d = s.delete_object(b.id, b"k", 1, 4).await.expect("delete");
    assert!(d.changed && !d.marker && d.version_id.is_none());
    assert!(all_versions(s, b.id, 10).await.is_empty(), "no marker in an unversioned bucket");
    let stats = s.bucket_usage(s.bucket("plain").await.expect("get").expect("exists").id).await.expect("usage");
    assert_eq!((stats.object_count, stats.bytes_used, stats.noncurrent_count), (0, 0, 0));
}

async fn enabled_writes_add_versions_and_markers(db: &TestDb) {
    let s = &db.store;
    let b = s.create_bucket("ver", owner(s).await, "us-east-1", false, 1).await.expect("create");
    put(s, b.id, b"k", "b0", 5, 2).await;
    s.set_versioning(b.id, Versioning::Enabled).await.expect("enable");
    let v1 = put(s, b.id, b"k", "b1", 10, 3).await.expect("a version id");
    let v2 = put(s, b.id, b"k", "b2", 20, 4).await.expect("a version id");
    assert_ne!(v1, v2);
    assert!(VersionSel::parse(&v1).is_some() && v1.len() == 32, "issued ids parse back: {v1}");
    assert!(garbage(s).await.is_empty(), "no version's blob is garbage");
    let current = s.object(b.id, b"k").await.expect("get").expect("current");
    assert_eq!((current.version_id.as_str(), current.size), (v2.as_str(), 20));
    let stats = s.bucket_usage(s.bucket("ver").await.expect("get").expect("exists").id).await.expect("usage");
    assert_eq!((stats.object_count, stats.bytes_used, stats.noncurrent_count, stats.noncurrent_bytes), (1, 20, 2, 15));

    let marker = s.delete_object(b.id, b"k", 1, 5).await.expect("delete");
    assert!(marker.changed && marker.marker);
    let marker_id = marker.version_id.expect("the marker's id");
    assert!(s.object(b.id, b"k").await.expect("get").is_none(), "a marker hides the key");
    assert_eq!(s.current_marker(b.id, b"k").await.expect("marker").as_deref(), Some(marker_id.as_str()));
    let listed = all_versions(s, b.id, 10).await;
    let expect = [(&marker_id, true, true), (&v2, false, false), (&v1, false, false)];
    assert_eq!(listed.len(), 4, "marker, v2, v1 and the null version: {listed:?}");
    for (row, (id, is_marker, latest)) in listed.iter().zip(expect) {
        assert_eq!((&row.1, row.2, row.3), (id, is_marker, latest));
    }
    assert_eq!(listed[3].1, NULL_VERSION, "the version written before versioning is the null version");

    // Removing the marker makes v2 current again.
    let removed =
        s.delete_version(b.id, b"k", &VersionSel::parse(&marker_id).expect("id"), false, 6).await.expect("rm");
    assert!(removed.changed && removed.marker);
    assert_eq!(s.object(b.id, b"k").await.expect("get").expect("current again").version_id, v2);
    assert!(s.current_marker(b.id, b"k").await.expect("marker").is_none());

    // Deleting the current version by id promotes the previous one; its blob is queued.
    s.delete_version(b.id, b"k", &VersionSel::parse(&v2).expect("id"), false, 7).await.expect("rm v2");
    assert_eq!(s.object(b.id, b"k").await.expect("get").expect("v1 current").version_id, v1);
    assert_eq!(garbage(s).await, ["b2"]);
    let stats = s.bucket_usage(s.bucket("ver").await.expect("get").expect("exists").id).await.expect("usage");
    assert_eq!((stats.object_count, stats.bytes_used, stats.noncurrent_count, stats.noncurrent_bytes), (1, 10, 1, 5));

    // A version that does not exist changes nothing; a bucket with versions is not empty.
    let missing = VersionSel::parse(&format!("{:016x}{}", 999, "0".repeat(16))).expect("well-formed");
    assert!(!s.delete_version(b.id, b"k", &missing, false, 8).await.expect("rm missing").changed);
    s.delete_version(b.id, b"k", &VersionSel::parse(&v1).expect("id"), false, 9).await.expect("rm v1");
    let null = s.object(b.id, b"k").await.expect("get").expect("the null version is current again");
    assert_eq!((null.version_id.as_str(), null.size), (NULL_VERSION, 5));
    s.delete_object(b.id, b"k", 1, 10).await.expect("a marker");
    s.delete_version(b.id, b"k", &VersionSel::Null, false, 11).await.expect("rm null");
    assert!(s.object(b.id, b"k").await.expect("get").is_none());
    assert!(matches!(s.delete_bucket(b.id, 12).await, Err(MetaError::BucketNotEmpty)), "the marker is left");
    let only = all_versions(s, b.id, 10).await;
    assert_eq!(only.len(), 1, "only the marker: {only:?}");
    s.delete_version(b.id, b"k", &VersionSel::parse(&only[0].1).expect("id"), false, 13).await.expect("rm marker");
    s.delete_bucket(b.id, 14).await.expect("empty now");
}

async fn suspended_writes_replace_the_null_version(db: &TestDb) {
    let s = &db.store;
    let b = s.create_bucket("susp", owner(s).await, "us-east-1", false, 1).await.expect("create");
    put(s, b.id, b"k", "n0", 1, 2).await;
    s.set_versioning(b.id, Versioning::Enabled).await.expect("enable");
    let v1 = put(s, b.id, b"k", "b1", 10, 3).await.expect("id");
    s.set_versioning(b.id, Versioning::Suspended).await.expect("suspend");
    assert_eq!(put(s, b.id, b"k", "n1", 2, 4).await.as_deref(), Some(NULL_VERSION));
    assert_eq!(garbage(s).await, ["n0"], "the old null version was replaced");
    assert_eq!(put(s, b.id, b"k", "n2", 3, 5).await.as_deref(), Some(NULL_VERSION));
    assert_eq!(garbage(s).await, ["n0", "n1"], "a current null version is replaced in place");
    let ids: Vec<_> = all_versions(s, b.id, 10).await.into_iter().map(|r| r.1).collect();
    assert_eq!(ids, [NULL_VERSION.to_owned(), v1.clone()]);

    let d = s.delete_object(b.id, b"k", 1, 6).await.expect("delete");
    assert_eq!((d.marker, d.version_id.as_deref()), (true, Some(NULL_VERSION)));
    assert_eq!(garbage(s).await, ["n0", "n1", "n2"], "the null version was deleted for the marker");
    let listed = all_versions(s, b.id, 10).await;
    assert_eq!(listed[0], (b"k".to_vec(), NULL_VERSION.to_owned(), true, true), "a null marker on top");
    assert_eq!(listed[1].1, v1);
    let stats = s.bucket_usage(s.bucket("susp").await.expect("get").expect("exists").id).await.expect("usage");
    assert_eq!((stats.object_count, stats.noncurrent_count, stats.noncurrent_bytes), (0, 1, 10));
}

async fn conditions_apply_to_the_current_version(db: &TestDb) {
    let s = &db.store;
    let b = s.create_bucket("cond", owner(s).await, "us-east-1", false, 1).await.expect("create");
    s.set_versioning(b.id, Versioning::Enabled).await.expect("enable");
    put(s, b.id, b"k", "b1", 1, 2).await;
    s.delete_object(b.id, b"k", 1, 3).await.expect("marker");
    let o = object(b"k", "etag-b2", "b2", 2);
    let created = commit(s, b.id, &o, &WriteCondition::IfAbsent, 4).await;
    assert!(created.is_ok(), "a key hidden by a marker counts as absent: {created:?}");
    let o = object(b"k", "etag-b3", "b3", 3);
    let refused = commit(s, b.id, &o, &WriteCondition::IfEtag("etag-b1".into()), 5).await;
    assert!(matches!(refused, Err(MetaError::PreconditionFailed)), "If-Match looks at the current version only");
}

async fn version_pages_of_every_size_agree(db: &TestDb) {
    let s = &db.store;
    let b = s.create_bucket("pages", owner(s).await, "us-east-1", false, 1).await.expect("create");
    s.set_versioning(b.id, Versioning::Enabled).await.expect("enable");
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(put(s, b.id, b"one", &format!("o{i}"), i, 2 + i).await.expect("id"));
    }
    ids.reverse();
    for (i, key) in [b"a".as_slice(), b"z"].iter().enumerate() {
        put(s, b.id, key, &format!("x{i}"), 1, 200).await;
    }
    let whole = all_versions(s, b.id, 1000).await;
    assert_eq!(whole.len(), 102);
    let one: Vec<_> = whole.iter().filter(|r| r.0 == b"one").map(|r| r.1.clone()).collect();
    assert_eq!(one, ids, "versions of a key newest first, in commit order");
    assert_eq!(whole.iter().filter(|r| r.3).count(), 3, "one latest version per key");
    for page in 1..=7 {
        assert_eq!(all_versions(s, b.id, page).await, whole, "pages of {page}");
    }
}

async fn version_lookup_by_id(db: &TestDb) {
    let s = &db.store;
    let b = s.create_bucket("lookup", owner(s).await, "us-east-1", false, 1).await.expect("create");
    s.set_versioning(b.id, Versioning::Enabled).await.expect("enable");
    let v1 = put(s, b.id, b"k", "b1", 11, 2).await.expect("id");
    let v2 = put(s, b.id, b"k", "b2", 22, 3).await.expect("id");
    let sel = |id: &str| VersionSel::parse(id).expect("parses");
    let old = s.object_version(b.id, b"k", &sel(&v1)).await.expect("get").expect("v1 exists");
    assert_eq!((old.object.size, old.is_latest, old.is_marker), (11, false, false));
    let new = s.object_version(b.id, b"k", &sel(&v2)).await.expect("get").expect("v2 exists");
    assert_eq!((new.object.size, new.is_latest), (22, true));
    assert!(s.object_version(b.id, b"other", &sel(&v1)).await.expect("get").is_none(), "ids are per key");
    assert!(s.object_version(b.id, b"k", &VersionSel::Null).await.expect("get").is_none());
    let tampered = format!("{}{}", &v1[..16], "f".repeat(16));
    assert!(s.object_version(b.id, b"k", &sel(&tampered)).await.expect("get").is_none(), "the whole id must match");
    assert!(VersionSel::parse("not-a-version").is_none() && VersionSel::parse(&"0".repeat(32)).is_none());
}

contract!(
    versioning_is_a_one_way_switch,
    unversioned_writes_keep_no_versions,
    enabled_writes_add_versions_and_markers,
    suspended_writes_replace_the_null_version,
    conditions_apply_to_the_current_version,
    version_pages_of_every_size_agree,
    version_lookup_by_id,
);
