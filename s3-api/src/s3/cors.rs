//! Bucket CORS for browsers: the rules of Put/GetBucketCors evaluated for OPTIONS preflights (which s3s
//! does not route, so the server answers them before s3s) and for the headers added to actual
//! responses. Origins in `CLOUDVAULT_CORS_ORIGINS` (the console's) are allowed on every bucket, for any
//! method and header, so browser uploads to presigned URLs work without per-bucket setup.

use http::{HeaderMap, HeaderValue};
use s3s::dto::CORSRule;

/// What a matching rule allows, ready to be written as response headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// `Access-Control-Allow-Origin` (the request's origin, or `*` for a wildcard rule).
    pub origin: String,
    /// `Access-Control-Allow-Methods` (preflight).
    pub methods: Vec<String>,
    /// `Access-Control-Allow-Headers` (preflight): the requested headers the rule allows.
    pub headers: Vec<String>,
    /// `Access-Control-Expose-Headers`.
    pub expose: Vec<String>,
    /// `Access-Control-Max-Age` (preflight).
    pub max_age: Option<i32>,
}

/// `*` matches anything; one `*` inside a pattern matches any run (S3 allows one wildcard per origin).
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value[..prefix.len()].eq_ignore_ascii_case(prefix)
                && value[value.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
    }
}

/// The first rule allowing `origin` to use `method` with `request_headers` (preflight), as S3 evaluates.
pub fn evaluate(rules: &[CORSRule], origin: &str, method: &str, request_headers: &[String]) -> Option<Allowed> {
    rules.iter().find_map(|rule| {
        let origin_ok = rule.allowed_origins.iter().any(|o| wildcard(o, origin));
        let method_ok = rule.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method));
        let allowed_headers = rule.allowed_headers.as_deref().unwrap_or_default();
        let headers_ok = request_headers.iter().all(|h| allowed_headers.iter().any(|a| wildcard(a, h)));
        (origin_ok && method_ok && headers_ok).then(|| Allowed {
            origin: if rule.allowed_origins.iter().any(|o| o == "*") { "*".to_owned() } else { origin.to_owned() },
            methods: rule.allowed_methods.clone(),
            headers: request_headers.to_vec(),
            expose: rule.expose_headers.clone().unwrap_or_default(),
            max_age: rule.max_age_seconds,
        })
    })
}

/// The rule set for configured console origins: everything allowed, the S3 response headers a browser
/// upload needs exposed.
pub fn console_rules(origins: &[String]) -> Vec<CORSRule> {
    if origins.is_empty() {
        return Vec::new();
    }
    vec![CORSRule {
        allowed_origins: origins.to_vec(),
        allowed_methods: ["GET", "PUT", "POST", "DELETE", "HEAD"].map(String::from).to_vec(),
        allowed_headers: Some(vec!["*".to_owned()]),
        expose_headers: Some(["ETag", "x-amz-request-id", "x-amz-version-id"].map(String::from).to_vec()),
        max_age_seconds: Some(3600),
        id: None,
    }]
}

/// Validates rules for PutBucketCors: at least one rule, at most 100, methods S3 knows, origins and
/// methods present, at most one `*` per origin.
pub fn validate(rules: &[CORSRule]) -> Result<(), String> {
    if rules.is_empty() || rules.len() > 100 {
        return Err("A CORS configuration holds 1 to 100 rules.".to_owned());
    }
    for rule in rules {
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err("Every CORS rule needs AllowedOrigin and AllowedMethod.".to_owned());
        }
        if let Some(m) =
            rule.allowed_methods.iter().find(|m| !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()))
        {
            return Err(format!("Found unsupported HTTP method in CORS config. Unsupported method is {m}"));
        }
        if let Some(o) = rule.allowed_origins.iter().find(|o| o.matches('*').count() > 1) {
            return Err(format!("AllowedOrigin \"{o}\" can not have more than one wildcard."));
        }
    }
    Ok(())
}

