//! The checksums stored with objects and parts: which algorithm, which multipart type, and the value.
//! Computing and verifying them is the protocol layer's (`s3/checksums.rs`); the engine only stores
//! them and hands them back.

use serde::{Deserialize, Serialize};

/// A supported checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// CRC-32 (ISO-HDLC), `x-amz-checksum-crc32`.
    Crc32,
    /// CRC-32C (Castagnoli), `x-amz-checksum-crc32c`.
    Crc32c,
    /// CRC-64/NVME, `x-amz-checksum-crc64nvme`.
    Crc64Nvme,
    /// SHA-1, `x-amz-checksum-sha1`.
    Sha1,
    /// SHA-256, `x-amz-checksum-sha256`.
    Sha256,
}

/// How a multipart object's checksum relates to its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// The checksum of the whole object's bytes.
    FullObject,
    /// The checksum of the parts' checksums, with a `-N` suffix.
    Composite,
}

/// Every supported algorithm.
pub const ALL: [Algorithm; 5] =
    [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme, Algorithm::Sha1, Algorithm::Sha256];

impl Algorithm {
    /// The AWS name (`CRC32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// Parses an AWS algorithm name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Whether the checksum is a CRC (which can be combined into a FULL_OBJECT checksum).
    pub fn is_crc(self) -> bool {
        matches!(self, Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme)
    }

    /// The type a multipart upload gets when the client names none: FULL_OBJECT for CRC64NVME (its only
    /// type), COMPOSITE otherwise.
    pub fn default_kind(self) -> Kind {
        if self == Algorithm::Crc64Nvme { Kind::FullObject } else { Kind::Composite }
    }
}

/// A checksum stored with an object or a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Base64 value (with `-N` for COMPOSITE multipart checksums).
    pub value: String,
    /// FULL_OBJECT or COMPOSITE.
    pub kind: Kind,
}

impl Stored {
    /// The compact form kept in a part row: `ALGORITHM:value`.
    pub fn encode_part(&self) -> String {
        format!("{}:{}", self.algorithm.name(), self.value)
    }

    /// Parses [`Stored::encode_part`].
    pub fn decode_part(text: &str) -> Option<Self> {
        let (name, value) = text.split_once(':')?;
        Some(Stored { algorithm: Algorithm::parse(name)?, value: value.to_owned(), kind: Kind::FullObject })
    }
}
