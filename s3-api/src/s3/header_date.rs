//! SigV4 requests dated by the `Date` header instead of `X-Amz-Date`.
//!
//! AWS takes a SigV4 request's timestamp from `X-Amz-Date` or, when that is absent, from `Date`
//! (ISO 8601 basic, or the HTTP date format, which older clients send). s3s reads only
//! `X-Amz-Date`, so [`date_as_amz_date`] copies a `Date` into it before s3s sees the request.
//!
//! Security: the timestamp is part of SigV4's string to sign whether or not the header is among the
//! signed headers, so a copied (unsigned) `X-Amz-Date` cannot be altered without breaking the
//! signature; the clock-skew check then applies to it as to any other. This is why `x-amz-date` is
//! on s3s's list of `x-amz-*` headers that may be present unsigned.

use http::{HeaderMap, HeaderValue};
use time::format_description::BorrowedFormatItem;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The header s3s may see unsigned (see the module comment).
pub const UNSIGNED_AMZ_DATE: &str = "x-amz-date";

const ISO_BASIC: &str = "[year][month][day]T[hour][minute][second]Z";
const HTTP_DATE: &str = "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT";

/// Sets `X-Amz-Date` from `Date` on a SigV4 header-signed request that has no `X-Amz-Date`. A
/// `Date` that parses in neither format is left alone, and s3s refuses the request as undated.
pub fn date_as_amz_date(headers: &mut HeaderMap) {
    let sigv4 = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    if !sigv4 || headers.contains_key(UNSIGNED_AMZ_DATE) {
        return;
    }
    let Some(date) = headers.get(http::header::DATE).and_then(|v| v.to_str().ok()) else {
        return;
    };
    if let Some(iso) = parse(date).and_then(|t| format(t, ISO_BASIC))
        && let Ok(value) = HeaderValue::from_str(&iso)
    {
        headers.insert(UNSIGNED_AMZ_DATE, value);
    }
}

/// A `Date` value in either accepted format, as UTC.
fn parse(date: &str) -> Option<OffsetDateTime> {
    [ISO_BASIC, HTTP_DATE].iter().find_map(|pattern| {
        let items: Vec<BorrowedFormatItem<'_>> = time::format_description::parse_borrowed::<1>(pattern).ok()?;
        PrimitiveDateTime::parse(date.trim(), &items).ok().map(PrimitiveDateTime::assume_utc)
    })
}

fn format(t: OffsetDateTime, pattern: &str) -> Option<String> {
    t.format(&time::format_description::parse_borrowed::<1>(pattern).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("test value"));
        }
        map
    }

    const V4: &str = "AWS4-HMAC-SHA256 Credential=k/20261202/us-east-1/s3/aws4_request, SignedHeaders=date;host, \
                      Signature=00";

    #[test]
    fn both_date_formats_become_iso_basic() {
        for date in ["20261202T101500Z", "Wed, 02 Dec 2026 10:15:00 GMT"] {
            let mut map = headers(&[("authorization", V4), ("date", date)]);
            date_as_amz_date(&mut map);
            assert_eq!(map.get("x-amz-date").expect("test value"), "20261202T101500Z", "{date}");
        }
    }

    #[test]
    fn an_existing_x_amz_date_other_schemes_and_bad_dates_are_left_alone() {
        let mut map =
            headers(&[("authorization", V4), ("date", "20261202T101500Z"), ("x-amz-date", "20261202T000000Z")]);
        date_as_amz_date(&mut map);
        assert_eq!(map.get("x-amz-date").expect("test value"), "20261202T000000Z");
        let mut v2 = headers(&[("authorization", "AWS k:sig"), ("date", "Wed, 02 Dec 2026 10:15:00 GMT")]);
        date_as_amz_date(&mut v2);
        assert!(!v2.contains_key("x-amz-date"));
        let mut bad = headers(&[("authorization", V4), ("date", "yesterday")]);
        date_as_amz_date(&mut bad);
        assert!(!bad.contains_key("x-amz-date"));
    }
}