/// Writes the headers of `allowed` onto a response; `preflight` adds the method/header/max-age ones.
pub fn apply(headers: &mut HeaderMap, allowed: &Allowed, preflight: bool) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("access-control-allow-origin", allowed.origin.clone());
    if !allowed.expose.is_empty() {
        set("access-control-expose-headers", allowed.expose.join(", "));
    }
    if preflight {
        set("access-control-allow-methods", allowed.methods.join(", "));
        if !allowed.headers.is_empty() {
            set("access-control-allow-headers", allowed.headers.join(", "));
        }
        if let Some(age) = allowed.max_age {
            set("access-control-max-age", age.to_string());
        }
    }
    headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
}

/// The bucket a request addresses: the first path segment (path style), or the label before
/// `CLOUDVAULT_DOMAIN` in the Host header (virtual-hosted style).
pub fn bucket_of(uri: &http::Uri, headers: &HeaderMap, domain: Option<&str>) -> Option<String> {
    if let Some(domain) = domain {
        let host = headers.get(http::header::HOST)?.to_str().ok()?;
        let host = host.split(':').next()?;
        if let Some(bucket) = host.strip_suffix(domain).and_then(|b| b.strip_suffix('.')) {
            return Some(bucket.to_owned());
        }
    }
    let first = uri.path().trim_start_matches('/').split('/').next()?;
    let decoded = percent_encoding::percent_decode_str(first).decode_utf8().ok()?;
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CORSRule {
        CORSRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: Some(headers.iter().map(|s| s.to_string()).collect()),
            expose_headers: Some(vec!["ETag".into()]),
            max_age_seconds: Some(600),
            id: None,
        }
    }

    #[test]
    fn preflight_matching_follows_origin_method_and_headers() {
        let rules = [rule(&["https://app.example.com"], &["PUT", "GET"], &["content-type", "x-amz-*"])];
        let ok = evaluate(&rules, "https://app.example.com", "PUT", &["content-type".into(), "x-amz-date".into()]);
        assert_eq!(ok.as_ref().map(|a| a.origin.as_str()), Some("https://app.example.com"));
        assert!(evaluate(&rules, "https://evil.example.com", "PUT", &[]).is_none(), "other origin");
        assert!(evaluate(&rules, "https://app.example.com", "DELETE", &[]).is_none(), "method not allowed");
        assert!(evaluate(&rules, "https://app.example.com", "PUT", &["authorization".into()]).is_none(), "header");
        let wild = [rule(&["*"], &["GET"], &[])];
        assert_eq!(evaluate(&wild, "https://any.where", "GET", &[]).map(|a| a.origin), Some("*".into()));
        let sub = [rule(&["https://*.example.com"], &["GET"], &[])];
        assert!(evaluate(&sub, "https://a.example.com", "GET", &[]).is_some());
        assert!(evaluate(&sub, "https://example.org", "GET", &[]).is_none());
    }

    #[test]
    fn validation_and_bucket_extraction() {
        assert!(validate(&[]).is_err());
        assert!(validate(&[rule(&["*"], &["PATCH"], &[])]).is_err());
        assert!(validate(&[rule(&["https://*.*.com"], &["GET"], &[])]).is_err());
        assert!(validate(&[rule(&["*"], &["GET", "PUT"], &["*"])]).is_ok());
        let h = HeaderMap::new();
        let uri: http::Uri = "/my-bucket/a%20b?x-id=PutObject".parse().expect("uri");
        assert_eq!(bucket_of(&uri, &h, None).as_deref(), Some("my-bucket"));
        let mut vh = HeaderMap::new();
        vh.insert(http::header::HOST, HeaderValue::from_static("photos.s3.example.com:9000"));
        let root: http::Uri = "/key".parse().expect("uri");
        assert_eq!(bucket_of(&root, &vh, Some("s3.example.com")).as_deref(), Some("photos"));
    }
}
