//! The condition keys of one request, as bucket-policy conditions read them (names lower-case, each
//! with one or more values): what the caller is and where it came from (`aws:*`, added by the
//! authorizer) and what the S3 request says (`s3:*`, read off its headers and query here).

use std::collections::HashMap;

use super::keys::Principal;
use super::origin::Origin;

/// Condition keys (lower-case) and their values.
pub type ConditionKeys = HashMap<String, Vec<String>>;

/// The `s3:*` condition keys of an S3 request, left in its extensions by the access hook for the
/// operations that authorize keys themselves (DeleteObjects, PostObject).
#[derive(Debug, Clone, Default)]
pub struct RequestKeys(pub ConditionKeys);

/// Request headers whose value is the condition key `s3:<header>`, as AWS documents them.
const HEADER_KEYS: [&str; 13] = [
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-server-side-encryption",
    "x-amz-storage-class",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-legal-hold",
    "x-amz-content-sha256",
];

/// Query parameters whose value is a condition key (ListObjects' `s3:prefix`, `s3:delimiter`,
/// `s3:max-keys`; `s3:versionid`).
const QUERY_KEYS: [(&str, &str); 4] = [
    ("prefix", "s3:prefix"),
    ("delimiter", "s3:delimiter"),
    ("max-keys", "s3:max-keys"),
    ("versionId", "s3:versionid"),
];

/// The `s3:*` condition keys of an S3 request: the headers of [`HEADER_KEYS`], the query keys of
/// [`QUERY_KEYS`], `s3:RequestObjectTag/<k>` and `s3:RequestObjectTagKeys` from `x-amz-tagging`, and
/// `s3:signatureversion` / `s3:authType` from how it was signed.
pub fn s3_request_keys(headers: &http::HeaderMap, query: Option<&str>) -> ConditionKeys {
    let mut keys = ConditionKeys::new();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    for name in HEADER_KEYS {
        if let Some(value) = header(name) {
            keys.insert(format!("s3:{name}"), vec![value.to_owned()]);
        }
    }
    let pairs: Vec<(String, String)> = form_pairs(query.unwrap_or(""));
    for (param, key) in QUERY_KEYS {
        if let Some((_, value)) = pairs.iter().find(|(name, _)| name == param) {
            keys.insert(key.to_owned(), vec![value.clone()]);
        }
    }
    if let Some(tagging) = header("x-amz-tagging") {
        add_tag_keys(&mut keys, tagging);
    }
    let query_signed = |name: &str| pairs.iter().any(|(n, _)| n == name);
    let (version, auth_type) = match header("authorization") {
        Some(a) if a.starts_with("AWS4-") => (Some("AWS4-HMAC-SHA256"), "REST-HEADER"),
        Some(a) if a.starts_with("AWS ") => (Some("AWS"), "REST-HEADER"),
        _ if query_signed("X-Amz-Signature") => (Some("AWS4-HMAC-SHA256"), "REST-QUERY-STRING"),
        _ if query_signed("Signature") => (Some("AWS"), "REST-QUERY-STRING"),
        _ => (None, "REST-HEADER"),
    };
    if let Some(version) = version {
        keys.insert("s3:signatureversion".into(), vec![version.into()]);
        keys.insert("s3:authtype".into(), vec![auth_type.into()]);
    }
    keys
}

/// The condition keys of a request that names version `version` (`s3:versionid`), none without one.
pub fn version_keys(version: Option<&str>) -> ConditionKeys {
    version.map(|v| ("s3:versionid".to_owned(), vec![v.to_owned()])).into_iter().collect()
}

/// `s3:RequestObjectTag/<k>` and `s3:RequestObjectTagKeys` of a tag set written as `x-amz-tagging`
/// writes it (`k=v&k2=v2`).
pub fn add_tag_keys(keys: &mut ConditionKeys, tagging: &str) {
    let tags: Vec<(String, String)> = form_pairs(tagging);
    for (k, v) in &tags {
        // Condition keys are case-insensitive: `Project` and `project` both count, neither replaces.
        keys.entry(format!("s3:requestobjecttag/{}", k.to_ascii_lowercase())).or_default().push(v.clone());
    }
    keys.insert("s3:requestobjecttagkeys".into(), tags.into_iter().map(|(k, _)| k).collect());
}

/// `a=b&c=d` (form-encoded: `+` is a space) as decoded pairs; undecodable pairs are skipped.
fn form_pairs(text: &str) -> Vec<(String, String)> {
    let decode =
        |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().ok().map(String::from);
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Adds the `aws:*` keys of `caller` (None: anonymous) coming from `origin`, at `now`: `aws:SourceIp`,
/// `aws:SecureTransport`, `aws:CurrentTime`, `aws:EpochTime`, `aws:PrincipalType` (`Anonymous` or
/// `User`), `aws:username`, `aws:userid`, `aws:PrincipalArn`.
pub fn add_caller_keys(
    keys: &mut ConditionKeys,
    caller: Option<&Principal>,
    origin: &Origin,
    now: time::OffsetDateTime,
) {
    let mut set = |name: &str, value: String| {
        keys.insert(name.to_owned(), vec![value]);
    };
    if let Some(ip) = origin.source_ip {
        set("aws:sourceip", ip.to_string());
    }
    set("aws:securetransport", origin.secure.to_string());
    let rfc3339 = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    set("aws:currenttime", rfc3339);
    set("aws:epochtime", now.unix_timestamp().to_string());
    match caller {
        None => set("aws:principaltype", "Anonymous".into()),
        Some(p) => {
            set("aws:principaltype", "User".into());
            set("aws:username", p.name.clone());
            set("aws:userid", canonical_id(p.user_id));
            set("aws:principalarn", user_arn(&p.name));
        }
    }
}

/// The canonical user id S3 reports for a CloudVault user (64 hex digits, like AWS's), which policies
/// and ACL grants name.
pub fn canonical_id(user_id: cloudvault_metadata::UserId) -> String {
    format!("{user_id:064x}")
}

/// The ARN a policy names a CloudVault user by: `arn:aws:iam::cloudvault:user/<name>` (a policy may
/// write any account id there; see `iam`).
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::cloudvault:user/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keys_come_from_headers_query_and_signature() {
        let mut h = http::HeaderMap::new();
        h.insert("x-amz-acl", "public-read".parse().expect("v"));
        h.insert("x-amz-tagging", "Project=Blue&team=a%20b".parse().expect("v"));
        h.insert("authorization", "AWS4-HMAC-SHA256 Credential=x".parse().expect("v"));
        let keys = s3_request_keys(&h, Some("list-type=2&prefix=home%2Falice%2F&max-keys=10"));
        assert_eq!(keys["s3:x-amz-acl"], ["public-read"]);
        assert_eq!(keys["s3:prefix"], ["home/alice/"]);
        assert_eq!(keys["s3:max-keys"], ["10"]);
        assert_eq!(keys["s3:requestobjecttag/project"], ["Blue"]);
        assert_eq!(keys["s3:requestobjecttag/team"], ["a b"]);
        assert_eq!(keys["s3:requestobjecttagkeys"], ["Project", "team"]);
        assert_eq!(keys["s3:signatureversion"], ["AWS4-HMAC-SHA256"]);
        assert!(!keys.contains_key("s3:delimiter"));
        let presigned_v2 = s3_request_keys(&http::HeaderMap::new(), Some("AWSAccessKeyId=a&Signature=s&Expires=1"));
        assert_eq!(presigned_v2["s3:signatureversion"], ["AWS"]);
        assert_eq!(presigned_v2["s3:authtype"], ["REST-QUERY-STRING"]);
    }
}
