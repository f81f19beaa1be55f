//! Flexible checksums: CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, given as `x-amz-checksum-*` headers
//! or as aws-chunked trailers (`x-amz-trailer`). s3s decodes the framing but verifies none of these:
//! CloudVault computes the requested algorithm while the body streams and answers `BadDigest` on a
//! mismatch, before anything is committed.
//!
//! Multipart objects carry either a COMPOSITE checksum (the checksum of the parts' raw checksums,
//! suffixed `-N`) or, for the CRCs, a FULL_OBJECT checksum (the parts' CRCs combined arithmetically, so
//! completing never re-reads the data). CRC64NVME is FULL_OBJECT only, as on AWS.

pub use crate::engine::checksum::{ALL, Algorithm, Kind, Stored};
use base64::Engine as _;
use http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;
use s3s::dto::{Checksum, ChecksumAlgorithm, ChecksumType};
use s3s::{S3Result, s3_error};

impl Kind {
    /// The s3s DTO.
    pub fn dto(self) -> ChecksumType {
        ChecksumType::from_static(match self {
            Kind::FullObject => ChecksumType::FULL_OBJECT,
            Kind::Composite => ChecksumType::COMPOSITE,
        })
    }

    /// Parses `x-amz-checksum-type`.
    pub fn parse(t: &ChecksumType) -> S3Result<Self> {
        match t.as_str() {
            ChecksumType::FULL_OBJECT => Ok(Kind::FullObject),
            ChecksumType::COMPOSITE => Ok(Kind::Composite),
            other => Err(s3_error!(InvalidRequest, "Unsupported checksum type {other}")),
        }
    }
}

impl Algorithm {
    /// Parses `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`.
    pub fn from_dto(a: &ChecksumAlgorithm) -> S3Result<Self> {
        Self::parse(a.as_str())
            .ok_or_else(|| s3_error!(InvalidRequest, "Checksum algorithm {} is not supported.", a.as_str()))
    }

    /// The header (and trailer) name carrying this checksum.
    pub fn header(self) -> String {
        format!("x-amz-checksum-{}", self.name().to_ascii_lowercase())
    }

    /// A streaming hasher that computes this algorithm only.
    pub fn hasher(self) -> ChecksumHasher {
        let mut h = ChecksumHasher::default();
        match self {
            Algorithm::Crc32 => h.crc32 = Some(s3s::crypto::Crc32::new()),
            Algorithm::Crc32c => h.crc32c = Some(s3s::crypto::Crc32c::new()),
            Algorithm::Crc64Nvme => h.crc64nvme = Some(s3s::crypto::Crc64Nvme::new()),
            Algorithm::Sha1 => h.sha1 = Some(s3s::crypto::Sha1::new()),
            Algorithm::Sha256 => h.sha256 = Some(s3s::crypto::Sha256::new()),
        }
        h
    }

    /// This algorithm's value in a checksum DTO.
    pub fn value_in(self, c: &Checksum) -> Option<&String> {
        match self {
            Algorithm::Crc32 => c.checksum_crc32.as_ref(),
            Algorithm::Crc32c => c.checksum_crc32c.as_ref(),
            Algorithm::Crc64Nvme => c.checksum_crc64nvme.as_ref(),
            Algorithm::Sha1 => c.checksum_sha1.as_ref(),
            Algorithm::Sha256 => c.checksum_sha256.as_ref(),
        }
    }

    /// A checksum DTO holding `value` for this algorithm (and `kind`, when given).
    pub fn dto(self, value: String, kind: Option<Kind>) -> Checksum {
        let mut c = Checksum { checksum_type: kind.map(Kind::dto), ..Default::default() };
        match self {
            Algorithm::Crc32 => c.checksum_crc32 = Some(value),
            Algorithm::Crc32c => c.checksum_crc32c = Some(value),
            Algorithm::Crc64Nvme => c.checksum_crc64nvme = Some(value),
            Algorithm::Sha1 => c.checksum_sha1 = Some(value),
            Algorithm::Sha256 => c.checksum_sha256 = Some(value),
        }
        c
    }

    fn crc(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Algorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Algorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Algorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Algorithm::Sha1 | Algorithm::Sha256 => None,
        }
    }

    /// The digest of `data` in one shot (raw bytes).
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Crc32 => s3s::crypto::Crc32::checksum(data).to_vec(),
            Algorithm::Crc32c => s3s::crypto::Crc32c::checksum(data).to_vec(),
            Algorithm::Crc64Nvme => s3s::crypto::Crc64Nvme::checksum(data).to_vec(),
            Algorithm::Sha1 => s3s::crypto::Sha1::checksum(data).as_ref().to_vec(),
            Algorithm::Sha256 => s3s::crypto::Sha256::checksum(data).as_ref().to_vec(),
        }
    }
}

