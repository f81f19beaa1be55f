//! Configuration, read from the environment (every variable is documented in the README).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::listener::ConnLimits;

/// Everything `cloudvault serve` needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CLOUDVAULT_DATA_DIR`: where blobs (and the default SQLite database) live. Default `./data`.
    pub data_dir: PathBuf,
    /// `CLOUDVAULT_DATABASE_URL`: `sqlite://...` or `mysql://...`. Default: SQLite inside the data dir.
    pub database_url: String,
    /// `CLOUDVAULT_DB_MAX_CONNECTIONS`: pool size per replica. Default 16.
    pub db_max_connections: u32,
    /// `CLOUDVAULT_S3_ADDR`: the S3 listener. Default `0.0.0.0:9000`.
    pub s3_addr: SocketAddr,
    /// `CLOUDVAULT_API_ADDR`: the API listener (health, readiness, metrics). Default `0.0.0.0:4000`.
    pub api_addr: SocketAddr,
    /// `CLOUDVAULT_MIN_FREE_BYTES`: least free space on the data volume for `/readyz` to report ready
    /// and for a write to be accepted (a write that would leave less answers 503). Default 64 MiB.
    pub min_free_bytes: u64,
    /// `CLOUDVAULT_RESERVE_BYTES`: space held back on the data volume in `reserve.ballast` and released
    /// when the volume runs full, so deletes can still commit. Default 16 MiB; 0 disables it.
    pub reserve_bytes: u64,
    /// `CLOUDVAULT_ROOT_USER` / `CLOUDVAULT_ROOT_PASSWORD`: the root credentials (also an S3 access key).
    /// When unset, the first start generates strong ones, stores them and prints them once.
    pub root_credentials: Option<(String, String)>,
    /// `CLOUDVAULT_MASTER_KEY`: seals access-key secrets at rest. When unset, a random key is created in
    /// the data directory (`master.key`) on first start and reused.
    pub master_key: Option<String>,
    /// `CLOUDVAULT_JWT_SECRET`: signs console session tokens (HS256). Default: derived from the master key.
    pub jwt_secret: Option<String>,
    /// `CLOUDVAULT_JWT_TTL_SECS`: console session lifetime. Default 900 (15 minutes).
    pub jwt_ttl_secs: u64,
    /// `CLOUDVAULT_REGION`: the region reported by GetBucketLocation and used as the default
    /// LocationConstraint. Default `us-east-1`.
    pub region: String,
    /// `CLOUDVAULT_DOMAIN`: base domain for virtual-hosted-style requests (`bucket.<domain>`). Unset:
    /// path style only.
    pub domain: Option<String>,
    /// `CLOUDVAULT_CORS_ORIGINS`: comma-separated origins (the console's) allowed cross-origin access to
    /// every bucket, on top of each bucket's own CORS rules. Default: none.
    pub cors_origins: Vec<String>,
    /// `CLOUDVAULT_MAX_OBJECT_SIZE`: largest single PUT in bytes. Default 5 GiB (AWS's limit).
    pub max_object_size: u64,
    /// `CLOUDVAULT_STAGING_GRACE_SECS`: how old an unfinished staged file or blob intent must be before the
    /// janitor removes it. Default 3600.
    pub staging_grace_secs: u64,
    /// `CLOUDVAULT_DB_OPERATION_TIMEOUT_SECS` (MySQL only): the longest one metadata operation, waiting
    /// for a connection included, may take before the request fails with 503. Default 5.
    pub db_operation_timeout_secs: u64,
    /// `CLOUDVAULT_GROUP_COMMIT_MAX` / `CLOUDVAULT_GROUP_COMMIT_WAIT_MS` (SQLite only): most write
    /// transactions one COMMIT covers, and the age at which a batch is committed even while more
    /// writers wait. Default 64 and 10 ms.
    pub group_commit: cloudvault_metadata::GroupCommitLimits,
    /// `CLOUDVAULT_INLINE_MAX_BYTES`: object bodies of at most this many bytes are stored in the
    /// metadata store, written by the object's commit (no file, rename or directory fsync); 0 turns it
    /// off. Default 16384; at most 65536 (`limits::MAX_INLINE_BYTES`).
    pub inline_max_bytes: u64,
    /// `CLOUDVAULT_MULTIPART_EXPIRY_SECS`: incomplete multipart uploads with no activity for this long are
    /// aborted by the janitor. Default 604800 (7 days).
    pub multipart_expiry_secs: u64,
    /// `CLOUDVAULT_JANITOR_INTERVAL_SECS`: how often each replica's janitor runs (it applies lifecycle
    /// rules too). Default 60.
    pub janitor_interval_secs: u64,
    /// `CLOUDVAULT_LIFECYCLE_DAY_SECS`: TEST ONLY. The length of a "day" in lifecycle rules (like RGW's
    /// `rgw_lc_debug_interval`), so tests see a 1-day rule fire in seconds. Default 86400, with
    /// expirations rounded to midnight UTC as AWS does; any other value is exact and unrounded.
    pub lifecycle_day_secs: u64,
    /// `CLOUDVAULT_LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `CLOUDVAULT_TLS_CERT` / `CLOUDVAULT_TLS_KEY`: PEM certificate chain and private key. When both are
    /// set the S3 listener speaks HTTPS (rustls) instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `CLOUDVAULT_SHUTDOWN_GRACE_SECS`: how long SIGTERM waits for in-flight requests. Default 30.
    pub shutdown_grace_secs: u64,
    /// `CLOUDVAULT_PUBLIC_S3_URL`: the S3 endpoint as clients reach it (scheme, host, port), on which the
    /// console's share links and browser upload URLs are minted. Default: the S3 listener's address,
    /// with `127.0.0.1` for an unspecified host.
    pub public_s3_url: String,
    /// `CLOUDVAULT_CONSOLE_DIR`: the built console bundle, served at `/` on the API address when it
    /// holds an `index.html`. Default `console/dist`.
    pub console_dir: PathBuf,
    /// `CLOUDVAULT_TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks of proxies (the console
    /// frontend, the router) whose `X-Forwarded-For` names the client (sign-in throttling, `aws:SourceIp`)
    /// and whose `X-Forwarded-Proto` tells TLS (`aws:SecureTransport`). Default:
    /// none (the peer address is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Connection limits of the S3 and API listeners (`CLOUDVAULT_HEADER_TIMEOUT_SECS`,
    /// `CLOUDVAULT_IDLE_TIMEOUT_SECS`, `CLOUDVAULT_MAX_CONNECTIONS`, `CLOUDVAULT_MAX_HEADER_BYTES`; see
    /// [`ConnLimits`]).
    pub conn_limits: ConnLimits,
    /// `CLOUDVAULT_BODY_TIMEOUT_SECS`: a request body that sends no byte for this long is cut
    /// (`RequestTimeout`) and its staging file removed. Default 30.
    pub body_timeout_secs: u64,
    /// `CLOUDVAULT_PASSWORD_HASH_CONCURRENCY`: password hashes and checks (argon2id, 19 MiB each) run
    /// at once; a few more wait, the rest answer 503. Default 2.
    pub password_hash_concurrency: usize,
    /// `CLOUDVAULT_MAX_POST_OBJECT_SIZE`: largest file of a browser-form upload (POST object), which s3s
    /// may hold in memory while checking the form. Default 16 MiB.
    pub max_post_object_size: u64,
    /// `CLOUDVAULT_SIGV2`: accept AWS Signature Version 2 (header, presigned query, browser form), as
    /// MinIO does, for the clients that still send it (boto3's default presigned URL on a custom
    /// endpoint, s3cmd's `signature_v2`). Default `true`; `false` refuses it with `AccessDenied`.
    /// CloudVault itself always signs with SigV4.
    pub sig_v2: bool,
}

