//! What a presigned URL is refused for before s3s checks its signature, with AWS's status (403):
//! - SigV4: an `X-Amz-Expires` that is not 1..=604800 seconds (7 days). s3s refuses it as a malformed
//!   query (400); an expired URL s3s already answers 403 `AccessDenied`.
//! - SigV2: an absolute `Expires` more than 7 days ahead. SigV2 itself has no limit; CloudVault holds
//!   its URLs to the same 7 days as SigV4's, so no key can mint a link that outlives a week.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::presign::MAX_EXPIRY;

/// The answer to a presigned request whose expiry is refused: `(code, message)`, sent with 403.
pub fn refused_expiry(query: Option<&str>, now: SystemTime) -> Option<(&'static str, String)> {
    let query = query?;
    let (mut v4, mut v2) = (false, false);
    let (mut relative, mut absolute) = (None, None);
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "X-Amz-Algorithm" => v4 = true,
            "X-Amz-Expires" => relative = Some(value),
            "AWSAccessKeyId" => v2 = true,
            "Expires" => absolute = Some(value),
            _ => {}
        }
    }
    let week = MAX_EXPIRY.as_secs() as i64;
    let invalid = |message: String| Some(("AuthorizationQueryParametersError", message));
    if let Some(expires) = relative.filter(|_| v4) {
        return match expires.parse::<i64>() {
            Ok(n) if n > week => invalid(format!(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less \
                 than {week} seconds"
            )),
            Ok(n) if n < 1 => invalid("X-Amz-Expires must be a positive number of seconds".to_owned()),
            Ok(_) => None,
            Err(_) => invalid("X-Amz-Expires should be a number".to_owned()),
        };
    }
    let expires = absolute.filter(|_| v2)?.parse::<i64>().ok()?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    (expires > now.saturating_add(week))
        .then(|| invalid(format!("A SigV2 presigned URL may be valid for at most {week} seconds (7 days)")))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_expiries_out_of_range_are_refused() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let q = |e: &str| format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={e}&X-Amz-Signature=00");
        assert!(refused_expiry(Some(&q("604800")), now).is_none());
        assert!(refused_expiry(Some(&q("1")), now).is_none());
        for bad in ["604801", "0", "-1", "soon"] {
            assert!(refused_expiry(Some(&q(bad)), now).is_some(), "{bad}");
        }
        assert!(refused_expiry(Some("X-Amz-Expires=99999999"), now).is_none(), "not a presigned request");
        let v2 = |e: i64| format!("AWSAccessKeyId=AK&Expires={e}&Signature=x");
        assert!(refused_expiry(Some(&v2(1_000_000 + 604_800)), now).is_none());
        assert!(refused_expiry(Some(&v2(1_000_000 + 604_801)), now).is_some());
        assert!(refused_expiry(None, now).is_none());
    }
}
