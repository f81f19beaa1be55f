//! Conditional requests (RFC 9110 §13 as S3 applies them): `If-Match`, `If-None-Match`,
//! `If-Modified-Since`, `If-Unmodified-Since` on GET/HEAD, and the `x-amz-copy-source-if-*` family.

use http::HeaderValue;
use s3s::dto::{ETagCondition, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result};

use super::attributes::etag;

/// The validators of the current object.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// Unquoted ETag.
    pub etag: &'a str,
    /// Last-Modified in ms since the epoch.
    pub last_modified_ms: i64,
}

/// The conditions a request carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// `If-Match`.
    pub if_match: Option<&'a ETagCondition>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a ETagCondition>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a Timestamp>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// What the conditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Serve the request.
    Proceed,
    /// 412 Precondition Failed.
    PreconditionFailed,
    /// 304 Not Modified (GET/HEAD only; copies turn it into 412).
    NotModified,
}

fn matches(cond: &ETagCondition, current: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == current,
    }
}

/// Seconds since the epoch: HTTP dates have one-second resolution, so comparisons drop the milliseconds.
fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

fn ts_seconds(ts: &Timestamp) -> i64 {
    time::OffsetDateTime::from(ts.clone()).unix_timestamp()
}

impl Conditions<'_> {
    /// Evaluates the conditions in RFC 9110 order: If-Match (else If-Unmodified-Since), then
    /// If-None-Match (else If-Modified-Since).
    pub fn evaluate(&self, current: Validators<'_>) -> Outcome {
        let modified = seconds(current.last_modified_ms);
        if let Some(cond) = self.if_match {
            if !matches(cond, current.etag) {
                return Outcome::PreconditionFailed;
            }
        } else if let Some(since) = self.if_unmodified_since
            && modified > ts_seconds(since)
        {
            return Outcome::PreconditionFailed;
        }
        if let Some(cond) = self.if_none_match {
            if matches(cond, current.etag) {
                return Outcome::NotModified;
            }
        } else if let Some(since) = self.if_modified_since
            && modified <= ts_seconds(since)
        {
            return Outcome::NotModified;
        }
        Outcome::Proceed
    }

    /// Evaluates for GET/HEAD: 412 `PreconditionFailed` or 304 `NotModified` (with the ETag and
    /// Last-Modified headers AWS sends on a 304).
    pub fn check_read(&self, current: Validators<'_>) -> S3Result<()> {
        match self.evaluate(current) {
            Outcome::Proceed => Ok(()),
            Outcome::PreconditionFailed => Err(S3Error::new(S3ErrorCode::PreconditionFailed)),
            Outcome::NotModified => {
                let mut err = S3Error::new(S3ErrorCode::NotModified);
                let mut headers = http::HeaderMap::new();
                if let Ok(v) = etag(current.etag).to_http_header() {
                    headers.insert(http::header::ETAG, v);
                }
                let mut date = Vec::new();
                let lm = super::attributes::timestamp(current.last_modified_ms);
                if lm.format(s3s::dto::TimestampFormat::HttpDate, &mut date).is_ok()
                    && let Ok(v) = HeaderValue::from_bytes(&date)
                {
                    headers.insert(http::header::LAST_MODIFIED, v);
                }
                err.set_headers(headers);
                Err(err)
            }
        }
    }

    /// Evaluates the `x-amz-copy-source-if-*` conditions: any failure is 412 `PreconditionFailed`.
    pub fn check_copy_source(&self, current: Validators<'_>) -> S3Result<()> {
        match self.evaluate(current) {
            Outcome::Proceed => Ok(()),
            Outcome::PreconditionFailed | Outcome::NotModified => Err(S3Error::new(S3ErrorCode::PreconditionFailed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::ETag;

    const NOW_MS: i64 = 1_700_000_000_500;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from(time::OffsetDateTime::from_unix_timestamp(secs).expect("time"))
    }

    fn v() -> Validators<'static> {
        Validators { etag: "abc", last_modified_ms: NOW_MS }
    }

    #[test]
    fn rfc9110_order_and_s3_outcomes() {
        let same = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("zzz".into()));
        let past = at(1_600_000_000);
        let future = at(1_800_000_000);
        let exact = at(1_700_000_000);
        let c =
            |m, n, ms, us| Conditions { if_match: m, if_none_match: n, if_modified_since: ms, if_unmodified_since: us };
        assert_eq!(c(None, None, None, None).evaluate(v()), Outcome::Proceed);
        assert_eq!(c(Some(&same), None, None, None).evaluate(v()), Outcome::Proceed);
        assert_eq!(c(Some(&other), None, None, None).evaluate(v()), Outcome::PreconditionFailed);
        assert_eq!(c(Some(&ETagCondition::Any), None, None, None).evaluate(v()), Outcome::Proceed);
        assert_eq!(c(None, Some(&same), None, None).evaluate(v()), Outcome::NotModified);
        assert_eq!(c(None, Some(&other), None, None).evaluate(v()), Outcome::Proceed);
        assert_eq!(c(None, None, Some(&future), None).evaluate(v()), Outcome::NotModified);
        assert_eq!(c(None, None, Some(&exact), None).evaluate(v()), Outcome::NotModified, "second resolution");
        assert_eq!(c(None, None, Some(&past), None).evaluate(v()), Outcome::Proceed);
        assert_eq!(c(None, None, None, Some(&past)).evaluate(v()), Outcome::PreconditionFailed);
        assert_eq!(c(None, None, None, Some(&exact)).evaluate(v()), Outcome::Proceed);
        // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since (AWS documents both).
        assert_eq!(c(Some(&same), None, None, Some(&past)).evaluate(v()), Outcome::Proceed);
        assert_eq!(c(None, Some(&other), Some(&future), None).evaluate(v()), Outcome::Proceed);
    }
}
