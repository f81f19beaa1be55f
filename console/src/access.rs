//! The bucket access page's data (`GET /api/buckets/{b}/access`) and the pure functions behind it:
//! labels of ownership controls and grants, the policy editor's JSON check, and the warning the
//! public toggle shows. No browser APIs here, so everything is tested natively.

use serde::{Deserialize, Serialize};

/// Block Public Access flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Flags {
    /// Refuse public ACLs.
    pub block_public_acls: bool,
    /// Ignore public ACL grants.
    pub ignore_public_acls: bool,
    /// Refuse public policies.
    pub block_public_policy: bool,
    /// Keep a public policy from anonymous callers.
    pub restrict_public_buckets: bool,
}

/// One ACL grant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Grant {
    /// A user name, or `AllUsers` / `AuthenticatedUsers` / `LogDelivery`.
    pub grantee: String,
    /// The canonical id of a user grantee.
    #[serde(default)]
    pub id: Option<String>,
    /// `FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`.
    pub permission: String,
}

/// `GET /api/buckets/{b}/access`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BucketAccess {
    /// The ownership control, if any.
    #[serde(default)]
    pub ownership: Option<String>,
    /// Whether ACLs apply.
    pub acls_enabled: bool,
    /// Block Public Access, if configured.
    #[serde(default)]
    pub public_access_block: Option<Flags>,
    /// The policy text, if any.
    #[serde(default)]
    pub policy: Option<String>,
    /// Whether the policy is public.
    pub policy_public: bool,
    /// The bucket ACL's grants.
    pub acl: Vec<Grant>,
}

/// The ownership choices of the page: `(value, label)`; the empty value is "no controls".
pub const OWNERSHIP_CHOICES: [(&str, &str); 4] = [
    ("BucketOwnerEnforced", "Bucket owner enforced — ACLs disabled (recommended)"),
    ("BucketOwnerPreferred", "Bucket owner preferred — ACLs enabled"),
    ("ObjectWriter", "Object writer — ACLs enabled, writers own their objects"),
    ("", "No ownership controls (behaves as object writer)"),
];

/// The canned bucket ACLs the page offers: `(value, label)`.
pub const BUCKET_ACLS: [(&str, &str); 5] = [
    ("private", "Private (owner only)"),
    ("public-read", "Anyone may list"),
    ("public-read-write", "Anyone may list and write"),
    ("authenticated-read", "Signed-in users may list"),
    ("log-delivery-write", "Log delivery may write"),
];

/// "AllUsers — READ" / "alice — FULL_CONTROL", with group names in words.
pub fn grant_label(g: &Grant) -> String {
    let who = match g.grantee.as_str() {
        "AllUsers" => "Everyone (anonymous too)",
        "AuthenticatedUsers" => "Every signed-in user",
        "LogDelivery" => "Log delivery",
        name => name,
    };
    format!("{who} — {}", g.permission)
}

/// Whether a grant makes the bucket public.
pub fn is_public_grant(g: &Grant) -> bool {
    matches!(g.grantee.as_str(), "AllUsers" | "AuthenticatedUsers")
}

/// What is wrong with a policy before it is sent: `None` when it is a JSON object (the server
/// validates the rest and its message is shown), else the parser's complaint.
pub fn policy_problem(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => None,
        Ok(_) => Some("A policy is a JSON object with a \"Statement\".".to_owned()),
        Err(e) => Some(format!("Not valid JSON: {e}")),
    }
}

/// The policy text pretty-printed for the editor (as stored when it does not parse).
pub fn pretty_policy(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// The warning of the public toggle and the access page: what Block Public Access will refuse or
/// take away (`None` when nothing is blocked).
pub fn blocked_warning(flags: Option<&Flags>) -> Option<&'static str> {
    let f = flags?;
    match (f.block_public_policy || f.block_public_acls, f.restrict_public_buckets || f.ignore_public_acls) {
        (true, _) => Some("Block Public Access is on: making this bucket public will be refused."),
        (false, true) => Some("Block Public Access is on: public grants are ignored for anonymous callers."),
        (false, false) => None,
    }
}

/// An example policy for the editor of an empty bucket policy: public read of every object.
pub fn example_policy(bucket: &str) -> String {
    pretty_policy(
        &serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
            }]
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_checks() {
        let g = Grant { grantee: "AllUsers".into(), id: None, permission: "READ".into() };
        assert_eq!(grant_label(&g), "Everyone (anonymous too) — READ");
        assert!(is_public_grant(&g));
        let alice = Grant { grantee: "alice".into(), id: Some("0".repeat(64)), permission: "FULL_CONTROL".into() };
        assert_eq!(grant_label(&alice), "alice — FULL_CONTROL");
        assert!(!is_public_grant(&alice));
        assert_eq!(policy_problem(r#"{"Statement": []}"#), None);
        assert!(policy_problem("[1]").is_some());
        assert!(policy_problem("{nope").unwrap_or_default().starts_with("Not valid JSON"));
        assert!(pretty_policy(r#"{"a":1}"#).contains("\n"));
        assert_eq!(pretty_policy("{broken"), "{broken");
        assert!(example_policy("photos").contains("arn:aws:s3:::photos/*"));
    }

    #[test]
    fn block_public_access_warnings() {
        assert_eq!(blocked_warning(None), None);
        assert_eq!(blocked_warning(Some(&Flags::default())), None);
        let policy = Flags { block_public_policy: true, ..Flags::default() };
        assert!(blocked_warning(Some(&policy)).unwrap_or_default().contains("refused"));
        let ignore = Flags { ignore_public_acls: true, ..Flags::default() };
        assert!(blocked_warning(Some(&ignore)).unwrap_or_default().contains("ignored"));
    }

    #[test]
    fn access_answer_decodes() {
        let body = r#"{"ownership":"ObjectWriter","acls_enabled":true,"public_access_block":null,
            "policy":null,"policy_public":false,"acl":[{"grantee":"alice","id":"ab","permission":"FULL_CONTROL"}]}"#;
        let a: BucketAccess = serde_json::from_str(body).expect("decodes");
        assert_eq!(a.ownership.as_deref(), Some("ObjectWriter"));
        assert_eq!(a.acl.len(), 1);
    }
}
