"""The console's JSON API on the API listener: sign-in with JWT, the attacks a token must survive,
sign-in throttling, and the bucket and access-key calls a browser user makes, authorized exactly as
the S3 endpoint authorizes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import subprocess
import time

import pytest
import requests

from conftest import client_error, run, tool_path


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(claims: dict, key: bytes, alg: str = "HS256") -> str:
    """A JWT signed with `key` (or unsigned with alg none)."""
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    if alg == "none":
        return f"{head}.{body}."
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def claims_of(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def add_user(server, name: str, password: str) -> None:
    proc = subprocess.run([str(server.binary), "admin", "user", "add", name, "--password-stdin"],
                          env=server.server_env(), input=password + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def login(server, user: str, password: str) -> requests.Response:
    return requests.post(f"{server.api}/api/login", json={"username": user, "password": password}, timeout=30)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def test_root_signs_in_and_manages_buckets_and_keys(server):
    r = login(server, server.access_key, server.secret_key)
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert r.json()["user"]["role"] == "admin"
    me = requests.get(f"{server.api}/api/me", headers=bearer(token), timeout=10).json()
    assert me["name"] == server.access_key

    name = unique("console-bucket")
    created = requests.post(f"{server.api}/api/buckets", json={"name": name}, headers=bearer(token), timeout=10)
    assert created.status_code == 201, created.text
    again = requests.post(f"{server.api}/api/buckets", json={"name": name}, headers=bearer(token), timeout=10)
    assert (again.status_code, again.json()["code"]) == (409, "already_exists")
    bad = requests.post(f"{server.api}/api/buckets", json={"name": "Bad_Name"}, headers=bearer(token), timeout=10)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_bucket_name")

    # A key made in the console works with an S3 client; its object shows up in the bucket counters.
    k = requests.post(f"{server.api}/api/keys", json={}, headers=bearer(token), timeout=10).json()
    s3 = server.client(access_key=k["access_key_id"], secret_key=k["secret_access_key"])
    s3.put_object(Bucket=name, Key="a.txt", Body=b"12345")
    listed = requests.get(f"{server.api}/api/buckets", headers=bearer(token), timeout=10).json()["buckets"]
    mine = next(b for b in listed if b["name"] == name)
    assert (mine["object_count"], mine["bytes_used"]) == (1, 5)
    keys = requests.get(f"{server.api}/api/keys", headers=bearer(token), timeout=10).json()["keys"]
    assert k["access_key_id"] in [x["access_key_id"] for x in keys]
    assert "secret" not in json.dumps(keys), "secrets are shown once, at creation only"

    not_empty = requests.delete(f"{server.api}/api/buckets/{name}", headers=bearer(token), timeout=10)
    assert (not_empty.status_code, not_empty.json()["code"]) == (409, "bucket_not_empty")
    s3.delete_object(Bucket=name, Key="a.txt")
    assert requests.delete(f"{server.api}/api/buckets/{name}", headers=bearer(token), timeout=10).status_code == 204

    # Disabling the key through the API makes S3 refuse it within seconds.
    r = requests.post(f"{server.api}/api/keys/{k['access_key_id']}/disable", headers=bearer(token), timeout=10)
    assert r.status_code == 204
    deadline = time.monotonic() + 15
    while True:
        try:
            s3.list_buckets()
        except Exception as e:  # noqa: BLE001 - ClientError expected
            assert client_error(e)[1] == "InvalidAccessKeyId"
            break
        assert time.monotonic() < deadline, "disabled key still accepted"
        time.sleep(0.5)
    assert requests.delete(f"{server.api}/api/keys/{k['access_key_id']}", headers=bearer(token), timeout=10).status_code == 204


def test_users_cannot_touch_each_others_buckets_or_keys(server):
    alice, bob = unique("alice"), unique("bob")
    add_user(server, alice, "alice-password-1")
    add_user(server, bob, "bob-password-12")
    ta = login(server, alice, "alice-password-1").json()["token"]
    tb = login(server, bob, "bob-password-12").json()["token"]
    bucket = unique("alice-only")
    assert requests.post(f"{server.api}/api/buckets", json={"name": bucket}, headers=bearer(ta), timeout=10).status_code == 201
    assert bucket not in [b["name"] for b in requests.get(f"{server.api}/api/buckets", headers=bearer(tb), timeout=10).json()["buckets"]]
    r = requests.delete(f"{server.api}/api/buckets/{bucket}", headers=bearer(tb), timeout=10)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    key = requests.post(f"{server.api}/api/keys", json={}, headers=bearer(ta), timeout=10).json()["access_key_id"]
    r = requests.delete(f"{server.api}/api/keys/{key}", headers=bearer(tb), timeout=10)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_jwt_attacks_are_refused(server):
    ok = login(server, server.access_key, server.secret_key).json()["token"]
    claims = claims_of(ok)
    me = f"{server.api}/api/me"
    assert requests.get(me, headers=bearer(ok), timeout=10).status_code == 200
    secret = server.jwt_secret.encode()
    attacks = {
        "no token": {},
        "alg none": bearer(forge(claims, b"", alg="none")),
        "other key": bearer(forge(claims, b"not-the-server-key-" * 3)),
        "tampered payload": bearer(ok.split(".")[0] + "." + b64(json.dumps({**claims, "sub": "999"}).encode()) + "." + ok.split(".")[2]),
        "expired": bearer(forge({**claims, "exp": int(time.time()) - 5, "iat": int(time.time()) - 100}, secret)),
        "HS512 with the right key": bearer(forge(claims, secret).replace(b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()), b64(json.dumps({"alg": "HS512", "typ": "JWT"}).encode()))),
        "garbage": bearer("a.b.c"),
    }
    for name, headers in attacks.items():
        r = requests.get(me, headers=headers, timeout=10)
        assert (r.status_code, r.json().get("code")) == (401, "unauthorized"), name
    # A correctly signed, unexpired token still works (the forging helper itself is right) ...
    assert requests.get(me, headers=bearer(forge(claims, secret)), timeout=10).status_code == 200
    # ... until sign-out, which ends every token issued before it.
    assert requests.post(f"{server.api}/api/logout", headers=bearer(ok), timeout=10).status_code == 204
    assert requests.get(me, headers=bearer(ok), timeout=10).status_code == 401
    assert requests.get(me, headers=bearer(forge(claims, secret)), timeout=10).status_code == 401
    # A JWT is no S3 credential.
    s3_try = requests.get(f"{server.endpoint}/", headers=bearer(ok), timeout=10)
    assert s3_try.status_code == 403


def test_sign_in_throttling_without_user_enumeration(server):
    user = unique("dave")
    add_user(server, user, "dave-password-1")
    for target in (user, unique("nobody")):
        for _ in range(5):
            r = login(server, target, "wrong-password")
            assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
        r = login(server, target, "wrong-password")
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) > 0
    # Even the right password waits out the throttle.
    assert login(server, user, "dave-password-1").status_code == 429
    log = server.log_path.read_text(errors="replace")
    assert "dave-password-1" not in log and "wrong-password" not in log, "passwords never reach the log"


def test_disabled_user_cannot_sign_in(server):
    user = unique("erin")
    add_user(server, user, "erin-password-1")
    token = login(server, user, "erin-password-1").json()["token"]
    subprocess.run([str(server.binary), "admin", "user", "disable", user], env=server.server_env(),
                   capture_output=True, timeout=60, check=True)
    assert login(server, user, "erin-password-1").status_code == 401
    assert requests.get(f"{server.api}/api/me", headers=bearer(token), timeout=10).status_code == 401


def test_api_user_journey_with_aws_cli(server, tmp_path):
    """Issue #4's journey, through the API only: the admin signs in and creates two users; each signs
    in and creates an access key; aws-cli with the first key creates a bucket and uploads; the second
    user's key gets AccessDenied; the owner's bucket list shows the object's size and count; disabling
    the key through the API makes aws-cli fail within seconds."""
    root = login(server, server.access_key, server.secret_key).json()["token"]
    alice, bob = unique("alice"), unique("bob")
    keys = {}
    for name in (alice, bob):
        r = requests.post(f"{server.api}/api/users", json={"name": name, "password": f"pw-{name}!", "role": "user"},
                          headers=bearer(root), timeout=30)
        assert r.status_code == 201, r.text
        token = login(server, name, f"pw-{name}!").json()["token"]
        r = requests.post(f"{server.api}/api/keys", json={}, headers=bearer(token), timeout=30)
        assert r.status_code == 201, r.text
        keys[name] = (r.json()["access_key_id"], r.json()["secret_access_key"], token)

    def aws(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        key_id, secret, _ = keys[name]
        env = dict(server.aws_env(), AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
        return run([tool_path("aws"), *args, "--endpoint-url", server.endpoint], env=env, timeout=60, check=check)

    bucket = unique("journey")
    payload = tmp_path / "report.bin"
    payload.write_bytes(b"quarterly numbers\n" * 1000)
    aws(alice, "s3", "mb", f"s3://{bucket}")
    aws(alice, "s3", "cp", str(payload), f"s3://{bucket}/2026/report.bin")

    denied = aws(bob, "s3", "ls", f"s3://{bucket}/", check=False)
    assert denied.returncode != 0 and b"AccessDenied" in denied.stderr, denied.stderr
    denied = aws(bob, "s3", "cp", f"s3://{bucket}/2026/report.bin", str(tmp_path / "stolen"), check=False)
    assert denied.returncode != 0 and b"403" in denied.stderr, denied.stderr

    listed = requests.get(f"{server.api}/api/buckets", headers=bearer(keys[alice][2]), timeout=30).json()["buckets"]
    mine = [b for b in listed if b["name"] == bucket]
    assert len(mine) == 1, listed
    assert (mine[0]["object_count"], mine[0]["bytes_used"]) == (1, payload.stat().st_size)
    page = requests.get(f"{server.api}/api/buckets/{bucket}/objects", params={"prefix": "2026/"},
                        headers=bearer(keys[alice][2]), timeout=30).json()
    assert [(o["key"], o["size"]) for o in page["objects"]] == [("2026/report.bin", payload.stat().st_size)]

    r = requests.post(f"{server.api}/api/keys/{keys[alice][0]}/disable", headers=bearer(keys[alice][2]), timeout=30)
    assert r.status_code == 204, r.text
    disabled_at = time.monotonic()
    while True:
        proc = aws(alice, "s3", "ls", f"s3://{bucket}/", check=False)
        if proc.returncode != 0:
            assert b"InvalidAccessKeyId" in proc.stderr, proc.stderr
            break
        assert time.monotonic() - disabled_at < 15, "a disabled key still worked after 15 s"
        time.sleep(0.5)
