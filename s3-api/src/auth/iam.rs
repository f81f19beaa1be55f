//! The IAM policy language as AWS evaluates bucket policies: statements with `Effect`, `Principal` /
//! `NotPrincipal`, `Action` / `NotAction`, `Resource` / `NotResource` (wildcards `*` and `?`, matched
//! case-insensitively for actions) and `Condition` blocks (String*, Numeric*, Date*, Bool, IpAddress /
//! NotIpAddress, Null, Arn*, each with `...IfExists` and the `ForAnyValue:` / `ForAllValues:` set
//! qualifiers). An explicit `Deny` wins over any `Allow`; no matching statement is no opinion.
//!
//! The authorizer consults it for every request on a bucket with a policy (see `authorizer`).

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

/// Why a policy document is refused (S3 answers `MalformedPolicy` with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn bad(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

/// The outcome of evaluating a policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A matching statement allows it and none denies it.
    Allow,
    /// A matching statement denies it (wins over every allow, ownership and ACLs).
    Deny,
    /// No statement applies.
    NoOpinion,
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// No credentials.
    Anonymous,
    /// A signed-in user: their canonical user id and their ARN (`arn:aws:iam::cloudvault:user/<name>`).
    User {
        /// The canonical user id.
        canonical_id: &'a str,
        /// The user's ARN.
        arn: &'a str,
    },
}

/// One request as a policy sees it: caller, action (`s3:GetObject`), resource ARN and condition keys
/// (lower-case names, e.g. `aws:sourceip`, `s3:prefix`, each with one or more values).
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// Who is asking.
    pub caller: Caller<'a>,
    /// The IAM action.
    pub action: &'a str,
    /// The resource ARN (`arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`).
    pub resource: &'a str,
    /// Condition keys and their values.
    pub context: &'a HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principals {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Everyone,
    /// Canonical ids and ARNs (with wildcards).
    Named(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Patterns {
    patterns: Vec<String>,
    negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    Null,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        use Operator::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "Null" => Null,
            "ArnEquals" => ArnEquals,
            "ArnNotEquals" => ArnNotEquals,
            "ArnLike" => ArnLike,
            "ArnNotLike" => ArnNotLike,
            _ => return None,
        })
    }

    /// The negated operators hold when no value matches (and, without `IfExists`, when the key is missing).
    fn negated(self) -> bool {
        use Operator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Whether the request value `got` matches the policy value `want` (for negated operators, the
    /// positive test: the negation is applied over all values).
    fn matches(self, got: &str, want: &str) -> bool {
        use Operator::*;
        match self {
            StringEquals | StringNotEquals | ArnEquals | ArnNotEquals => got == want,
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => got.eq_ignore_ascii_case(want),
            StringLike | StringNotLike | ArnLike | ArnNotLike => glob(want, got, false),
            NumericEquals | NumericNotEquals => numbers(got, want).is_some_and(|(a, b)| a == b),
            NumericLessThan => numbers(got, want).is_some_and(|(a, b)| a < b),
            NumericLessThanEquals => numbers(got, want).is_some_and(|(a, b)| a <= b),
            NumericGreaterThan => numbers(got, want).is_some_and(|(a, b)| a > b),
            NumericGreaterThanEquals => numbers(got, want).is_some_and(|(a, b)| a >= b),
            DateEquals | DateNotEquals => dates(got, want).is_some_and(|(a, b)| a == b),
            DateLessThan => dates(got, want).is_some_and(|(a, b)| a < b),
            DateLessThanEquals => dates(got, want).is_some_and(|(a, b)| a <= b),
            DateGreaterThan => dates(got, want).is_some_and(|(a, b)| a > b),
            DateGreaterThanEquals => dates(got, want).is_some_and(|(a, b)| a >= b),
            Bool => got.eq_ignore_ascii_case(want),
            IpAddress | NotIpAddress => in_network(got, want),
            Null => false,
        }
    }
}

fn numbers(got: &str, want: &str) -> Option<(f64, f64)> {
    Some((got.trim().parse().ok()?, want.trim().parse().ok()?))
}

/// Dates are ISO 8601 / RFC 3339 or epoch seconds, compared as unix seconds.
fn date(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(secs) = text.trim().parse::<i64>() {
        return Some(secs);
    }
    time::OffsetDateTime::parse(text.trim(), &Rfc3339).ok().map(|t| t.unix_timestamp())
}

fn dates(got: &str, want: &str) -> Option<(i64, i64)> {
    Some((date(got)?, date(want)?))
}

fn in_network(got: &str, want: &str) -> bool {
    let Ok(ip) = got.trim().parse::<IpAddr>() else { return false };
    match want.trim().parse::<ipnet::IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => want.trim().parse::<IpAddr>().is_ok_and(|w| w == ip),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    /// One request value (the usual case; several values behave like ForAnyValue).
    Single,
    /// `ForAnyValue:`: some request value matches.
    AnyValue,
    /// `ForAllValues:`: every request value matches (vacuously true without values).
    AllValues,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    operator: Operator,
    qualifier: SetQualifier,
    if_exists: bool,
    /// Lower-case condition key.
    key: String,
    values: Vec<String>,
}

impl Condition {
    fn holds(&self, context: &HashMap<String, Vec<String>>) -> bool {
        let got = context.get(&self.key).filter(|v| !v.is_empty());
        if self.operator == Operator::Null {
            let want_missing = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return got.is_none() == want_missing;
        }
        let Some(got) = got else {
            // A missing key: IfExists and ForAllValues hold; negated operators hold; the rest do not.
            return self.if_exists || self.qualifier == SetQualifier::AllValues || self.operator.negated();
        };
        let one = |g: &String| self.values.iter().any(|w| self.operator.matches(g, w));
        let positive = match self.qualifier {
            SetQualifier::AllValues => got.iter().all(one),
            SetQualifier::Single | SetQualifier::AnyValue => got.iter().any(one),
        };
        if self.operator.negated() { !positive } else { positive }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    principals: Principals,
    not_principal: bool,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

/// A parsed, validated bucket policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    statements: Vec<Statement>,
}

/// Glob match with `*` (any run) and `?` (one character); `fold` ignores ASCII case (actions).
pub(crate) fn glob(pattern: &str, text: &str, fold: bool) -> bool {
    let norm = |s: &str| -> Vec<char> { if fold { s.to_ascii_lowercase() } else { s.to_owned() }.chars().collect() };
    let (p, t) = (norm(pattern), norm(text));
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| bad(format!("{what} must be strings"))))
            .collect(),
        _ => Err(bad(format!("{what} must be a string or a non-empty list of strings"))),
    }
}

