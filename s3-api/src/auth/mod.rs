//! Authentication and authorization, shared by both fronts (the S3 endpoint and the console API):
//!
//! - [`keys`]: the key store (access keys resolved to users, cached), the [`Principal`] behind a
//!   request, and minting keys;
//! - [`accounts`]: user and access-key management and sign-in bookkeeping, for the console API and the
//!   admin commands;
//! - [`authorizer`]: the one decision of whether a caller may perform an action on a bucket or object,
//!   with access-key scopes;
//! - [`passwords`]: the bounded pool that hashes and checks passwords;
//! - [`iam`]: the IAM policy language of bucket policies, with AWS's evaluation logic;
//! - [`policy_cache`]: bucket policies parsed once per text, not once per request;
//! - [`context`]: the condition keys of a request that policies read;
//! - [`origin`]: where a request came from (client address and TLS, behind trusted proxies);
//! - [`secrets`]: the master key, sealed secrets and password hashes.
//!
//! The principal is resolved once per request (by the S3 access hook from the signed key, by the console
//! API from its session token) and carried in the request's extensions.

pub mod accounts;
pub mod authorizer;
pub mod context;
pub mod iam;
pub mod keys;
pub mod origin;
pub mod passwords;
pub mod policy_cache;
pub mod secrets;

pub use authorizer::{Authorizer, KeyAccess, KeyScope, action_of, is_read_action};
pub use keys::{KEY_CACHE_TTL, KeyStore, Principal, mint_access_key};
