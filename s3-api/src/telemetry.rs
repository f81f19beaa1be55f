//! Logging: `tracing` to stderr, human-readable or JSON, filtered by `RUST_LOG` (default
//! [`DEFAULT_FILTER`]: s3s logs every client error at ERROR level, and rustls warns about every client
//! that sends an IP address as SNI, as pgbackrest does; CloudVault logs each request with its status
//! and its own failures instead).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The log filter without `RUST_LOG`.
pub const DEFAULT_FILTER: &str = "info,s3s=off,rustls=error";

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
