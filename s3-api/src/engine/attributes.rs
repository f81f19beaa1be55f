//! The HTTP attributes, user metadata and tags stored with an object (JSON in the `attributes` column).
//! Both fronts read and write them through this one type; the S3 layer converts them to and from its
//! DTOs (`s3/attributes.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{EngineError, EngineResult};

/// The Content-Type S3 answers for an object stored without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// What a PUT (or a copy with `REPLACE`) sets besides the bytes, returned on every GET and HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAttributes {
    /// `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding`, without the `aws-chunked` transfer framing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires`, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The flexible checksum the object was written with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<super::checksum::Stored>,
    /// `x-amz-meta-*` pairs (names lower-case, without the prefix).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_metadata: BTreeMap<String, String>,
    /// Object tags (`x-amz-tagging`, PutObjectTagging).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The version's ACL grants (`None`: private to its owner). Set by the write that made it and by
    /// PutObjectAcl; never copied to another object (a copy gets the ACL its request asks for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<super::access::Acl>,
    /// The multipart upload this version was completed from: a retried CompleteMultipartUpload of it
    /// answers this version again, as AWS does. Never copied to another object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
}

impl ObjectAttributes {
    /// The stored JSON form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Parses the stored JSON form.
    pub fn decode(json: &str) -> EngineResult<Self> {
        serde_json::from_str(json).map_err(|e| EngineError::Corrupt(format!("object attributes: {e}")))
    }

    /// The Content-Type to answer: the stored one, or S3's default.
    pub fn content_type_or_default(&self) -> String {
        self.content_type.clone().unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned())
    }
}
