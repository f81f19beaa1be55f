//! Browser-form uploads (PostObject) where s3s and AWS differ: a failed policy condition. s3s
//! answers 400 `InvalidPolicyDocument`; AWS answers 403 `AccessDenied` ("Invalid according to
//! Policy: Policy Condition failed"), which [`condition_failure_as_access_denied`] makes of s3s's
//! answer.
//!
//! Not done here: AWS's `acl` and XML `tagging` form fields. s3s reads the header-named fields
//! (`x-amz-acl`, `x-amz-tagging`) only, and neither the form nor its policy reaches CloudVault's
//! hooks (s3s drops the policy converting PostObject to PutObject and back), see the README.

/// Most bytes of an s3s error body this looks into (its errors are a few hundred bytes).
const MAX_ERROR_BODY: usize = 4096;

/// Turns s3s's 400 `InvalidPolicyDocument` for a failed form condition into AWS's 403
/// `AccessDenied`. Other `InvalidPolicyDocument` answers (a policy that does not parse) stay 400,
/// as at AWS.
pub fn condition_failure_as_access_denied(response: &mut s3s::HttpResponse) {
    if response.status() != http::StatusCode::BAD_REQUEST {
        return;
    }
    let Some(body) = response.body().bytes().filter(|b| b.len() <= MAX_ERROR_BODY) else { return };
    let Ok(text) = std::str::from_utf8(&body) else { return };
    if !text.contains("<Code>InvalidPolicyDocument</Code>") {
        return;
    }
    let Some(message) = between(text, "<Message>", "</Message>").filter(|m| m.starts_with("Policy condition")) else {
        return;
    };
    let rewritten = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Invalid according to \
         Policy: {message}</Message></Error>"
    );
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    if let Ok(length) = http::HeaderValue::from_str(&rewritten.len().to_string()) {
        response.headers_mut().insert(http::header::CONTENT_LENGTH, length);
    }
    *response.body_mut() = s3s::Body::from(rewritten);
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, code: &str, message: &str) -> s3s::HttpResponse {
        let body = format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>");
        let mut r = http::Response::new(s3s::Body::from(body));
        *r.status_mut() = http::StatusCode::from_u16(status).expect("test value");
        r
    }

    #[test]
    fn only_failed_conditions_become_access_denied() {
        let mut failed = error(400, "InvalidPolicyDocument", "Policy condition 'eq' for field 'acl' failed");
        condition_failure_as_access_denied(&mut failed);
        assert_eq!(failed.status(), 403);
        let body = String::from_utf8(failed.body().bytes().expect("test value").to_vec()).expect("test value");
        assert!(
            body.contains("<Code>AccessDenied</Code>")
                && body.contains("Invalid according to Policy: Policy condition")
        );
        let mut malformed = error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.");
        condition_failure_as_access_denied(&mut malformed);
        assert_eq!(malformed.status(), 400);
    }
}
