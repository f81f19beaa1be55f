//! One file per group of S3 operations.

pub mod acl;
pub mod bucket;
pub mod config;
pub mod copy;
pub mod cors;
pub mod delete;
pub mod lifecycle;
pub mod list;
pub mod lock;
pub mod multipart;
pub mod object_attributes;
pub mod policy;
pub mod put;
pub mod read;
pub mod tagging;
pub mod versioning;

use s3s::dto::Owner;

use cloudvault_metadata::UserId;

pub use crate::auth::context::canonical_id;

/// The `Owner` element for a user.
pub fn owner(user_id: UserId, name: String) -> Owner {
    Owner { id: Some(canonical_id(user_id)), display_name: Some(name) }
}