/// Exactly one of `name` and `Not<name>`: its values and whether it was the negated one.
fn one_of(statement: &Map<String, Value>, name: &str) -> Result<(Value, bool), PolicyError> {
    let negated = format!("Not{name}");
    match (statement.get(name), statement.get(&negated)) {
        (Some(v), None) => Ok((v.clone(), false)),
        (None, Some(v)) => Ok((v.clone(), true)),
        (Some(_), Some(_)) => Err(bad(format!("A statement has {name} or {negated}, not both"))),
        (None, None) => Err(bad(format!("Missing required field {name}"))),
    }
}

fn principals(value: &Value) -> Result<Principals, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Everyone),
        Value::Object(map) => {
            let mut named = Vec::new();
            for (kind, ids) in map {
                if kind != "AWS" && kind != "CanonicalUser" {
                    return Err(bad(format!("Invalid principal type {kind}")));
                }
                let ids = strings(ids, "Principal")?;
                if ids.iter().any(|id| id == "*") {
                    return Ok(Principals::Everyone);
                }
                named.extend(ids);
            }
            if named.is_empty() {
                return Err(bad("Invalid principal in policy"));
            }
            Ok(Principals::Named(named))
        }
        _ => Err(bad("Invalid principal in policy")),
    }
}

fn conditions(value: Option<&Value>) -> Result<Vec<Condition>, PolicyError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let blocks = value.as_object().ok_or_else(|| bad("Condition must be an object"))?;
    let mut out = Vec::new();
    for (name, keys) in blocks {
        let (qualifier, rest) = match name.split_once(':') {
            Some(("ForAnyValue", op)) => (SetQualifier::AnyValue, op),
            Some(("ForAllValues", op)) => (SetQualifier::AllValues, op),
            Some(_) => return Err(bad(format!("Invalid Condition type : {name}"))),
            None => (SetQualifier::Single, name.as_str()),
        };
        let (op, if_exists) = match rest.strip_suffix("IfExists") {
            Some(op) if op != "Null" => (op, true),
            _ => (rest, false),
        };
        let operator = Operator::parse(op).ok_or_else(|| bad(format!("Invalid Condition type : {name}")))?;
        let keys = keys.as_object().ok_or_else(|| bad(format!("Condition {name} must map keys to values")))?;
        for (key, values) in keys {
            let values = match values {
                Value::Bool(b) => vec![b.to_string()],
                Value::Number(n) => vec![n.to_string()],
                other => strings(other, "Condition values")?,
            };
            no_variables(&values, "in Condition")?;
            out.push(Condition { operator, qualifier, if_exists, key: key.to_ascii_lowercase(), values });
        }
    }
    Ok(out)
}

