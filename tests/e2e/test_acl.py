"""ACLs, object ownership and Block Public Access through the real binary, on SQLite and MariaDB
(issue 13): for every canned ACL and grant form, what an anonymous caller, another signed-in user
(bob) and the owner (alice) can do afterwards, on buckets and objects, with boto3, aws-cli
(`--acl`, `--grants`) and s3cmd (`setacl`, `setpolicy`); AWS's rules for ACL requests under each
ObjectOwnership; each Block Public Access flag refusing at put time or taking grants away at
evaluation time; and an explicit Deny winning over an ACL grant.
"""

from __future__ import annotations

import json
import shutil
import uuid

import botocore
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import REGION, assert_client_error, run

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def users(server):
    """alice and bob (ordinary users), with boto3 clients, their canonical ids and an anonymous client."""
    suffix = uuid.uuid4().hex[:6]
    out = {"anonymous": server.client(signature_version=botocore.UNSIGNED)}
    for name in ("alice", "bob"):
        key, secret = server.new_user(f"{name}-{suffix}")
        out[name] = server.client(access_key=key, secret_key=secret)
        out[f"{name}_keys"] = (key, secret)
        out[f"{name}_id"] = out[name].list_buckets()["Owner"]["ID"]
    return out


def fresh_bucket(users, ownership: str = "ObjectWriter", **kw) -> str:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    users["alice"].create_bucket(Bucket=name, ObjectOwnership=ownership, **kw)
    return name


def can(call) -> bool:
    """True when the call succeeds, False on 403 AccessDenied; anything else fails the test."""
    try:
        call()
        return True
    except ClientError as e:
        status, code = e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
        assert status == 403 and code in ("AccessDenied", "403"), e.response
        return False


def reads(users, who: str, bucket: str, key: str) -> bool:
    return can(lambda: users[who].get_object(Bucket=bucket, Key=key)["Body"].read())


def lists(users, who: str, bucket: str) -> bool:
    return can(lambda: users[who].list_objects_v2(Bucket=bucket))


def writes(users, who: str, bucket: str, key: str) -> bool:
    return can(lambda: users[who].put_object(Bucket=bucket, Key=key, Body=b"by " + who.encode()))


# canned ACL -> (anonymous reads, bob reads)
OBJECT_CANNED = {
    "private": (False, False),
    "public-read": (True, True),
    "public-read-write": (True, True),
    "authenticated-read": (False, True),
    "bucket-owner-read": (False, False),
    "bucket-owner-full-control": (False, False),
}


@pytest.mark.parametrize("canned", list(OBJECT_CANNED))
def test_canned_object_acls(users, canned):
    bucket = fresh_bucket(users)
    users["alice"].put_object(Bucket=bucket, Key="doc", Body=b"hello", ACL=canned)
    anonymous, bob = OBJECT_CANNED[canned]
    assert reads(users, "anonymous", bucket, "doc") is anonymous
    assert reads(users, "bob", bucket, "doc") is bob
    assert reads(users, "alice", bucket, "doc")
    # Nobody but the owner gets the ACL itself, and no canned ACL lets others rewrite it.
    assert not can(lambda: users["bob"].get_object_acl(Bucket=bucket, Key="doc"))
    assert not can(lambda: users["bob"].put_object_acl(Bucket=bucket, Key="doc", ACL="public-read"))
    acl = users["alice"].get_object_acl(Bucket=bucket, Key="doc")
    assert acl["Owner"]["ID"] == users["alice_id"]
    groups = sorted((g["Grantee"].get("URI", ""), g["Permission"]) for g in acl["Grants"] if g["Grantee"]["Type"] == "Group")
    expected = {"public-read": [(ALL_USERS, "READ")], "public-read-write": [(ALL_USERS, "READ"), (ALL_USERS, "WRITE")],
                "authenticated-read": [("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ")]}
    assert groups == sorted(expected.get(canned, [])), acl["Grants"]
    # Listing is a bucket permission: no object ACL grants it.
    assert not lists(users, "anonymous", bucket) and not lists(users, "bob", bucket)


