//! `cloudvault-loadgen`: drives one S3 operation against an endpoint from a fixed number of clients,
//! each on its own keep-alive connection (TCP_NODELAY), every request SigV4-signed with an unsigned
//! payload, as the SDKs send over TLS-less links. Prints one JSON line: operations, errors, seconds,
//! ops/s, MiB/s and latency percentiles. `scripts/bench` runs it; it works against any S3 server.
//!
//! Keys are `<prefix><n>` with `n` zero-padded to 10 digits. PUT and DELETE take `n` from one shared
//! counter (so `--count N` writes or deletes keys 0..N exactly once); GET and HEAD draw `n` from
//! `0..--keys`; LIST pages through the bucket (from `--start-after`, `--pages` pages per listing,
//! then starts over), one operation per page.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters is escaped in query values.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The operation every client repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Op {
    Put,
    Get,
    Head,
    Delete,
    List,
}

/// The command line.
#[derive(Debug, Parser)]
#[command(about = "An S3 load generator: one operation, N clients, JSON out.")]
struct Args {
    /// The S3 endpoint, `http://host:port` (path-style requests).
    #[arg(long)]
    endpoint: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY")]
    secret_key: String,
    /// Signing region.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The bucket, or several separated by commas: client `i` uses bucket `i % n`.
    #[arg(long)]
    bucket: String,
    /// The operation.
    #[arg(long, value_enum)]
    op: Op,
    /// Object size in bytes (PUT; GET checks it).
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// Concurrent clients, one connection each.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds to run (the run also ends after `--count` operations).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Most operations in all (PUT / DELETE: keys 0..count).
    #[arg(long)]
    count: Option<u64>,
    /// GET / HEAD: keys are drawn from 0..keys.
    #[arg(long, default_value_t = 1000)]
    keys: u64,
    /// Key prefix.
    #[arg(long, default_value = "obj")]
    prefix: String,
    /// LIST: the key each listing starts after.
    #[arg(long)]
    start_after: Option<String>,
    /// LIST: pages per listing before it starts over (0: to the end of the bucket).
    #[arg(long, default_value_t = 0)]
    pages: u64,
    /// LIST: keys per page.
    #[arg(long, default_value_t = 1000)]
    max_keys: u32,
    /// LIST: a delimiter.
    #[arg(long)]
    delimiter: Option<String>,
}

/// What every client shares.
struct Shared {
    args: Args,
    buckets: Vec<String>,
    host: String,
    addr: String,
    identity: aws_credential_types::Credentials,
    body: Bytes,
    next: AtomicU64,
    deadline: Instant,
}

/// One client's figures.
#[derive(Debug, Default)]
struct Stats {
    latencies_us: Vec<u32>,
    errors: u64,
    bytes: u64,
    listed: u64,
}

/// Where a client is in its listing.
#[derive(Debug, Default)]
struct Listing {
    token: Option<String>,
    pages: u64,
}

impl Shared {
    fn key(&self, n: u64) -> String {
        format!("{}{n:010}", self.args.prefix)
    }

    /// A signed request for `method` on `path_and_query` (already percent-encoded).
    fn signed(&self, method: &str, path_and_query: &str, body: Bytes) -> anyhow::Result<http::Request<Full<Bytes>>> {
        let url = format!("{}{path_and_query}", self.args.endpoint.trim_end_matches('/'));
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let identity = self.identity.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.args.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let headers = [("host", self.host.as_str())];
        let signable = SignableRequest::new(method, url, headers.into_iter(), SignableBody::UnsignedPayload)?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        let mut request = http::Request::builder().method(method).uri(path_and_query).header("host", &self.host);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        Ok(request.body(Full::new(body))?)
    }

    /// The next request of client `client`, or `None` when the run is over.
    fn next_request(
        &self,
        client: usize,
        rng: &mut u64,
        listing: &Listing,
    ) -> anyhow::Result<Option<http::Request<Full<Bytes>>>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if Instant::now() >= self.deadline || self.args.count.is_some_and(|c| n >= c) {
            return Ok(None);
        }
        let bucket = &self.buckets[client % self.buckets.len()];
        let random_key = |rng: &mut u64| {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            self.key(*rng % self.args.keys.max(1))
        };
        let request = match self.args.op {
            Op::Put => self.signed("PUT", &format!("/{bucket}/{}", self.key(n)), self.body.clone())?,
            Op::Delete => self.signed("DELETE", &format!("/{bucket}/{}", self.key(n)), Bytes::new())?,
            Op::Get => self.signed("GET", &format!("/{bucket}/{}", random_key(rng)), Bytes::new())?,
            Op::Head => self.signed("HEAD", &format!("/{bucket}/{}", random_key(rng)), Bytes::new())?,
            Op::List => self.signed("GET", &format!("/{bucket}?{}", self.list_query(listing)), Bytes::new())?,
        };
        Ok(Some(request))
    }

    fn list_query(&self, listing: &Listing) -> String {
        let mut params = vec![("list-type", "2".to_owned()), ("max-keys", self.args.max_keys.to_string())];
        if let Some(token) = &listing.token {
            params.push(("continuation-token", token.clone()));
        } else if let Some(start) = &self.args.start_after {
            params.push(("start-after", start.clone()));
        }
        if let Some(d) = &self.args.delimiter {
            params.push(("delimiter", d.clone()));
        }
        params.sort();
        let pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY))).collect();
        pairs.join("&")
    }

    fn expected(&self, status: http::StatusCode) -> bool {
        match self.args.op {
            Op::Delete => status == http::StatusCode::NO_CONTENT,
            _ => status == http::StatusCode::OK,
        }
    }
}