/// Whether the principal pattern `pattern` names the user ARN `arn`, whatever account id either
/// writes (`arn:aws:iam::123456789012:user/alice` names CloudVault's `alice`): CloudVault has one
/// account, so only the user part is compared (with wildcards).
fn same_user_arn(pattern: &str, arn: &str) -> bool {
    let split = |a: &str| -> Option<(String, String)> {
        let parts: Vec<&str> = a.splitn(6, ':').collect();
        (parts.len() == 6).then(|| (parts[..4].join(":"), parts[5].to_owned()))
    };
    match (split(pattern), split(arn)) {
        (Some((p_head, p_user)), Some((head, user))) => p_head == head && glob(&p_user, &user, false),
        _ => glob(pattern, arn, false),
    }
}

/// Whether a resource ARN can name `bucket` or objects in it (`arn:aws:s3:::*` can): AWS refuses a
/// bucket policy naming other buckets only.
pub(crate) fn names_bucket(bucket: &str, arn: &str) -> bool {
    arn.strip_prefix("arn:aws:s3:::").is_some_and(|rest| glob(rest.split('/').next().unwrap_or(""), bucket, false))
}

fn check_resource(bucket: &str, arn: &str) -> Result<(), PolicyError> {
    if names_bucket(bucket, arn) { Ok(()) } else { Err(bad("Policy has invalid resource")) }
}

impl PolicyDocument {
    /// Parses and validates a bucket policy for `bucket`, as AWS does for PutBucketPolicy: JSON with a
    /// `Statement` (object or list), each with `Effect` Allow / Deny, a `Principal` or `NotPrincipal`,
    /// exactly one of `Action` / `NotAction` (S3 actions) and of `Resource` / `NotResource` (ARNs of
    /// this bucket and its objects), and known condition operators.
    pub fn parse(bucket: &str, json: &str) -> Result<Self, PolicyError> {
        let doc: Value = serde_json::from_str(json).map_err(|_| bad("This policy contains invalid Json"))?;
        if let Some(version) = doc.get("Version")
            && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(bad("The policy must contain a valid version string"));
        }
        let list = match doc.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err(bad("Missing required field Statement")),
        };
        let statements = list.iter().map(|s| Self::statement(bucket, s)).collect::<Result<_, _>>()?;
        Ok(PolicyDocument { statements })
    }

    fn statement(bucket: &str, value: &Value) -> Result<Statement, PolicyError> {
        let s = value.as_object().ok_or_else(|| bad("Each statement must be an object"))?;
        let allow = match s.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err(bad("Invalid effect")),
        };
        let (who, not_principal) = one_of(s, "Principal")?;
        let (actions, not_action) = one_of(s, "Action")?;
        let actions = strings(&actions, "Action")?;
        if let Some(a) = actions.iter().find(|a| *a != "*" && !a.to_ascii_lowercase().starts_with("s3:")) {
            return Err(bad(format!("Policy has invalid action: {a}")));
        }
        let (resources, not_resource) = one_of(s, "Resource")?;
        let resources = strings(&resources, "Resource")?;
        no_variables(&resources, "in Resource")?;
        for r in &resources {
            check_resource(bucket, r)?;
        }
        Ok(Statement {
            allow,
            principals: principals(&who)?,
            not_principal,
            actions: Patterns { patterns: actions, negated: not_action },
            resources: Patterns { patterns: resources, negated: not_resource },
            conditions: conditions(s.get("Condition"))?,
        })
    }

    /// The policy's decision for one request: `Deny` if any applicable statement denies, else `Allow`
    /// if one allows, else `NoOpinion`.
    pub fn evaluate(&self, facts: &Facts<'_>) -> Decision {
        let mut allowed = false;
        for s in self.statements.iter().filter(|s| s.applies(facts)) {
            if !s.allow {
                return Decision::Deny;
            }
            allowed = true;
        }
        if allowed { Decision::Allow } else { Decision::NoOpinion }
    }

    /// Whether an anonymous caller with no condition keys may perform `action` on `resource` (what
    /// the console shows as "public").
    pub fn allows_anonymous(&self, action: &str, resource: &str) -> bool {
        let context = HashMap::new();
        self.evaluate(&Facts { caller: Caller::Anonymous, action, resource, context: &context }) == Decision::Allow
    }

    /// Whether the policy allows everyone more than reading objects and listing: before issue 13
    /// CloudVault evaluated only those two actions for everyone, so such a policy stored then (say
    /// `s3:*` to `"*"`) lets anonymous callers write now; the server warns about it at start.
    pub fn lets_everyone_write(&self) -> bool {
        let read = |a: &String| ["s3:getobject", "s3:listbucket"].contains(&a.to_ascii_lowercase().as_str());
        self.statements.iter().any(|s| {
            let everyone = matches!(s.principals, Principals::Everyone) != s.not_principal;
            s.allow && everyone && (s.actions.negated || !s.actions.patterns.iter().all(read))
        })
    }

    /// Whether a statement could deny `action` to someone (whatever its resource and conditions).
    pub fn may_deny(&self, action: &str) -> bool {
        self.statements
            .iter()
            .any(|s| !s.allow && s.actions.patterns.iter().any(|p| glob(p, action, true)) != s.actions.negated)
    }

    /// Whether any condition reads a key starting with `prefix` (lower-case), so that the caller
    /// fetches such keys only for policies that need them (`s3:existingobjecttag/`).
    pub fn reads_key(&self, prefix: &str) -> bool {
        self.statements.iter().flat_map(|s| &s.conditions).any(|c| c.key.starts_with(prefix))
    }

    /// Whether the policy is "public" as AWS defines it for GetBucketPolicyStatus and Block Public
    /// Access: an `Allow` to everyone (or to everyone but someone, via `NotPrincipal`) that no
    /// condition narrows to known sources. Narrowing is an `IpAddress` on `aws:SourceIp` whose every
    /// block is at least a /8 (IPv4) or /32 (IPv6) — not `0.0.0.0/0` — or a positive string or ARN match
    /// on `aws:SourceVpc`, `aws:SourceVpce`, `aws:PrincipalAccount` or `aws:PrincipalArn` without
    /// wildcards. `Null` and negated operators narrow nothing.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            let everyone = matches!(s.principals, Principals::Everyone) != s.not_principal;
            s.allow && everyone && !s.conditions.iter().any(Condition::narrows_to_known_sources)
        })
    }
}

