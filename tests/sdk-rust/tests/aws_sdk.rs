//! aws-sdk-s3 (Rust) with its default checksum behaviour against a real `cloudvault serve`:
//! single PutObject, a multipart upload, and GetObject with checksum mode.
//!
//! The server binary comes from `CLOUDVAULT_BIN` (scripts/test sets it after the release build); the
//! test fails, never skips, when it is missing.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use md5::{Digest, Md5};

struct Server {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const KEY: &str = "sdk-test";
const SECRET: &str = "sdk-test-secret-0123456789";

fn start() -> Server {
    let bin =
        std::env::var("CLOUDVAULT_BIN").expect("CLOUDVAULT_BIN must name the cloudvault binary (scripts/test sets it)");
    let dir = tempfile::tempdir().expect("tempdir");
    let free_port = || TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (port, api_port) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
    let child = Command::new(bin)
        .arg("serve")
        .env("CLOUDVAULT_DATA_DIR", dir.path().join("data"))
        .env("CLOUDVAULT_S3_ADDR", format!("127.0.0.1:{port}"))
        .env("CLOUDVAULT_API_ADDR", format!("127.0.0.1:{api_port}"))
        .env("CLOUDVAULT_ROOT_USER", KEY)
        .env("CLOUDVAULT_ROOT_PASSWORD", SECRET)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn cloudvault");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "cloudvault did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, endpoint: format!("http://127.0.0.1:{port}"), _dir: dir }
}

fn client(server: &Server) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(KEY, SECRET, None, None, "test"))
        .endpoint_url(&server.endpoint)
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[0] ^ seed).collect()
}

fn crc32_b64(data: &[u8]) -> String {
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32;
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_and_multipart_with_default_checksums() -> anyhow::Result<()> {
    let server = start();
    let s3 = client(&server);
    s3.create_bucket().bucket("rust-sdk").send().await?;

    // Single PUT with the SDK's default (CRC32) checksum; it comes back with checksum mode on.
    let small = pattern(300_000, 7);
    let put = s3.put_object().bucket("rust-sdk").key("small.bin").body(ByteStream::from(small.clone())).send().await?;
    assert_eq!(put.e_tag(), Some(format!("\"{}\"", hex(&Md5::digest(&small))).as_str()));
    let got = s3.get_object().bucket("rust-sdk").key("small.bin").checksum_mode(ChecksumMode::Enabled).send().await?;
    assert_eq!(got.checksum_crc32(), Some(crc32_b64(&small).as_str()), "the SDK's default CRC32 was stored");
    assert_eq!(got.body.collect().await?.into_bytes().as_ref(), small.as_slice());

    // Multipart: two parts (5 MiB + 1 MiB), default checksums on each part.
    let part1 = pattern(5 * 1024 * 1024, 1);
    let part2 = pattern(1024 * 1024, 2);
    let created = s3.create_multipart_upload().bucket("rust-sdk").key("big.bin").send().await?;
    let upload_id = created.upload_id().expect("upload id");
    let mut completed = Vec::new();
    for (n, data) in [(1, &part1), (2, &part2)] {
        let part = s3
            .upload_part()
            .bucket("rust-sdk")
            .key("big.bin")
            .upload_id(upload_id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await?;
        completed.push(CompletedPart::builder().part_number(n).e_tag(part.e_tag().expect("etag")).build());
    }
    let done = s3
        .complete_multipart_upload()
        .bucket("rust-sdk")
        .key("big.bin")
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await?;
    let mut md5s = Md5::new();
    md5s.update(Md5::digest(&part1));
    md5s.update(Md5::digest(&part2));
    assert_eq!(done.e_tag(), Some(format!("\"{}-2\"", hex(&md5s.finalize())).as_str()));
    let whole = s3.get_object().bucket("rust-sdk").key("big.bin").send().await?.body.collect().await?.into_bytes();
    assert_eq!(whole.len(), part1.len() + part2.len());
    assert!(whole[..part1.len()] == part1[..] && whole[part1.len()..] == part2[..], "bytes round-trip");

    // A wrong checksum is refused and leaves the old object in place.
    let wrong = s3
        .put_object()
        .bucket("rust-sdk")
        .key("small.bin")
        .body(ByteStream::from_static(b"other bytes"))
        .checksum_crc32("AAAAAA==")
        .send()
        .await;
    let err = wrong.expect_err("a wrong CRC32 must be refused");
    assert_eq!(err.into_service_error().meta().code(), Some("BadDigest"));
    let still = s3.get_object().bucket("rust-sdk").key("small.bin").send().await?.body.collect().await?.into_bytes();
    assert_eq!(still.as_ref(), small.as_slice());
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
