//! The metadata contract, run against BOTH backends: embedded SQLite and the MariaDB/MySQL server at
//! `CLOUDVAULT_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`). The MySQL half fails (never
//! skips) when the server is unreachable: a green run always means both backends were exercised.

use std::sync::Arc;

mod common;

use common::{TestDb, blob, commit, object, owner, put_part};

use cloudvault_metadata::{
    AccessKey, BucketSetting, KeyPurpose, ListBound, ListColumns, Manifest, MetaError, MetaStore, Upload, UserDeletion,
    VersionSel, WriteCondition, key_successor,
};

async fn bucket_lifecycle(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let other = s.ensure_user("someone", "user", 0).await.expect("user").id;
    let b = s.create_bucket("photos", me, "us-east-1", false, 5).await.expect("create");
    let usage = s.bucket_usage(b.id).await.expect("usage");
    assert_eq!((b.name.as_str(), b.owner_id, usage.object_count, usage.bytes_used), ("photos", me, 0, 0));
    assert!(matches!(
        s.create_bucket("photos", me, "us-east-1", false, 6).await,
        Err(MetaError::BucketAlreadyOwnedByYou)
    ));
    assert!(matches!(
        s.create_bucket("photos", other, "us-east-1", false, 6).await,
        Err(MetaError::BucketAlreadyExists)
    ));
    s.create_bucket("archive", other, "eu-west-1", false, 7).await.expect("create second");
    let names: Vec<_> = s.list_buckets(None).await.expect("list").into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["archive", "photos"]);
    let mine: Vec<_> = s.list_buckets(Some(me)).await.expect("list").into_iter().map(|b| b.name).collect();
    assert_eq!(mine, ["photos"]);

    s.set_bucket_setting(b.id, BucketSetting::Policy, Some("{\"Version\":\"2012-10-17\"}")).await.expect("policy");
    s.set_bucket_setting(b.id, BucketSetting::Tags, Some("[]")).await.expect("tags");
    let with = s.bucket("photos").await.expect("lookup").expect("present");
    assert_eq!(
        (with.policy.as_deref(), with.tags.as_deref(), with.cors),
        (Some("{\"Version\":\"2012-10-17\"}"), Some("[]"), None)
    );
    s.set_bucket_setting(b.id, BucketSetting::Policy, None).await.expect("remove policy");
    assert_eq!(s.bucket("photos").await.expect("lookup").expect("present").policy, None);

    commit(s, b.id, &object(b"k", "e1", "blob-k", 3), &WriteCondition::None, 10).await.expect("put");
    assert!(s.update_version_attributes(b.id, b"k", &VersionSel::Null, "e1", "{\"tags\":{}}").await.expect("update"));
    assert!(
        !s.update_version_attributes(b.id, b"k", &VersionSel::Null, "stale", "{}").await.expect("update"),
        "guarded by the ETag"
    );
    assert_eq!(s.object(b.id, b"k").await.expect("get").expect("present").attributes, "{\"tags\":{}}");
    assert!(matches!(s.delete_bucket(b.id, 11).await, Err(MetaError::BucketNotEmpty)));
    assert!(s.delete_object(b.id, b"k", 1, 12).await.expect("delete").changed);
    s.delete_bucket(b.id, 13).await.expect("delete empty bucket");
    assert!(s.bucket("photos").await.expect("lookup").is_none());
    assert!(matches!(s.set_bucket_setting(b.id, BucketSetting::Tags, None).await, Err(MetaError::NoSuchBucket)));
    assert!(matches!(
        commit(s, b.id, &object(b"k", "e1", "blob-x", 3), &WriteCondition::None, 14).await,
        Err(MetaError::NoSuchBucket)
    ));
}

async fn keys_are_exact_bytes(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("bytes", me, "us-east-1", false, 0).await.expect("create");
    let long = vec![b'x'; 1024];
    let keys: Vec<Vec<u8>> = vec![
        b"Foo".to_vec(),
        b"foo".to_vec(),
        b"a".to_vec(),
        b"a ".to_vec(),
        b"a\0b".to_vec(),
        b"../etc/passwd".to_vec(),
        "é/ü".as_bytes().to_vec(),
        long.clone(),
    ];
    for (i, k) in keys.iter().enumerate() {
        commit(s, b.id, &object(k, &format!("e{i}"), &format!("blob{i}"), i as i64), &WriteCondition::None, 1)
            .await
            .expect("put");
    }
    for (i, k) in keys.iter().enumerate() {
        let got = s.object(b.id, k).await.expect("get").expect("present");
        assert_eq!(got.key, *k);
        assert_eq!(got.etag, format!("e{i}"), "key {k:?} must be its own row");
    }
    let listed: Vec<Vec<u8>> = s
        .list_objects(b.id, ListBound::Unbounded, None, 100, ListColumns::Bare)
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "listing is in byte order");
    let bucket = s.bucket_usage(s.bucket("bytes").await.expect("lookup").expect("present").id).await.expect("usage");
    assert_eq!(bucket.object_count, keys.len() as i64);
    assert_eq!(bucket.bytes_used, (0..keys.len() as i64).sum::<i64>());
}