/// Everything `cloudvault console` (the frontend process) needs.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// `CLOUDVAULT_CONSOLE_ADDR`: where the console listens. Default `0.0.0.0:8080`.
    pub addr: SocketAddr,
    /// `CLOUDVAULT_CONSOLE_DIR`: the built bundle. Default `console/dist`.
    pub dir: PathBuf,
    /// `CLOUDVAULT_API_URL`: the backend's API that `/api` is proxied to. Default `http://backend:4000`.
    pub api_url: String,
    /// `CLOUDVAULT_SHUTDOWN_GRACE_SECS`: how long SIGTERM waits for in-flight requests. Default 30.
    pub shutdown_grace_secs: u64,
    /// Connection limits of the console listener (the same settings as the server's).
    pub conn_limits: ConnLimits,
    /// `CLOUDVAULT_PUBLIC_S3_URL` (optional here): the S3 endpoint's origin as browsers reach it, the
    /// only other origin the console's Content-Security-Policy lets the page fetch from.
    pub public_s3_origin: Option<String>,
    /// `CLOUDVAULT_PROXY_TIMEOUT_SECS`: how long the `/api` proxy waits for the backend's response
    /// headers before answering 504. Default 60.
    pub proxy_timeout_secs: u64,
    /// `CLOUDVAULT_TRUSTED_PROXIES`: peers (the router) whose `X-Forwarded-Proto` the console passes
    /// on; from anyone else it is replaced by `http` (this listener's own scheme).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `CLOUDVAULT_TRUSTED_PROXIES`: addresses or CIDR blocks, comma-separated (none by default).