# canned bucket ACL -> (anonymous lists, bob lists, anonymous writes, bob writes)
BUCKET_CANNED = {
    "private": (False, False, False, False),
    "public-read": (True, True, False, False),
    "public-read-write": (True, True, True, True),
    "authenticated-read": (False, True, False, False),
    "log-delivery-write": (False, False, False, False),
}


@pytest.mark.parametrize("canned", list(BUCKET_CANNED))
def test_canned_bucket_acls(users, canned):
    bucket = fresh_bucket(users)
    users["alice"].put_object(Bucket=bucket, Key="existing", Body=b"alice's")
    users["alice"].put_bucket_acl(Bucket=bucket, ACL=canned)
    anon_list, bob_list, anon_write, bob_write = BUCKET_CANNED[canned]
    assert lists(users, "anonymous", bucket) is anon_list
    assert lists(users, "bob", bucket) is bob_list
    assert writes(users, "anonymous", bucket, "anon.txt") is anon_write
    assert writes(users, "bob", bucket, "bob.txt") is bob_write
    assert can(lambda: users["bob"].delete_object(Bucket=bucket, Key="existing")) is bob_write
    # A bucket ACL never grants reading objects (that is each object's own ACL).
    if canned != "public-read-write":
        assert not reads(users, "anonymous", bucket, "existing")
    assert lists(users, "alice", bucket)
    assert not can(lambda: users["bob"].get_bucket_acl(Bucket=bucket))


def test_object_writer_owns_what_it_writes(users):
    """Under ObjectWriter bob owns his object (its ACL names him) and grants it on; under
    BucketOwnerPreferred bucket-owner-full-control hands the object to the bucket owner."""
    bucket = fresh_bucket(users)
    users["alice"].put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{users["bob_id"]}"',
                                  GrantFullControl=f'id="{users["alice_id"]}"')
    users["bob"].put_object(Bucket=bucket, Key="bobs", Body=b"mine", ACL="private")
    assert users["bob"].get_object_acl(Bucket=bucket, Key="bobs")["Owner"]["ID"] == users["bob_id"]
    assert reads(users, "bob", bucket, "bobs") and not reads(users, "anonymous", bucket, "bobs")
    users["bob"].put_object_acl(Bucket=bucket, Key="bobs", ACL="public-read")
    assert reads(users, "anonymous", bucket, "bobs")
    listed = users["alice"].list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"]
    assert [o["Owner"]["ID"] for o in listed] == [users["bob_id"]]

    users["alice"].put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    users["bob"].put_object(Bucket=bucket, Key="handed", Body=b"x", ACL="bucket-owner-full-control")
    users["bob"].put_object(Bucket=bucket, Key="kept", Body=b"x")
    assert users["alice"].get_object_acl(Bucket=bucket, Key="handed")["Owner"]["ID"] == users["alice_id"]
    assert users["alice"].get_object_acl(Bucket=bucket, Key="kept")["Owner"]["ID"] == users["bob_id"]


def test_grant_headers_and_access_control_policy(users):
    bucket = fresh_bucket(users)
    alice, bob_id = users["alice"], users["bob_id"]
    alice.put_object(Bucket=bucket, Key="for-bob", Body=b"b", GrantRead=f'id="{bob_id}"')
    assert reads(users, "bob", bucket, "for-bob") and not reads(users, "anonymous", bucket, "for-bob")
    alice.put_object(Bucket=bucket, Key="for-all", Body=b"a", GrantRead=f'uri="{ALL_USERS}"')
    assert reads(users, "anonymous", bucket, "for-all")
    alice.put_object(Bucket=bucket, Key="bob-admin", Body=b"c", GrantFullControl=f'id="{bob_id}"')
    users["bob"].put_object_acl(Bucket=bucket, Key="bob-admin", GrantReadACP=f'id="{bob_id}"')
    assert not reads(users, "bob", bucket, "bob-admin"), "the new ACL replaced bob's FULL_CONTROL"
    acl = users["bob"].get_object_acl(Bucket=bucket, Key="bob-admin")
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [(bob_id, "READ_ACP")]
    # An AccessControlPolicy body.
    owner = alice.get_bucket_acl(Bucket=bucket)["Owner"]
    alice.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "CanonicalUser", "ID": bob_id}, "Permission": "READ"},
    ]})
    assert lists(users, "bob", bucket) and not lists(users, "anonymous", bucket)
    grants = alice.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in grants] == [(owner["ID"], "FULL_CONTROL"), (bob_id, "READ")]