async fn commit_replaces_and_queues_garbage(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("gc", me, "us-east-1", false, 0).await.expect("create");
    s.register_pending_blob("blob-1", 100).await.expect("intent");
    s.commit_object(b.id, &object(b"k", "e1", "blob-1", 10), &WriteCondition::None, 101).await.expect("put");
    assert!(s.stale_pending_blobs(i64::MAX, 10).await.expect("pending").is_empty(), "commit clears its intent");
    s.register_pending_blob("blob-2", 102).await.expect("intent");
    s.commit_object(b.id, &object(b"k", "e2", "blob-2", 25), &WriteCondition::None, 103).await.expect("overwrite");
    assert_eq!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage"), ["blob-1"]);
    assert!(s.garbage_blobs(103, 10).await.expect("garbage").is_empty(), "garbage waits out its delay");
    let got = s.object(b.id, b"k").await.expect("get").expect("present");
    assert_eq!((got.etag.as_str(), got.size), ("e2", 25));
    assert_eq!(got.manifest.0[0].blob_id, "blob-2");
    let bucket = s.bucket_usage(s.bucket("gc").await.expect("lookup").expect("present").id).await.expect("usage");
    assert_eq!((bucket.object_count, bucket.bytes_used), (1, 25));

    assert!(s.delete_object(b.id, b"k", 1, 104).await.expect("delete").changed);
    assert!(!s.delete_object(b.id, b"k", 1, 105).await.expect("delete again").changed);
    let mut garbage = s.garbage_blobs(i64::MAX, 10).await.expect("garbage");
    garbage.sort();
    assert_eq!(garbage, ["blob-1", "blob-2"]);
    s.forget_garbage_blob("blob-1").await.expect("forget");
    assert_eq!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage"), ["blob-2"]);
    let bucket = s.bucket_usage(s.bucket("gc").await.expect("lookup").expect("present").id).await.expect("usage");
    assert_eq!((bucket.object_count, bucket.bytes_used), (0, 0));

    // An intent that never commits is reported once it is older than the cutoff.
    s.register_pending_blob("orphan", 200).await.expect("intent");
    assert!(s.stale_pending_blobs(200, 10).await.expect("pending").is_empty());
    assert_eq!(s.stale_pending_blobs(201, 10).await.expect("pending"), ["orphan"]);
    s.forget_pending_blob("orphan").await.expect("forget");
    assert!(s.stale_pending_blobs(i64::MAX, 10).await.expect("pending").is_empty());
}

async fn conditions_are_checked_in_the_transaction(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("cond", me, "us-east-1", false, 0).await.expect("create");
    commit(s, b.id, &object(b"k", "e1", "b1", 1), &WriteCondition::IfAbsent, 1).await.expect("create-only");
    assert!(matches!(
        commit(s, b.id, &object(b"k", "e2", "b2", 1), &WriteCondition::IfAbsent, 2).await,
        Err(MetaError::PreconditionFailed)
    ));
    assert!(matches!(
        commit(s, b.id, &object(b"k", "e2", "b2x", 1), &WriteCondition::IfEtag("nope".into()), 2).await,
        Err(MetaError::PreconditionFailed)
    ));
    assert!(matches!(
        commit(s, b.id, &object(b"new", "e2", "b3", 1), &WriteCondition::IfEtag("e1".into()), 2).await,
        Err(MetaError::PreconditionFailed)
    ));
    commit(s, b.id, &object(b"k", "e3", "b4", 1), &WriteCondition::IfEtag("e1".into()), 3).await.expect("cas");
    assert_eq!(s.object(b.id, b"k").await.expect("get").expect("present").etag, "e3");
    // If-None-Match: <etag> refuses only that ETag; If-Match: * only a missing key.
    assert!(matches!(
        commit(s, b.id, &object(b"k", "e4", "b5", 1), &WriteCondition::IfNotEtag("e3".into()), 4).await,
        Err(MetaError::PreconditionFailed)
    ));
    assert!(matches!(
        commit(s, b.id, &object(b"absent", "e4", "b6", 1), &WriteCondition::IfExists, 4).await,
        Err(MetaError::PreconditionFailed)
    ));
    assert!(s.object(b.id, b"absent").await.expect("get").is_none());
    assert_eq!(s.object(b.id, b"k").await.expect("get").expect("present").etag, "e3");
    assert!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage").contains(&"b1".to_owned()));
    assert!(
        !s.garbage_blobs(i64::MAX, 10).await.expect("garbage").contains(&"b2".to_owned()),
        "failed writes retire nothing"
    );
    commit(s, b.id, &object(b"k", "e5", "b7", 1), &WriteCondition::IfNotEtag("e1".into()), 5)
        .await
        .expect("other etag");
    commit(s, b.id, &object(b"k", "e6", "b8", 1), &WriteCondition::IfExists, 6).await.expect("exists");
    commit(s, b.id, &object(b"fresh", "e7", "b9", 1), &WriteCondition::IfNotEtag("e7".into()), 6)
        .await
        .expect("absent");
    assert_eq!(s.object(b.id, b"k").await.expect("get").expect("present").etag, "e6");
}

