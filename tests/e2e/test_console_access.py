"""The console API's access settings (issue 13), on SQLite and MariaDB: what `/api/buckets/{b}/access`
shows agrees with S3 and the reverse; ownership, Block Public Access, the policy (validated as
PutBucketPolicy validates it) and the bucket ACL changed through the API follow the same rules as S3;
the public toggle respects Block Public Access; another user gets 403 for all of it.
"""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import assert_api_error, console_login


@pytest.fixture
def root(server):
    return console_login(server)


def test_access_settings_agree_with_s3(server, s3, root, bucket):
    path = f"/api/buckets/{bucket}"
    got = root.get(f"{path}/access").json()
    assert got["ownership"] == "BucketOwnerEnforced" and got["acls_enabled"] is False, got
    assert (got["public_access_block"], got["policy"], got["policy_public"]) == (None, None, False), got
    assert [g["permission"] for g in got["acl"]] == ["FULL_CONTROL"], got
    # ACLs are refused while disabled, as S3 refuses them.
    assert_api_error(root.put(f"{path}/acl", json={"canned": "public-read"}), 400, "bad_request")
    assert_api_error(root.put(f"{path}/acl", json={"canned": "bucket-owner-read"}), 400, "bad_request")
    assert_api_error(root.put(f"{path}/access/ownership", json={"ownership": "Everybody"}), 400, "bad_request")
    assert root.put(f"{path}/access/ownership", json={"ownership": "ObjectWriter"}).status_code == 204
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    r = root.put(f"{path}/acl", json={"canned": "public-read"})
    assert r.status_code == 200 and {"grantee": "AllUsers", "id": None, "permission": "READ"} in r.json()["acl"], r.text
    assert requests.get(f"{server.endpoint}/{bucket}?list-type=2", timeout=30).status_code == 200
    # Back to enforced is refused while the bucket ACL is public (InvalidBucketAclWithObjectOwnership).
    assert_api_error(root.put(f"{path}/access/ownership", json={"ownership": "BucketOwnerEnforced"}), 400, "bad_request")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert [g["permission"] for g in root.get(f"{path}/access").json()["acl"]] == ["FULL_CONTROL"]

    # Policy: validation errors carry the reason; the stored policy is what S3 shows.
    assert_api_error(root.put(f"{path}/policy", json={"policy": "not json"}), 400, "bad_request")
    bad = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]}
    r = root.put(f"{path}/policy", json={"policy": json.dumps(bad)})
    assert_api_error(r, 400, "bad_request")
    assert "invalid resource" in r.json()["message"], r.text
    public = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    r = root.put(f"{path}/policy", json={"policy": json.dumps(public)})
    assert r.status_code == 200 and r.json() == {"policy_public": True}, r.text
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == public
    assert root.get(f"{path}/access").json()["policy_public"] is True
    assert root.delete(f"{path}/policy").status_code == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"

    # Block Public Access: set here, seen by S3; it refuses public policies, the toggle and ACLs.
    flags = {"block_public_acls": True, "ignore_public_acls": False, "block_public_policy": True,
             "restrict_public_buckets": False}
    assert root.put(f"{path}/access/block", json={"public_access_block": flags}).status_code == 204
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    assert root.get(f"{path}/access").json()["public_access_block"] == flags
    assert_api_error(root.put(f"{path}/policy", json={"policy": json.dumps(public)}), 403, "public_access_blocked")
    assert_api_error(root.put(f"{path}/public", json={"public": True}), 403, "public_access_blocked")
    assert_api_error(root.put(f"{path}/acl", json={"canned": "public-read"}), 403, "public_access_blocked")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy", "nothing was stored"
    assert root.put(f"{path}/access/block", json={"public_access_block": None}).status_code == 204
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    assert root.put(f"{path}/public", json={"public": True}).status_code == 200
    assert root.get(f"{path}/access").json()["policy_public"] is True


def test_other_users_get_403(server, s3, root, bucket):
    name = f"stranger-{bucket[-8:]}"
    assert root.post("/api/users", json={"name": name, "password": "stranger-pass-1", "role": "user"}).status_code == 201
    other = console_login(server, name, "stranger-pass-1")
    path = f"/api/buckets/{bucket}"
    for r in (other.get(f"{path}/access"),
              other.put(f"{path}/access/ownership", json={"ownership": "ObjectWriter"}),
              other.put(f"{path}/access/block", json={"public_access_block": None}),
              other.put(f"{path}/policy", json={"policy": "{}"}),
              other.delete(f"{path}/policy"),
              other.put(f"{path}/acl", json={"canned": "private"})):
        assert_api_error(r, 403, "forbidden")
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]


def test_public_toggle_keeps_the_rest_of_the_policy(s3, root, bucket):
    deny = {"Sid": "NoSecrets", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/secret/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    s3.put_object(Bucket=bucket, Key="secret/k", Body=b"s")
    s3.put_object(Bucket=bucket, Key="open/k", Body=b"o")
    r = root.put(f"/api/buckets/{bucket}/public", json={"public": True})
    assert r.status_code == 200 and r.json()["public"] is True, r.text
    sids = [st.get("Sid") for st in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]]
    assert sids == ["NoSecrets", "PublicRead"], sids
    endpoint = root.server.endpoint
    assert requests.get(f"{endpoint}/{bucket}/open/k", timeout=30).status_code == 200
    assert requests.get(f"{endpoint}/{bucket}/secret/k", timeout=30).status_code == 403, "the Deny stayed"
    assert root.put(f"/api/buckets/{bucket}/public", json={"public": False}).status_code == 200
    sids = [st.get("Sid") for st in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]]
    assert sids == ["NoSecrets"], sids


def test_console_deletes_are_authorized_key_by_key(server, s3, root, bucket):
    """A Deny on part of the bucket stops the console's delete of those keys (the owner's too), and
    delete by prefix, which cannot check each key, is refused while the policy may deny deletes."""
    for key in ("keep/a", "tmp/b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/keep/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [deny]}))
    path = f"/api/buckets/{bucket}/objects/delete"
    assert_api_error(root.post(path, json={"keys": ["tmp/b", "keep/a"]}), 403, "forbidden")
    assert_api_error(root.post(path, json={"prefix": "", "confirm_count": 2}), 403, "forbidden")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["keep/a", "tmp/b"]
    r = root.post(path, json={"keys": ["tmp/b"]})
    assert r.status_code == 200 and r.json() == {"deleted": 1}, r.text
    s3.delete_bucket_policy(Bucket=bucket)
    r = root.post(path, json={"prefix": "keep/", "confirm_count": 1})
    assert r.status_code == 200 and r.json() == {"deleted": 1}, r.text