@pytest.mark.parametrize("kwargs,status,code", [
    ({"ACL": "public-read", "GrantRead": f'uri="{ALL_USERS}"'}, 400, "InvalidRequest"),
    ({"GrantRead": 'emailAddress="bob@example.com"'}, 400, "UnresolvableGrantByEmailAddress"),
    ({"GrantRead": 'id="' + "f" * 64 + '"'}, 400, "InvalidArgument"),
    ({"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/Nobody"'}, 400, "InvalidArgument"),
    ({"GrantRead": "nonsense"}, 400, "InvalidArgument"),
])
def test_invalid_acls_are_refused_and_store_nothing(users, kwargs, status, code):
    bucket = fresh_bucket(users)
    with pytest.raises(ClientError) as e:
        users["alice"].put_object(Bucket=bucket, Key="k", Body=b"x", **kwargs)
    assert_client_error(e, status, code)
    assert "Contents" not in users["alice"].list_objects_v2(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        users["alice"].put_bucket_acl(Bucket=bucket, **kwargs)
    assert_client_error(e, status, code)


def test_bucket_owner_enforced_disables_acls(users):
    """The default: ACLs other than the owner's full control are refused with
    AccessControlListNotSupported; switching ACLs off later makes stored grants count for nothing."""
    bucket = fresh_bucket(users, ownership="BucketOwnerEnforced")
    alice = users["alice"]
    for call in (lambda: alice.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read"),
                 lambda: alice.put_bucket_acl(Bucket=bucket, ACL="public-read"),
                 lambda: alice.put_bucket_acl(Bucket=bucket, GrantRead=f'id="{users["bob_id"]}"')):
        with pytest.raises(ClientError) as e:
            call()
        assert_client_error(e, 400, "AccessControlListNotSupported")
    alice.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    alice.put_object(Bucket=bucket, Key="k2", Body=b"x", ACL="private")
    with pytest.raises(ClientError) as e:
        users["alice"].create_bucket(Bucket=f"acl-{uuid.uuid4().hex[:12]}", ObjectOwnership="BucketOwnerEnforced",
                                     ACL="public-read")
    assert_client_error(e, 400, "InvalidBucketAclWithObjectOwnership")

    writer = fresh_bucket(users, ACL="public-read")
    alice.put_object(Bucket=writer, Key="pub", Body=b"p", ACL="public-read")
    assert reads(users, "anonymous", writer, "pub") and lists(users, "anonymous", writer)
    with pytest.raises(ClientError) as e:
        alice.put_bucket_ownership_controls(Bucket=writer, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert_client_error(e, 400, "InvalidBucketAclWithObjectOwnership")
    alice.put_bucket_acl(Bucket=writer, ACL="private")
    alice.put_bucket_ownership_controls(Bucket=writer, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert not reads(users, "anonymous", writer, "pub"), "ACLs disabled: the object's grant no longer counts"
    assert [g["Permission"] for g in alice.get_object_acl(Bucket=writer, Key="pub")["Grants"]] == ["FULL_CONTROL"]
    alice.delete_bucket_ownership_controls(Bucket=writer)
    with pytest.raises(ClientError) as e:
        alice.get_bucket_ownership_controls(Bucket=writer)
    assert_client_error(e, 404, "OwnershipControlsNotFoundError")
    assert reads(users, "anonymous", writer, "pub"), "without controls (ObjectWriter) the stored grant counts again"
    with pytest.raises(ClientError) as e:
        alice.put_bucket_ownership_controls(Bucket=writer, OwnershipControls={"Rules": [{"ObjectOwnership": "Nobody"}]})
    assert_client_error(e, 400, None)


def test_block_public_access_flags(users):
    bucket = fresh_bucket(users)
    alice = users["alice"]
    alice.put_object(Bucket=bucket, Key="public", Body=b"p", ACL="public-read")
    public_policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                               "Resource": f"arn:aws:s3:::{bucket}/open/*"}]})
    alice.put_object(Bucket=bucket, Key="open/file", Body=b"o")
    alice.put_bucket_policy(Bucket=bucket, Policy=public_policy)

    def block(**flags):
        alice.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False, **flags})

    block(BlockPublicAcls=True)
    for call in (lambda: alice.put_object(Bucket=bucket, Key="new", Body=b"x", ACL="public-read"),
                 lambda: alice.put_object_acl(Bucket=bucket, Key="open/file", ACL="public-read"),
                 lambda: alice.put_bucket_acl(Bucket=bucket, ACL="authenticated-read"),
                 lambda: alice.put_object(Bucket=bucket, Key="new", Body=b"x", GrantRead=f'uri="{ALL_USERS}"')):
        with pytest.raises(ClientError) as e:
            call()
        assert_client_error(e, 403, "AccessDenied")
    with pytest.raises(ClientError):
        alice.head_object(Bucket=bucket, Key="new")
    alice.put_object(Bucket=bucket, Key="private-ok", Body=b"x", ACL="private")
    assert reads(users, "anonymous", bucket, "public"), "BlockPublicAcls leaves existing grants"

    block(IgnorePublicAcls=True)
    assert not reads(users, "anonymous", bucket, "public") and not reads(users, "bob", bucket, "public")
    assert reads(users, "anonymous", bucket, "open/file"), "the policy still applies"

    block(BlockPublicPolicy=True)
    with pytest.raises(ClientError) as e:
        alice.put_bucket_policy(Bucket=bucket, Policy=public_policy)
    assert_client_error(e, 403, "AccessDenied")
    bob_only = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::cloudvault:user/x"},
                                          "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    alice.put_bucket_policy(Bucket=bucket, Policy=bob_only)
    alice.delete_public_access_block(Bucket=bucket)
    alice.put_bucket_policy(Bucket=bucket, Policy=public_policy)

    block(RestrictPublicBuckets=True)
    assert not reads(users, "anonymous", bucket, "open/file"), "a public policy reaches no anonymous caller"
    assert reads(users, "bob", bucket, "open/file"), "signed-in users keep what the policy grants"
    got = alice.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
                   "RestrictPublicBuckets": True}
    alice.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        alice.get_public_access_block(Bucket=bucket)
    assert_client_error(e, 404, "NoSuchPublicAccessBlockConfiguration")
    assert reads(users, "anonymous", bucket, "open/file") and reads(users, "anonymous", bucket, "public")
    assert not can(lambda: users["bob"].put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True}))