fn trusted_proxies() -> anyhow::Result<Vec<ipnet::IpNet>> {
    var("CLOUDVAULT_TRUSTED_PROXIES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| format!("CLOUDVAULT_TRUSTED_PROXIES: {p:?} is not an address or CIDR block"))
        })
        .collect()
}

/// Reads the connection limits shared by every listener from the environment.
fn conn_limits() -> anyhow::Result<ConnLimits> {
    let d = ConnLimits::default();
    let secs = |name, default: Duration| -> anyhow::Result<Duration> {
        Ok(Duration::from_secs(parsed(name, default.as_secs())?.max(1)))
    };
    let max_header_bytes: usize = parsed("CLOUDVAULT_MAX_HEADER_BYTES", d.max_header_bytes)?;
    if max_header_bytes < 8192 {
        bail!("CLOUDVAULT_MAX_HEADER_BYTES must be at least 8192");
    }
    Ok(ConnLimits {
        header_timeout: secs("CLOUDVAULT_HEADER_TIMEOUT_SECS", d.header_timeout)?,
        idle_timeout: secs("CLOUDVAULT_IDLE_TIMEOUT_SECS", d.idle_timeout)?,
        max_connections: parsed("CLOUDVAULT_MAX_CONNECTIONS", d.max_connections)?.max(1),
        max_header_bytes,
    })
}