async fn racing_creators_have_one_winner(db: &TestDb) {
    let s = Arc::new(db.store.clone());
    let me = owner(&s).await;
    let b = s.create_bucket("race", me, "us-east-1", false, 0).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            commit(&s, b.id, &object(b"lock", &format!("e{i}"), &format!("b{i}"), 1), &WriteCondition::IfAbsent, 1)
                .await
                .map(|_| i)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.expect("join") {
            Ok(i) => winners.push(i),
            Err(MetaError::PreconditionFailed) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creator wins");
    let stored = s.object(b.id, b"lock").await.expect("get").expect("present");
    assert_eq!(stored.etag, format!("e{}", winners[0]));
    assert_eq!(s.bucket_usage(b.id).await.expect("usage").object_count, 1);
}

async fn listing_ranges(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("list", me, "us-east-1", false, 0).await.expect("create");
    for k in ["a/1", "a/2", "a/b/3", "b", "c/\u{ff}"] {
        commit(s, b.id, &object(k.as_bytes(), "e", &format!("blob-{k}"), 1), &WriteCondition::None, 1)
            .await
            .expect("put");
    }
    let keys = |v: Vec<cloudvault_metadata::ListedObject>| -> Vec<String> {
        v.into_iter().map(|o| String::from_utf8(o.key).expect("utf8")).collect()
    };
    let end = key_successor(b"a/");
    assert_eq!(
        keys(s.list_objects(b.id, ListBound::From(b"a/"), end.as_deref(), 10, ListColumns::Bare).await.expect("list")),
        ["a/1", "a/2", "a/b/3"]
    );
    assert_eq!(
        keys(s.list_objects(b.id, ListBound::After(b"a/1"), None, 2, ListColumns::Bare).await.expect("list")),
        ["a/2", "a/b/3"]
    );
    assert_eq!(
        keys(s.list_objects(b.id, ListBound::From(b"a/2"), None, 1, ListColumns::Bare).await.expect("list")),
        ["a/2"]
    );
    assert_eq!(
        keys(s.list_objects(b.id, ListBound::After(b"b"), None, 10, ListColumns::Bare).await.expect("list")),
        ["c/\u{ff}"]
    );
    assert!(
        s.list_objects(b.id, ListBound::After(b"c/\xc3\xbf"), None, 10, ListColumns::Bare)
            .await
            .expect("list")
            .is_empty()
    );
    // A plain listing does not read the attributes; the console's asks for them.
    let bare = s.list_objects(b.id, ListBound::From(b"b"), None, 1, ListColumns::Bare).await.expect("list");
    assert_eq!((bare[0].key.as_slice(), bare[0].attributes.as_str()), (&b"b"[..], ""));
    let full = s.list_objects(b.id, ListBound::From(b"b"), None, 1, ListColumns::WithAttributes).await.expect("list");
    let stored = s.object(b.id, b"b").await.expect("get").expect("present").attributes;
    assert!(!stored.is_empty());
    assert_eq!(full[0].attributes, stored);
}

async fn access_keys_and_users(db: &TestDb) {
    let s = &db.store;
    assert!(s.first_admin().await.expect("admin").is_none());
    let admin = s.ensure_user("root", "admin", 0).await.expect("user");
    assert_eq!(s.ensure_user("root", "admin", 1).await.expect("again").id, admin.id, "ensure_user is idempotent");
    assert_eq!(s.first_admin().await.expect("admin").map(|u| u.name), Some("root".into()));
    let key = AccessKey {
        access_key_id: "AKTEST".into(),
        user_id: admin.id,
        secret: "s3cr3t".into(),
        enabled: true,
        expires_at: None,
        created_at: 0,
        purpose: KeyPurpose::User,
        scope: Some(r#"{"buckets":["b1"],"access":"read"}"#.into()),
    };
    s.insert_access_key(&key).await.expect("insert key");
    assert_eq!(s.access_key("AKTEST").await.expect("lookup"), Some(key));
    assert_eq!(s.access_key("akTEST").await.expect("lookup"), None, "key ids are case-sensitive");
}

async fn users_and_keys_lifecycle(db: &TestDb) {
    let s = &db.store;
    let alice = s.create_user("alice", "user", Some("$argon2id$hash"), 1).await.expect("create").expect("new");
    assert!(s.create_user("alice", "admin", None, 2).await.expect("create").is_none(), "names are unique");
    let bob = s.create_user("bob", "user", None, 3).await.expect("create").expect("new");
    assert_eq!(
        s.list_users().await.expect("list").iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    for (id, user) in [("AK1", alice.id), ("AK2", alice.id), ("BK1", bob.id)] {
        let key = AccessKey {
            access_key_id: id.into(),
            user_id: user,
            secret: format!("sealed-{id}"),
            enabled: true,
            expires_at: None,
            created_at: 10,
            purpose: KeyPurpose::User,
            scope: None,
        };
        s.insert_access_key(&key).await.expect("insert");
    }
    let keys: Vec<_> = s.list_access_keys(alice.id).await.expect("keys").into_iter().map(|k| k.access_key_id).collect();
    assert_eq!(keys, ["AK1", "AK2"]);
    assert!(s.set_access_key_enabled("AK1", false).await.expect("disable"));
    assert!(!s.access_key("AK1").await.expect("get").expect("present").enabled);
    assert!(s.delete_access_key("AK2").await.expect("delete"));
    assert!(!s.delete_access_key("AK2").await.expect("delete again"));
    assert!(s.access_key("AK2").await.expect("get").is_none());
    assert!(s.set_user_enabled(bob.id, false).await.expect("disable user"));
    assert!(!s.access_key("BK1").await.expect("get").expect("present").enabled, "a disabled user's keys are disabled");
    assert!(!s.user_by_name("bob").await.expect("get").expect("present").enabled);
    assert!(!s.set_user_enabled(9999, true).await.expect("missing user"));

    let (user, hash, version) = s.user_credentials(&alice.name).await.expect("creds").expect("present");
    assert_eq!((user.id, hash.as_deref()), (alice.id, Some("$argon2id$hash")));
    assert!(s.set_password_hash(alice.id, "$argon2id$new").await.expect("set"));
    let (_, after) = s.user_session(alice.id).await.expect("session").expect("present");
    assert_eq!(after, version + 1, "a password change ends old sessions");
    s.bump_token_version(alice.id).await.expect("logout");
    assert_eq!(s.user_session(alice.id).await.expect("session").expect("present").1, version + 2);
    assert!(s.user_credentials("nobody").await.expect("creds").is_none());
}

async fn two_stores_migrate_the_same_database(db: &TestDb) {
    // Opening the store again (a second replica, a restart) finds the schema applied and changes nothing.
    let (a, b) = tokio::join!(MetaStore::connect(&db.url, 2), MetaStore::connect(&db.url, 2));
    let (a, b) = (a.expect("first"), b.expect("second"));
    let me = owner(&a).await;
    a.create_bucket("shared", me, "us-east-1", false, 0).await.expect("create through one");
    assert!(b.bucket("shared").await.expect("lookup").is_some(), "visible through the other");
    a.close().await;
    b.close().await;
}

async fn multipart_complete_and_abort(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("mpu", me, "us-east-1", false, 0).await.expect("create");
    let upload = |id: &str, key: &[u8]| Upload {
        upload_id: id.to_owned(),
        bucket_id: b.id,
        key: key.to_vec(),
        initiated_at: 1,
        owner_id: me,
        attributes: "{}".to_owned(),
    };
    s.create_upload(&upload("u1", b"big")).await.expect("create upload");
    s.create_upload(&upload("u0", b"big")).await.expect("create upload");
    s.create_upload(&upload("u2", b"other")).await.expect("create upload");
    put_part(s, "u1", 1, &blob("p1", 5), None, 2).await.expect("part 1");
    put_part(s, "u1", 1, &blob("p1b", 6), None, 3).await.expect("part 1 again");
    put_part(s, "u1", 3, &blob("p3", 7), None, 4).await.expect("part 3");
    assert_eq!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage"), ["p1"], "a re-sent part retires the old blob");
    let parts = s.list_parts("u1", 0, 10).await.expect("parts");
    assert_eq!(
        parts.iter().map(|p| (p.part_number, p.blob.blob_id.as_str())).collect::<Vec<_>>(),
        [(1, "p1b"), (3, "p3")]
    );
    assert_eq!(s.list_parts("u1", 1, 10).await.expect("parts").len(), 1, "part-number-marker is exclusive");
    let listed: Vec<_> =
        s.list_uploads(b.id, b"", "", None, 10).await.expect("uploads").into_iter().map(|u| u.upload_id).collect();
    assert_eq!(listed, ["u0", "u1", "u2"], "ordered by key, then upload id");
    let listed: Vec<_> =
        s.list_uploads(b.id, b"big", "u0", None, 10).await.expect("uploads").into_iter().map(|u| u.upload_id).collect();
    assert_eq!(listed, ["u1", "u2"]);

    let mut object = object(b"big", "etag-2", "unused", 0);
    object.manifest = Manifest(vec![blob("p1", 5), blob("p3", 7)]);
    assert!(
        matches!(s.complete_upload("u1", b.id, &object, &WriteCondition::None, 5).await, Err(MetaError::InvalidPart)),
        "a replaced part cannot be completed"
    );
    object.manifest = Manifest(vec![blob("p1b", 6), blob("p3", 7)]);
    object.size = 13;
    object.parts_count = Some(2);
    s.complete_upload("u1", b.id, &object, &WriteCondition::None, 5).await.expect("complete");
    let stored = s.object(b.id, b"big").await.expect("get").expect("present");
    assert_eq!((stored.size, stored.parts_count, stored.manifest.0.len()), (13, Some(2), 2));
    assert!(s.upload("u1").await.expect("upload").is_none());
    assert!(matches!(
        s.complete_upload("u1", b.id, &object, &WriteCondition::None, 6).await,
        Err(MetaError::NoSuchUpload)
    ));
    assert!(matches!(s.abort_upload("u1", 6).await, Err(MetaError::NoSuchUpload)));

    put_part(s, "u2", 1, &blob("q1", 5), None, 7).await.expect("part");
    s.abort_upload("u2", 8).await.expect("abort");
    assert!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage").contains(&"q1".to_owned()));
    assert!(matches!(put_part(s, "u2", 2, &blob("q2", 5), None, 9).await, Err(MetaError::NoSuchUpload)));
    assert!(s.object(b.id, b"other").await.expect("get").is_none(), "an aborted upload leaves no object");
    s.abort_upload("u0", 10).await.expect("abort the last one");
    assert!(s.list_uploads(b.id, b"", "", None, 10).await.expect("uploads").is_empty());
}

async fn idle_uploads_expire_but_active_ones_stay(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("expiry", me, "us-east-1", false, 0).await.expect("create");
    let upload = |id: &str, at: i64| Upload {
        upload_id: id.to_owned(),
        bucket_id: b.id,
        key: b"k".to_vec(),
        initiated_at: at,
        owner_id: me,
        attributes: "{}".to_owned(),
    };
    s.create_upload(&upload("old-but-busy", 100)).await.expect("create");
    s.create_upload(&upload("old-and-idle", 100)).await.expect("create");
    s.create_upload(&upload("young", 450)).await.expect("create");
    put_part(s, "old-but-busy", 1, &blob("busy-part", 5), None, 500).await.expect("part");
    put_part(s, "old-and-idle", 1, &blob("idle-part", 5), None, 150).await.expect("part");
    assert_eq!(s.idle_uploads(400, 10).await.expect("idle"), ["old-and-idle"]);
    assert!(!s.abort_idle_upload("old-but-busy", 400, 600).await.expect("abort"), "a recent part keeps it alive");
    assert!(!s.abort_idle_upload("young", 400, 600).await.expect("abort"), "recently created");
    assert!(s.abort_idle_upload("old-and-idle", 400, 600).await.expect("abort"));
    assert!(!s.abort_idle_upload("old-and-idle", 400, 601).await.expect("abort twice"), "already gone");
    assert!(s.upload("old-and-idle").await.expect("get").is_none());
    assert!(s.upload("old-but-busy").await.expect("get").is_some());
    assert_eq!(s.garbage_blobs(i64::MAX, 10).await.expect("garbage"), ["idle-part"]);
}

async fn search_and_prefix_totals(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("browse", me, "us-east-1", false, 0).await.expect("create");
    for (i, k) in ["docs/Report-2024.pdf", "docs/report-2025.txt", "docs/sub/REPORT.md", "docs/photo.jpg", "reports/x"]
        .iter()
        .enumerate()
    {
        let size = i64::try_from(i).expect("small") + 1;
        commit(s, b.id, &object(k.as_bytes(), "e", &format!("blob-{i}"), size), &WriteCondition::None, 1)
            .await
            .expect("put");
    }
    let keys = |v: Vec<cloudvault_metadata::ListedObject>| -> Vec<String> {
        v.into_iter().map(|o| String::from_utf8(o.key).expect("utf8")).collect()
    };
    let found = s.search_objects(b.id, b"docs/", None, "RePoRt", 10).await.expect("search");
    assert_eq!(keys(found), ["docs/Report-2024.pdf", "docs/report-2025.txt", "docs/sub/REPORT.md"]);
    let page = s.search_objects(b.id, b"docs/", Some(b"docs/Report-2024.pdf"), "report", 1).await.expect("page");
    assert_eq!(keys(page), ["docs/report-2025.txt"]);
    // The prefix itself is not searched: "docs" matches nothing under "docs/".
    assert!(s.search_objects(b.id, b"docs/", None, "docs", 10).await.expect("search").is_empty());
    assert_eq!(keys(s.search_objects(b.id, b"", None, "PDF", 10).await.expect("search")), ["docs/Report-2024.pdf"]);
    assert_eq!(s.prefix_totals(b.id, b"docs/").await.expect("totals"), (4, 1 + 2 + 3 + 4));
    assert_eq!(s.prefix_totals(b.id, b"").await.expect("totals"), (5, 15));
    assert_eq!(s.prefix_totals(b.id, b"nothing/").await.expect("totals"), (0, 0));
}

async fn console_keys_and_user_deletion(db: &TestDb) {
    let s = &db.store;
    let carol = s.create_user("carol", "user", None, 1).await.expect("create").expect("new");
    assert!(s.console_key(carol.id).await.expect("lookup").is_none());
    for (id, purpose, at) in
        [("CK2", KeyPurpose::Console, 20), ("CK1", KeyPurpose::Console, 10), ("UK1", KeyPurpose::User, 5)]
    {
        let key = AccessKey {
            access_key_id: id.into(),
            user_id: carol.id,
            secret: "sealed".into(),
            enabled: true,
            expires_at: None,
            created_at: at,
            purpose,
            scope: None,
        };
        s.insert_access_key(&key).await.expect("insert");
    }
    let console = s.console_key(carol.id).await.expect("lookup").expect("present");
    assert_eq!((console.access_key_id.as_str(), console.purpose), ("CK1", KeyPurpose::Console), "the oldest wins");
    let listed: Vec<_> =
        s.list_access_keys(carol.id).await.expect("keys").into_iter().map(|k| k.access_key_id).collect();
    assert_eq!(listed, ["UK1"], "console keys are not listed");
    let b = s.create_bucket("carols", carol.id, "us-east-1", false, 0).await.expect("create");
    assert_eq!(s.delete_user(carol.id).await.expect("delete"), UserDeletion::OwnsBuckets);
    assert!(s.user(carol.id).await.expect("get").is_some(), "refused deletion changes nothing");
    s.delete_bucket(b.id, 1).await.expect("delete bucket");
    assert_eq!(s.delete_user(carol.id).await.expect("delete"), UserDeletion::Deleted);
    assert!(s.user(carol.id).await.expect("get").is_none());
    assert!(s.access_key("CK1").await.expect("get").is_none(), "keys go with the user");
    assert_eq!(s.delete_user(carol.id).await.expect("delete"), UserDeletion::NotFound);
}

async fn login_failures_are_counted_per_name_and_address(db: &TestDb) {
    let s = &db.store;
    for at in [100, 200, 300] {
        s.record_login_failure("alice", "10.0.0.1", at).await.expect("record");
    }
    s.record_login_failure("alice", "10.0.0.2", 250).await.expect("record");
    s.record_login_failure(&"x".repeat(5000), "10.0.0.1", 250).await.expect("long names are clipped");
    assert_eq!(s.login_failures("alice", "10.0.0.1", 0).await.expect("count"), (3, Some(100)));
    assert_eq!(s.login_failures("alice", "10.0.0.1", 150).await.expect("count"), (2, Some(200)));
    assert_eq!(s.login_failures("bob", "10.0.0.1", 0).await.expect("count"), (0, None));
    s.clear_login_failures("alice", "10.0.0.1").await.expect("clear");
    assert_eq!(s.login_failures("alice", "10.0.0.1", 0).await.expect("count").0, 0);
    assert_eq!(s.login_failures("alice", "10.0.0.2", 0).await.expect("count").0, 1, "other addresses keep theirs");
    assert_eq!(s.prune_login_failures(260).await.expect("prune"), 2);
    assert_eq!(s.login_failures("alice", "10.0.0.2", 0).await.expect("count").0, 0);
}

/// A commit needs its blob's intent: once the janitor claimed it (a sweeper whose clock runs ahead),
/// the commit fails and nothing becomes visible; the janitor's claim and the commit's are exclusive.
async fn commit_without_its_intent_fails(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("intents", me, "us-east-1", false, 1).await.expect("create");
    s.register_pending_blob("swept", 100).await.expect("intent");
    assert!(s.expire_pending_blob("swept", 50).await.is_ok_and(|claimed| !claimed), "a young intent is kept");
    assert!(s.expire_pending_blob("swept", 200).await.expect("claim"), "a stale one is claimed");
    assert!(s.garbage_blobs(1, 10).await.expect("garbage").contains(&"swept".to_owned()), "due at once");
    let err = s.commit_object(b.id, &object(b"k", "e", "swept", 1), &WriteCondition::None, 300).await;
    assert!(matches!(err, Err(MetaError::IntentLost(ref id)) if id == "swept"), "got {err:?}");
    assert!(s.object(b.id, b"k").await.expect("lookup").is_none());
    s.register_pending_blob("committed", 100).await.expect("intent");
    s.commit_object(b.id, &object(b"k", "e", "committed", 1), &WriteCondition::None, 300).await.expect("commit");
    assert!(!s.expire_pending_blob("committed", 1000).await.expect("claim"), "a committed blob is never claimed");
    let upload = Upload {
        upload_id: "up".into(),
        bucket_id: b.id,
        key: b"m".to_vec(),
        initiated_at: 1,
        owner_id: me,
        attributes: "{}".into(),
    };
    s.create_upload(&upload).await.expect("upload");
    assert!(matches!(s.put_part("up", 1, &blob("no-intent", 1), None, 2).await, Err(MetaError::IntentLost(_))));
}

/// Concurrent commits, some of which fail their precondition (SQLite batches them into shared
/// COMMITs): each failed one fails alone, every other one is committed, durable and counted, and the
/// failed ones leave nothing (no row, no garbage, their intents still pending for the janitor).
async fn a_batch_member_that_fails_fails_alone(db: &TestDb) {
    let s = Arc::new(db.store.clone());
    let me = owner(&s).await;
    let b = s.create_bucket("batch", me, "us-east-1", false, 0).await.expect("create");
    for taken in 0..4 {
        commit(
            &s,
            b.id,
            &object(format!("k{taken}").as_bytes(), "old", &format!("old{taken}"), 1),
            &WriteCondition::None,
            1,
        )
        .await
        .expect("seed");
    }
    let commits_before = s.group_commits_for_tests();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("k{}", i % 16);
            let result = commit(
                &s,
                b.id,
                &object(key.as_bytes(), &format!("e{i}"), &format!("b{i}"), 1),
                &WriteCondition::IfAbsent,
                2,
            )
            .await;
            (i, result)
        }));
    }
    let mut won = std::collections::BTreeMap::new();
    for t in tasks {
        match t.await.expect("join") {
            (i, Ok(_)) => assert!(won.insert(i % 16, i).is_none(), "two creators of k{} won", i % 16),
            (_, Err(MetaError::PreconditionFailed)) => {}
            (i, Err(e)) => panic!("commit {i} failed with {e}"),
        }
    }
    assert_eq!(won.len(), 12, "every free key got exactly one creator: {won:?}");
    assert!((0..4).all(|k| !won.contains_key(&k)), "the taken keys kept their objects: {won:?}");
    if db.url.starts_with("sqlite:") {
        let commits = s.group_commits_for_tests() - commits_before;
        assert!(commits < 64, "64 transactions (32 intents, 32 commits) took {commits} COMMITs: nothing was batched");
    }
    s.close().await;
    let reopened = MetaStore::connect(&db.url, 2).await.expect("reopen");
    for (key, i) in &won {
        let stored = reopened.object(b.id, format!("k{key}").as_bytes()).await.expect("get").expect("durable");
        assert_eq!(stored.etag, format!("e{i}"));
    }
    for taken in 0..4 {
        let stored = reopened.object(b.id, format!("k{taken}").as_bytes()).await.expect("get").expect("kept");
        assert_eq!(stored.etag, "old");
    }
    let batch = reopened.bucket("batch").await.expect("get").expect("present");
    assert_eq!(reopened.bucket_usage(batch.id).await.expect("usage").object_count, 16);
    assert!(reopened.garbage_blobs(i64::MAX, 100).await.expect("garbage").is_empty(), "nothing was replaced");
    reopened.close().await;
}