/// Copies the checksum fields of a `Checksum` DTO into an output DTO that has the same field names
/// (PutObjectOutput, GetObjectOutput, HeadObjectOutput, UploadPartOutput, CompleteMultipartUploadOutput).
macro_rules! set_checksum_fields {
    ($output:expr, $checksum:expr) => {{
        let c: s3s::dto::Checksum = $checksum;
        $output.checksum_crc32 = c.checksum_crc32;
        $output.checksum_crc32c = c.checksum_crc32c;
        $output.checksum_crc64nvme = c.checksum_crc64nvme;
        $output.checksum_sha1 = c.checksum_sha1;
        $output.checksum_sha256 = c.checksum_sha256;
    }};
}
pub(crate) use set_checksum_fields;

/// The `x-amz-checksum-*` values of a write input (PutObject, UploadPart), moved into a `Checksum` DTO.
macro_rules! given_checksums {
    ($input:expr) => {
        s3s::dto::Checksum {
            checksum_crc32: $input.checksum_crc32,
            checksum_crc32c: $input.checksum_crc32c,
            checksum_crc64nvme: $input.checksum_crc64nvme,
            checksum_sha1: $input.checksum_sha1,
            checksum_sha256: $input.checksum_sha256,
            checksum_sha512: $input.checksum_sha512,
            checksum_md5: $input.checksum_md5,
            checksum_xxhash64: $input.checksum_xxhash64,
            checksum_xxhash3: $input.checksum_xxhash3,
            checksum_xxhash128: $input.checksum_xxhash128,
            ..Default::default()
        }
    };
}
pub(crate) use given_checksums;

fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn unb64(value: &str) -> S3Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| s3_error!(InvalidRequest, "Checksum value {value:?} is not valid base64."))
}

impl Stored {
    /// The DTO returned on PUT, and on GET/HEAD with checksum mode enabled.
    pub fn dto(&self) -> Checksum {
        self.algorithm.dto(self.value.clone(), Some(self.kind))
    }
}

/// What a write request asks CloudVault to compute and, when it gave a value, to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The algorithm to compute.
    pub algorithm: Algorithm,
    /// The value from an `x-amz-checksum-*` header, if any.
    pub header_value: Option<String>,
    /// Whether the value arrives as an aws-chunked trailer.
    pub in_trailer: bool,
}

/// Works out the expectation of a write from its headers: the `x-amz-checksum-*` values s3s parsed into
/// `given`, the `x-amz-trailer` header, and `x-amz-sdk-checksum-algorithm`. More than one checksum is
/// refused, as AWS does. `fallback` is computed when the request names none (a multipart upload's
/// algorithm for its parts).
pub fn expectation(
    headers: &HeaderMap,
    given: &Checksum,
    sdk_algorithm: Option<&ChecksumAlgorithm>,
    fallback: Option<Algorithm>,
) -> S3Result<Option<Expectation>> {
    if given.checksum_sha512.is_some()
        || given.checksum_md5.is_some()
        || given.checksum_xxhash64.is_some()
        || given.checksum_xxhash3.is_some()
        || given.checksum_xxhash128.is_some()
    {
        return Err(s3_error!(
            InvalidRequest,
            "Only CRC32, CRC32C, CRC64NVME, SHA1 and SHA256 checksums are supported."
        ));
    }
    let from_headers: Vec<(Algorithm, String)> =
        ALL.into_iter().filter_map(|a| a.value_in(given).map(|v| (a, v.clone()))).collect();
    let trailer = match headers.get("x-amz-trailer") {
        Some(v) => {
            let name = v.to_str().unwrap_or_default().trim().to_ascii_lowercase();
            let alg = ALL.into_iter().find(|a| a.header() == name).ok_or_else(|| {
                s3_error!(InvalidRequest, "The value specified in the x-amz-trailer header is not supported")
            })?;
            Some(alg)
        }
        None => None,
    };
    match (from_headers.as_slice(), trailer) {
        ([], None) => {}
        ([(algorithm, value)], None) => {
            return Ok(Some(Expectation {
                algorithm: *algorithm,
                header_value: Some(value.clone()),
                in_trailer: false,
            }));
        }
        ([], Some(algorithm)) => return Ok(Some(Expectation { algorithm, header_value: None, in_trailer: true })),
        _ => return Err(s3_error!(InvalidRequest, "Expecting a single x-amz-checksum- header")),
    }
    let named = sdk_algorithm.map(Algorithm::from_dto).transpose()?;
    Ok(named.or(fallback).map(|algorithm| Expectation { algorithm, header_value: None, in_trailer: false }))
}

