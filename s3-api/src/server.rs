//! The network side: the S3 listener (TCP_NODELAY, HTTP/1.1 and HTTP/2, optional TLS), the API listener
//! (health, readiness, metrics), a request id and metrics on every S3 request, the janitor, and
//! graceful shutdown on SIGTERM / Ctrl-C: both listeners stop accepting, in-flight requests get
//! `CLOUDVAULT_SHUTDOWN_GRACE_SECS` to finish, then the process exits.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use hyper::body::Incoming;
use s3s::service::S3Service;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::api::ApiState;
use crate::api::session::Sessions;
use crate::config::Config;
use cloudvault_metadata::MetaStore;

use crate::auth::Authorizer;
use crate::auth::KeyStore;
use crate::auth::origin::Origin;
use crate::auth::secrets::MasterKey;
use crate::engine::{BlobStore, Engine, janitor};
use crate::metrics::{Metrics, OperationSlot};
use crate::presign::Presigner;
use crate::s3::{build_service, cors};

/// Starts CloudVault with `config` and serves until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    serve_until(config, shutdown_signal(), |_| {}).await
}

/// Where a started server listens (its configured addresses with the ports the OS picked for `:0`).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The S3 endpoint.
    pub s3: std::net::SocketAddr,
    /// The API listener (probes, metrics, console API, console).
    pub api: std::net::SocketAddr,
}

