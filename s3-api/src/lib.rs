//! The CloudVault backend. The request path reads off the modules:
//!
//! `server` (TCP, HTTP, request ids) → `s3` (the s3s service: `auth` resolves access keys, `access` asks the
//! one authorizer (`auth::authorizer`: policy, ownership, ACLs) about every request, `vault` dispatches each S3 operation to a file in `s3/ops/`) → `engine` (the storage
//! engine: blobs on the data volume, committed by one metadata transaction) → `cloudvault_metadata` (SQL).

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod console;
pub mod engine;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod presign;
pub mod s3;
pub mod server;
pub mod telemetry;
pub mod tls;
