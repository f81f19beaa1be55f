//! The in-process S3 tier: the real service (`server::serve_until`: s3s, the authorizer, the engine,
//! embedded SQLite) started inside `cargo test` on `127.0.0.1:0` and driven with aws-sdk-s3. Listing,
//! conditional-write, multipart and authorization semantics run here in seconds, without a release
//! build; the Python suites in `tests/e2e/` stay the black-box tier.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use cloudvault_metadata::{KeyPurpose, MetaStore};
use cloudvault_s3_api::auth::mint_access_key;
use cloudvault_s3_api::auth::secrets::MasterKey;
use cloudvault_s3_api::config::Config;
use cloudvault_s3_api::server::{Bound, serve_until};

const ROOT: (&str, &str) = ("inprocess-root", "inprocess-root-secret-0123");
const MASTER: &str = "inprocess-test-master-key-0123456789";

/// A running service; dropping it stops the server task.
struct Service {
    bound: Bound,
    /// Access key and secret of `bob`, an ordinary user.
    bob: (String, String),
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> Service {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let url = format!("sqlite://{}?mode=rwc", data.join("meta.db").display());
    // An ordinary user with an access key, stored before the server starts (as `cloudvault admin` would).
    let meta = MetaStore::connect(&url, 2).await.expect("metadata store");
    let bob = meta.ensure_user("bob", "user", 0).await.expect("user bob");
    let master = MasterKey::load(Some(MASTER), &data).expect("master key");
    let (key, secret) = mint_access_key(&master, bob.id, KeyPurpose::User, None, None);
    meta.insert_access_key(&key).await.expect("bob's key");
    meta.close().await;

    let mut config = Config::from_env().expect("default configuration");
    config.data_dir = data;
    config.database_url = url;
    config.s3_addr = "127.0.0.1:0".parse().expect("addr");
    config.api_addr = "127.0.0.1:0".parse().expect("addr");
    config.root_credentials = Some((ROOT.0.to_owned(), ROOT.1.to_owned()));
    config.master_key = Some(MASTER.to_owned());
    config.min_free_bytes = 0;
    config.reserve_bytes = 0;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    // The server runs on a runtime of its own, as `cloudvault serve` does (and its future need not be Send).
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        let shutdown = async {
            let _ = stopped.await;
        };
        let served = runtime.expect("server runtime").block_on(serve_until(config, shutdown, |b| {
            let _ = bound_tx.send(b);
        }));
        if let Err(e) = served {
            panic!("the in-process server failed: {e:#}");
        }
    });
    let bound = tokio::time::timeout(std::time::Duration::from_secs(30), bound_rx)
        .await
        .expect("the server started within 30 s")
        .expect("the server reported its addresses");
    Service { bound, bob: (key.access_key_id, secret), _stop: stop, _dir: dir }
}

fn client(service: &Service, (key, secret): (&str, &str)) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(format!("http://{}", service.bound.s3))
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

/// The S3 error code and HTTP status of a failed call.
fn failure<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> (String, u16) {
    let code = e.code().unwrap_or("(none)").to_owned();
    (code, e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0))
}