/// Compares what was computed while streaming with what the client sent (header or trailer, read now
/// that the body is consumed): `BadDigest` on a mismatch. Returns the verified (or merely computed)
/// value.
pub fn verify(expected: &Expectation, computed: &Checksum, trailers: Option<&HeaderMap>) -> S3Result<String> {
    let actual = expected
        .algorithm
        .value_in(computed)
        .cloned()
        .ok_or_else(|| s3_error!(InternalError, "checksum was not computed"))?;
    let claimed = match (&expected.header_value, expected.in_trailer) {
        (Some(v), _) => Some(v.clone()),
        (None, true) => {
            let value = trailers
                .and_then(|t| t.get(expected.algorithm.header()))
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned());
            Some(value.ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "The {} trailer announced in x-amz-trailer was not sent.",
                    expected.algorithm.header()
                )
            })?)
        }
        (None, false) => None,
    };
    if let Some(claimed) = claimed
        && claimed != actual
    {
        return Err(s3_error!(
            BadDigest,
            "The {} you specified did not match the calculated checksum.",
            expected.algorithm.name()
        ));
    }
    Ok(actual)
}

/// One part's contribution to a multipart checksum.
#[derive(Debug, Clone)]
pub struct PartChecksum {
    /// Base64 checksum of the part.
    pub value: String,
    /// The part's length in bytes.
    pub size: u64,
}

/// Combines the parts' checksums into the object's: COMPOSITE = checksum of the concatenated raw part
/// checksums plus `-N`; FULL_OBJECT = the CRCs combined as if computed over the whole object.
pub fn combine(algorithm: Algorithm, kind: Kind, parts: &[PartChecksum]) -> S3Result<String> {
    match kind {
        Kind::Composite => {
            let mut raw = Vec::with_capacity(parts.len() * 32);
            for p in parts {
                raw.extend(unb64(&p.value)?);
            }
            Ok(format!("{}-{}", b64(&algorithm.digest(&raw)), parts.len()))
        }
        Kind::FullObject => {
            let crc = algorithm
                .crc()
                .ok_or_else(|| s3_error!(InvalidRequest, "FULL_OBJECT checksums exist only for CRC algorithms."))?;
            let width = if algorithm == Algorithm::Crc64Nvme { 8 } else { 4 };
            let mut total: Option<u64> = None;
            for p in parts {
                let raw = unb64(&p.value)?;
                if raw.len() != width {
                    return Err(s3_error!(InvalidRequest, "A part checksum has the wrong length."));
                }
                let value = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                total = Some(match total {
                    None => value,
                    Some(acc) => crc_fast::checksum_combine(crc, acc, value, p.size),
                });
            }
            let total = total.unwrap_or(0);
            Ok(b64(&total.to_be_bytes()[8 - width..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn computed(algorithm: Algorithm, data: &[u8]) -> String {
        let mut h = algorithm.hasher();
        h.update(data);
        algorithm.value_in(&h.finalize()).cloned().expect("value")
    }

    #[test]
    fn full_object_crc_of_parts_equals_crc_of_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (a, b) = data.split_at(37_000);
        for alg in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            let parts = [
                PartChecksum { value: computed(alg, a), size: a.len() as u64 },
                PartChecksum { value: computed(alg, b), size: b.len() as u64 },
            ];
            assert_eq!(combine(alg, Kind::FullObject, &parts).expect("combine"), computed(alg, &data), "{alg:?}");
        }
        assert!(combine(Algorithm::Sha256, Kind::FullObject, &[]).is_err());
    }

    #[test]
    fn composite_is_checksum_of_raw_part_checksums() {
        let parts = [PartChecksum { value: computed(Algorithm::Sha256, b"one"), size: 3 }];
        let raw = unb64(&parts[0].value).expect("b64");
        let want = format!("{}-1", b64(&Algorithm::Sha256.digest(&raw)));
        assert_eq!(combine(Algorithm::Sha256, Kind::Composite, &parts).expect("combine"), want);
    }

    #[test]
    fn known_crc32_value_and_mismatch_is_bad_digest() {
        // CRC32 of "hello" is 0x3610a686.
        assert_eq!(computed(Algorithm::Crc32, b"hello"), b64(&[0x36, 0x10, 0xa6, 0x86]));
        let exp = Expectation { algorithm: Algorithm::Crc32, header_value: Some("AAAAAA==".into()), in_trailer: false };
        let mut h = Algorithm::Crc32.hasher();
        h.update(b"hello");
        let err = verify(&exp, &h.finalize(), None).expect_err("mismatch");
        assert_eq!(*err.code(), s3s::S3ErrorCode::BadDigest);
    }

    #[test]
    fn trailer_and_header_expectations() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-trailer", "x-amz-checksum-crc64nvme".parse().expect("header"));
        let exp = expectation(&headers, &Checksum::default(), None, None).expect("ok").expect("some");
        assert_eq!((exp.algorithm, exp.in_trailer), (Algorithm::Crc64Nvme, true));
        let given = Algorithm::Sha1.dto("x".into(), None);
        assert!(expectation(&headers, &given, None, None).is_err(), "two checksums are refused");
        let none = expectation(&HeaderMap::new(), &Checksum::default(), None, Some(Algorithm::Crc32c)).expect("ok");
        assert_eq!(none.map(|e| e.algorithm), Some(Algorithm::Crc32c));
    }
}