/// The text between the first `open` and the following `close`.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    Some(&text[start..start + text[start..].find(close)?])
}

/// Advances a client's listing past the page `body`.
fn turn_page(shared: &Shared, listing: &mut Listing, body: &[u8], stats: &mut Stats) {
    let text = String::from_utf8_lossy(body);
    stats.listed += (text.matches("<Key>").count() + text.matches("<Prefix>").count().saturating_sub(1)) as u64;
    listing.pages += 1;
    let truncated = text.contains("<IsTruncated>true</IsTruncated>");
    let limit_reached = shared.args.pages > 0 && listing.pages >= shared.args.pages;
    listing.token = between(&text, "<NextContinuationToken>", "</NextContinuationToken>")
        .filter(|_| truncated && !limit_reached)
        .map(str::to_owned);
    if listing.token.is_none() {
        listing.pages = 0;
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A new keep-alive connection to the endpoint, with TCP_NODELAY.
async fn connect(shared: &Shared) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(&shared.addr).await.context("connecting")?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn client(shared: Arc<Shared>, index: usize) -> anyhow::Result<Stats> {
    let mut sender = connect(&shared).await?;
    let mut stats = Stats::default();
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let mut listing = Listing::default();
    while let Some(request) = shared.next_request(index, &mut rng, &listing)? {
        let started = Instant::now();
        // A server that answers an error may close the connection (it did not read the body): the
        // request counts as an error and the client reconnects.
        if sender.ready().await.is_err() {
            sender = connect(&shared).await?;
        }
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                stats.errors += 1;
                if stats.errors <= 3 {
                    eprintln!("client {index}: {e}");
                }
                sender = connect(&shared).await?;
                continue;
            }
        };
        let status = response.status();
        let mut body = response.into_body();
        let mut received = 0u64;
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                received += data.len() as u64;
                if shared.args.op == Op::List || !status.is_success() {
                    kept.extend_from_slice(&data);
                }
            }
        }
        stats.latencies_us.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        let short_get = shared.args.op == Op::Get && received != shared.args.size as u64;
        if !shared.expected(status) || short_get {
            if stats.errors < 3 {
                eprintln!("client {index}: {status}, {received} bytes: {}", String::from_utf8_lossy(&kept));
            }
            stats.errors += 1;
            continue;
        }
        stats.bytes += match shared.args.op {
            Op::Put => shared.body.len() as u64,
            _ => received,
        };
        if shared.args.op == Op::List {
            turn_page(&shared, &mut listing, &kept, &mut stats);
        }
    }
    Ok(stats)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let Some(authority) = args.endpoint.strip_prefix("http://").map(|a| a.trim_end_matches('/').to_owned()) else {
        bail!("--endpoint must be http://host:port");
    };
    let identity = Credentials::new(&args.access_key, &args.secret_key, None, None, "cloudvault-loadgen");
    let shared = Arc::new(Shared {
        buckets: args.bucket.split(',').map(str::to_owned).collect(),
        host: authority.clone(),
        addr: authority,
        identity,
        body: Bytes::from(vec![b'x'; args.size]),
        next: AtomicU64::new(0),
        deadline: Instant::now() + Duration::from_secs_f64(args.duration),
        args,
    });
    let started = Instant::now();
    let clients: Vec<_> = (0..shared.args.clients).map(|i| tokio::spawn(client(shared.clone(), i))).collect();
    let mut total = Stats::default();
    for handle in clients {
        let stats = handle.await??;
        total.latencies_us.extend(stats.latencies_us);
        total.errors += stats.errors;
        total.bytes += stats.bytes;
        total.listed += stats.listed;
    }
    let seconds = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    let ops = total.latencies_us.len() as u64 - total.errors;
    let report = serde_json::json!({
        "op": format!("{:?}", shared.args.op).to_lowercase(),
        "size": shared.args.size,
        "clients": shared.args.clients,
        "ops": ops,
        "errors": total.errors,
        "seconds": seconds,
        "ops_per_s": ops as f64 / seconds,
        "mib_per_s": total.bytes as f64 / seconds / 1_048_576.0,
        "p50_ms": percentile(&total.latencies_us, 0.50),
        "p99_ms": percentile(&total.latencies_us, 0.99),
        "max_ms": percentile(&total.latencies_us, 1.0),
        "listed": total.listed,
    });
    println!("{report}");
    Ok(())
}
