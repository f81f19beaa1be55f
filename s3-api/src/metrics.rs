//! Prometheus metrics (`/metrics` on the API address): S3 requests by operation and status, latency
//! histograms by operation, bytes in and out, requests in flight, and the database pool.
//!
//! The operation name is only known inside s3s; the request-id layer puts an [`OperationSlot`] into the
//! request's extensions and the access check fills it in. Requests that fail before that (bad
//! signatures, unknown keys) are counted as operation `unknown`. Bytes are counted from the
//! `Content-Length` of requests and responses (chunked bodies without one are not counted).

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use cloudvault_metadata::MetaStore;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The S3 operation (`PutObject`, ...), or `unknown`.
    pub operation: String,
    /// The HTTP status code.
    pub status: String,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The S3 operation.
    pub operation: String,
}

/// Where the access check records the S3 operation of a request, for the metrics.
#[derive(Clone, Debug, Default)]
pub struct OperationSlot(pub Arc<Mutex<Option<String>>>);

impl OperationSlot {
    /// Records the operation name.
    pub fn set(&self, name: &str) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(name.to_owned());
        }
    }

    /// The recorded operation, or `unknown`.
    pub fn name(&self) -> String {
        self.0.lock().ok().and_then(|s| s.clone()).unwrap_or_else(|| "unknown".to_owned())
    }
}

/// Every metric CloudVault exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<OperationLabels, Histogram>,
    bytes_received: Counter,
    bytes_sent: Counter,
    in_flight: Gauge,
    pool_connections: Gauge,
    pool_idle: Gauge,
    meta: MetaStore,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    /// Registers every metric.
    pub fn new(meta: MetaStore) -> Arc<Self> {
        let mut registry = Registry::with_prefix("cloudvault");
        let requests = Family::<RequestLabels, Counter>::default();
        let duration =
            Family::<OperationLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let (bytes_received, bytes_sent, in_flight) = (Counter::default(), Counter::default(), Gauge::default());
        let (pool_connections, pool_idle) = (Gauge::default(), Gauge::default());
        registry.register("s3_requests", "S3 requests by operation and status", requests.clone());
        registry.register("s3_request_duration_seconds", "S3 request latency by operation", duration.clone());
        registry.register("s3_bytes_received", "Request body bytes received", bytes_received.clone());
        registry.register("s3_bytes_sent", "Response body bytes sent (Content-Length)", bytes_sent.clone());
        registry.register("s3_requests_in_flight", "S3 requests being served", in_flight.clone());
        registry.register("db_pool_connections", "Open metadata database connections", pool_connections.clone());
        registry.register("db_pool_idle_connections", "Idle metadata database connections", pool_idle.clone());
        Arc::new(Metrics {
            registry,
            requests,
            duration,
            bytes_received,
            bytes_sent,
            in_flight,
            pool_connections,
            pool_idle,
            meta,
        })
    }

    /// Marks a request as started; the guard records it when dropped (also when the client goes away).
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.inc();
        InFlight { metrics: self.clone(), started: std::time::Instant::now(), outcome: None }
    }

    /// A request body that adds every byte it actually delivers to `s3_bytes_received` (not what the
    /// client claimed in Content-Length).
    pub fn counted<B>(&self, body: B) -> Counted<B> {
        Counted { inner: body, received: self.bytes_received.clone() }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let (size, idle) = self.meta.pool_stats();
        self.pool_connections.set(i64::from(size));
        self.pool_idle.set(idle as i64);
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A request body counted into the received-bytes metric (see [`Metrics::counted`]).
#[derive(Debug)]
pub struct Counted<B> {
    inner: B,
    received: Counter,
}

impl<B: hyper::body::Body<Data = bytes::Bytes> + Unpin> hyper::body::Body for Counted<B> {
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.received.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A request being served (see [`Metrics::start`]).
#[derive(Debug)]
pub struct InFlight {
    metrics: Arc<Metrics>,
    started: std::time::Instant,
    outcome: Option<(String, u16, u64)>,
}

impl InFlight {
    /// Records how the request ended: its operation, status and response body length.
    pub fn finish(mut self, operation: String, status: u16, bytes_out: u64) {
        self.outcome = Some((operation, status, bytes_out));
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        let (operation, status, bytes_out) = self.outcome.take().unwrap_or_else(|| ("unknown".to_owned(), 499, 0));
        self.metrics.bytes_sent.inc_by(bytes_out);
        self.metrics
            .requests
            .get_or_create(&RequestLabels { operation: operation.clone(), status: status.to_string() })
            .inc();
        self.metrics
            .duration
            .get_or_create(&OperationLabels { operation })
            .observe(self.started.elapsed().as_secs_f64());
    }
}
