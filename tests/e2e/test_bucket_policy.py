"""Bucket policies evaluated as AWS evaluates them, through real requests (issue 13): a table of cases,
each a policy put by the bucket's owner (alice) and one request by a caller (alice, bob, carol, the
root admin, anonymous, or raw requests from a given source address), asserting that it is allowed
(2xx) or refused with 403 AccessDenied.

The table covers principals (`*`, `{"AWS": "*"}`, user ARNs with any account id, canonical ids,
NotPrincipal), actions (names, wildcards, case, NotAction, version actions), resources (wildcards,
`arn:aws:s3:::*`, NotResource), conditions over s3:prefix, s3:max-keys, s3:delimiter, s3:x-amz-acl,
s3:x-amz-copy-source, s3:x-amz-metadata-directive, s3:RequestObjectTag, s3:RequestObjectTagKeys,
s3:ExistingObjectTag, aws:SourceIp behind a trusted proxy, aws:SecureTransport, aws:CurrentTime,
aws:username, aws:PrincipalType, Null and IfExists; and explicit Deny over Allow and over ownership.

Policy evaluation does not touch the metadata backend beyond the bucket row, so the table runs on
SQLite; `test_identity.py` covers public-read policies on both backends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Optional

import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from requests.adapters import HTTPAdapter

from conftest import REGION, running_server

PROXY = "127.0.0.2"  # the trusted proxy's address (CLOUDVAULT_TRUSTED_PROXIES)
OUTSIDER = "127.0.0.3"  # a client that is not a proxy
BUCKET = "policy-table"


class SourceAddress(HTTPAdapter):
    """Connects from a chosen loopback address (the whole 127/8 is local on Linux)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class World:
    server: object
    clients: dict
    keys: dict
    canonical: dict

    def raw(self, who: str, source: str, method: str, path: str, headers: Optional[dict] = None) -> int:
        """A SigV4 request by `who` sent from `source`; the status code."""
        access, secret = self.keys[who]
        url = self.server.endpoint + path
        signed = self.server.sign_headers(method, url, headers or {}, b"", access_key=access, secret_key=secret)
        session = requests.Session()
        session.mount("http://", SourceAddress(source))
        return session.request(method, url, headers=signed, timeout=30).status_code


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    extra = lambda _srv: {"CLOUDVAULT_TRUSTED_PROXIES": PROXY}  # noqa: E731
    with running_server("sqlite", tmp_path_factory, extra_env=extra) as server:
        keys = {name: server.new_user(name) for name in ("alice", "bob", "carol")}
        clients = {name: server.client(access_key=k, secret_key=s) for name, (k, s) in keys.items()}
        clients["root"] = server.s3
        clients["anonymous"] = server.client(signature_version=botocore.UNSIGNED)
        alice = clients["alice"]
        alice.create_bucket(Bucket=BUCKET)
        alice.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for key in ("public/a.txt", "private/b.txt", "home/bob/c.txt", "home/carol/d.txt"):
            alice.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
        alice.put_object(Bucket=BUCKET, Key="tagged/open.txt", Body=b"o", Tagging="class=open")
        alice.put_object(Bucket=BUCKET, Key="tagged/secret.txt", Body=b"s", Tagging="class=secret")
        canonical = {name: clients[name].list_buckets()["Owner"]["ID"] for name in ("alice", "bob", "carol")}
        yield World(server, clients, keys, canonical)


def statement(effect: str = "Allow", principal=None, action="s3:GetObject", resource=f"arn:aws:s3:::{BUCKET}/*",
              condition: Optional[dict] = None, **extra) -> dict:
    s = {"Effect": effect, **extra}
    if "NotPrincipal" not in extra:
        s["Principal"] = principal if principal is not None else "*"
    if "NotAction" not in extra:
        s["Action"] = action
    if "NotResource" not in extra:
        s["Resource"] = resource
    if condition:
        s["Condition"] = condition
    return s


BOB_ARN = "arn:aws:iam::cloudvault:user/bob"
OBJ = f"arn:aws:s3:::{BUCKET}/*"
BKT = f"arn:aws:s3:::{BUCKET}"


