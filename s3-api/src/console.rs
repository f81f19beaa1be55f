//! Serving the web console: the built bundle (`console/dist`: index.html, the wasm and its JS glue) as
//! static files with `index.html` for every other path (the app routes in the browser), and
//! `cloudvault console`, the frontend process, which adds a reverse proxy of `/api` to the backend
//! (`CLOUDVAULT_API_URL`), so the browser only ever talks to the console's own origin.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::ConsoleConfig;

/// Headers that describe one hop, not the message: never forwarded by the proxy (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `dir` if it holds a built console (an `index.html`), else `None` (and the API serves no console).
pub fn bundle_dir(dir: &Path) -> Option<PathBuf> {
    dir.join("index.html").is_file().then(|| dir.to_path_buf())
}

/// The console's Content-Security-Policy: its own files only (the wasm needs `wasm-unsafe-eval`, nothing
/// needs inline script or style), plus the S3 endpoint (`s3_origin`, e.g. `https://s3.example.com`),
/// which the browser uploads to and previews from with presigned URLs. Without a known S3 origin
/// (`cloudvault console` without `CLOUDVAULT_PUBLIC_S3_URL`), any http(s) origin may be fetched.
pub fn content_security_policy(s3_origin: Option<&str>) -> String {
    let s3 = s3_origin.map_or_else(|| "https: http:".to_owned(), str::to_owned);
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob: {s3}; \
         connect-src 'self' {s3}; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The scheme, host and port of a URL (`https://h:9000/x` -> `https://h:9000`).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// The bundle as a service: files from `dir`, `index.html` for any other path, and headers that keep
/// the console from being framed, its files from being sniffed as another type, and the page from
/// loading or calling anything but itself and the S3 endpoint (`csp`, see
/// [`content_security_policy`]).
pub fn static_files(dir: &Path, csp: &str) -> Router {
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    let csp = HeaderValue::from_str(csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    Router::new()
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, csp))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
}

/// The proxy's client and target.
#[derive(Clone)]
struct Upstream {
    client: Client<HttpConnector, Body>,
    api_url: String,
    /// How long to wait for the backend's response headers (`CLOUDVAULT_PROXY_TIMEOUT_SECS`).
    timeout: Duration,
    /// Peers whose `X-Forwarded-Proto` is passed on (`CLOUDVAULT_TRUSTED_PROXIES`).
    trusted: Arc<Vec<ipnet::IpNet>>,
}

/// The proxy's JSON error answer (the API's error shape).
fn proxy_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Forwards one `/api` request to the backend, streaming both bodies. An unreachable backend is 502
/// with the API's JSON error shape.
async fn proxy(State(up): State<Upstream>, mut request: Request) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let target = match format!("{}{path}", up.api_url).parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    *request.uri_mut() = target;
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let headers = request.headers_mut();
    // Append the browser's address (the backend believes it when this process is a trusted proxy).
    if let Some(peer) = peer {
        let chain = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(before) => format!("{before}, {peer}"),
            None => peer.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&chain) {
            headers.insert("x-forwarded-for", value);
        }
    }
    // The scheme the browser used: what a trusted router says, else this listener's own (plain
    // HTTP), so a client cannot claim TLS (`aws:SecureTransport`) by writing the header itself.
    let trusted_peer = peer.is_some_and(|p| up.trusted.iter().any(|net| net.contains(&p.to_canonical())));
    if !trusted_peer {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::HOST);
    match tokio::time::timeout(up.timeout, up.client.request(request)).await {
        Err(_) => {
            tracing::warn!(timeout = ?up.timeout, "console API proxy: backend did not answer in time");
            proxy_error(StatusCode::GATEWAY_TIMEOUT, "timeout", "The backend did not answer in time; retry shortly.")
        }
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            for name in HOP_BY_HOP {
                parts.headers.remove(name);
            }
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "console API proxy: backend unreachable");
            proxy_error(StatusCode::BAD_GATEWAY, "unavailable", "The backend is not reachable; retry shortly.")
        }
    }
}

/// `GET /healthz` of the console process.
async fn healthz() -> Result<&'static str, Infallible> {
    Ok("ok")
}

/// Runs `cloudvault console` until SIGTERM or Ctrl-C (in-flight requests get the grace period).
pub async fn run(config: ConsoleConfig) -> anyhow::Result<()> {
    if bundle_dir(&config.dir).is_none() {
        anyhow::bail!(
            "no console bundle in {} (build it with scripts/build-console, or set CLOUDVAULT_CONSOLE_DIR)",
            config.dir.display()
        );
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    let upstream = Upstream {
        client: Client::builder(TokioExecutor::new()).build(connector),
        api_url: config.api_url.clone(),
        timeout: Duration::from_secs(config.proxy_timeout_secs),
        trusted: Arc::new(config.trusted_proxies.clone()),
    };
    let app = Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/api", axum::routing::any(proxy))
        .route("/api/{*rest}", axum::routing::any(proxy))
        .with_state(upstream)
        .merge(static_files(&config.dir, &content_security_policy(config.public_s3_origin.as_deref())));
    let listener =
        tokio::net::TcpListener::bind(config.addr).await.with_context(|| format!("binding {}", config.addr))?;
    tracing::info!(addr = %listener.local_addr()?, api = %config.api_url, dir = %config.dir.display(), "CloudVault console listening");
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let app = crate::listener::axum_service(app);
    crate::listener::serve(listener, None, config.conn_limits, app, crate::server::shutdown_signal(), grace).await;
    tracing::info!("console stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_s3_origin_and_nothing_inline() {
        assert_eq!(origin_of("https://s3.example.com:9443/base?x").as_deref(), Some("https://s3.example.com:9443"));
        assert_eq!(origin_of("not a url"), None);
        let csp = content_security_policy(Some("https://s3.example.com"));
        assert!(csp.contains("connect-src 'self' https://s3.example.com;"), "{csp}");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
    }
}