def test_deny_wins_over_an_acl_grant(users):
    bucket = fresh_bucket(users)
    users["alice"].put_object(Bucket=bucket, Key="shared", Body=b"s", ACL="public-read")
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    users["alice"].put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [deny]}))
    assert not reads(users, "anonymous", bucket, "shared") and not reads(users, "bob", bucket, "shared")
    users["alice"].delete_bucket_policy(Bucket=bucket)
    assert reads(users, "anonymous", bucket, "shared")


def anonymous_get(server, bucket: str, key: str) -> int:
    return requests.get(f"{server.endpoint}/{bucket}/{key}", verify=server.verify, timeout=30).status_code


def test_aws_cli_acl_and_grants(server, users, tmp_path):
    bucket = fresh_bucket(users)
    key, secret = users["alice_keys"]
    env = dict(server.aws_env(), AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    aws = lambda *args: run(["aws", *args, "--endpoint-url", server.endpoint], env=env, timeout=60)  # noqa: E731
    src = tmp_path / "f.txt"
    src.write_bytes(b"from aws-cli")
    aws("s3", "cp", str(src), f"s3://{bucket}/cli-public", "--acl", "public-read")
    aws("s3", "cp", str(src), f"s3://{bucket}/cli-private")
    aws("s3", "cp", str(src), f"s3://{bucket}/cli-granted", "--grants", f"read=uri={ALL_USERS}")
    assert anonymous_get(server, bucket, "cli-public") == 200
    assert anonymous_get(server, bucket, "cli-private") == 403
    assert anonymous_get(server, bucket, "cli-granted") == 200
    aws("s3api", "put-object-acl", "--bucket", bucket, "--key", "cli-private", "--grant-read", f"id={users['bob_id']}")
    assert reads(users, "bob", bucket, "cli-private") and anonymous_get(server, bucket, "cli-private") == 403
    acl = json.loads(aws("s3api", "get-object-acl", "--bucket", bucket, "--key", "cli-private").stdout)
    assert [(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]] == [(users["bob_id"], "READ")]
    aws("s3api", "put-bucket-acl", "--bucket", bucket, "--acl", "public-read")
    assert requests.get(f"{server.endpoint}/{bucket}?list-type=2", verify=server.verify, timeout=30).status_code == 200


def test_s3cmd_setacl_and_setpolicy(server, users, tmp_path):
    bucket = fresh_bucket(users)
    users["alice"].put_object(Bucket=bucket, Key="notes.txt", Body=b"s3cmd")
    s3cmd = shutil.which("s3cmd") or pytest.fail("s3cmd missing; run scripts/setup-test-env")
    host = server.endpoint.split("://", 1)[1]
    key, secret = users["alice_keys"]
    base = [s3cmd, "--no-ssl" if server.endpoint.startswith("http:") else "--ssl", "--host", host, "--host-bucket", host,
            "--access_key", key, "--secret_key", secret, "--region", REGION, "--config", "/dev/null"]
    env = server.rclone_env()
    run([*base, "setacl", "--acl-public", f"s3://{bucket}/notes.txt"], env=env, timeout=60)
    assert anonymous_get(server, bucket, "notes.txt") == 200
    run([*base, "setacl", "--acl-private", f"s3://{bucket}/notes.txt"], env=env, timeout=60)
    assert anonymous_get(server, bucket, "notes.txt") == 403
    run([*base, "setacl", f"--acl-grant=read:{users['bob_id']}", f"s3://{bucket}/notes.txt"], env=env, timeout=60)
    assert reads(users, "bob", bucket, "notes.txt") and anonymous_get(server, bucket, "notes.txt") == 403
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                 "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    run([*base, "setpolicy", str(policy), f"s3://{bucket}"], env=env, timeout=60)
    assert anonymous_get(server, bucket, "notes.txt") == 200
    run([*base, "delpolicy", f"s3://{bucket}"], env=env, timeout=60)
    assert anonymous_get(server, bucket, "notes.txt") == 403


def test_write_grantees_cannot_erase_versions_or_lock_objects(server, users):
    """Bucket WRITE (public-read-write) lets anyone put and delete objects, but not delete versions
    (s3:DeleteObjectVersion), and a write's object lock headers need s3:PutObjectRetention."""
    bucket = fresh_bucket(users, ACL="public-read-write")
    alice = users["alice"]
    alice.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    vid = alice.put_object(Bucket=bucket, Key="history", Body=b"v1")["VersionId"]
    assert not can(lambda: users["anonymous"].delete_object(Bucket=bucket, Key="history", VersionId=vid))
    assert not can(lambda: users["bob"].delete_object(Bucket=bucket, Key="history", VersionId=vid))
    assert alice.get_object(Bucket=bucket, Key="history", VersionId=vid)["Body"].read() == b"v1"
    assert can(lambda: users["bob"].delete_object(Bucket=bucket, Key="history")), "a delete marker is a write"

    locked = f"acl-{uuid.uuid4().hex[:12]}"
    alice.create_bucket(Bucket=locked, ObjectOwnership="ObjectWriter", ObjectLockEnabledForBucket=True)
    alice.put_bucket_acl(Bucket=locked, ACL="public-read-write")
    until = __import__("datetime").datetime(2099, 1, 1, tzinfo=__import__("datetime").timezone.utc)
    assert not can(lambda: users["bob"].put_object(Bucket=locked, Key="forever", Body=b"x", ObjectLockMode="COMPLIANCE",
                                                   ObjectLockRetainUntilDate=until,
                                                   ChecksumAlgorithm="SHA256"))
    assert not can(lambda: users["bob"].put_object(Bucket=locked, Key="held", Body=b"x", ObjectLockLegalHoldStatus="ON",
                                                   ChecksumAlgorithm="SHA256"))
    assert can(lambda: users["bob"].put_object(Bucket=locked, Key="plain", Body=b"x", ChecksumAlgorithm="SHA256"))
    assert "Versions" in alice.list_object_versions(Bucket=locked, Prefix="plain")
    with pytest.raises(ClientError):
        alice.head_object(Bucket=locked, Key="forever")