def get(key: str, **kw) -> Callable:
    return lambda c: c.get_object(Bucket=BUCKET, Key=key, **kw)["Body"].read()


def put(key: str, **kw) -> Callable:
    return lambda c: c.put_object(Bucket=BUCKET, Key=key, Body=b"written", **kw)


def listing(**kw) -> Callable:
    return lambda c: c.list_objects_v2(Bucket=BUCKET, **kw)


def copy(source: str, **kw) -> Callable:
    return lambda c: c.copy_object(Bucket=BUCKET, Key="copies/x", CopySource={"Bucket": BUCKET, "Key": source}, **kw)


def first_version(c, key: str) -> str:
    return c.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"][0]["VersionId"]


@dataclass
class Case:
    name: str
    statements: list
    who: str
    op: object  # a boto3 call (client -> any) or a raw-request tuple (source, method, path, headers)
    allowed: bool


def bob_only(action="s3:GetObject", resource=OBJ, **kw) -> list:
    return [statement(principal={"AWS": BOB_ARN}, action=action, resource=resource, **kw)]


CASES = [
    # Principals.
    Case("star-anonymous", [statement()], "anonymous", get("public/a.txt"), True),
    Case("star-other-user", [statement()], "bob", get("public/a.txt"), True),
    Case("aws-star-anonymous", [statement(principal={"AWS": "*"})], "anonymous", get("public/a.txt"), True),
    Case("user-arn", bob_only(), "bob", get("public/a.txt"), True),
    Case("user-arn-not-anonymous", bob_only(), "anonymous", get("public/a.txt"), False),
    Case("user-arn-not-carol", bob_only(), "carol", get("public/a.txt"), False),
    Case("user-arn-any-account", [statement(principal={"AWS": ["arn:aws:iam::123456789012:user/bob"]})], "bob",
         get("public/a.txt"), True),
    Case("canonical-user", [statement(principal={"CanonicalUser": "@bob"})], "bob", get("public/a.txt"), True),
    Case("not-principal-deny", [statement(), statement("Deny", NotPrincipal={"AWS": BOB_ARN})], "carol",
         get("public/a.txt"), False),
    Case("not-principal-spared", [statement(), statement("Deny", NotPrincipal={"AWS": BOB_ARN})], "bob",
         get("public/a.txt"), True),
    Case("no-policy-other-user", [], "bob", get("public/a.txt"), False),
    # Actions.
    Case("put-granted", bob_only("s3:PutObject", f"{BKT}/home/bob/*"), "bob", put("home/bob/new.txt"), True),
    Case("put-other-prefix", bob_only("s3:PutObject", f"{BKT}/home/bob/*"), "bob", put("home/carol/new.txt"), False),
    Case("anonymous-put", [statement(action="s3:PutObject", resource=f"{BKT}/dropbox/*")], "anonymous",
         put("dropbox/anon.txt"), True),
    Case("get-wildcard", bob_only("s3:Get*"), "bob", lambda c: c.get_object_tagging(Bucket=BUCKET, Key="tagged/open.txt"),
         True),
    Case("get-wildcard-no-put", bob_only("s3:Get*"), "bob", put("home/bob/x"), False),
    Case("action-case-insensitive", bob_only("S3:getobject"), "bob", get("public/a.txt"), True),
    Case("s3-star-delete", bob_only("s3:*"), "bob", lambda c: c.delete_object(Bucket=BUCKET, Key="home/bob/new.txt"),
         True),
    Case("not-action-allows-get", [statement(principal={"AWS": BOB_ARN}, NotAction="s3:Delete*", Resource=OBJ)], "bob",
         get("public/a.txt"), True),
    Case("not-action-refuses-delete", [statement(principal={"AWS": BOB_ARN}, NotAction="s3:Delete*", Resource=OBJ)],
         "bob", lambda c: c.delete_object(Bucket=BUCKET, Key="public/a.txt"), False),
    Case("list-granted", bob_only("s3:ListBucket", BKT), "bob", listing(), True),
    Case("list-not-from-object-grant", bob_only("s3:GetObject"), "bob", listing(), False),
    Case("bucket-action", bob_only("s3:GetBucketVersioning", BKT), "bob",
         lambda c: c.get_bucket_versioning(Bucket=BUCKET), True),
    Case("version-needs-its-own-action", bob_only("s3:GetObject"), "bob",
         lambda c: c.get_object(Bucket=BUCKET, Key="public/a.txt", VersionId=first_version(c, "public/a.txt")), False),
    Case("version-action", bob_only(["s3:GetObjectVersion", "s3:ListBucketVersions"], [OBJ, BKT]), "bob",
         lambda c: c.get_object(Bucket=BUCKET, Key="public/a.txt", VersionId=first_version(c, "public/a.txt")), True),
    Case("attributes-need-get-object", bob_only("s3:GetObjectAttributes"), "bob",
         lambda c: c.get_object_attributes(Bucket=BUCKET, Key="public/a.txt", ObjectAttributes=["ETag"]), False),
    Case("attributes-with-get-object", bob_only(["s3:GetObjectAttributes", "s3:GetObject"]), "bob",
         lambda c: c.get_object_attributes(Bucket=BUCKET, Key="public/a.txt", ObjectAttributes=["ETag"]), True),
    # Resources.
    Case("resource-prefix-miss", [statement(resource=f"{BKT}/public/*")], "anonymous", get("private/b.txt"), False),
    Case("resource-any-bucket", [statement(resource="arn:aws:s3:::*")], "anonymous", get("private/b.txt"), True),
    Case("resource-middle-wildcard", [statement(resource=f"{BKT}/*/b.txt")], "anonymous", get("private/b.txt"), True),
    Case("resource-question-mark", [statement(resource=f"{BKT}/home/bo?/c.txt")], "anonymous", get("home/bob/c.txt"),
         True),
    Case("not-resource-allows", [statement(NotResource=f"{BKT}/private/*")], "anonymous", get("public/a.txt"), True),
    Case("not-resource-refuses", [statement(NotResource=f"{BKT}/private/*")], "anonymous", get("private/b.txt"), False),
    # Conditions on the request.
    Case("prefix-match", bob_only("s3:ListBucket", BKT, condition={"StringEquals": {"s3:prefix": "home/bob/"}}), "bob",
         listing(Prefix="home/bob/"), True),
    Case("prefix-missing", bob_only("s3:ListBucket", BKT, condition={"StringEquals": {"s3:prefix": "home/bob/"}}),
         "bob", listing(), False),
    Case("prefix-like", bob_only("s3:ListBucket", BKT, condition={"StringLike": {"s3:prefix": "home/bob/*"}}), "bob",
         listing(Prefix="home/carol/"), False),
    Case("max-keys-small", bob_only("s3:ListBucket", BKT, condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}),
         "bob", listing(MaxKeys=5), True),
    Case("max-keys-large", bob_only("s3:ListBucket", BKT, condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}),
         "bob", listing(MaxKeys=50), False),
    Case("delimiter", bob_only("s3:ListBucket", BKT, condition={"StringEquals": {"s3:delimiter": "/"}}), "bob",
         listing(Delimiter="/"), True),
    Case("acl-required", bob_only("s3:PutObject", condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}),
         "bob", put("home/bob/acl.txt", ACL="bucket-owner-full-control"), True),
    Case("acl-missing", bob_only("s3:PutObject", condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}),
         "bob", put("home/bob/acl.txt"), False),
    Case("null-acl-deny", [*bob_only("s3:PutObject"),
                           statement("Deny", action="s3:PutObject", condition={"Null": {"s3:x-amz-acl": "true"}})],
         "bob", put("home/bob/null.txt"), False),
    Case("copy-source-allowed", [*bob_only(["s3:GetObject"]),
                                 *bob_only("s3:PutObject", condition={"StringLike": {"s3:x-amz-copy-source": f"{BUCKET}/public/*"}})],
         "bob", copy("public/a.txt"), True),
    Case("copy-source-refused", [*bob_only(["s3:GetObject"]),
                                 *bob_only("s3:PutObject", condition={"StringLike": {"s3:x-amz-copy-source": f"{BUCKET}/public/*"}})],
         "bob", copy("private/b.txt"), False),
    Case("metadata-directive", [*bob_only(["s3:GetObject"]),
                                *bob_only("s3:PutObject", condition={"StringNotEquals": {"s3:x-amz-metadata-directive": "REPLACE"}})],
         "bob", copy("public/a.txt", MetadataDirective="REPLACE", Metadata={"a": "b"}), False),
    Case("request-tag", bob_only("s3:PutObject", condition={"StringEquals": {"s3:RequestObjectTag/class": "open"}}),
         "bob", put("home/bob/t1", Tagging="class=open"), True),
    Case("request-tag-other-value", bob_only("s3:PutObject", condition={"StringEquals": {"s3:RequestObjectTag/class": "open"}}),
         "bob", put("home/bob/t2", Tagging="class=secret"), False),
    Case("request-tag-case-collision", [*bob_only("s3:PutObject"), statement(
        "Deny", action="s3:PutObject", condition={"StringEquals": {"s3:RequestObjectTag/Project": "Red"}})],
         "bob", put("home/bob/t4", Tagging="Project=Red&project=Blue"), False),
    Case("request-tag-keys", bob_only("s3:PutObject", condition={"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["class"]}}),
         "bob", put("home/bob/t3", Tagging="class=open&owner=bob"), False),
    Case("existing-tag", bob_only(condition={"StringEquals": {"s3:ExistingObjectTag/class": "open"}}), "bob",
         get("tagged/open.txt"), True),
    Case("existing-tag-other", bob_only(condition={"StringEquals": {"s3:ExistingObjectTag/class": "open"}}), "bob",
         get("tagged/secret.txt"), False),
    # Conditions on the caller.
    Case("username", [statement(condition={"StringEquals": {"aws:username": "bob"}})], "bob", get("public/a.txt"), True),
    Case("username-other", [statement(condition={"StringEquals": {"aws:username": "bob"}})], "carol",
         get("public/a.txt"), False),
    Case("principal-type-anonymous", [statement(condition={"StringEquals": {"aws:PrincipalType": "Anonymous"}})],
         "anonymous", get("public/a.txt"), True),
    Case("principal-type-user", [statement(condition={"StringEquals": {"aws:PrincipalType": "Anonymous"}})], "bob",
         get("public/a.txt"), False),
    Case("current-time-past", [statement(condition={"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}})],
         "anonymous", get("public/a.txt"), False),
    Case("current-time-future", [statement(condition={"DateGreaterThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}})],
         "anonymous", get("public/a.txt"), True),
    Case("if-exists-missing", [statement(condition={"StringEqualsIfExists": {"s3:x-amz-acl": "private"}})], "anonymous",
         get("public/a.txt"), True),
    Case("source-ip-via-proxy", bob_only(condition={"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}), "bob",
         (PROXY, "GET", f"/{BUCKET}/public/a.txt", {"X-Forwarded-For": "198.51.100.9"}), True),
    Case("source-ip-proxy-other-client", bob_only(condition={"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}), "bob",
         (PROXY, "GET", f"/{BUCKET}/public/a.txt", {"X-Forwarded-For": "203.0.113.5"}), False),
    Case("source-ip-spoofed", bob_only(condition={"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}), "bob",
         (OUTSIDER, "GET", f"/{BUCKET}/public/a.txt", {"X-Forwarded-For": "198.51.100.9"}), False),
    Case("not-ip-deny", [*bob_only(), statement("Deny", condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}})],
         "bob", (PROXY, "GET", f"/{BUCKET}/public/a.txt", {"X-Forwarded-For": "198.51.100.9"}), False),
    Case("insecure-denied", [*bob_only(), statement("Deny", condition={"Bool": {"aws:SecureTransport": "false"}})],
         "bob", (OUTSIDER, "GET", f"/{BUCKET}/public/a.txt", {}), False),
    Case("https-at-proxy", [*bob_only(), statement("Deny", condition={"Bool": {"aws:SecureTransport": "false"}})],
         "bob", (PROXY, "GET", f"/{BUCKET}/public/a.txt", {"X-Forwarded-Proto": "https"}), True),
    Case("https-claim-untrusted", [*bob_only(), statement("Deny", condition={"Bool": {"aws:SecureTransport": "false"}})],
         "bob", (OUTSIDER, "GET", f"/{BUCKET}/public/a.txt", {"X-Forwarded-Proto": "https"}), False),
    # Deny over Allow, and over ownership.
    Case("deny-wins", [statement(), statement("Deny", resource=f"{BKT}/private/*")], "anonymous", get("private/b.txt"),
         False),
    Case("deny-leaves-the-rest", [statement(), statement("Deny", resource=f"{BKT}/private/*")], "anonymous",
         get("public/a.txt"), True),
    Case("deny-over-user-allow", [*bob_only("s3:*"), statement("Deny", principal={"AWS": BOB_ARN}, action="s3:PutObject")],
         "bob", put("home/bob/denied.txt"), False),
    Case("deny-reaches-the-owner", [statement("Deny", resource=f"{BKT}/private/*")], "alice", get("private/b.txt"),
         False),
    Case("deny-reaches-admins", [statement("Deny", resource=f"{BKT}/private/*")], "root", get("private/b.txt"), False),
    Case("owner-unaffected-elsewhere", [statement("Deny", resource=f"{BKT}/private/*")], "alice", get("public/a.txt"),
         True),
    Case("owner-keeps-policy-actions", [statement("Deny", action="s3:*", resource=[BKT, OBJ])], "alice",
         lambda c: c.get_bucket_policy(Bucket=BUCKET), True),
]


def attempt(world: World, case: Case) -> bool:
    """Runs the case's request; True when allowed, False on 403 AccessDenied (anything else fails)."""
    if isinstance(case.op, tuple):
        source, method, path, headers = case.op
        status = world.raw(case.who, source, method, path, headers)
        assert status in (200, 204, 403), f"{case.name}: unexpected status {status}"
        return status != 403
    try:
        case.op(world.clients[case.who])
        return True
    except ClientError as e:
        code = e.response["Error"]["Code"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert (status, code) == (403, "AccessDenied"), f"{case.name}: {status} {code}: {e.response}"
        return False


def policy_json(world: World, statements: list) -> str:
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    for name, cid in world.canonical.items():
        text = text.replace(f'"@{name}"', json.dumps(cid))
    return text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_policy_table(world, case):
    alice = world.clients["alice"]
    if case.statements:
        alice.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, case.statements))
    else:
        alice.delete_bucket_policy(Bucket=BUCKET)
    try:
        assert attempt(world, case) is case.allowed, f"{case.name}: expected {'allow' if case.allowed else 'deny'}"
    finally:
        alice.delete_bucket_policy(Bucket=BUCKET)


def test_table_is_large_enough():
    assert len(CASES) >= 40
    assert {c.allowed for c in CASES} == {True, False}


def test_owner_repairs_a_policy_that_locks_everyone_out(world):
    """A Deny of everything to everyone refuses the owner's reads, but not the policy actions that
    undo it; after DeleteBucketPolicy the owner reads again."""
    alice = world.clients["alice"]
    alice.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, [statement("Deny", action="s3:*", resource=[BKT, OBJ])]))
    with pytest.raises(ClientError) as e:
        alice.get_object(Bucket=BUCKET, Key="public/a.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert json.loads(alice.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"][0]["Effect"] == "Deny"
    alice.delete_bucket_policy(Bucket=BUCKET)
    assert alice.get_object(Bucket=BUCKET, Key="public/a.txt")["Body"].read() == b"public/a.txt"


def test_only_the_owner_manages_policy_and_block_public_access(world):
    """The policy, Block Public Access and ownership controls are the owner's alone, as AWS keeps
    them to the owner's account: not even a grant of s3:* to bob (or to everyone) reaches them."""
    bob, anonymous, alice = world.clients["bob"], world.clients["anonymous"], world.clients["alice"]
    alice.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, [*bob_only("s3:*", [BKT, OBJ]),
                                                                       statement(action="s3:*", resource=[BKT, OBJ])]))
    try:
        for client in (bob, anonymous):
            for call in (lambda c: c.get_bucket_policy(Bucket=BUCKET),
                         lambda c: c.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, [statement()])),
                         lambda c: c.delete_bucket_policy(Bucket=BUCKET),
                         lambda c: c.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
                             "BlockPublicAcls": False}),
                         lambda c: c.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls={
                             "Rules": [{"ObjectOwnership": "ObjectWriter"}]})):
                with pytest.raises(ClientError) as e:
                    call(client)
                assert e.value.response["Error"]["Code"] == "AccessDenied"
        assert bob.get_object(Bucket=BUCKET, Key="public/a.txt")["Body"].read() == b"public/a.txt", "the rest works"
    finally:
        alice.delete_bucket_policy(Bucket=BUCKET)
    rules = alice.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}], "nothing changed"