/// Starts CloudVault with `config`, reports where it listens to `on_bound` once both listeners accept,
/// and serves until `shutdown` resolves; then drains in-flight requests as [`serve`] does. The
/// in-process test tier (`tests/s3_inprocess.rs`) runs the real service this way on `127.0.0.1:0`.
pub async fn serve_until(
    config: Config,
    shutdown: impl Future<Output = ()>,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    crate::engine::failpoint::validate().map_err(anyhow::Error::msg)?;
    #[cfg(feature = "failpoints")]
    cloudvault_metadata::set_batch_hook(crate::engine::failpoint::batch_hook);
    tokio::fs::create_dir_all(&config.data_dir).await.context("creating the data directory")?;
    let meta = MetaStore::connect(&config.database_url, config.db_max_connections)
        .await
        .context("opening the metadata store")?
        .with_group_commit(config.group_commit)
        .with_operation_timeout(Duration::from_secs(config.db_operation_timeout_secs));
    let blobs = BlobStore::open(&config.data_dir)
        .await
        .context("opening the blob store")?
        .with_body_timeout(Duration::from_secs(config.body_timeout_secs));
    let engine = Engine::new(meta.clone(), blobs)
        .with_inline_max(config.inline_max_bytes)
        .with_volume_limits(&config.data_dir, config.min_free_bytes, config.reserve_bytes)
        .await;
    for warning in meta.durability_warnings().await.context("reading the database's durability settings")? {
        tracing::warn!("DURABILITY: {warning}");
    }
    let master = MasterKey::load(config.master_key.as_deref(), &config.data_dir)?;
    let keys = Arc::new(KeyStore::bootstrap(meta.clone(), master, config.root_credentials.clone()).await?);
    let authorizer = Arc::new(Authorizer::new(engine.clone(), keys.clone()));
    let service = build_service(&config, engine.clone(), keys.clone(), authorizer.clone())?;
    let cors = Arc::new(CorsLayer {
        authorizer: authorizer.clone(),
        console: cors::console_rules(&config.cors_origins),
        domain: config.domain.clone(),
    });
    let metrics = Metrics::new(meta.clone());
    let policy = janitor::Policy {
        grace: Duration::from_secs(config.staging_grace_secs),
        multipart_expiry: Duration::from_secs(config.multipart_expiry_secs),
        lifecycle_day: Duration::from_secs(config.lifecycle_day_secs),
    };
    warn_about_wider_policies(&engine).await;
    let interval = Duration::from_secs(config.janitor_interval_secs);
    let janitor = tokio::spawn(janitor::run(engine.clone(), policy, interval));

    let tls = match &config.tls {
        Some((cert, key)) => Some(crate::tls::acceptor(cert, key)?),
        None => None,
    };
    let listener = TcpListener::bind(config.s3_addr).await.with_context(|| format!("binding {}", config.s3_addr))?;
    let api_listener =
        TcpListener::bind(config.api_addr).await.with_context(|| format!("binding {}", config.api_addr))?;
    let api_addr = api_listener.local_addr()?;
    tracing::info!(addr = %api_addr, "API listening (/healthz, /readyz, /metrics)");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let jwt_key = match &config.jwt_secret {
        Some(secret) if secret.len() >= 32 => secret.as_bytes().to_vec(),
        Some(_) => anyhow::bail!("CLOUDVAULT_JWT_SECRET must be at least 32 characters"),
        None => keys.derived_jwt_key().to_vec(),
    };
    let api_state = ApiState {
        engine: engine.clone(),
        metrics: metrics.clone(),
        data_dir: config.data_dir.clone(),
        min_free_bytes: config.min_free_bytes,
        volume_probe: Default::default(),
        keys: keys.clone(),
        authorizer: authorizer.clone(),
        sessions: Arc::new(Sessions::new(&jwt_key, Duration::from_secs(config.jwt_ttl_secs))),
        passwords: Arc::new(crate::auth::passwords::PasswordPool::new(config.password_hash_concurrency)),
        region: config.region.clone(),
        max_object_size: config.max_object_size,
        presigner: Presigner::new(&config.public_s3_url, &config.region),
        console_dir: crate::console::bundle_dir(&config.console_dir),
        s3_origin: crate::console::origin_of(&config.public_s3_url),
        trusted_proxies: config.trusted_proxies.clone(),
    };
    let limits = config.conn_limits;
    let drain = Duration::from_secs(config.shutdown_grace_secs);
    let mut api_stop = stop_rx.clone();
    let api = tokio::spawn(crate::listener::serve(
        api_listener,
        None,
        limits,
        crate::listener::axum_service(crate::api::router(api_state)),
        async move {
            let _ = api_stop.wait_for(|stop| *stop).await;
        },
        drain,
    ));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let s3_url = format!("{scheme}://{}", listener.local_addr()?);
    match crate::console::bundle_dir(&config.console_dir) {
        Some(_) => {
            tracing::info!(s3 = %s3_url, console = %format!("http://{api_addr}/"), "CloudVault is up: S3 endpoint and web console")
        }
        None => {
            tracing::info!(s3 = %s3_url, "CloudVault is up: S3 endpoint (no console bundle, so no web console; see scripts/build-console)")
        }
    }
    tracing::info!(addr = %listener.local_addr()?, tls = tls.is_some(), data_dir = %config.data_dir.display(), backend = ?meta.backend(), "CloudVault S3 endpoint listening");
    on_bound(Bound { s3: listener.local_addr()?, api: api_addr });

    let (secure, trusted) = (tls.is_some(), Arc::new(config.trusted_proxies.clone()));
    let s3 = move |peer: std::net::SocketAddr| RequestIds {
        inner: service.clone(),
        metrics: metrics.clone(),
        cors: cors.clone(),
        peer: peer.ip(),
        secure,
        trusted: trusted.clone(),
    };
    crate::listener::serve(listener, tls, limits, s3, shutdown, drain).await;
    let _ = stop_tx.send(true);
    drop(stop_rx);
    tracing::info!("shut down the S3 endpoint; stopping the API listener");
    if tokio::time::timeout(drain + Duration::from_secs(5), api).await.is_err() {
        tracing::warn!("API listener did not stop in time");
    }
    janitor.abort();
    engine.close().await;
    Ok(())
}