impl ConsoleConfig {
    /// Reads the console's configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        let api_url = var("CLOUDVAULT_API_URL").unwrap_or_else(|| "http://backend:4000".into());
        if !api_url.starts_with("http://") {
            bail!("CLOUDVAULT_API_URL must be an http:// URL (the backend Service inside the cluster)");
        }
        Ok(ConsoleConfig {
            addr: parsed("CLOUDVAULT_CONSOLE_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            dir: PathBuf::from(var("CLOUDVAULT_CONSOLE_DIR").unwrap_or_else(|| "console/dist".into())),
            api_url: api_url.trim_end_matches('/').to_owned(),
            shutdown_grace_secs: parsed("CLOUDVAULT_SHUTDOWN_GRACE_SECS", 30)?,
            conn_limits: conn_limits()?,
            public_s3_origin: var("CLOUDVAULT_PUBLIC_S3_URL").as_deref().and_then(crate::console::origin_of),
            proxy_timeout_secs: parsed("CLOUDVAULT_PROXY_TIMEOUT_SECS", 60)?.max(1),
            trusted_proxies: trusted_proxies()?,
        })
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match var(name) {
        Some(v) => v.parse().with_context(|| format!("{name}={v:?} is not valid")),
        None => Ok(default),
    }
}

/// `CLOUDVAULT_INLINE_MAX_BYTES`, refused above [`crate::limits::MAX_INLINE_BYTES`] (never capped
/// silently).
fn inline_max() -> anyhow::Result<u64> {
    let max = parsed("CLOUDVAULT_INLINE_MAX_BYTES", DEFAULT_INLINE_MAX_BYTES)?;
    if max > crate::limits::MAX_INLINE_BYTES {
        bail!("CLOUDVAULT_INLINE_MAX_BYTES must be at most {}", crate::limits::MAX_INLINE_BYTES);
    }
    Ok(max)
}

/// Bodies up to this size are stored inline unless configured (`CLOUDVAULT_INLINE_MAX_BYTES`).
pub const DEFAULT_INLINE_MAX_BYTES: u64 = 16 * 1024;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        let data_dir = PathBuf::from(var("CLOUDVAULT_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match var("CLOUDVAULT_DATABASE_URL") {
            Some(url) => url,
            None => format!("sqlite://{}?mode=rwc", data_dir.join("cloudvault.db").display()),
        };
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("mysql:")) {
            bail!("CLOUDVAULT_DATABASE_URL must start with sqlite: or mysql:");
        }
        let root_credentials = match (var("CLOUDVAULT_ROOT_USER"), var("CLOUDVAULT_ROOT_PASSWORD")) {
            (Some(user), Some(password)) => {
                if password.len() < 8 {
                    bail!("CLOUDVAULT_ROOT_PASSWORD must be at least 8 characters");
                }
                Some((user, password))
            }
            (None, None) => None,
            _ => bail!("set both CLOUDVAULT_ROOT_USER and CLOUDVAULT_ROOT_PASSWORD, or neither"),
        };
        let log_json = match var("CLOUDVAULT_LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => bail!("CLOUDVAULT_LOG_FORMAT must be text or json, not {other:?}"),
        };
        let tls = match (var("CLOUDVAULT_TLS_CERT"), var("CLOUDVAULT_TLS_KEY")) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            _ => bail!("set both CLOUDVAULT_TLS_CERT and CLOUDVAULT_TLS_KEY, or neither"),
        };
        let s3_addr = parsed("CLOUDVAULT_S3_ADDR", SocketAddr::from(([0, 0, 0, 0], 9000)))?;
        let public_s3_url = match var("CLOUDVAULT_PUBLIC_S3_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => bail!("CLOUDVAULT_PUBLIC_S3_URL must start with http:// or https://, not {url:?}"),
            None => {
                let scheme = if tls.is_some() { "https" } else { "http" };
                let mut reachable = s3_addr;
                if reachable.ip().is_unspecified() {
                    reachable.set_ip([127, 0, 0, 1].into());
                }
                format!("{scheme}://{reachable}")
            }
        };
        let trusted_proxies = trusted_proxies()?;
        Ok(Config {
            trusted_proxies,
            public_s3_url,
            console_dir: PathBuf::from(var("CLOUDVAULT_CONSOLE_DIR").unwrap_or_else(|| "console/dist".into())),
            s3_addr,
            tls,
            data_dir,
            database_url,
            db_max_connections: parsed("CLOUDVAULT_DB_MAX_CONNECTIONS", 16)?,
            api_addr: parsed("CLOUDVAULT_API_ADDR", SocketAddr::from(([0, 0, 0, 0], 4000)))?,
            min_free_bytes: parsed("CLOUDVAULT_MIN_FREE_BYTES", 64 * 1024 * 1024)?,
            reserve_bytes: parsed("CLOUDVAULT_RESERVE_BYTES", 16 * 1024 * 1024)?,
            root_credentials,
            master_key: var("CLOUDVAULT_MASTER_KEY"),
            jwt_secret: var("CLOUDVAULT_JWT_SECRET"),
            jwt_ttl_secs: parsed("CLOUDVAULT_JWT_TTL_SECS", 900)?.max(1),
            region: var("CLOUDVAULT_REGION").unwrap_or_else(|| "us-east-1".into()),
            domain: var("CLOUDVAULT_DOMAIN"),
            cors_origins: var("CLOUDVAULT_CORS_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            max_object_size: parsed("CLOUDVAULT_MAX_OBJECT_SIZE", 5 * 1024 * 1024 * 1024)?,
            staging_grace_secs: parsed("CLOUDVAULT_STAGING_GRACE_SECS", 3600)?,
            db_operation_timeout_secs: parsed("CLOUDVAULT_DB_OPERATION_TIMEOUT_SECS", 5)?.max(1),
            group_commit: cloudvault_metadata::GroupCommitLimits {
                max_batch: parsed("CLOUDVAULT_GROUP_COMMIT_MAX", 64)?.max(1),
                max_wait: std::time::Duration::from_millis(parsed("CLOUDVAULT_GROUP_COMMIT_WAIT_MS", 10)?),
            },
            inline_max_bytes: inline_max()?,
            multipart_expiry_secs: parsed("CLOUDVAULT_MULTIPART_EXPIRY_SECS", 7 * 24 * 3600)?,
            janitor_interval_secs: parsed("CLOUDVAULT_JANITOR_INTERVAL_SECS", 60)?.max(1),
            lifecycle_day_secs: parsed("CLOUDVAULT_LIFECYCLE_DAY_SECS", 86_400)?.max(1),
            log_json,
            shutdown_grace_secs: parsed("CLOUDVAULT_SHUTDOWN_GRACE_SECS", 30)?,
            conn_limits: conn_limits()?,
            body_timeout_secs: parsed("CLOUDVAULT_BODY_TIMEOUT_SECS", 30)?.max(1),
            password_hash_concurrency: parsed("CLOUDVAULT_PASSWORD_HASH_CONCURRENCY", 2)?.max(1),
            max_post_object_size: parsed("CLOUDVAULT_MAX_POST_OBJECT_SIZE", 16 * 1024 * 1024)?,
            sig_v2: parsed("CLOUDVAULT_SIGV2", true)?,
        })
    }
}