def test_an_encoded_version_id_is_authorized_as_a_version(world):
    """`%76ersionId` is the same query parameter to s3s, so it is authorized as s3:GetObjectVersion:
    a public s3:GetObject grant does not reach old versions this way either."""
    alice = world.clients["alice"]
    old = first_version(alice, "public/a.txt")
    alice.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, [statement()]))
    try:
        plain = requests.get(f"{world.server.endpoint}/{BUCKET}/public/a.txt", timeout=30)
        assert plain.status_code == 200
        for name in ("versionId", "%76ersionId", "version%49d"):
            r = requests.get(f"{world.server.endpoint}/{BUCKET}/public/a.txt?{name}={old}", timeout=30)
            assert r.status_code == 403, (name, r.status_code, r.text)
    finally:
        alice.delete_bucket_policy(Bucket=BUCKET)


@pytest.mark.parametrize("bad,message", [
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*"}]}, "Policy variables are not supported"),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}]},
     "Policy has invalid resource"),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": OBJ,
                     "Condition": {"StringEqualz": {"s3:prefix": "a"}}}]}, "Invalid Condition type"),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "iam:PassRole", "Resource": OBJ}]},
     "invalid action"),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "NotAction": "s3:PutObject",
                     "Resource": OBJ}]}, "not both"),
    ({"Version": "2020-01-01", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                              "Resource": OBJ}]}, "valid version"),
])
def test_malformed_policies_answer_their_reason(world, bad, message):
    with pytest.raises(ClientError) as e:
        world.clients["alice"].put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(bad))
    assert e.value.response["Error"]["Code"] == "MalformedPolicy"
    assert message in e.value.response["Error"]["Message"], e.value.response["Error"]


