"""Limits an unauthenticated (or merely signed-in) client hits, each answered as AWS would and each
leaving nothing behind:

* 24 parallel wrong passwords for one user check at most 5 (401), the rest answer 429 — for sign-in
  and for ``/api/me/password`` (403 for the checked ones);
* 64 parallel sign-ins with unknown names: argon2 runs in a bounded pool (the rest 503 with
  Retry-After) and the server's RSS stays within 64 MiB of its idle figure;
* user metadata over 2 KB is ``MetadataTooLarge`` and stores nothing; a DeleteObjects key over 1024
  bytes is ``KeyTooLongError``; access-key ids of 200 KB are refused and do not grow the server; an
  XML body over 20 MiB is 400 ``MaxMessageLengthExceeded``;
* an anonymous 300 MB browser-form upload and a signed aws-chunked body whose chunk announces 200 MB
  are refused with the server's RSS within 64 MiB of idle, and a signed 15 MiB form streams (RSS
  within 8 MiB of idle); anonymous reads may not override response
  headers (``InvalidRequest``);
* the root user disabled by another admin: the root access key is refused within 5 s on both of two
  replicas sharing one MariaDB.

Run on SQLite, except the two-replica case (MariaDB).
"""

from __future__ import annotations

import concurrent.futures
import secrets
import socket
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import client_error, running_server
from cluster import fresh_mysql_database, new_group, stop_all

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory) as server:
        yield server


def _login(srv, user: str, password: str) -> requests.Response:
    return requests.post(f"{srv.api}/api/login", json={"username": user, "password": password}, timeout=60)


def _parallel(n: int, call) -> list:
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda i: call(i), range(n)))


def _create_user(srv, name: str, password: str, role: str = "user") -> None:
    token = _login(srv, srv.access_key, srv.secret_key).json()["token"]
    resp = requests.post(f"{srv.api}/api/users", json={"name": name, "password": password, "role": role},
                         headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert resp.status_code == 201, resp.text


def test_parallel_wrong_passwords_check_at_most_the_limit(srv):
    _create_user(srv, "guessed", "the-right-password")
    statuses = [r.status_code for r in _parallel(24, lambda i: _login(srv, "guessed", f"wrong-{i}"))]
    assert statuses.count(401) <= 5 and statuses.count(429) >= 19, sorted(statuses)
    assert set(statuses) <= {401, 429}, sorted(statuses)
    # The limit holds for the right password too, until the window passes.
    assert _login(srv, "guessed", "the-right-password").status_code == 429


def test_parallel_wrong_current_passwords_are_throttled_too(srv):
    _create_user(srv, "changer", "changer-password-1")
    token = _login(srv, "changer", "changer-password-1").json()["token"]

    def change(i):
        return requests.post(f"{srv.api}/api/me/password", timeout=60, headers={"Authorization": f"Bearer {token}"},
                             json={"current_password": f"wrong-{i}", "new_password": "changer-password-2"})

    statuses = [r.status_code for r in _parallel(24, change)]
    assert statuses.count(403) <= 5 and statuses.count(429) >= 19, sorted(statuses)
    assert set(statuses) <= {403, 429}, sorted(statuses)
    assert _login(srv, "changer", "changer-password-1").status_code == 200, "the password did not change"


def test_a_sign_in_flood_is_bounded_in_memory(srv):
    time.sleep(1)
    idle = srv.rss_bytes()
    responses = _parallel(64, lambda i: _login(srv, f"nobody-{i}-{secrets.token_hex(4)}", "whatever-password"))
    statuses = [r.status_code for r in responses]
    peak = srv.rss_bytes()
    busy = [r for r in responses if r.status_code == 503]
    print(f"64 parallel unknown sign-ins: {statuses.count(401)} x 401, {len(busy)} x 503; RSS {idle / MiB:.0f} -> "
          f"{peak / MiB:.0f} MiB")
    assert set(statuses) <= {401, 503}, sorted(statuses)
    assert all(r.headers.get("Retry-After") for r in busy), "a busy answer says when to retry"
    assert peak - idle < 64 * MiB, f"RSS grew by {(peak - idle) / MiB:.0f} MiB"


def test_user_metadata_over_2_kb_is_refused_and_stores_nothing(srv):
    s3 = srv.s3
    s3.create_bucket(Bucket="meta-limit")
    s3.put_object(Bucket="meta-limit", Key="fits", Body=b"x", Metadata={"a": "v" * 2000})
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket="meta-limit", Key="too-big", Body=b"x", Metadata={"a": "v" * 2100})
    assert client_error(excinfo.value) == (400, "MetadataTooLarge")
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket="meta-limit", Key="too-big")
    assert client_error(excinfo.value)[0] == 404
    with pytest.raises(ClientError) as excinfo:
        s3.create_multipart_upload(Bucket="meta-limit", Key="mp", Metadata={"m": "v" * 3000})
    assert client_error(excinfo.value) == (400, "MetadataTooLarge")
    assert s3.head_object(Bucket="meta-limit", Key="fits")["Metadata"] == {"a": "v" * 2000}