impl Condition {
    fn narrows_to_known_sources(&self) -> bool {
        use Operator::*;
        let fixed = |v: &String| !v.contains('*') && !v.contains('?');
        // ForAllValues holds when the key is missing, so it never narrows anything.
        if self.qualifier == SetQualifier::AllValues {
            return false;
        }
        match (self.operator, self.key.as_str()) {
            (IpAddress, "aws:sourceip") => !self.if_exists && self.values.iter().all(|v| narrow_block(v)),
            (
                StringEquals | StringEqualsIgnoreCase | ArnEquals,
                "aws:sourcevpc" | "aws:sourcevpce" | "aws:principalaccount" | "aws:principalarn",
            ) => !self.if_exists && self.values.iter().all(fixed),
            _ => false,
        }
    }
}

/// Whether an address block names known sources: at least a /8 of IPv4 or a /32 of IPv6.
fn narrow_block(text: &str) -> bool {
    match text.trim().parse::<ipnet::IpNet>() {
        Ok(ipnet::IpNet::V4(n)) => n.prefix_len() >= 8,
        Ok(ipnet::IpNet::V6(n)) => n.prefix_len() >= 32,
        Err(_) => text.trim().parse::<IpAddr>().is_ok(),
    }
}

/// Refuses policy variables (`${aws:username}`): CloudVault does not substitute them, and a policy
/// that relies on them would otherwise compare the literal text and silently mean something else.
fn no_variables(values: &[String], what: &str) -> Result<(), PolicyError> {
    match values.iter().find(|v| v.contains("${")) {
        Some(v) => Err(bad(format!("Policy variables are not supported ({what} {v})"))),
        None => Ok(()),
    }
}

impl Statement {
    fn applies(&self, f: &Facts<'_>) -> bool {
        let named = match (&self.principals, f.caller) {
            (Principals::Everyone, _) => true,
            (Principals::Named(_), Caller::Anonymous) => false,
            (Principals::Named(ids), Caller::User { canonical_id, arn }) => {
                ids.iter().any(|id| id == canonical_id || same_user_arn(id, arn))
            }
        };
        let actions = self.actions.patterns.iter().any(|p| glob(p, f.action, true));
        let resources = self.resources.patterns.iter().any(|p| glob(p, f.resource, false));
        named != self.not_principal
            && actions != self.actions.negated
            && resources != self.resources.negated
            && self.conditions.iter().all(|c| c.holds(f.context))
    }
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;