def test_policy_status_follows_awss_definition_of_public(world):
    alice = world.clients["alice"]
    cases = [
        ([statement()], True),
        ([statement(condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], False),
        ([statement(condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})], True),
        ([statement(condition={"Null": {"aws:SourceIp": "false"}})], True),
        ([statement(condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})], True),
        ([statement(condition={"ForAllValues:StringEquals": {"aws:SourceVpc": "vpc-1"}})], True),
        (bob_only(), False),
        ([statement("Deny")], False),
    ]
    try:
        for statements, public in cases:
            alice.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, statements))
            status = alice.get_bucket_policy_status(Bucket=BUCKET)["PolicyStatus"]["IsPublic"]
            assert status is public, (statements, status)
    finally:
        alice.delete_bucket_policy(Bucket=BUCKET)


def test_secure_transport_over_real_tls(tmp_path_factory):
    """Over the server's own HTTPS, a Deny on aws:SecureTransport=false does not apply."""
    with running_server("sqlite", tmp_path_factory, tls=True) as server:
        s3 = server.s3
        s3.create_bucket(Bucket="tls-only")
        s3.put_object(Bucket="tls-only", Key="k", Body=b"over tls")
        deny = statement("Deny", action="s3:*", resource=["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
                         condition={"Bool": {"aws:SecureTransport": "false"}})
        s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Statement": [deny]}))
        assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"over tls"
        flipped = dict(deny, Condition={"Bool": {"aws:SecureTransport": "true"}})
        s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Statement": [flipped]}))
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket="tls-only", Key="k")
        assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_delete_objects_is_authorized_key_by_key(world):
    """DeleteObjects checks s3:DeleteObject on each key: a grant on home/bob/* deletes bob's key and
    reports AccessDenied for the others, which stay."""
    alice, bob = world.clients["alice"], world.clients["bob"]
    alice.put_object(Bucket=BUCKET, Key="home/bob/gone.txt", Body=b"x")
    alice.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, bob_only("s3:DeleteObject", f"{BKT}/home/bob/*")))
    try:
        out = bob.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "home/bob/gone.txt"}, {"Key": "private/b.txt"}]})
    finally:
        alice.delete_bucket_policy(Bucket=BUCKET)
    assert [d["Key"] for d in out.get("Deleted", [])] == ["home/bob/gone.txt"], out
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("private/b.txt", "AccessDenied")], out
    assert alice.get_object(Bucket=BUCKET, Key="private/b.txt")["Body"].read() == b"private/b.txt"
    with pytest.raises(ClientError) as e:
        alice.head_object(Bucket=BUCKET, Key="home/bob/gone.txt")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_multipart_upload_by_a_granted_user(world):
    """CreateMultipartUpload, UploadPart and CompleteMultipartUpload are all s3:PutObject."""
    alice, bob = world.clients["alice"], world.clients["bob"]
    alice.put_bucket_policy(Bucket=BUCKET, Policy=policy_json(world, bob_only("s3:PutObject", f"{BKT}/home/bob/*")))
    try:
        up = bob.create_multipart_upload(Bucket=BUCKET, Key="home/bob/mp.bin")["UploadId"]
        part = bob.upload_part(Bucket=BUCKET, Key="home/bob/mp.bin", UploadId=up, PartNumber=1, Body=b"m" * 100)
        bob.complete_multipart_upload(Bucket=BUCKET, Key="home/bob/mp.bin", UploadId=up,
                                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        with pytest.raises(ClientError) as e:
            bob.create_multipart_upload(Bucket=BUCKET, Key="private/mp.bin")
        assert e.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        alice.delete_bucket_policy(Bucket=BUCKET)
    assert alice.get_object(Bucket=BUCKET, Key="home/bob/mp.bin")["Body"].read() == b"m" * 100


def test_a_stored_policy_that_no_longer_validates_fails_closed(world):
    """A policy stored before a rule got stricter (here: a policy variable, now refused) is not
    dropped, which would drop its Deny statements: it denies everything but the owner's repair."""
    import sqlite3

    alice, bob = world.clients["alice"], world.clients["bob"]
    legacy = json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": BOB_ARN}, "Action": "s3:*", "Resource": [BKT, OBJ]},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{BKT}/home/${{aws:username}}/*"}]})
    db = sqlite3.connect(world.server.workdir / "metadata.sqlite")
    with db:
        db.execute("UPDATE buckets SET policy = ? WHERE name = ?", (legacy, BUCKET))
    db.close()
    try:
        for client in (bob, alice):
            with pytest.raises(ClientError) as e:
                client.get_object(Bucket=BUCKET, Key="public/a.txt")
            assert e.value.response["Error"]["Code"] == "AccessDenied"
        assert "aws:username" in alice.get_bucket_policy(Bucket=BUCKET)["Policy"], "the owner can still read it"
    finally:
        alice.delete_bucket_policy(Bucket=BUCKET)
    assert alice.get_object(Bucket=BUCKET, Key="public/a.txt")["Body"].read() == b"public/a.txt"
