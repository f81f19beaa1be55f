//! Multipart uploads: create, look up, list parts, assemble and complete, abort. Parts are written with
//! [`Engine::commit_part`]; completing copies no data: the object's manifest is the ordered list of its
//! part blobs (the protocol's "Complete" step, see [`super::protocol`]).

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use cloudvault_metadata::{BlobRef, BucketId, LockMode, Manifest, ObjectRecord, Part, Retention, Upload, UserId};

use super::attributes::ObjectAttributes;
use super::checksum::{Algorithm, Kind};
use super::{Engine, EngineError, EngineResult, now_ms};
use crate::limits::{MAX_PART_NUMBER, MIN_PART_SIZE};

/// What an upload fixes at creation: the object's attributes and its checksum algorithm and type.
/// Stored as JSON in the upload row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UploadState {
    /// The attributes the completed object gets (its checksum is set at completion).
    pub attributes: ObjectAttributes,
    /// The checksum every part must carry, and how the object's is combined from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(Algorithm, Kind)>,
    /// The object lock settings the creation asked for (applied when the upload completes).
    #[serde(default)]
    pub lock: LockRequest,
}

/// Object lock settings in the stored form of an upload's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LockRequest {
    /// `GOVERNANCE` or `COMPLIANCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Retain-until, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// Legal hold on.
    #[serde(default)]
    pub legal_hold: bool,
}

impl From<Retention> for LockRequest {
    fn from(r: Retention) -> Self {
        LockRequest { mode: r.mode.map(|m| m.as_str().to_owned()), until_ms: r.until_ms, legal_hold: r.legal_hold }
    }
}

impl LockRequest {
    /// The retention to store.
    pub fn retention(&self) -> EngineResult<Retention> {
        let mode = match self.mode.as_deref() {
            None => None,
            Some(m) => Some(LockMode::parse(m).ok_or_else(|| EngineError::Corrupt(format!("lock mode {m:?}")))?),
        };
        Ok(Retention { mode, until_ms: self.until_ms, legal_hold: self.legal_hold })
    }
}

impl UploadState {
    /// The state stored in `upload`.
    pub fn of(upload: &Upload) -> EngineResult<Self> {
        serde_json::from_str(&upload.attributes).map_err(|e| EngineError::Corrupt(format!("upload state: {e}")))
    }
}

/// A part a completion names: its number and, optionally, the ETag the client got for it.
#[derive(Debug, Clone)]
pub struct RequestedPart {
    /// The part number.
    pub number: i32,
    /// The ETag (quotes allowed); `None` accepts whatever part is stored under the number.
    pub etag: Option<String>,
}

/// The object a completion would make: the stored parts in order, and its ETag.
#[derive(Debug)]
pub struct Assembly {
    /// The stored parts, in the requested order.
    pub parts: Vec<Part>,
    /// The ETag: the MD5 of the parts' binary MD5s, suffixed with `-<count>`.
    pub etag: String,
}

impl Assembly {
    /// The object record of `upload` assembled from these parts, with `attributes` and `retention`.
    pub fn record(&self, upload: &Upload, attributes: &ObjectAttributes, retention: Retention) -> ObjectRecord {
        let manifest = Manifest(self.parts.iter().map(|p| p.blob.clone()).collect::<Vec<BlobRef>>());
        ObjectRecord {
            key: upload.key.clone(),
            version_id: String::new(),
            size: manifest.total_size(),
            etag: self.etag.clone(),
            last_modified: now_ms(),
            owner_id: upload.owner_id,
            attributes: attributes.encode(),
            parts_count: Some(manifest.0.len() as i64),
            retention,
            manifest,
        }
    }
}

impl Engine {
    /// Starts an upload of `key` in `bucket_id` by `owner_id`; returns its id.
    pub async fn create_upload(
        &self,
        bucket_id: BucketId,
        key: &[u8],
        owner_id: UserId,
        state: &UploadState,
    ) -> EngineResult<String> {
        let upload = Upload {
            upload_id: uuid::Uuid::new_v4().simple().to_string(),
            bucket_id,
            key: key.to_vec(),
            initiated_at: now_ms(),
            owner_id,
            attributes: serde_json::to_string(state).map_err(|e| EngineError::Corrupt(e.to_string()))?,
        };
        self.meta.create_upload(&upload).await?;
        Ok(upload.upload_id)
    }

    /// The upload `upload_id` of `key` in `bucket_id` (`NoSuchUpload` for any other).
    pub async fn upload(&self, bucket_id: BucketId, key: &[u8], upload_id: &str) -> EngineResult<Upload> {
        match self.meta.upload(upload_id).await? {
            Some(u) if u.bucket_id == bucket_id && u.key == key => Ok(u),
            _ => Err(EngineError::rejected("NoSuchUpload", "The specified upload does not exist.")),
        }
    }

    /// Up to `limit` stored parts of an upload with numbers above `after`, ascending.
    pub async fn list_parts(&self, upload_id: &str, after: i64, limit: u32) -> EngineResult<Vec<Part>> {
        Ok(self.meta.list_parts(upload_id, after, limit).await?)
    }

    /// Abandons an upload; its parts' blobs go to the janitor's queue.
    pub async fn abort_upload(&self, upload_id: &str) -> EngineResult<()> {
        Ok(self.meta.abort_upload(upload_id, now_ms()).await?)
    }

    /// Checks a completion's part list against the stored parts: ascending numbers
    /// (`InvalidPartOrder`), each stored with the given ETag (`InvalidPart`; `NoSuchUpload` when a
    /// concurrent Complete or Abort just retired the upload), all but the last at least 5 MiB
    /// (`EntityTooSmall`). Nothing is changed; [`Engine::complete_upload`] commits the result.
    pub async fn assemble(&self, upload: &Upload, requested: &[RequestedPart]) -> EngineResult<Assembly> {
        if requested.is_empty() {
            return Err(EngineError::rejected("MalformedXML", "You must specify at least one part."));
        }
        let stored = self.meta.list_parts(&upload.upload_id, 0, MAX_PART_NUMBER as u32).await?;
        let mut parts = Vec::with_capacity(requested.len());
        let mut previous = 0;
        for want in requested {
            if want.number <= previous {
                return Err(EngineError::rejected("InvalidPartOrder", "The list of parts was not in ascending order."));
            }
            previous = want.number;
            let etag = want.etag.as_deref().map(|e| e.trim_matches('"'));
            match stored.iter().find(|p| p.part_number == i64::from(want.number)) {
                Some(p) if etag.is_none_or(|e| e == p.blob.md5_hex) => parts.push(p.clone()),
                _ => {
                    self.upload(upload.bucket_id, &upload.key, &upload.upload_id).await?;
                    return Err(EngineError::rejected(
                        "InvalidPart",
                        "One or more of the specified parts could not be found, or its entity tag did not match.",
                    ));
                }
            }
        }
        if parts[..parts.len() - 1].iter().any(|p| p.blob.size < MIN_PART_SIZE) {
            return Err(EngineError::rejected(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            ));
        }
        let mut md5s = Md5::new();
        for p in &parts {
            let raw = hex::decode(&p.blob.md5_hex).map_err(|_| EngineError::Corrupt("part ETag".into()))?;
            md5s.update(&raw);
        }
        let etag = format!("{}-{}", hex::encode(md5s.finalize()), parts.len());
        Ok(Assembly { parts, etag })
    }
}
