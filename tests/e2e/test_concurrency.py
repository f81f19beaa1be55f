"""Concurrency and interrupted transfers: what a busy or flaky client population does.

Parallel writers must all succeed (no 500 from a locked SQLite database or a MySQL deadlock), an
object is replaced atomically (a reader sees the old bytes or the new bytes, never a mix), and an
upload cut off half-way leaves nothing behind (or the previous version intact).
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from conftest import GeneratedBody, quote_key, quoted_md5

MiB = 1024 * 1024


def test_parallel_writers_distinct_and_same_keys(server, bucket):
    """16 threads each write 10 distinct keys and overwrite one shared key: every request succeeds,
    every distinct key holds its bytes, and the shared key holds one complete version."""
    s3 = server.client(max_pool_connections=32)
    versions = {f"worker {w} round {r}".encode() * 200 for w in range(16) for r in range(10)}

    def worker(w: int) -> None:
        for r in range(10):
            body = f"worker {w} round {r}".encode() * 200
            s3.put_object(Bucket=bucket, Key=f"w{w:02d}/k{r:02d}", Body=body)
            s3.put_object(Bucket=bucket, Key="shared", Body=body)
            assert s3.get_object(Bucket=bucket, Key=f"w{w:02d}/k{r:02d}")["Body"].read() == body

    with ThreadPoolExecutor(max_workers=16) as pool:
        for fut in [pool.submit(worker, w) for w in range(16)]:
            fut.result(timeout=300)

    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == sorted([f"w{w:02d}/k{r:02d}" for w in range(16) for r in range(10)] + ["shared"])
    got = s3.get_object(Bucket=bucket, Key="shared")
    data = got["Body"].read()
    assert data in versions, "the shared key holds a torn or unknown version"
    assert got["ETag"] == quoted_md5(data)


def test_parallel_bucket_creation_is_consistent(server, bucket_name):
    """Eight concurrent CreateBucket calls for one name: exactly one wins, the rest are told
    BucketAlreadyOwnedByYou, and the bucket exists once."""
    s3 = server.client(max_pool_connections=16)
    barrier = threading.Barrier(8)

    def create() -> str:
        barrier.wait(timeout=30)
        try:
            # Outside us-east-1, where re-creating one's own bucket is not answered 200.
            s3.create_bucket(Bucket=bucket_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            return "created"
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(create) for _ in range(8)]]
    assert sorted(results) == ["BucketAlreadyOwnedByYou"] * 7 + ["created"], results
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]].count(bucket_name) == 1


def test_reader_sees_old_version_while_overwritten(server, bucket):
    """A GET that started before an overwrite (and before a delete) returns the complete old bytes."""
    old = os.urandom(8 * MiB)
    new = os.urandom(8 * MiB)
    server.s3.put_object(Bucket=bucket, Key="obj", Body=old)

    resp = server.request("GET", f"/{bucket}/obj", stream=True)
    assert resp.status_code == 200
    stream = resp.iter_content(chunk_size=256 * 1024)
    first = next(stream)
    server.s3.put_object(Bucket=bucket, Key="obj", Body=new)
    rest = b"".join(stream)
    assert first + rest == old, "a reader saw a mix of the old and the new version"
    assert server.s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == new

    resp = server.request("GET", f"/{bucket}/obj", stream=True)
    stream = resp.iter_content(chunk_size=256 * 1024)
    first = next(stream)
    server.s3.delete_object(Bucket=bucket, Key="obj")
    rest = b"".join(stream)
    assert first + rest == new, "a reader was cut short or corrupted by a delete"


def _interrupted_put(server, bucket: str, key: str, declared: int, sent: int) -> None:
    """Start a signed PUT announcing ``declared`` bytes, send only ``sent``, then hang up."""
    path = f"/{bucket}/{quote_key(key)}"
    headers = server.sign_headers(
        "PUT", server.endpoint + path, {"Content-Length": str(declared)}, payload_hash="UNSIGNED-PAYLOAD"
    )
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", path, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    body = GeneratedBody(declared, seed=7)
    remaining = sent
    while remaining > 0:
        chunk = body.read(min(remaining, 64 * 1024))
        conn.send(chunk)
        remaining -= len(chunk)
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()


def test_interrupted_upload_leaves_no_object(server, bucket):
    """A PUT cut off after 1 of its 4 MiB creates nothing, and does not clobber an existing
    version of the key; the server keeps serving afterwards."""
    _interrupted_put(server, bucket, "fresh", declared=4 * MiB, sent=1 * MiB)
    old = b"previous complete version"
    server.s3.put_object(Bucket=bucket, Key="existing", Body=old)
    _interrupted_put(server, bucket, "existing", declared=4 * MiB, sent=1 * MiB)

    # Give the server a moment to notice the hang-ups, then check through a fresh connection.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if server.request("HEAD", f"/{bucket}/fresh").status_code == 404:
            break
    assert server.request("HEAD", f"/{bucket}/fresh").status_code == 404
    got = server.s3.get_object(Bucket=bucket, Key="existing")
    assert got["Body"].read() == old
    assert got["ETag"] == quoted_md5(old)
    keys = [o["Key"] for o in server.s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["existing"]
    # The server is still healthy.
    server.s3.put_object(Bucket=bucket, Key="after", Body=b"ok")
    assert server.s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"ok"
