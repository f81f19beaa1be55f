//! Pure functions behind the versions view and the bucket settings page: the paging token of the
//! versions listing, labels of retentions and lifecycle rules, and the lifecycle rule form. No browser
//! APIs here, so everything is tested natively.

use crate::api::{DefaultRetention, LifecycleRule, Retention};
use crate::logic::format_time_ms;

/// The versions listing resumes after a key and a version of it; [`crate::logic::Paging`] keeps one
/// string per page, so the pair travels as JSON (keys may hold any character).
pub fn version_token(key: &str, version: Option<&str>) -> String {
    serde_json::to_string(&(key, version)).unwrap_or_default()
}

/// The `(after_key, after_version)` of a [`version_token`].
pub fn parse_version_token(token: &str) -> Option<(String, Option<String>)> {
    serde_json::from_str(token).ok()
}

/// "COMPLIANCE until <time>" (with "expired" once it has passed).
pub fn retention_label(r: &Retention, now_ms: i64) -> String {
    let until = format_time_ms(r.retain_until);
    if r.retain_until > now_ms { format!("{} until {until}", r.mode) } else { format!("{} expired {until}", r.mode) }
}

/// "GOVERNANCE, 30 days" / "None".
pub fn default_retention_label(d: Option<&DefaultRetention>) -> String {
    match d {
        None => "None".to_owned(),
        Some(d) => match (d.days, d.years) {
            (Some(n), _) => format!("{}, {n} day{}", d.mode, plural(n)),
            (_, Some(n)) => format!("{}, {n} year{}", d.mode, plural(n)),
            _ => d.mode.clone(),
        },
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// What a lifecycle rule does, in words ("Expire current versions after 30 days; ...").
pub fn rule_summary(r: &LifecycleRule) -> String {
    let mut parts = Vec::new();
    if let Some(d) = r.expiration_days {
        parts.push(format!("expire current versions after {d} day{}", plural(d)));
    }
    if let Some(ms) = r.expiration_date {
        parts.push(format!("expire current versions from {}", format_time_ms(ms)));
    }
    if let Some(d) = r.noncurrent_days {
        let keep = r.newer_noncurrent_versions.map(|n| format!(", keep the newest {n}")).unwrap_or_default();
        parts.push(format!("expire noncurrent versions after {d} day{}{keep}", plural(d)));
    }
    if r.expired_object_delete_marker {
        parts.push("remove lone delete markers".to_owned());
    }
    if let Some(d) = r.abort_incomplete_days {
        parts.push(format!("abort incomplete uploads after {d} day{}", plural(d)));
    }
    let mut text = parts.join("; ");
    if let Some(first) = text.get(..1) {
        text = first.to_uppercase() + &text[1..];
    }
    text
}

/// The common rule kinds the settings page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleKind {
    /// Expire current versions after N days.
    #[default]
    ExpireCurrent,
    /// Expire noncurrent versions after N days, keeping the newest M.
    ExpireNoncurrent,
    /// Abort incomplete multipart uploads after N days.
    AbortUploads,
}

impl RuleKind {
    /// The `<select>` value.
    pub fn value(self) -> &'static str {
        match self {
            RuleKind::ExpireCurrent => "current",
            RuleKind::ExpireNoncurrent => "noncurrent",
            RuleKind::AbortUploads => "uploads",
        }
    }

    /// Parses a `<select>` value.
    pub fn parse(v: &str) -> Self {
        match v {
            "noncurrent" => RuleKind::ExpireNoncurrent,
            "uploads" => RuleKind::AbortUploads,
            _ => RuleKind::ExpireCurrent,
        }
    }
}

/// The "add a rule" form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleForm {
    /// Rule id (empty: the server names it).
    pub id: String,
    /// Key prefix (empty: the whole bucket).
    pub prefix: String,
    /// What the rule does.
    pub kind: RuleKind,
    /// N days.
    pub days: String,
    /// M newest noncurrent versions to keep (optional).
    pub keep: String,
}

