//! Serving HTTP connections with bounded resources. Every listener (S3, API, console) accepts through
//! [`serve`], which holds each connection to [`ConnLimits`]:
//! - at most `max_connections` at once: past that, new connections wait in the kernel's accept queue
//!   (the process never runs out of file descriptors because of clients);
//! - the first request's headers must arrive within `header_timeout` of the connection opening, and
//!   each later request's within `header_timeout` of its first byte (hyper's h1 header-read timer);
//!   a request head is at most `max_header_bytes` (larger: 431);
//! - a connection with no request in progress and no bytes moving either way for `idle_timeout` is
//!   closed: an idle keep-alive, a client that stopped reading a response, a half-sent header;
//! - a TLS handshake must finish within [`TLS_HANDSHAKE_TIMEOUT`].
//!
//! A stalled request *body* is the engine's to cut (`CLOUDVAULT_BODY_TIMEOUT_SECS`, see
//! `BlobStore::with_body_timeout`), so the staging file goes with it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to complete the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The per-listener connection limits (each a setting; defaults in `config.rs` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// `CLOUDVAULT_HEADER_TIMEOUT_SECS`: the request headers must be complete this long after the
    /// connection opened (or after the first byte of a later request). Default 20 s.
    pub header_timeout: Duration,
    /// `CLOUDVAULT_IDLE_TIMEOUT_SECS`: a connection with no request in progress and no bytes moving is
    /// closed after this long. Default 60 s.
    pub idle_timeout: Duration,
    /// `CLOUDVAULT_MAX_CONNECTIONS`: open connections per listener. Default 4096.
    pub max_connections: usize,
    /// `CLOUDVAULT_MAX_HEADER_BYTES`: largest request head (request line and headers). Default 64 KiB;
    /// at least 8 KiB (hyper's minimum).
    pub max_header_bytes: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// What a connection is doing: when a byte last moved, and how many requests are being handled.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Requests started on this connection so far.
    requests: AtomicUsize,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }

    /// Resolves once the connection should be closed: no request in progress and no traffic for
    /// `limits.idle_timeout`, or no first request within `limits.header_timeout` of opening (hyper's
    /// own header timer only starts once the protocol is known, that is after the first bytes).
    async fn idle(&self, limits: &ConnLimits) {
        loop {
            let idle = self.idle_for();
            let quiet = self.in_flight.load(Ordering::Relaxed) == 0;
            if quiet && idle >= limits.idle_timeout {
                return;
            }
            let no_request_yet = self.requests.load(Ordering::Relaxed) == 0;
            if no_request_yet && self.start.elapsed() >= limits.header_timeout {
                return;
            }
            let mut wait = limits.idle_timeout.saturating_sub(idle);
            if no_request_yet {
                wait = wait.min(limits.header_timeout.saturating_sub(self.start.elapsed()));
            }
            tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
        }
    }
}

/// A socket that records every byte moved in its connection's [`Activity`].
struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A service that counts the requests it is handling in its connection's [`Activity`] (from the
/// request's arrival to its response headers).
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// Ends one request's count when dropped (the response is ready, or the request was abandoned).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> hyper::service::Service<http::Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        self.activity.requests.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(self.activity.clone());
        let response = self.inner.call(req);
        Box::pin(async move {
            let out = response.await;
            drop(guard);
            out
        })
    }
}

/// The HTTP/1.1 + HTTP/2 connection builder with the header limits and hyper's timer.
fn builder(limits: &ConnLimits) -> ConnBuilder<TokioExecutor> {
    let mut http = ConnBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    http.http2().timer(TokioTimer::new()).max_header_list_size(limits.max_header_bytes as u32);
    http
}

/// Accepts connections on `listener` until `shutdown` resolves, serving each with `make(peer)` under
/// `limits` (over TLS when `tls` is given); then stops accepting and gives in-flight requests `drain`
/// to finish.
pub async fn serve<S, B>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ConnLimits,
    make: impl Fn(SocketAddr) -> S,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let http = builder(&limits);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, &slots) => accepted,
            () = &mut shutdown => break,
        };
        let Some((socket, peer, slot)) = accepted else { continue };
        // Without TCP_NODELAY small responses wait for the peer's delayed ACK (tens of ms each).
        let _ = socket.set_nodelay(true);
        let activity = Activity::new();
        let svc = Tracked { inner: make(peer), activity: activity.clone() };
        let (http, watcher, tls) = (http.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let socket = Watched { io: socket, activity: activity.clone() };
            let served = match tls {
                None => {
                    let conn =
                        watcher.watch(http.serve_connection_with_upgrades(TokioIo::new(socket), svc).into_owned());
                    until_idle(conn, &activity, &limits).await
                }
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                    };
                    let conn =
                        watcher.watch(http.serve_connection_with_upgrades(TokioIo::new(stream), svc).into_owned());
                    until_idle(conn, &activity, &limits).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests did not finish within {drain:?}; closing them");
    }
}

/// Waits for a connection slot, then accepts one connection (`None` after a failed accept, which is
/// retried after a short pause).
async fn accept(
    listener: &TcpListener,
    slots: &Arc<tokio::sync::Semaphore>,
) -> Option<(tokio::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit)> {
    let slot = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((socket, peer)) => Some((socket, peer, slot)),
        Err(e) => {
            tracing::warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// Drives `conn` until it ends or [`Activity::idle`] says to close it (then drops it, which closes the
/// socket).
async fn until_idle<F, E>(conn: F, activity: &Activity, limits: &ConnLimits) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    tokio::select! {
        served = conn => served,
        () = activity.idle(limits) => Ok(()),
    }
}

/// An axum router serving one connection: every request carries the connection's peer
/// (`ConnectInfo<SocketAddr>`, which the sign-in throttle reads).
#[derive(Clone)]
pub struct WithPeer {
    router: axum::Router,
    peer: SocketAddr,
}

impl hyper::service::Service<http::Request<Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn call(&self, mut req: http::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(axum::extract::ConnectInfo(self.peer));
        Box::pin(tower::ServiceExt::oneshot(self.router.clone(), req))
    }
}

/// An axum router as a per-connection service factory for [`serve`].
pub fn axum_service(router: axum::Router) -> impl Fn(SocketAddr) -> WithPeer {
    move |peer| WithPeer { router: router.clone(), peer }
}
