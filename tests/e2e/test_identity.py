"""Identity and access control through the real binary: users and access keys made with
`cloudvault admin`, bucket ownership, disabled keys, public-read buckets via bucket policy, object and
bucket tagging, ListObjectVersions, and the "not configured" answers SDKs and rclone probe.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
import urllib.parse

import pymysql

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import assert_client_error, assert_xml_error, client_error, run, tool_path


def admin(server, *args: str, stdin: str | None = None) -> str:
    """Run `cloudvault admin ...` on the server's database and data dir; return stdout."""
    proc = subprocess.run(
        [str(server.binary), "admin", *args],
        env=server.server_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"cloudvault admin {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def new_key(server, user: str) -> tuple[str, str]:
    out = admin(server, "key", "create", user)
    key_id = re.search(r"access key id:\s+(\S+)", out).group(1)
    secret = re.search(r"secret access key:\s+(\S+)", out).group(1)
    return key_id, secret


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def test_users_own_their_buckets_and_keys_can_be_disabled(server):
    """A user created with the admin CLI gets a key; with aws-cli it creates a bucket and uploads;
    another user's key is refused (403 AccessDenied); the admin can read it; disabling the key makes
    aws-cli fail within seconds; a disabled user's keys stop too."""
    alice, bob = unique("alice"), unique("bob")
    assert "created user " + alice in admin(server, "user", "add", alice, "--password-stdin", stdin="pw-alice-123\n")
    assert "password:" not in admin(server, "user", "add", bob, "--password-stdin", stdin="pw-bob-12345\n")
    a_id, a_secret = new_key(server, alice)
    b_id, b_secret = new_key(server, bob)
    listed = admin(server, "key", "list", alice)
    assert a_id in listed and a_secret not in listed, "key list never shows secrets"

    bucket = unique("alice-data")
    env = dict(server.aws_env(), AWS_ACCESS_KEY_ID=a_id, AWS_SECRET_ACCESS_KEY=a_secret)
    aws = lambda *args, check=True: run(  # noqa: E731
        [tool_path("aws"), *args, "--endpoint-url", server.endpoint], env=env, timeout=60, check=check)
    aws("s3", "mb", f"s3://{bucket}")
    aws("s3api", "put-object", "--bucket", bucket, "--key", "report.txt", "--body", __file__)

    alice_s3 = server.client(access_key=a_id, secret_key=a_secret)
    bob_s3 = server.client(access_key=b_id, secret_key=b_secret)
    assert [b["Name"] for b in alice_s3.list_buckets()["Buckets"]] == [bucket], "users see only their buckets"
    for call in (
        lambda: bob_s3.get_object(Bucket=bucket, Key="report.txt"),
        lambda: bob_s3.list_objects_v2(Bucket=bucket),
        lambda: bob_s3.put_object(Bucket=bucket, Key="intruder", Body=b"x"),
        lambda: bob_s3.delete_object(Bucket=bucket, Key="report.txt"),
        lambda: bob_s3.put_bucket_policy(Bucket=bucket, Policy="{}"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert client_error(e.value)[0] == 403, e.value.response
    # A destination bucket that does not exist answers NoSuchBucket (as AWS does), never a copy.
    with pytest.raises(ClientError) as e:
        bob_s3.copy_object(Bucket=unique("nope"), Key="k", CopySource={"Bucket": bucket, "Key": "report.txt"})
    assert_client_error(e, 404, "NoSuchBucket")
    # Bob can still copy into his own bucket, but not from Alice's.
    bob_bucket = unique("bob-data")
    bob_s3.create_bucket(Bucket=bob_bucket)
    with pytest.raises(ClientError) as e:
        bob_s3.copy_object(Bucket=bob_bucket, Key="stolen", CopySource={"Bucket": bucket, "Key": "report.txt"})
    assert_client_error(e, 403, "AccessDenied")
    # The admin (root) may read everything.
    assert server.s3.get_object(Bucket=bucket, Key="report.txt")["Body"].read() == open(__file__, "rb").read()

    admin(server, "key", "disable", a_id)
    deadline = time.monotonic() + 15
    while True:
        proc = aws("s3", "ls", f"s3://{bucket}", check=False)
        if proc.returncode != 0:
            assert b"InvalidAccessKeyId" in proc.stderr, proc.stderr
            break
        assert time.monotonic() < deadline, "a disabled key still works after 15 s"
        time.sleep(0.5)

    admin(server, "user", "disable", bob)
    deadline = time.monotonic() + 15
    while True:
        try:
            bob_s3.list_buckets()
        except ClientError as err:
            assert client_error(err) == (403, "InvalidAccessKeyId")
            break
        assert time.monotonic() < deadline, "a disabled user's key still works after 15 s"
        time.sleep(0.5)


def stored_row(server, sql: str, arg: str):
    """One row read straight from the server's database (SQLite file or MariaDB database)."""
    if server.backend == "sqlite":
        db = sqlite3.connect(server.database_url.removeprefix("sqlite://").split("?", 1)[0])
        try:
            return db.execute(sql, (arg,)).fetchone()
        finally:
            db.close()
    url = urllib.parse.urlparse(server.database_url)
    db = pymysql.connect(host=url.hostname, port=url.port or 3306, user=url.username or "root",
                         password=url.password or "", database=url.path.lstrip("/"))
    try:
        with db.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), (arg,))
            return cur.fetchone()
    finally:
        db.close()


def test_secrets_are_sealed_at_rest(server):
    """Access-key secrets are never stored in plain text, passwords only as argon2id hashes (the
    database is read directly)."""
    user = unique("carol")
    admin(server, "user", "add", user, "--password-stdin", stdin="pw-carol-123\n")
    key_id, secret = new_key(server, user)
    stored = stored_row(server, "SELECT secret FROM access_keys WHERE access_key_id = ?", key_id)[0]
    hashes = stored_row(server, "SELECT password_hash FROM users WHERE name = ?", user)[0]
    assert stored.startswith("v1:") and secret not in stored
    assert hashes.startswith("$argon2id$") and "pw-carol-123" not in hashes
    # And the sealed key still authenticates.
    assert server.client(access_key=key_id, secret_key=secret).list_buckets()["Buckets"] == []


def public_read_policy(bucket: str, listing: bool = False) -> str:
    statements = [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{bucket}/*"}]
    if listing:
        statements.append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket",
                           "Resource": f"arn:aws:s3:::{bucket}"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def test_public_read_bucket(server, s3, bucket):
    """Anonymous GET works only when the policy grants s3:GetObject to everyone; the listing stays
    private unless granted separately; deleting the policy makes the bucket private again."""
    s3.put_object(Bucket=bucket, Key="pics/cat.jpg", Body=b"meow", ContentType="image/jpeg")
    url = f"{server.endpoint}/{bucket}/pics/cat.jpg"
    assert_xml_error(requests.get(url, timeout=10), 403, "AccessDenied")
    assert_xml_error(requests.get(f"{server.endpoint}/{bucket}", timeout=10), 403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert_client_error(e, 404, "NoSuchBucketPolicy")

    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    got = requests.get(url, timeout=10)
    assert (got.status_code, got.content, got.headers["Content-Type"]) == (200, b"meow", "image/jpeg")
    assert requests.head(url, timeout=10).status_code == 200
    assert_xml_error(requests.get(f"{server.endpoint}/{bucket}", timeout=10), 403, "AccessDenied")
    assert_xml_error(requests.get(f"{server.endpoint}/{bucket}?list-type=2", timeout=10), 403, "AccessDenied")
    assert_xml_error(requests.put(f"{server.endpoint}/{bucket}/evil", data=b"x", timeout=10), 403, "AccessDenied")
    assert_xml_error(requests.delete(url, timeout=10), 403, "AccessDenied")
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(public_read_policy(bucket))

    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket, listing=True))
    listing = requests.get(f"{server.endpoint}/{bucket}?list-type=2", timeout=10)
    assert listing.status_code == 200 and b"<Key>pics/cat.jpg</Key>" in listing.content

    s3.delete_bucket_policy(Bucket=bucket)
    assert_xml_error(requests.get(url, timeout=10), 403, "AccessDenied")


def test_malformed_policy_is_refused(s3, bucket):
    for bad in ("not json", json.dumps({"Statement": []}),
                json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                           "Resource": "arn:aws:s3:::some-other-bucket/*"}]})):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=bad)
        assert_client_error(e, 400, "MalformedPolicy")


def test_object_and_bucket_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t.txt", Body=b"x", Tagging="project=cloud%20vault&team=storage")
    got = s3.get_object(Bucket=bucket, Key="t.txt")
    assert got["TagCount"] == 2
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="t.txt")["TagSet"]}
    assert tags == {"project": "cloud vault", "team": "storage"}
    s3.put_object_tagging(Bucket=bucket, Key="t.txt", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t.txt")["TagSet"] == [{"Key": "a", "Value": "b"}]
    s3.put_object_tagging(Bucket=bucket, Key="t.txt", Tagging={"TagSet": []})
    assert s3.get_object_tagging(Bucket=bucket, Key="t.txt")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="t.txt", Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert_client_error(e, 400, "InvalidTag")
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert_client_error(e, 404, "NoSuchKey")

    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert_client_error(e, 404, "NoSuchTagSet")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "env", "Value": "prod"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert_client_error(e, 404, "NoSuchTagSet")


def test_list_object_versions_and_delete_null_versions(s3, bucket):
    keys = [f"dir/{i:02d}" for i in range(7)] + ["top"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    seen, marker = [], None
    while True:
        kwargs = {"Bucket": bucket, "MaxKeys": 3}
        if marker:
            kwargs.update(KeyMarker=marker, VersionIdMarker="null")
        page = s3.list_object_versions(**kwargs)
        for v in page.get("Versions", []):
            assert (v["VersionId"], v["IsLatest"]) == ("null", True)
            seen.append(v["Key"])
        if not page["IsTruncated"]:
            break
        marker = page["NextKeyMarker"]
    assert seen == sorted(keys)
    rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["dir/"]
    assert [v["Key"] for v in rolled["Versions"]] == ["top"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k, "VersionId": "null"} for k in keys]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted(keys) and not out.get("Errors")
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []


def test_probed_subresources_answer_not_configured(server, s3, bucket):
    """What SDKs, rclone and Terraform probe answers like an AWS bucket with nothing configured."""
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Owner"]["ID"] == acl["Grants"][0]["Grantee"]["ID"] and len(acl["Owner"]["ID"]) == 64
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    # New buckets have ACLs disabled (BucketOwnerEnforced), as on AWS since 2023.
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert_client_error(e, 400, "AccessControlListNotSupported")
    s3.put_object(Bucket=bucket, Key="o", Body=b"1")
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="o")["Grants"]] == ["FULL_CONTROL"]
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    for call, status, code in [
        (s3.get_bucket_lifecycle_configuration, 404, "NoSuchLifecycleConfiguration"),
        (s3.get_bucket_encryption, 404, "ServerSideEncryptionConfigurationNotFoundError"),
        (s3.get_object_lock_configuration, 404, "ObjectLockConfigurationNotFoundError"),
        (s3.get_bucket_website, 404, "NoSuchWebsiteConfiguration"),
        (s3.get_bucket_replication, 404, "ReplicationConfigurationNotFoundError"),
        (s3.get_public_access_block, 404, "NoSuchPublicAccessBlockConfiguration"),
        (s3.get_bucket_policy, 404, "NoSuchBucketPolicy"),
    ]:
        with pytest.raises(ClientError) as e:
            call(Bucket=bucket)
        assert_client_error(e, status, code)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket=unique("no-such-bucket"))
    assert_client_error(e, 404, "NoSuchBucket")
    # aws-cli's view of the same probes.
    assert json.loads(server.aws("s3api", "get-bucket-acl", "--bucket", bucket).stdout)["Grants"][0]["Permission"] == "FULL_CONTROL"
    server.aws("s3api", "get-bucket-versioning", "--bucket", bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert json.loads(server.aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)["TagSet"] == [{"Key": "k", "Value": "v"}]


def test_rclone_purge_removes_bucket_and_contents(server, s3, bucket):
    for i in range(12):
        s3.put_object(Bucket=bucket, Key=f"a/b/{i}", Body=b"x" * i)
    server.rclone("purge", f"minio:{bucket}")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket)
    assert client_error(e.value)[0] == 404
