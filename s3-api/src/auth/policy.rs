//! Bucket policies: the subset CloudVault evaluates. A policy is stored as the client sent it; what it
//! grants is read from statements whose principal is everyone (`"*"` or `{"AWS": "*"}`): anonymous read of
//! objects (`s3:GetObject`) and, separately, anonymous listing (`s3:ListBucket`). `Deny` statements win
//! over `Allow`. Statements naming specific principals are accepted and stored but grant nothing (users
//! get access through bucket ownership and their access keys).

use s3s::{S3Result, s3_error};
use serde_json::Value;

/// The actions an anonymous caller can ever be granted.
pub const ANONYMOUS_ACTIONS: [&str; 2] = ["s3:GetObject", "s3:ListBucket"];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    everyone: bool,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// A parsed bucket policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPolicy {
    statements: Vec<Statement>,
}

fn malformed(msg: &str) -> s3s::S3Error {
    s3_error!(MalformedPolicy, "{msg}")
}

fn strings(value: Option<&Value>, what: &str) -> S3Result<Vec<String>> {
    match value {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| malformed(&format!("{what} must be strings"))))
            .collect(),
        _ => Err(malformed(&format!("Missing required field {what}"))),
    }
}

fn is_everyone(principal: Option<&Value>) -> S3Result<bool> {
    match principal {
        Some(Value::String(s)) => Ok(s == "*"),
        Some(Value::Object(map)) => Ok(match map.get("AWS") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some("*")),
            _ => false,
        }),
        _ => Err(malformed("Missing required field Principal")),
    }
}

/// Glob match with `*` and `?`, as IAM matches actions and resources (case-sensitive here).
fn glob(pattern: &str, text: &str) -> bool {
    super::iam::glob(pattern, text, false)
}

impl BucketPolicy {
    /// Parses and validates a policy for `bucket`: `MalformedPolicy` when it is not JSON, lacks
    /// `Statement`, `Effect`, `Principal`, `Action` or `Resource`, or names a resource no pattern of
    /// which can be this bucket (`arn:aws:s3:::*` can).
    pub fn parse(bucket: &str, json: &str) -> S3Result<Self> {
        let doc: Value = serde_json::from_str(json).map_err(|_| malformed("Policies must be valid JSON"))?;
        let statements = match doc.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.clone(),
            Some(item @ Value::Object(_)) => vec![item.clone()],
            _ => return Err(malformed("Missing required field Statement")),
        };
        let mut parsed = Vec::with_capacity(statements.len());
        for st in &statements {
            let allow = match st.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err(malformed("Invalid effect")),
            };
            let resources = strings(st.get("Resource"), "Resource")?;
            if let Some(r) = resources.iter().find(|r| !super::iam::names_bucket(bucket, r)) {
                return Err(malformed(&format!("Policy has invalid resource {r}")));
            }
            let actions = strings(st.get("Action"), "Action")?;
            if let Some(a) = actions.iter().find(|a| !a.starts_with("s3:") && *a != "*") {
                return Err(malformed(&format!("Policy has invalid action {a}")));
            }
            parsed.push(Statement { allow, everyone: is_everyone(st.get("Principal"))?, actions, resources });
        }
        Ok(BucketPolicy { statements: parsed })
    }

    /// Whether an anonymous caller may perform `action` (`s3:GetObject`, `s3:ListBucket`) on `resource`
    /// (`arn:aws:s3:::bucket[/key]`). Only [`ANONYMOUS_ACTIONS`] can ever be granted.
    pub fn allows_anonymous(&self, action: &str, resource: &str) -> bool {
        if !ANONYMOUS_ACTIONS.contains(&action) {
            return false;
        }
        let applies = |s: &&Statement| {
            s.everyone && s.actions.iter().any(|a| glob(a, action)) && s.resources.iter().any(|r| glob(r, resource))
        };
        let mut relevant = self.statements.iter().filter(applies).peekable();
        relevant.peek().is_some() && self.statements.iter().filter(applies).all(|s| s.allow)
    }

    /// Whether the policy makes anything public (GetBucketPolicyStatus).
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.allow && s.everyone && ANONYMOUS_ACTIONS.iter().any(|action| s.actions.iter().any(|a| glob(a, action)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#;

    #[test]
    fn public_read_does_not_expose_the_listing() {
        let p = BucketPolicy::parse("photos", READ_ONLY).expect("valid");
        assert!(p.allows_anonymous("s3:GetObject", "arn:aws:s3:::photos/a/b.jpg"));
        assert!(!p.allows_anonymous("s3:ListBucket", "arn:aws:s3:::photos"));
        assert!(!p.allows_anonymous("s3:PutObject", "arn:aws:s3:::photos/a"));
        assert!(p.is_public());
    }

    #[test]
    fn listing_needs_its_own_statement_and_deny_wins() {
        let json = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject","s3:ListBucket"],
             "Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]},
            {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/private/*"}]}"#;
        let p = BucketPolicy::parse("photos", json).expect("valid");
        assert!(p.allows_anonymous("s3:ListBucket", "arn:aws:s3:::photos"));
        assert!(p.allows_anonymous("s3:GetObject", "arn:aws:s3:::photos/public.txt"));
        assert!(!p.allows_anonymous("s3:GetObject", "arn:aws:s3:::photos/private/x"));
    }

    #[test]
    fn malformed_policies_are_refused() {
        for bad in [
            "not json",
            "{}",
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}"#,
            r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
        ] {
            let err = BucketPolicy::parse("photos", bad).expect_err(bad);
            assert_eq!(*err.code(), s3s::S3ErrorCode::MalformedPolicy, "{bad}");
        }
        let named = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:user/x"},
            "Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}]}"#;
        let p = BucketPolicy::parse("photos", named).expect("named principals are stored");
        assert!(!p.allows_anonymous("s3:GetObject", "arn:aws:s3:::photos/a") && !p.is_public());
    }

    #[test]
    fn glob_matching() {
        assert!(glob("s3:*", "s3:GetObject"));
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::bb/x"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
    }

    #[test]
    fn a_wildcard_bucket_resource_names_this_bucket() {
        let any =
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::*"}]}"#;
        let p = BucketPolicy::parse("photos", any).expect("arn:aws:s3:::* is a valid resource");
        assert!(p.allows_anonymous("s3:GetObject", "arn:aws:s3:::photos/a"));
        let prefix = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pho*/*"}]}"#;
        assert!(BucketPolicy::parse("photos", prefix).is_ok());
        assert!(BucketPolicy::parse("videos", prefix).is_err());
    }
}