/// Writers whose requests are dropped at any point (clients that went away) neither hang the writers
/// after them nor leave anything half-done: with 40 commits cancelled at staggered moments, a lone
/// commit afterwards finishes promptly, and every key holds a complete object or none.
async fn cancelled_writers_do_not_hang_the_others(db: &TestDb) {
    let s = Arc::new(db.store.clone());
    let me = owner(&s).await;
    let b = s.create_bucket("cancel", me, "us-east-1", false, 0).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            commit(
                &s,
                b.id,
                &object(format!("c{i}").as_bytes(), &format!("e{i}"), &format!("c{i}"), 1),
                &WriteCondition::None,
                2,
            )
            .await
        }));
    }
    for (i, task) in tasks.iter().enumerate() {
        if i % 2 == 0 {
            tokio::time::sleep(std::time::Duration::from_micros(37 * i as u64)).await;
            task.abort();
        }
    }
    for task in tasks {
        let finished = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        if let Ok(result) = finished.expect("an uncancelled commit hung behind the cancelled ones") {
            result.expect("an uncancelled commit succeeds");
        }
    }
    let lone = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        commit(&s, b.id, &object(b"after", "ea", "after", 1), &WriteCondition::None, 3),
    )
    .await;
    assert!(lone.is_ok(), "a commit after the cancelled ones hung");
    lone.expect("in time").expect("commit after the cancelled ones");
    for i in 0..40 {
        if let Some(o) = s.object(b.id, format!("c{i}").as_bytes()).await.expect("get") {
            assert_eq!(o.etag, format!("e{i}"));
        }
    }
    assert!(s.object(b.id, b"after").await.expect("get").is_some());
}