async fn put(c: &Client, bucket: &str, key: &str, body: &[u8]) -> String {
    let out = c.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send().await;
    out.unwrap_or_else(|e| panic!("put {key}: {e:?}")).e_tag.expect("etag")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_roll_up_prefixes_once_and_resume_exactly() {
    let s = start().await;
    let c = client(&s, ROOT);
    c.create_bucket().bucket("listing").send().await.expect("create bucket");
    for key in ["a/1", "a/2", "b", "c/x/y", "c/z", "d"] {
        put(&c, "listing", key, key.as_bytes()).await;
    }
    // V2, two entries per page, delimiter '/': a/, b | c/, d — each common prefix once.
    let (mut keys, mut prefixes, mut token, mut pages) = (Vec::new(), Vec::new(), None::<String>, 0);
    loop {
        let page = c
            .list_objects_v2()
            .bucket("listing")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list v2");
        pages += 1;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        prefixes.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        assert!(page.key_count().unwrap_or(0) <= 2);
        token = page.next_continuation_token().map(str::to_owned);
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(keys, ["b", "d"]);
    assert_eq!(prefixes, ["a/", "c/"]);
    // Under a prefix, start-after, and V1 markers.
    let under_c = c.list_objects_v2().bucket("listing").prefix("c/").send().await.expect("prefix");
    let names: Vec<_> = under_c.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(names, ["c/x/y", "c/z"]);
    let after = c.list_objects_v2().bucket("listing").start_after("b").send().await.expect("start-after");
    let names: Vec<_> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(names, ["c/x/y", "c/z", "d"]);
    let v1 = c.list_objects().bucket("listing").marker("a/2").max_keys(2).send().await.expect("v1");
    let names: Vec<_> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(names, ["b", "c/x/y"]);
    assert_eq!(v1.is_truncated(), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_answer_precondition_failed_and_keep_the_object() {
    let s = start().await;
    let c = client(&s, ROOT);
    c.create_bucket().bucket("cond").send().await.expect("create bucket");
    let first = c.put_object().bucket("cond").key("k").if_none_match("*").body(ByteStream::from_static(b"one"));
    let etag = first.send().await.expect("create-only write of a new key").e_tag.expect("etag");
    let again = c.put_object().bucket("cond").key("k").if_none_match("*").body(ByteStream::from_static(b"two"));
    let e = again.send().await.expect_err("the key exists");
    assert_eq!(failure(&e), ("PreconditionFailed".to_owned(), 412));
    let stale = c.put_object().bucket("cond").key("k").if_match("\"0123\"").body(ByteStream::from_static(b"three"));
    let e = stale.send().await.expect_err("wrong etag");
    assert_eq!(failure(&e), ("PreconditionFailed".to_owned(), 412));
    let matching = c.put_object().bucket("cond").key("k").if_match(&etag).body(ByteStream::from_static(b"four"));
    matching.send().await.expect("write guarded by the current etag");
    let got = c.get_object().bucket("cond").key("k").send().await.expect("get");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"four");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_checks_the_part_list_then_serves_every_byte() {
    let s = start().await;
    let c = client(&s, ROOT);
    c.create_bucket().bucket("multipart").send().await.expect("create bucket");
    let created = c.create_multipart_upload().bucket("multipart").key("big").send().await.expect("create upload");
    let id = created.upload_id().expect("upload id").to_owned();
    let one: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let two = b"the tail".to_vec();
    let mut etags = Vec::new();
    for (n, data) in [(1, &one), (2, &two)] {
        let part = c.upload_part().bucket("multipart").key("big").upload_id(&id).part_number(n);
        etags.push(part.body(ByteStream::from(data.clone())).send().await.expect("part").e_tag.expect("etag"));
    }
    let uploads = c.list_multipart_uploads().bucket("multipart").send().await.expect("list uploads");
    assert_eq!(uploads.uploads().iter().filter_map(|u| u.upload_id()).collect::<Vec<_>>(), [id.as_str()]);
    let parts = c.list_parts().bucket("multipart").key("big").upload_id(&id).send().await.expect("list parts");
    assert_eq!(parts.parts().iter().filter_map(|p| p.size()).collect::<Vec<_>>(), [one.len() as i64, 8]);
    let part = |n: i32, etag: &str| CompletedPart::builder().part_number(n).e_tag(etag).build();
    let complete = |list: Vec<CompletedPart>| {
        c.complete_multipart_upload()
            .bucket("multipart")
            .key("big")
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(list)).build())
            .send()
    };
    let e = complete(vec![part(2, &etags[1]), part(1, &etags[0])]).await.expect_err("out of order");
    assert_eq!(failure(&e), ("InvalidPartOrder".to_owned(), 400));
    let e = complete(vec![part(1, "\"00000000000000000000000000000000\"")]).await.expect_err("wrong etag");
    assert_eq!(failure(&e), ("InvalidPart".to_owned(), 400));
    let done = complete(vec![part(1, &etags[0]), part(2, &etags[1])]).await.expect("complete");
    assert!(done.e_tag().expect("etag").ends_with("-2\""), "multipart ETag: {:?}", done.e_tag());
    let got = c.get_object().bucket("multipart").key("big").send().await.expect("get");
    let bytes = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(bytes.len(), one.len() + two.len());
    assert!(bytes[..one.len()] == one[..] && bytes[one.len()..] == two[..], "every byte, in order");
    let gone = c.list_multipart_uploads().bucket("multipart").send().await.expect("list uploads");
    assert!(gone.uploads().is_empty(), "the completed upload is retired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_kept_out_of_each_others_buckets() {
    let s = start().await;
    let root = client(&s, ROOT);
    let bob = client(&s, (&s.bob.0, &s.bob.1));
    root.create_bucket().bucket("roots").send().await.expect("root's bucket");
    put(&root, "roots", "secret", b"root only").await;
    let e = bob.get_object().bucket("roots").key("secret").send().await.expect_err("bob reads root's object");
    assert_eq!(failure(&e), ("AccessDenied".to_owned(), 403));
    let write = bob.put_object().bucket("roots").key("x").body(ByteStream::from_static(b"x"));
    let e = write.send().await.expect_err("bob writes into root's bucket");
    assert_eq!(failure(&e), ("AccessDenied".to_owned(), 403));
    let e = bob.list_objects_v2().bucket("roots").send().await.expect_err("bob lists root's bucket");
    assert_eq!(failure(&e), ("AccessDenied".to_owned(), 403));
    let e = bob.create_bucket().bucket("roots").send().await.expect_err("bob takes root's name");
    assert_eq!(failure(&e), ("BucketAlreadyExists".to_owned(), 409));
    // Bob's own bucket works for bob; ListBuckets shows each user only their own.
    bob.create_bucket().bucket("bobs").send().await.expect("bob's bucket");
    put(&bob, "bobs", "mine", b"bob's").await;
    let listed = bob.list_buckets().send().await.expect("bob lists buckets");
    assert_eq!(listed.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), ["bobs"]);
    let e = bob.get_object().bucket("nosuch").key("k").send().await.expect_err("missing bucket");
    assert_eq!(failure(&e), ("NoSuchBucket".to_owned(), 404));
}