def test_delete_objects_refuses_keys_over_1024_bytes(srv):
    s3 = srv.s3
    s3.create_bucket(Bucket="long-keys")
    s3.put_object(Bucket="long-keys", Key="kept", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_objects(Bucket="long-keys", Delete={"Objects": [{"Key": "kept"}, {"Key": "k" * 2000}]})
    assert client_error(excinfo.value) == (400, "KeyTooLongError")
    assert s3.head_object(Bucket="long-keys", Key="kept")["ContentLength"] == 1, "nothing was deleted"


def test_huge_unknown_access_key_ids_are_refused_without_growing_the_server(srv):
    idle = srv.rss_bytes()
    for i in range(400):
        key_id = f"{i:04d}" + "A" * 200_000
        resp = srv.request("GET", "/", access_key=key_id, timeout=30)
        assert resp.status_code in (400, 403, 431), resp.status_code
    grown = srv.rss_bytes() - idle
    print(f"400 access-key ids of 200 KB: RSS +{grown / MiB:.1f} MiB")
    assert grown < 64 * MiB


def test_disabling_the_root_user_stops_its_key_on_every_replica(tmp_path):
    with fresh_mysql_database() as (_db, url):
        replicas = new_group(tmp_path, url, 2)
        try:
            for r in replicas:
                r.start()
            first = replicas[0]
            token = _login(first, first.access_key, first.secret_key).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            made = requests.post(f"{first.api}/api/users", headers=auth, timeout=60,
                                 json={"name": "ops", "password": "ops-password-1", "role": "admin"})
            assert made.status_code == 201, made.text
            for r in replicas:
                r.client().list_buckets()  # the root key works (and is cached)
            users = requests.get(f"{first.api}/api/users", headers=auth, timeout=30).json()["users"]
            root_id = next(u["id"] for u in users if u["name"] == first.access_key)
            ops = _login(first, "ops", "ops-password-1").json()["token"]
            off = requests.post(f"{first.api}/api/users/{root_id}/disable", timeout=30,
                                headers={"Authorization": f"Bearer {ops}"})
            assert off.status_code in (200, 204), off.text
            disabled_at = time.monotonic()
            for r in replicas:
                refused = None
                while time.monotonic() - disabled_at < 8:
                    try:
                        r.client().list_buckets()
                    except ClientError as e:
                        refused = client_error(e)
                        break
                    time.sleep(0.25)
                waited = time.monotonic() - disabled_at
                assert refused is not None and refused[0] == 403, f"{r.name}: root key still works after {waited:.1f} s"
                assert waited < 6.5, f"{r.name}: refused only after {waited:.1f} s (key cache TTL 5 s)"
        finally:
            stop_all(replicas)


def test_anonymous_reads_may_not_override_response_headers(srv):
    s3 = srv.s3
    s3.create_bucket(Bucket="public-read")
    s3.put_object(Bucket="public-read", Key="note.txt", Body=b"<script>alert(1)</script>", ContentType="text/plain")
    policy = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
              '"Action":"s3:GetObject","Resource":"arn:aws:s3:::public-read/*"}]}')
    s3.put_bucket_policy(Bucket="public-read", Policy=policy)
    plain = srv.request("GET", "/public-read/note.txt", sign=False)
    assert plain.status_code == 200 and plain.headers["Content-Type"] == "text/plain"
    forged = srv.request("GET", "/public-read/note.txt", query={"response-content-type": "text/html"}, sign=False)
    assert forged.status_code == 400 and b"<Code>InvalidRequest</Code>" in forged.content, forged.content[:300]
    signed = srv.request("GET", "/public-read/note.txt", query={"response-content-type": "text/html"})
    assert signed.status_code == 200 and signed.headers["Content-Type"] == "text/html", "signed callers may"


