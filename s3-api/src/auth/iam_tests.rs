//! The policy language's table of cases: principal × action × resource × condition × deny.

use super::*;

const B: &str = "photos";
const ALICE: Caller<'static> = Caller::User { canonical_id: "c-alice", arn: "arn:aws:iam::cloudvault:user/alice" };
const BOB: Caller<'static> = Caller::User { canonical_id: "c-bob", arn: "arn:aws:iam::cloudvault:user/bob" };

fn policy(statements: &str) -> PolicyDocument {
    PolicyDocument::parse(B, &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#))
        .unwrap_or_else(|e| panic!("policy refused: {e}: {statements}"))
}

fn ctx(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
    pairs.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.iter().map(|s| (*s).to_owned()).collect())).collect()
}

fn decide(p: &PolicyDocument, caller: Caller<'_>, action: &str, resource: &str, c: &[(&str, &[&str])]) -> Decision {
    let context = ctx(c);
    p.evaluate(&Facts { caller, action, resource, context: &context })
}

const OBJ: &str = "arn:aws:s3:::photos/2026/cat.jpg";
const BUCKET: &str = "arn:aws:s3:::photos";
use Decision::{Allow, Deny, NoOpinion};

#[test]
fn principals_actions_and_resources() {
    let public_read =
        policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#);
    let cases: [(Caller, &str, &str, Decision); 8] = [
        (Caller::Anonymous, "s3:GetObject", OBJ, Allow),
        (BOB, "s3:GetObject", OBJ, Allow),
        (Caller::Anonymous, "s3:PutObject", OBJ, NoOpinion),
        (Caller::Anonymous, "s3:getobject", OBJ, Allow), // action names ignore case
        (Caller::Anonymous, "s3:GetObject", BUCKET, NoOpinion),
        (Caller::Anonymous, "s3:ListBucket", BUCKET, NoOpinion),
        (Caller::Anonymous, "s3:GetObject", "arn:aws:s3:::photos-2/x", NoOpinion),
        (ALICE, "s3:GetObjectVersion", OBJ, NoOpinion),
    ];
    for (caller, action, resource, want) in cases {
        assert_eq!(decide(&public_read, caller, action, resource, &[]), want, "{caller:?} {action} {resource}");
    }
    let named = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::cloudvault:user/alice"]},"Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}"#,
    );
    assert_eq!(decide(&named, ALICE, "s3:GetObject", OBJ, &[]), Allow);
    assert_eq!(decide(&named, ALICE, "s3:ListBucket", BUCKET, &[]), Allow);
    assert_eq!(decide(&named, ALICE, "s3:PutObject", OBJ, &[]), NoOpinion);
    assert_eq!(decide(&named, BOB, "s3:GetObject", OBJ, &[]), NoOpinion);
    assert_eq!(decide(&named, Caller::Anonymous, "s3:GetObject", OBJ, &[]), NoOpinion);
    let canonical = policy(
        r#"{"Effect":"Allow","Principal":{"CanonicalUser":"c-bob"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}"#,
    );
    assert_eq!(decide(&canonical, BOB, "s3:DeleteObject", OBJ, &[]), Allow);
    assert_eq!(decide(&canonical, ALICE, "s3:DeleteObject", OBJ, &[]), NoOpinion);
    let any_bucket = PolicyDocument::parse(
        B,
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::*"}}"#,
    )
    .expect("arn:aws:s3:::* names this bucket too");
    assert_eq!(decide(&any_bucket, Caller::Anonymous, "s3:ListBucket", BUCKET, &[]), Allow);
}

