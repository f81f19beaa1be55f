//! Test-only crate: see `tests/aws_sdk.rs`.
