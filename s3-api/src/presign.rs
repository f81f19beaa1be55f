//! Presigned URLs: SigV4 query-string authentication minted with `aws-sigv4` on the public S3 address
//! (`CLOUDVAULT_PUBLIC_S3_URL`), for the console's share links, downloads, previews and browser uploads.
//!
//! A presigned URL is an ordinary S3 request signed with one of the user's access keys (their console
//! key, held by the server): the S3 endpoint verifies it and authorizes it as that user, like any other
//! request. Its signature covers the method, path, query and host, so a changed key, expiry or
//! parameter is refused.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest a SigV4 presigned URL may live (7 days), as AWS enforces.
pub const MAX_EXPIRY: Duration = Duration::from_secs(604_800);

/// Everything but RFC 3986 unreserved characters is escaped in query values.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Object keys in paths: the same, but `/` stays (S3 does not normalize or double-encode paths).
const PATH: &AsciiSet = &QUERY.remove(b'/');

/// Why a URL could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    /// The expiry is zero or longer than 7 days.
    #[error("presigned URLs expire after 1 second to 7 days")]
    InvalidExpiry,
    /// The signer refused the request (a malformed public URL).
    #[error("cannot sign the request: {0}")]
    Signing(String),
}

/// Mints presigned URLs for one public S3 address and region.
#[derive(Debug, Clone)]
pub struct Presigner {
    base: String,
    region: String,
}

/// One request to presign.
#[derive(Debug, Clone)]
pub struct Presign<'a> {
    /// `GET` or `PUT`.
    pub method: &'a str,
    /// The bucket.
    pub bucket: &'a str,
    /// The object key (any bytes S3 allows; encoded here).
    pub key: &'a str,
    /// Extra query parameters covered by the signature (`partNumber`, `response-content-disposition`, ...).
    pub query: Vec<(&'a str, String)>,
    /// How long the URL is valid.
    pub expires_in: Duration,
}

impl Presigner {
    /// A presigner for URLs on `public_s3_url` (scheme, host and port; no trailing slash) in `region`.
    pub fn new(public_s3_url: &str, region: &str) -> Self {
        Presigner { base: public_s3_url.trim_end_matches('/').to_owned(), region: region.to_owned() }
    }

    /// The public S3 address URLs are minted on.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// A URL for `request`, signed with the access key `access_key_id` / `secret`.
    pub fn url(&self, access_key_id: &str, secret: &str, request: &Presign<'_>) -> Result<String, PresignError> {
        if request.expires_in.is_zero() || request.expires_in > MAX_EXPIRY {
            return Err(PresignError::InvalidExpiry);
        }
        let mut url = format!(
            "{}/{}/{}",
            self.base,
            utf8_percent_encode(request.bucket, PATH),
            utf8_percent_encode(request.key, PATH)
        );
        let query: Vec<String> = request
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, QUERY), utf8_percent_encode(v, QUERY)))
            .collect();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let identity = Credentials::new(access_key_id, secret, None, None, "cloudvault-console").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(request.expires_in);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| PresignError::Signing(e.to_string()))?
            .into();
        let signable =
            SignableRequest::new(request.method, url.clone(), std::iter::empty(), SignableBody::UnsignedPayload)
                .map_err(|e| PresignError::Signing(e.to_string()))?;
        let (instructions, _signature) =
            sign(signable, &params).map_err(|e| PresignError::Signing(e.to_string()))?.into_parts();
        let auth: Vec<String> = instructions
            .params()
            .iter()
            .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, QUERY), utf8_percent_encode(v, QUERY)))
            .collect();
        url.push(if query.is_empty() { '?' } else { '&' });
        url.push_str(&auth.join("&"));
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(expires_in: Duration) -> Presign<'static> {
        Presign { method: "GET", bucket: "b", key: "dir/a b#?%é", query: Vec::new(), expires_in }
    }

    #[test]
    fn urls_carry_the_sigv4_query_and_the_encoded_key() {
        let p = Presigner::new("http://127.0.0.1:9000/", "us-east-1");
        let url = p.url("AKID", "secret", &sample(Duration::from_secs(60))).expect("url");
        assert!(url.starts_with("http://127.0.0.1:9000/b/dir/a%20b%23%3F%25%C3%A9?"), "{url}");
        for part in ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Expires=60", "X-Amz-SignedHeaders=host"] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        assert!(url.contains("X-Amz-Credential=AKID%2F"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
    }

    #[test]
    fn expiry_is_one_second_to_seven_days() {
        let p = Presigner::new("http://s3", "us-east-1");
        assert!(matches!(p.url("A", "S", &sample(Duration::ZERO)), Err(PresignError::InvalidExpiry)));
        assert!(matches!(
            p.url("A", "S", &sample(MAX_EXPIRY + Duration::from_secs(1))),
            Err(PresignError::InvalidExpiry)
        ));
        assert!(p.url("A", "S", &sample(MAX_EXPIRY)).is_ok());
    }
}