#[test]
fn negations_and_deny_win() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","NotAction":"s3:Delete*","Resource":"arn:aws:s3:::photos/*"},
           {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::cloudvault:user/alice"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*"},
           {"Effect":"Deny","Principal":"*","Action":"*","NotResource":["arn:aws:s3:::photos/public/*","arn:aws:s3:::photos/2026/*"]}"#,
    );
    let cases: [(Caller, &str, &str, Decision); 7] = [
        (BOB, "s3:GetObject", OBJ, Allow),
        (BOB, "s3:DeleteObject", OBJ, NoOpinion),
        (ALICE, "s3:PutObject", OBJ, Allow),
        (BOB, "s3:PutObject", OBJ, Deny),
        (Caller::Anonymous, "s3:PutObject", OBJ, Deny),
        (ALICE, "s3:GetObject", "arn:aws:s3:::photos/private/x", Deny),
        (ALICE, "s3:GetObject", "arn:aws:s3:::photos/public/x", Allow),
    ];
    for (caller, action, resource, want) in cases {
        assert_eq!(decide(&p, caller, action, resource, &[]), want, "{caller:?} {action} {resource}");
    }
}

#[test]
fn conditions() {
    let p = |cond: &str| {
        policy(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"],"Condition":{cond}}}"#
        ))
    };
    let ip = p(r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.7"]}}"#);
    assert_eq!(decide(&ip, BOB, "s3:GetObject", OBJ, &[("aws:SourceIp", &["10.1.2.3"])]), Allow);
    assert_eq!(decide(&ip, BOB, "s3:GetObject", OBJ, &[("aws:SourceIp", &["192.0.2.7"])]), Allow);
    assert_eq!(decide(&ip, BOB, "s3:GetObject", OBJ, &[("aws:SourceIp", &["203.0.113.1"])]), NoOpinion);
    assert_eq!(decide(&ip, BOB, "s3:GetObject", OBJ, &[]), NoOpinion, "a missing key does not match");
    let not_ip = p(r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#);
    assert_eq!(decide(&not_ip, BOB, "s3:GetObject", OBJ, &[("aws:SourceIp", &["203.0.113.1"])]), Allow);
    assert_eq!(decide(&not_ip, BOB, "s3:GetObject", OBJ, &[("aws:SourceIp", &["10.0.0.1"])]), NoOpinion);
    let tls = p(r#"{"Bool":{"aws:SecureTransport":"true"}}"#);
    assert_eq!(decide(&tls, BOB, "s3:GetObject", OBJ, &[("aws:SecureTransport", &["true"])]), Allow);
    assert_eq!(decide(&tls, BOB, "s3:GetObject", OBJ, &[("aws:SecureTransport", &["false"])]), NoOpinion);
    let prefix = p(r#"{"StringLike":{"s3:prefix":["home/*","public/*"]}}"#);
    assert_eq!(decide(&prefix, BOB, "s3:ListBucket", BUCKET, &[("s3:prefix", &["public/a"])]), Allow);
    assert_eq!(decide(&prefix, BOB, "s3:ListBucket", BUCKET, &[("s3:prefix", &["secret/"])]), NoOpinion);
    let max_keys = p(r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#);
    assert_eq!(decide(&max_keys, BOB, "s3:ListBucket", BUCKET, &[("s3:max-keys", &["10"])]), Allow);
    assert_eq!(decide(&max_keys, BOB, "s3:ListBucket", BUCKET, &[("s3:max-keys", &["11"])]), NoOpinion);
    let acl = p(r#"{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}"#);
    assert_eq!(decide(&acl, BOB, "s3:PutObject", OBJ, &[("s3:x-amz-acl", &["bucket-owner-full-control"])]), Allow);
    assert_eq!(decide(&acl, BOB, "s3:PutObject", OBJ, &[("s3:x-amz-acl", &["public-read"])]), NoOpinion);
    let not_equals = p(r#"{"StringNotEquals":{"s3:x-amz-metadata-directive":"REPLACE"}}"#);
    assert_eq!(decide(&not_equals, BOB, "s3:PutObject", OBJ, &[]), Allow, "a negated operator holds without the key");
    assert_eq!(
        decide(&not_equals, BOB, "s3:PutObject", OBJ, &[("s3:x-amz-metadata-directive", &["REPLACE"])]),
        NoOpinion
    );
    let if_exists = p(r#"{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}"#);
    assert_eq!(decide(&if_exists, BOB, "s3:PutObject", OBJ, &[]), Allow);
    assert_eq!(decide(&if_exists, BOB, "s3:PutObject", OBJ, &[("s3:x-amz-acl", &["public-read"])]), NoOpinion);
    let null = p(r#"{"Null":{"s3:x-amz-server-side-encryption":"true"}}"#);
    assert_eq!(decide(&null, BOB, "s3:PutObject", OBJ, &[]), Allow);
    assert_eq!(decide(&null, BOB, "s3:PutObject", OBJ, &[("s3:x-amz-server-side-encryption", &["AES256"])]), NoOpinion);
    let before = p(r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#);
    assert_eq!(decide(&before, BOB, "s3:GetObject", OBJ, &[("aws:CurrentTime", &["2026-12-01T00:00:00Z"])]), Allow);
    assert_eq!(decide(&before, BOB, "s3:GetObject", OBJ, &[("aws:CurrentTime", &["2031-01-01T00:00:00Z"])]), NoOpinion);
    let tags = p(r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["project","owner"]}}"#);
    assert_eq!(decide(&tags, BOB, "s3:PutObject", OBJ, &[("s3:RequestObjectTagKeys", &["owner"])]), Allow);
    assert_eq!(decide(&tags, BOB, "s3:PutObject", OBJ, &[("s3:RequestObjectTagKeys", &["owner", "x"])]), NoOpinion);
    let any = p(r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":"project"}}"#);
    assert_eq!(decide(&any, BOB, "s3:PutObject", OBJ, &[("s3:RequestObjectTagKeys", &["a", "project"])]), Allow);
    let arn = p(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::cloudvault:user/b*"}}"#);
    assert_eq!(
        decide(&arn, BOB, "s3:GetObject", OBJ, &[("aws:PrincipalArn", &["arn:aws:iam::cloudvault:user/bob"])]),
        Allow
    );
    let both = p(r#"{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:username":"bob"}}"#);
    let full: &[(&str, &[&str])] = &[("aws:SecureTransport", &["true"]), ("aws:username", &["bob"])];
    assert_eq!(decide(&both, BOB, "s3:GetObject", OBJ, full), Allow, "every condition must hold");
    assert_eq!(decide(&both, BOB, "s3:GetObject", OBJ, &[("aws:SecureTransport", &["true"])]), NoOpinion);
}

#[test]
fn malformed_policies_are_refused() {
    let refused = [
        "not json",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Version":"2099-01-01","Statement":[]}"#,
        r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::photos/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"iam:CreateUser","Resource":"arn:aws:s3:::photos/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringSortOf":{"a":"b"}}}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"Maybe:StringEquals":{"a":"b"}}}]}"#,
    ];
    for doc in refused {
        assert!(PolicyDocument::parse(B, doc).is_err(), "accepted: {doc}");
    }
}

#[test]
fn public_means_everyone_without_a_narrowing_condition() {
    let open =
        policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#);
    assert!(open.is_public());
    let narrowed = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
    );
    assert!(!narrowed.is_public());
    let named = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::cloudvault:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#,
    );
    assert!(!named.is_public());
    let deny =
        policy(r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#);
    assert!(!deny.is_public());
}