impl RuleForm {
    /// The rule to add, or why the form is not ready (shown next to it). The server checks again.
    pub fn to_rule(&self, existing: &[LifecycleRule]) -> Result<LifecycleRule, &'static str> {
        let id = self.id.trim().to_owned();
        if id.chars().count() > 255 {
            return Err("The rule id is at most 255 characters.");
        }
        if !id.is_empty() && existing.iter().any(|r| r.id == id) {
            return Err("A rule with this id exists already.");
        }
        let days: i64 = match self.days.trim().parse() {
            Ok(n) if n >= 1 => n,
            _ => return Err("Days must be a whole number of at least 1."),
        };
        let mut rule = LifecycleRule { id, enabled: true, prefix: self.prefix.clone(), ..Default::default() };
        match self.kind {
            RuleKind::ExpireCurrent => rule.expiration_days = Some(days),
            RuleKind::AbortUploads => rule.abort_incomplete_days = Some(days),
            RuleKind::ExpireNoncurrent => {
                rule.noncurrent_days = Some(days);
                let keep = self.keep.trim();
                if !keep.is_empty() {
                    match keep.parse::<i64>() {
                        Ok(n) if (1..=100).contains(&n) => rule.newer_noncurrent_versions = Some(n),
                        _ => return Err("Versions to keep must be a whole number from 1 to 100."),
                    }
                }
            }
        }
        Ok(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tokens_round_trip_any_key() {
        for (key, version) in [("a/b.txt", Some("null")), ("new\nline \"q\"", Some("00ff")), ("dir/", None)] {
            let t = version_token(key, version);
            assert_eq!(parse_version_token(&t), Some((key.to_owned(), version.map(str::to_owned))));
        }
        assert_eq!(parse_version_token("not json"), None);
    }

    #[test]
    fn labels() {
        let r = Retention { mode: "COMPLIANCE".into(), retain_until: 86_400_000 };
        assert!(retention_label(&r, 0).starts_with("COMPLIANCE until 1970-01-02"), "{}", retention_label(&r, 0));
        assert!(retention_label(&r, 86_400_001).contains("expired"));
        let d = DefaultRetention { mode: "GOVERNANCE".into(), days: Some(1), years: None };
        assert_eq!(default_retention_label(Some(&d)), "GOVERNANCE, 1 day");
        let y = DefaultRetention { mode: "COMPLIANCE".into(), days: None, years: Some(7) };
        assert_eq!(default_retention_label(Some(&y)), "COMPLIANCE, 7 years");
        assert_eq!(default_retention_label(None), "None");
        let rule = LifecycleRule {
            noncurrent_days: Some(7),
            newer_noncurrent_versions: Some(3),
            abort_incomplete_days: Some(1),
            ..Default::default()
        };
        assert_eq!(
            rule_summary(&rule),
            "Expire noncurrent versions after 7 days, keep the newest 3; abort incomplete uploads after 1 day"
        );
    }

    #[test]
    fn rule_form_builds_the_common_rules_and_refuses_bad_input() {
        let mut f = RuleForm { prefix: "logs/".into(), days: "30".into(), ..Default::default() };
        let r = f.to_rule(&[]).expect("a valid rule");
        assert_eq!((r.prefix.as_str(), r.expiration_days, r.enabled), ("logs/", Some(30), true));
        f.kind = RuleKind::ExpireNoncurrent;
        f.keep = "3".into();
        let r = f.to_rule(&[]).expect("a valid rule");
        assert_eq!((r.noncurrent_days, r.newer_noncurrent_versions, r.expiration_days), (Some(30), Some(3), None));
        f.keep = "101".into();
        assert!(f.to_rule(&[]).is_err());
        f.kind = RuleKind::AbortUploads;
        let r = f.to_rule(&[]).expect("a valid rule");
        assert_eq!(r.abort_incomplete_days, Some(30));
        for days in ["0", "-1", "x", ""] {
            f.days = days.into();
            assert!(f.to_rule(&[]).is_err(), "{days}");
        }
        f.days = "1".into();
        f.id = "dup".into();
        let existing = [LifecycleRule { id: "dup".into(), ..Default::default() }];
        assert!(f.to_rule(&existing).is_err());
    }
}
