//! What a SigV4 presigned URL is refused for before s3s checks its signature: an `X-Amz-Expires`
//! that is not 1..=604800 seconds (7 days). s3s refuses it as a malformed query (400); AWS answers 403,
//! as to an expired URL (which s3s already answers 403 `AccessDenied`).

use crate::presign::MAX_EXPIRY;

/// The answer to a presigned request whose expiry AWS would refuse: `(code, message)`, sent with 403.
pub fn refused_expiry(query: Option<&str>) -> Option<(&'static str, String)> {
    let query = query?;
    let mut presigned = false;
    let mut expires = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "X-Amz-Algorithm" => presigned = true,
            "X-Amz-Expires" => expires = Some(value),
            _ => {}
        }
    }
    let expires = expires.filter(|_| presigned)?;
    match expires.parse::<i64>() {
        Ok(n) if n > MAX_EXPIRY.as_secs() as i64 => Some((
            "AuthorizationQueryParametersError",
            format!(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less \
                 than {} seconds",
                MAX_EXPIRY.as_secs()
            ),
        )),
        Ok(n) if n < 0 => Some(("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative".to_owned())),
        Ok(_) => None,
        Err(_) => Some(("AuthorizationQueryParametersError", "X-Amz-Expires should be a number".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_presigned_expiries_out_of_range_are_refused() {
        let q = |e: &str| format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={e}&X-Amz-Signature=00");
        assert!(refused_expiry(Some(&q("604800"))).is_none());
        assert!(refused_expiry(Some(&q("1"))).is_none());
        assert!(refused_expiry(Some(&q("604801"))).is_some());
        assert!(refused_expiry(Some(&q("-1"))).is_some());
        assert!(refused_expiry(Some(&q("soon"))).is_some());
        assert!(refused_expiry(Some("X-Amz-Expires=99999999")).is_none(), "not a presigned request");
        assert!(refused_expiry(None).is_none());
    }
}
