//! Browser-form uploads (PostObject) where s3s and AWS differ: a failed policy condition. s3s
//! answers 400 `InvalidPolicyDocument`; AWS answers 403 `AccessDenied` ("Invalid according to
//! Policy: Policy Condition failed"), which the server answers in place of s3s's answer when
//! [`failed_condition`] finds one.
//!
//! Not done here: AWS's `acl` and XML `tagging` form fields. s3s reads the header-named fields
//! (`x-amz-acl`, `x-amz-tagging`) only, and neither the form nor its policy reaches CloudVault's
//! hooks (s3s drops the policy converting PostObject to PutObject and back), see the README.

/// Most bytes of an s3s error body this looks into (its errors are a few hundred bytes).
const MAX_ERROR_BODY: usize = 4096;

/// The message of s3s's 400 `InvalidPolicyDocument` for a failed form condition (XML-escaped, as
/// in its body), which the server answers as AWS does: 403 `AccessDenied`, "Invalid according to
/// Policy: ...". `None` for any other response; a policy that does not parse stays 400, as at AWS.
pub fn failed_condition(response: &s3s::HttpResponse) -> Option<String> {
    if response.status() != http::StatusCode::BAD_REQUEST {
        return None;
    }
    let body = response.body().bytes().filter(|b| b.len() <= MAX_ERROR_BODY)?;
    let text = std::str::from_utf8(&body).ok()?;
    if !text.contains("<Code>InvalidPolicyDocument</Code>") {
        return None;
    }
    between(text, "<Message>", "</Message>").filter(|m| m.starts_with("Policy condition")).map(str::to_owned)
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
    fn only_failed_conditions_are_found() {
        let failed = error(400, "InvalidPolicyDocument", "Policy condition 'eq' for field 'acl' failed");
        assert_eq!(failed_condition(&failed).as_deref(), Some("Policy condition 'eq' for field 'acl' failed"));
        let malformed = error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.");
        assert_eq!(failed_condition(&malformed), None);
        let other = error(403, "InvalidPolicyDocument", "Policy condition 'eq' for field 'acl' failed");
        assert_eq!(failed_condition(&other), None);
    }
}