class _RssSampler:
    """Samples a process's RSS every 50 ms in a thread; ``peak`` is the highest figure seen."""

    def __init__(self, srv):
        self.srv, self.peak, self._stop = srv, srv.rss_bytes(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.srv.rss_bytes())
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_an_anonymous_300_mb_form_upload_is_refused_within_bounded_memory(srv):
    srv.s3.create_bucket(Bucket="forms")
    boundary = "cloudvaultabuse"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nbig\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        chunk = b"x" * (1024 * 1024)
        for _ in range(300):
            yield chunk
        yield tail

    time.sleep(0.5)
    idle = srv.rss_bytes()
    with _RssSampler(srv) as rss:
        try:
            resp = requests.post(f"{srv.endpoint}/forms", data=body(), timeout=120,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
            status = resp.status_code
        except requests.ConnectionError:
            status = None  # the server refused and closed while the form was still being sent
    print(f"anonymous 300 MB POST form: status {status}; RSS {idle / MiB:.0f} -> peak {rss.peak / MiB:.0f} MiB")
    assert status in (None, 400, 403), status
    assert rss.peak - idle < 64 * MiB, f"RSS peaked {(rss.peak - idle) / MiB:.0f} MiB above idle"
    with pytest.raises(ClientError):
        srv.s3.head_object(Bucket="forms", Key="big")


def test_a_signed_form_file_streams_to_staging(srv):
    """A signed form whose length is known: s3s streams its file part as a PUT body, so the server
    does not hold the file (15 MiB, just under CLOUDVAULT_MAX_POST_OBJECT_SIZE) in memory."""
    import hashlib
    srv.s3.create_bucket(Bucket="forms-signed")
    v4 = srv.client(signature_version="s3v4")
    form = v4.generate_presigned_post("forms-signed", "big", Conditions=[["content-length-range", 1, 16 * MiB]])
    data = secrets.token_bytes(15 * MiB)
    time.sleep(0.5)
    idle = srv.rss_bytes()
    with _RssSampler(srv) as rss:
        resp = requests.post(f"{srv.endpoint}/forms-signed", data=form["fields"], files={"file": ("big", data)},
                             timeout=120)
    print(f"signed 15 MiB POST form: status {resp.status_code}; RSS {idle / MiB:.0f} -> peak {rss.peak / MiB:.0f} MiB")
    assert resp.status_code == 204, resp.text
    assert rss.peak - idle < 8 * MiB, f"RSS peaked {(rss.peak - idle) / MiB:.0f} MiB above idle"
    got = srv.s3.get_object(Bucket="forms-signed", Key="big")["Body"].read()
    assert hashlib.md5(got).hexdigest() == hashlib.md5(data).hexdigest()


def test_a_200_mb_signed_chunk_is_refused_before_it_is_buffered(srv):
    """aws-chunked with signed chunks: the chunk is held until its signature can be checked, so its
    size is bounded (16 MiB). A request whose seed signature is valid and whose first chunk announces
    200 MB is refused without the server holding it."""
    srv.s3.create_bucket(Bucket="chunks")
    size = 200 * MiB
    url = f"{srv.endpoint}/chunks/big"
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(size),
        "Content-Length": str(size + 200),
    }
    headers = srv.sign_headers("PUT", url, headers, b"", payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")

    port = int(srv.endpoint.rsplit(":", 1)[1])
    head = f"PUT /chunks/big HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    time.sleep(0.5)
    idle = srv.rss_bytes()
    answer = b""
    with _RssSampler(srv) as rss, socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        try:
            conn.sendall(head.encode() + f"{size:x};chunk-signature={'0' * 64}\r\n".encode())
            block = b"c" * MiB
            for _ in range(200):
                conn.sendall(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed while the body was still being sent
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    print(f"200 MB signed chunk: status {status}; RSS {idle / MiB:.0f} -> peak {rss.peak / MiB:.0f} MiB")
    assert status == 400 and b"<Code>IncompleteBody</Code>" in answer, answer[-400:]
    assert rss.peak - idle < 64 * MiB, f"RSS peaked {(rss.peak - idle) / MiB:.0f} MiB above idle"
    with pytest.raises(ClientError):
        srv.s3.head_object(Bucket="chunks", Key="big")


def test_an_oversized_xml_body_is_a_400_not_a_500(srv):
    srv.s3.create_bucket(Bucket="xml-limit")
    objects = "".join(f"<Object><Key>{'k' * 1000}{i}</Key></Object>" for i in range(22_000))
    body = f"<Delete>{objects}</Delete>".encode()
    assert len(body) > 20 * MiB
    resp = srv.request("POST", "/xml-limit", query="delete", body=body,
                       headers={"Content-Type": "application/xml"}, timeout=120)
    assert resp.status_code == 400, (resp.status_code, resp.content[:300])
    assert b"<Code>MaxMessageLengthExceeded</Code>" in resp.content, resp.content[:300]


def test_an_oversized_api_body_is_the_apis_json_413(srv):
    token = _login(srv, srv.access_key, srv.secret_key).json()["token"]
    resp = requests.post(f"{srv.api}/api/buckets", data=b'{"name": "' + b"x" * (3 * MiB) + b'"}', timeout=60,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert resp.status_code == 413, resp.status_code
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["code"] == "too_large"


def test_control_characters_from_clients_cannot_forge_log_lines(srv):
    """A sign-in name carrying a newline, a carriage return and a terminal escape is logged as one
    escaped line: the log gains no line that starts with the forged text, and no raw control byte."""
    forged = "2026-12-06T00:00:00.000000Z  INFO cloudvault::api::session: console sign-in user=root"
    name = f"mallory-{secrets.token_hex(4)}\n{forged}\r\x1b[2J"
    before = srv.log_path.read_bytes()
    assert _login(srv, name, "wrong password").status_code == 401
    deadline = time.monotonic() + 5
    while True:
        added = srv.log_path.read_bytes()[len(before):]
        if b"mallory-" in added or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    lines = added.decode("utf-8", "replace").split("\n")
    refused = [line for line in lines if name.split("\n")[0] in line]
    assert len(refused) == 1 and "console sign-in refused" in refused[0], added[-2000:]
    assert r"\u{a}2026-12-06" in refused[0] and r"\u{d}\u{1b}[2J" in refused[0], refused[0]
    assert not any(line.startswith(forged[:20]) for line in lines), added[-2000:]
    assert not any(b in added for b in (b"\r", b"\x1b")), added[-2000:]