/// SQLite rolls a transaction back by itself when its volume is full (SQLITE_FULL). The failed
/// transaction must reach the caller, and every later commit must really commit (it once only released
/// a savepoint, and a restart lost it all).
async fn commits_after_a_full_volume_really_commit(db: &TestDb) {
    let s = &db.store;
    let me = owner(s).await;
    let b = s.create_bucket("full", me, "us-east-1", false, 1).await.expect("create");
    commit(s, b.id, &object(b"before", "e0", "blob-before", 1), &WriteCondition::None, 2).await.expect("before");
    s.cap_sqlite_writer_for_tests(2).await.expect("cap");
    let mut big = object(b"too-big", "e1", "blob-big", 1);
    big.attributes = format!("{{\"pad\":\"{}\"}}", "x".repeat(4 << 20));
    s.register_pending_blob("blob-big", 3).await.expect("intent fits");
    let full = s.commit_object(b.id, &big, &WriteCondition::None, 3).await;
    assert!(full.as_ref().is_err_and(MetaError::is_storage_full), "the full volume is reported: {full:?}");
    commit(s, b.id, &object(b"after", "e2", "blob-after", 1), &WriteCondition::None, 4).await.expect("after");
    assert!(s.delete_object(b.id, b"before", 1, 5).await.expect("delete").changed, "a delete after the failure");
    s.close().await;
    let reopened = MetaStore::connect(&db.url, 2).await.expect("reopen");
    assert!(reopened.object(b.id, b"after").await.expect("lookup").is_some(), "the later commit is durable");
    assert!(reopened.object(b.id, b"before").await.expect("lookup").is_none(), "the later delete is durable");
    assert!(reopened.object(b.id, b"too-big").await.expect("lookup").is_none(), "the failed one left nothing");
    reopened.close().await;
}

contract!(
    bucket_lifecycle,
    keys_are_exact_bytes,
    commit_replaces_and_queues_garbage,
    conditions_are_checked_in_the_transaction,
    racing_creators_have_one_winner,
    listing_ranges,
    access_keys_and_users,
    two_stores_migrate_the_same_database,
    multipart_complete_and_abort,
    idle_uploads_expire_but_active_ones_stay,
    users_and_keys_lifecycle,
    search_and_prefix_totals,
    console_keys_and_user_deletion,
    login_failures_are_counted_per_name_and_address,
    commit_without_its_intent_fails,
    a_batch_member_that_fails_fails_alone,
    cancelled_writers_do_not_hang_the_others,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_commits_after_a_full_volume_really_commit() {
    let db = TestDb::sqlite().await;
    commits_after_a_full_volume_really_commit(&db).await;
    db.finish().await;
}
