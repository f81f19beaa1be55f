"""Administration through the console API: users (create, sign in as them, disable, enable, password
reset, delete, and what admins alone may do), changing one's own password, and access keys restricted
to some buckets or to reads, checked with boto3 and aws-cli.

Covered elsewhere and not repeated here: `aws s3api get-bucket-versioning / get-bucket-acl /
get-bucket-tagging` and `rclone purge` with full access (test_identity.py); here the `get-bucket-*`
probes run with a read-only restricted key.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import (
    ConsoleSession,
    assert_api_error,
    assert_client_error,
    console_login,
    run,
    tool_path,
)


@pytest.fixture
def root(server):
    return console_login(server)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def login(server, user: str, password: str) -> requests.Response:
    return requests.post(f"{server.api}/api/login", json={"username": user, "password": password}, timeout=30)


def me_status(server, session: ConsoleSession) -> int:
    return session.get("/api/me").status_code


def create_user(root: ConsoleSession, name: str, password: str, role: str = "user") -> dict:
    r = root.post("/api/users", json={"name": name, "password": password, "role": role})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["name"], created["role"]) == (name, role)
    assert isinstance(created["id"], int)
    return created


def users_by_name(root: ConsoleSession) -> dict:
    r = root.get("/api/users")
    assert r.status_code == 200, r.text
    return {u["name"]: u for u in r.json()["users"]}


# ------------------------------------------------------------------------------------------------
# Users
# ------------------------------------------------------------------------------------------------


def test_admin_manages_users(server, root):
    name, password = unique("ursula"), "ursula-password-1"
    created = create_user(root, name, password)
    uid = created["id"]
    listed = users_by_name(root)[name]
    assert (listed["id"], listed["role"], listed["enabled"]) == (uid, "user", True)
    assert abs(listed["created_at"] - time.time() * 1000) < 10 * 60 * 1000, "created_at is unix milliseconds"
    assert users_by_name(root)[server.access_key]["role"] == "admin"

    assert_api_error(root.post("/api/users", json={"name": name, "password": "another-password", "role": "user"}),
                     409, "already_exists")
    assert_api_error(root.post("/api/users", json={"name": unique("weak"), "password": "short", "role": "user"}),
                     400, "weak_password")
    assert_api_error(root.post("/api/users", json={"name": unique("weak"), "password": "1234567", "role": "user"}),
                     400, "weak_password")

    # The new user signs in; a plain user administers nothing.
    user = console_login(server, name, password)
    assert user.user["role"] == "user"
    me = user.get("/api/me").json()
    assert (me["id"], me["name"], me["role"]) == (uid, name, "user")
    assert_api_error(user.get("/api/users"), 403, "forbidden")
    assert_api_error(user.post("/api/users", json={"name": unique("sneaky"), "password": "sneaky-password", "role": "admin"}),
                     403, "forbidden")
    root_id = root.get("/api/me").json()["id"]
    for path in (f"/api/users/{root_id}/disable", f"/api/users/{uid}/enable"):
        assert_api_error(user.post(path), 403, "forbidden")
    assert_api_error(user.post(f"/api/users/{root_id}/password", json={"password": "taken-over-1"}), 403, "forbidden")
    assert_api_error(user.delete(f"/api/users/{root_id}"), 403, "forbidden")
    assert me_status(server, root) == 200, "the refused calls changed nothing for root"

    # Disabling ends the user's sessions and refuses sign-in; enabling lets them back in.
    assert root.post(f"/api/users/{uid}/disable").status_code == 204
    assert_api_error(user.get("/api/me"), 401, "unauthorized")
    assert_api_error(login(server, name, password), 401, "invalid_credentials")
    assert users_by_name(root)[name]["enabled"] is False
    assert root.post(f"/api/users/{uid}/enable").status_code == 204
    assert users_by_name(root)[name]["enabled"] is True
    user = console_login(server, name, password)
    assert me_status(server, user) == 200

    # An admin's password reset ends the user's sessions; the new password works, the old one not.
    assert_api_error(root.post(f"/api/users/{uid}/password", json={"password": "short"}), 400, "weak_password")
    assert me_status(server, user) == 200, "a refused reset ends nothing"
    r = root.post(f"/api/users/{uid}/password", json={"password": "ursula-new-password"})
    assert r.status_code == 204, r.text
    assert_api_error(user.get("/api/me"), 401, "unauthorized")
    assert_api_error(login(server, name, password), 401, "invalid_credentials")
    user = console_login(server, name, "ursula-new-password")

    # A user who owns a bucket cannot be deleted; once the bucket is gone, they can.
    bucket = unique("ursulas-bucket")
    assert user.post("/api/buckets", json={"name": bucket}).status_code == 201
    assert_api_error(root.delete(f"/api/users/{uid}"), 409, "user_owns_buckets")
    assert me_status(server, user) == 200
    assert user.delete(f"/api/buckets/{bucket}").status_code == 204
    r = root.delete(f"/api/users/{uid}")
    assert r.status_code == 204, r.text
    assert name not in users_by_name(root)
    assert me_status(server, user) == 401
    assert login(server, name, "ursula-new-password").status_code == 401
    assert_api_error(root.delete(f"/api/users/{uid}"), 404, "not_found")
    for path in (f"/api/users/{uid}/disable", f"/api/users/{uid}/enable"):
        assert_api_error(root.post(path), 404, "not_found")

    # Nobody deletes themselves.
    assert_api_error(root.delete(f"/api/users/{root_id}"), 409, "conflict")
    assert me_status(server, root) == 200


def test_admins_made_in_the_console_administer(server, root):
    name, password = unique("ada"), "ada-password-12"
    create_user(root, name, password, role="admin")
    ada = console_login(server, name, password)
    assert ada.user["role"] == "admin"
    assert ada.get("/api/me").json()["role"] == "admin"
    assert server.access_key in users_by_name(ada)
    other = create_user(ada, unique("bert"), "bert-password-1")
    assert ada.post(f"/api/users/{other['id']}/disable").status_code == 204
    # The admin reaches other users' buckets, as on S3.
    bucket = unique("roots-bucket")
    assert root.post("/api/buckets", json={"name": bucket}).status_code == 201
    server.s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    r = ada.get(f"/api/buckets/{bucket}/objects")
    assert r.status_code == 200 and [o["key"] for o in r.json()["objects"]] == ["k"]


def test_change_own_password(server, root):
    name, password = unique("petra"), "petra-password-1"
    create_user(root, name, password)
    first = console_login(server, name, password)
    second = console_login(server, name, password)

    wrong = first.post("/api/me/password", json={"current_password": "not-my-password", "new_password": "petra-password-2"})
    assert_api_error(wrong, 403, "forbidden")
    assert me_status(server, first) == 200, "a wrong current password ends no session"
    assert_api_error(first.post("/api/me/password", json={"current_password": password, "new_password": "short"}),
                     400, "weak_password")
    assert me_status(server, first) == 200

    r = first.post("/api/me/password", json={"current_password": password, "new_password": "petra-password-2"})
    assert r.status_code == 200, r.text
    fresh = ConsoleSession(server, r.json()["token"])
    assert r.json()["expires_at"] > time.time()
    assert_api_error(first.get("/api/me"), 401, "unauthorized")
    assert_api_error(second.get("/api/me"), 401, "unauthorized")
    assert fresh.get("/api/me").json()["name"] == name
    assert_api_error(login(server, name, password), 401, "invalid_credentials")
    console_login(server, name, "petra-password-2")


# ------------------------------------------------------------------------------------------------
# Restricted access keys
# ------------------------------------------------------------------------------------------------


def make_key(session: ConsoleSession, **body) -> dict:
    r = session.post("/api/keys", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def denied(call) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert_client_error(e, 403, "AccessDenied")


def aws_as(server, key: dict, *args: str, check: bool = True):
    env = dict(server.aws_env(), AWS_ACCESS_KEY_ID=key["access_key_id"], AWS_SECRET_ACCESS_KEY=key["secret_access_key"])
    return run([tool_path("aws"), *args, "--endpoint-url", server.endpoint], env=env, timeout=60, check=check)


def test_keys_restricted_to_buckets_and_reads(server, root, tmp_path):
    name, password = unique("rita"), "rita-password-1"
    create_user(root, name, password)
    rita = console_login(server, name, password)
    b1, b2 = unique("rita-one"), unique("rita-two")
    for b in (b1, b2):
        assert rita.post("/api/buckets", json={"name": b}).status_code == 201
    full = make_key(rita)
    assert (full["buckets"], full["access"], full["expires_at"]) == (None, "readwrite", None)
    owner = server.client(access_key=full["access_key_id"], secret_key=full["secret_access_key"])
    for b in (b1, b2):
        owner.put_object(Bucket=b, Key="doc.txt", Body=f"in {b}".encode())
        owner.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "team", "Value": "rita"}]})

    reader = make_key(rita, buckets=[b1], access="read")
    assert (reader["buckets"], reader["access"]) == ([b1], "read")
    listed = {k["access_key_id"]: k for k in rita.get("/api/keys").json()["keys"]}
    assert (listed[reader["access_key_id"]]["buckets"], listed[reader["access_key_id"]]["access"]) == ([b1], "read")
    assert listed[reader["access_key_id"]]["enabled"] is True
    assert (listed[full["access_key_id"]]["buckets"], listed[full["access_key_id"]]["access"]) == (None, "readwrite")

    # The read key reads b1 (boto3 and aws-cli) ...
    ro = server.client(access_key=reader["access_key_id"], secret_key=reader["secret_access_key"])
    assert ro.get_object(Bucket=b1, Key="doc.txt")["Body"].read() == f"in {b1}".encode()
    assert [o["Key"] for o in ro.list_objects_v2(Bucket=b1)["Contents"]] == ["doc.txt"]
    ro.head_object(Bucket=b1, Key="doc.txt")
    assert [b["Name"] for b in ro.list_buckets()["Buckets"]] == [b1], "ListBuckets shows only the key's buckets"
    assert sorted(b["Name"] for b in owner.list_buckets()["Buckets"]) == sorted([b1, b2])
    assert aws_as(server, reader, "s3", "cp", f"s3://{b1}/doc.txt", "-").stdout == f"in {b1}".encode()
    assert b"doc.txt" in aws_as(server, reader, "s3", "ls", f"s3://{b1}/").stdout
    # ... including the configuration probes (Get* is a read).
    assert "Status" not in json.loads(aws_as(server, reader, "s3api", "get-bucket-versioning", "--bucket", b1).stdout or "{}")
    acl = json.loads(aws_as(server, reader, "s3api", "get-bucket-acl", "--bucket", b1).stdout)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    tags = json.loads(aws_as(server, reader, "s3api", "get-bucket-tagging", "--bucket", b1).stdout)
    assert tags["TagSet"] == [{"Key": "team", "Value": "rita"}]

    # ... but writes nothing, and touches nothing in b2.
    denied(lambda: ro.put_object(Bucket=b1, Key="new.txt", Body=b"x"))
    denied(lambda: ro.delete_object(Bucket=b1, Key="doc.txt"))
    denied(lambda: ro.put_bucket_tagging(Bucket=b1, Tagging={"TagSet": []}))
    denied(lambda: ro.create_multipart_upload(Bucket=b1, Key="mp"))
    denied(lambda: ro.get_object(Bucket=b2, Key="doc.txt"))
    for head in (lambda: ro.head_bucket(Bucket=b2), lambda: ro.head_object(Bucket=b2, Key="doc.txt")):
        with pytest.raises(ClientError) as e:  # HEAD answers carry no error code, only the status
            head()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    denied(lambda: ro.list_objects_v2(Bucket=b2))
    denied(lambda: ro.put_object(Bucket=b2, Key="new.txt", Body=b"x"))
    denied(lambda: ro.create_bucket(Bucket=unique("rita-three")))
    src = tmp_path / "upload.txt"
    src.write_bytes(b"from aws-cli")
    proc = aws_as(server, reader, "s3", "cp", str(src), f"s3://{b1}/cli.txt", check=False)
    assert proc.returncode != 0 and b"AccessDenied" in proc.stderr, proc.stderr
    proc = aws_as(server, reader, "s3", "ls", f"s3://{b2}/", check=False)
    assert proc.returncode != 0 and b"AccessDenied" in proc.stderr, proc.stderr

    # A read-write key restricted to b1 writes b1 and nothing else.
    writer = make_key(rita, buckets=[b1], access="readwrite")
    rw = server.client(access_key=writer["access_key_id"], secret_key=writer["secret_access_key"])
    rw.put_object(Bucket=b1, Key="written.txt", Body=b"rw")
    assert owner.get_object(Bucket=b1, Key="written.txt")["Body"].read() == b"rw"
    aws_as(server, writer, "s3", "cp", str(src), f"s3://{b1}/cli.txt")
    assert owner.get_object(Bucket=b1, Key="cli.txt")["Body"].read() == b"from aws-cli"
    rw.delete_object(Bucket=b1, Key="written.txt")
    denied(lambda: rw.put_object(Bucket=b2, Key="written.txt", Body=b"rw"))
    denied(lambda: rw.get_object(Bucket=b2, Key="doc.txt"))
    denied(lambda: rw.delete_object(Bucket=b2, Key="doc.txt"))
    proc = aws_as(server, writer, "s3", "cp", str(src), f"s3://{b2}/cli.txt", check=False)
    assert proc.returncode != 0 and b"AccessDenied" in proc.stderr, proc.stderr

    # A read key for every bucket reads both and writes neither.
    all_read = make_key(rita, access="read")
    ar = server.client(access_key=all_read["access_key_id"], secret_key=all_read["secret_access_key"])
    for b in (b1, b2):
        assert ar.get_object(Bucket=b, Key="doc.txt")["Body"].read() == f"in {b}".encode()
        denied(lambda: ar.put_object(Bucket=b, Key="x", Body=b"x"))

    # Restrictions never widen a user's reach: a key naming someone else's bucket still cannot touch it.
    foreign = unique("roots-only")
    assert root.post("/api/buckets", json={"name": foreign}).status_code == 201
    r = rita.post("/api/keys", json={"buckets": [foreign], "access": "readwrite"})
    if r.status_code == 201:
        sneaky = server.client(access_key=r.json()["access_key_id"], secret_key=r.json()["secret_access_key"])
        denied(lambda: sneaky.list_objects_v2(Bucket=foreign))
        denied(lambda: sneaky.put_object(Bucket=foreign, Key="x", Body=b"x"))
    else:
        assert r.status_code in (400, 403, 404), r.text
        assert isinstance(r.json().get("code"), str)
    # Bucket names are checked.
    assert_api_error(rita.post("/api/keys", json={"buckets": ["Not_A_Bucket"]}), 400, "invalid_bucket_name")


def test_key_expiry_is_reported(server, root):
    k = make_key(root, expires_in_days=2)
    assert isinstance(k["expires_at"], int)
    listed = next(x for x in root.get("/api/keys").json()["keys"] if x["access_key_id"] == k["access_key_id"])
    assert listed["expires_at"] == k["expires_at"]
    assert listed["expires_at"] > listed["created_at"], "an expiring key expires after it was created"
    # Both are in the same unit: the difference is two days in it (seconds or milliseconds).
    diff = listed["expires_at"] - listed["created_at"]
    assert abs(diff - 2 * 86400) < 120 or abs(diff - 2 * 86_400_000) < 120_000, diff
    s3 = server.client(access_key=k["access_key_id"], secret_key=k["secret_access_key"])
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_malformed_admin_requests_get_json_errors(server, root):
    """Input the handlers never see (unparsable bodies or ids) still gets the contract's error document,
    400 `{"code": "bad_request", ...}`, never a bare framework answer."""
    json_ct = {"Content-Type": "application/json"}
    cases = {
        "unknown key access": root.post("/api/keys", json={"access": "admin"}),
        "expiry not a number": root.post("/api/keys", json={"expires_in_days": "soon"}),
        "user without role": root.post("/api/users", json={"name": unique("norole"), "password": "long-enough-1"}),
        "unknown role": root.post("/api/users", json={"name": unique("root"), "password": "long-enough-1", "role": "root"}),
        "user body not JSON": root.post("/api/users", data=b"name=x", headers=json_ct),
        "user id not a number": root.post("/api/users/abc/disable"),
        "user id too large": root.delete("/api/users/9223372036854775808"),
        "reset without password": root.post("/api/users/999999/password", json={}),
        "own password without fields": root.post("/api/me/password", json={"new_password": "long-enough-1"}),
        "login without password": requests.post(f"{server.api}/api/login", json={"username": "x"}, timeout=30),
    }
    wrong = {}
    for name, r in cases.items():
        try:
            code = r.json().get("code")
        except ValueError:
            code = None
        if (r.status_code, code) != (400, "bad_request"):
            wrong[name] = f"{r.status_code} {r.headers.get('Content-Type')} {r.text[:120]!r}"
    assert not wrong, "expected 400 {\"code\": \"bad_request\", ...} for: " + json.dumps(wrong, indent=1)
    assert me_status(server, root) == 200