/// Warns at start about bucket policies that let everyone (anonymous callers included) do more than
/// read and list: before issue 13 CloudVault evaluated only those two actions for everyone, so a
/// policy stored then may open more now than its author saw.
async fn warn_about_wider_policies(engine: &Engine) {
    let Ok(buckets) = engine.list_buckets(None).await else { return };
    for b in buckets {
        let Some(text) = b.policy.as_deref() else { continue };
        let policy = match crate::auth::iam::PolicyDocument::parse(&b.name, text) {
            Ok(policy) => policy,
            Err(e) => {
                tracing::warn!(
                    bucket = %b.name,
                    error = %e,
                    "the stored bucket policy no longer validates, so it denies everything but \
                     Get/Put/DeleteBucketPolicy by the owner: replace it"
                );
                continue;
            }
        };
        if policy.lets_everyone_write() {
            tracing::warn!(
                bucket = %b.name,
                "the bucket policy lets everyone, anonymous callers included, do more than read and list: \
                 every statement is evaluated (issue 13); review it with GetBucketPolicy"
            );
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Gives every request an id (logged on its span and returned as `x-amz-request-id`), records its
/// metrics and where it came from ([`Origin`], for the authorizer's conditions).
#[derive(Clone)]
struct RequestIds {
    inner: S3Service,
    metrics: Arc<Metrics>,
    cors: Arc<CorsLayer>,
    /// The connection's peer.
    peer: std::net::IpAddr,
    /// Whether this listener speaks TLS.
    secure: bool,
    /// Proxies whose forwarding headers are believed (`CLOUDVAULT_TRUSTED_PROXIES`).
    trusted: Arc<Vec<ipnet::IpNet>>,
}

/// Answers CORS preflights (s3s has no OPTIONS route) and adds CORS headers to responses to browsers.
struct CorsLayer {
    authorizer: Arc<Authorizer>,
    console: Vec<s3s::dto::CORSRule>,
    domain: Option<String>,
}

impl CorsLayer {
    /// The console's rules followed by the addressed bucket's own rules.
    async fn rules(&self, uri: &http::Uri, headers: &http::HeaderMap) -> Vec<s3s::dto::CORSRule> {
        let mut rules = self.console.clone();
        if let Some(bucket) = cors::bucket_of(uri, headers, self.domain.as_deref()) {
            // A failing lookup (database down) only means no bucket rules: the request itself will fail.
            rules.extend(self.authorizer.cors_rules(&bucket).await.unwrap_or_default());
        }
        rules
    }

    /// The answer to an OPTIONS preflight: 200 with the allowed origin, methods and headers, or 403.
    async fn preflight(&self, req: &http::Request<Incoming>, origin: &str) -> s3s::HttpResponse {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let Some(method) = header("access-control-request-method") else {
            return xml_error(
                http::StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            );
        };
        let requested: Vec<String> = header("access-control-request-headers")
            .map(|h| h.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let rules = self.rules(req.uri(), req.headers()).await;
        match cors::evaluate(&rules, origin, &method, &requested) {
            Some(allowed) => {
                let mut response = http::Response::new(s3s::Body::empty());
                cors::apply(response.headers_mut(), &allowed, true);
                response
            }
            None => xml_error(
                http::StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, \
                 request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted \
                 by the resource's CORS spec.",
            ),
        }
    }
}

/// Largest error body that gets its `<RequestId>` inserted (S3 error documents are a few hundred bytes).
const MAX_STAMPED_ERROR_BODY: usize = 64 * 1024;

/// Returns the request id as `x-amz-request-id` and, in an S3 XML error body, as `<RequestId>` (AWS's
/// error documents carry both; s3s writes neither).
fn stamp_request_id(response: &mut s3s::HttpResponse, id: &str) {
    let Ok(value) = http::HeaderValue::from_str(id) else { return };
    response.headers_mut().insert("x-amz-request-id", value);
    if response.status().as_u16() < 400 {
        return;
    }
    let Some(body) = response.body().bytes().filter(|b| b.len() <= MAX_STAMPED_ERROR_BODY) else { return };
    let Some(open) = std::str::from_utf8(&body).ok().and_then(|t| t.strip_suffix("</Error>")) else { return };
    if open.contains("<RequestId>") {
        return;
    }
    let stamped = format!("{open}<RequestId>{id}</RequestId></Error>");
    if let Ok(length) = http::HeaderValue::from_str(&stamped.len().to_string()) {
        response.headers_mut().insert(http::header::CONTENT_LENGTH, length);
    }
    *response.body_mut() = s3s::Body::from(stamped);
}

fn xml_error(status: http::StatusCode, code: &str, message: &str) -> s3s::HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut response = http::Response::new(s3s::Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    response
}

/// Sub-resources whose PUT or POST body is an XML (or JSON) document that s3s reads into memory.
const DOCUMENT_SUBRESOURCES: [&str; 20] = [
    "delete",
    "uploadId",
    "acl",
    "cors",
    "lifecycle",
    "policy",
    "tagging",
    "versioning",
    "website",
    "encryption",
    "replication",
    "logging",
    "notification",
    "accelerate",
    "requestPayment",
    "ownershipControls",
    "publicAccessBlock",
    "object-lock",
    "retention",
    "legal-hold",
];

/// Whether `req` announces a document body (DeleteObjects, CompleteMultipartUpload, a bucket or object
/// setting) larger than s3s reads into memory. s3s refuses those as it reads, but with a 500; AWS says
/// 400 `MaxMessageLengthExceeded`, so they are answered here, before any body byte is read. An
/// UploadPart (`uploadId` with `partNumber`) carries object bytes, not a document.
fn xml_body_too_large(req: &http::Request<Incoming>) -> bool {
    if !matches!(*req.method(), http::Method::PUT | http::Method::POST) {
        return false;
    }
    let query = req.uri().query().unwrap_or("");
    let names: Vec<&str> = query.split('&').map(|pair| pair.split('=').next().unwrap_or("")).collect();
    let is_document = names.iter().any(|n| DOCUMENT_SUBRESOURCES.contains(n)) && !names.contains(&"partNumber");
    is_document && content_length(req.headers()) > crate::limits::MAX_XML_BODY_BYTES as u64
}

/// The requests answered in front of s3s, with the operation name their metrics get:
/// - a console session token as S3 credentials: 403 `AccessDenied`, as AWS refuses unknown credentials
///   (not as a malformed header);
/// - OPTIONS without `Origin` (OPTIONS is only ever a CORS preflight): AWS's 400;
/// - a presigned URL whose expiry is refused ([`crate::s3::query_auth`]): 403;
/// - a document body over the limit ([`xml_body_too_large`]): 400 `MaxMessageLengthExceeded`, with
///   the connection closed since the body is never read.
fn refused_before_s3s(req: &http::Request<Incoming>) -> Option<(s3s::HttpResponse, &'static str)> {
    let bearer = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if bearer.is_some_and(|v| v.len() >= 7 && v[..7].eq_ignore_ascii_case("bearer ")) {
        let message = "Bearer tokens are not accepted by the S3 endpoint; sign requests with an access key.";
        return Some((xml_error(http::StatusCode::FORBIDDEN, "AccessDenied", message), "unknown"));
    }
    if req.method() == http::Method::OPTIONS {
        let message = "Insufficient information. Origin request header needed.";
        return Some((xml_error(http::StatusCode::BAD_REQUEST, "BadRequest", message), "Preflight"));
    }
    if let Some((code, message)) = crate::s3::query_auth::refused_expiry(req.uri().query(), SystemTime::now()) {
        return Some((xml_error(http::StatusCode::FORBIDDEN, code, &message), "unknown"));
    }
    if xml_body_too_large(req) {
        let mut response =
            xml_error(http::StatusCode::BAD_REQUEST, "MaxMessageLengthExceeded", "Your request was too big.");
        response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        return Some((response, "unknown"));
    }
    None
}

/// Whether the request body is a browser form (`multipart/form-data`: PostObject).
fn is_form(headers: &http::HeaderMap) -> bool {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    content_type.len() >= 19 && content_type[..19].eq_ignore_ascii_case("multipart/form-data")
}

fn content_length(headers: &http::HeaderMap) -> u64 {
    headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0)
}

impl hyper::service::Service<http::Request<Incoming>> for RequestIds {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, mut req: http::Request<Incoming>) -> Self::Future {
        let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase();
        let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
        let inner = self.inner.clone();
        let in_flight = self.metrics.start();
        let announced_body = content_length(req.headers()) > 0
            || req.headers().contains_key(http::header::TRANSFER_ENCODING)
            || req.headers().contains_key(http::header::EXPECT);
        let slot = OperationSlot::default();
        req.extensions_mut().insert(slot.clone());
        let from = Origin::of(self.peer, self.secure, req.headers(), &self.trusted);
        req.extensions_mut().insert(from);
        let origin = req.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let cors = self.cors.clone();
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let started = Instant::now();
                if let Some(origin) = origin.as_deref()
                    && req.method() == http::Method::OPTIONS
                {
                    let mut response = cors.preflight(&req, origin).await;
                    stamp_request_id(&mut response, &id);
                    in_flight.finish("Preflight".to_owned(), response.status().as_u16(), 0);
                    return Ok(response);
                }
                if let Some((mut response, operation)) = refused_before_s3s(&req) {
                    stamp_request_id(&mut response, &id);
                    in_flight.finish(operation.to_owned(), response.status().as_u16(), 0);
                    return Ok(response);
                }
                let cors_rules = match origin.as_deref() {
                    Some(_) => cors.rules(req.uri(), req.headers()).await,
                    None => Vec::new(),
                };
                let method = req.method().clone();
                let form = method == http::Method::POST && is_form(req.headers());
                crate::s3::header_date::date_as_amz_date(req.headers_mut());
                let boundary = crate::s3::form::boundary_of(req.headers());
                let (mut head, body) = req.into_parts();
                let counted = metrics.counted(body);
                let (body, prefix) = if form {
                    let (tapped, prefix) = crate::s3::form::tap(counted);
                    head.extensions.insert(prefix.clone());
                    (s3s::Body::http_body(tapped), Some(prefix))
                } else {
                    (s3s::Body::http_body(counted), None)
                };
                let mut response = inner.call(http::Request::from_parts(head, body)).await?;
                if form && let Some(message) = crate::s3::form::failed_condition(&response) {
                    let message = format!("Invalid according to Policy: {message}");
                    response = xml_error(http::StatusCode::FORBIDDEN, "AccessDenied", &message);
                }
                if let Some(prefix) = &prefix
                    && crate::s3::form::refused_for_size(&response, prefix, boundary.as_deref()).await
                {
                    let (code, message) = crate::s3::form::PRE_DATA_TOO_LARGE;
                    response = xml_error(http::StatusCode::BAD_REQUEST, code, message);
                }
                if let Some(origin) = origin.as_deref()
                    && let Some(allowed) = cors::evaluate(&cors_rules, origin, method.as_str(), &[])
                {
                    cors::apply(response.headers_mut(), &allowed, false);
                }
                stamp_request_id(&mut response, &id);
                let status = response.status().as_u16();
                // An error may be answered before the request body was read (a client that sent
                // `Expect: 100-continue` then never sends it). Reusing the connection would then
                // misread body bytes, or the next request, so close it, as S3 does.
                if announced_body && status >= 300 {
                    response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
                }
                let operation = slot.name();
                tracing::info!(%operation, status, ms = started.elapsed().as_millis() as u64, "request");
                in_flight.finish(operation, status, content_length(response.headers()));
                Ok(response)
            }
            .instrument(span),
        )
    }
}
