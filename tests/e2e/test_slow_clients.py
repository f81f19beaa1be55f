"""Slow clients against an eager janitor: a paused download keeps getting the object it started,
and a paused upload still completes.

The server runs with ``CLOUDVAULT_STAGING_GRACE_SECS=1`` and ``CLOUDVAULT_JANITOR_INTERVAL_SECS=1``:
every second the janitor deletes retired blobs and staging files older than one second. Clients
are raw sockets, so the test decides exactly when bytes move:

* **Paused GET across an overwrite.** A 3 × 5 MiB multipart object is requested (signed GET, a
  64 KiB receive buffer so the kernel cannot swallow the body); the first 1 MiB is read, then the
  client stops reading. The key is overwritten (the new version reads back at once), a canary
  object is overwritten too, and the test waits 5 s: the canary's retired blob file disappears,
  which proves full janitor sweeps ran. Then the client resumes: every byte of the OLD object
  arrives (Content-Length, multipart ETag and MD5 of the whole body all match the old version).
* **Paused PUT.** A single PUT with Content-Length (SigV4 headers, ``UNSIGNED-PAYLOAD``) sends half
  its body, waits grace + 3 s while the janitor sweeps (a stale canary file placed in the staging
  directory is removed meanwhile, so sweeps did run), then sends the rest: the answer is 200 with
  the body's MD5 as ETag, and the object reads back byte-identical.

Both backends.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import socket
import time
from pathlib import Path

import pytest

from conftest import multipart_etag, quote_key, running_server

MiB = 1024 * 1024
GRACE_S = 1
JANITOR_INTERVAL_S = 1
PART_SIZE = 5 * MiB
PARTS = 3
READ_BEFORE_PAUSE = 1 * MiB
SWEEP_WAIT_S = 5.0
UPLOAD_SIZE = 4 * MiB
UPLOAD_PAUSE_S = GRACE_S + 3
RCVBUF = 64 * 1024
SOCKET_TIMEOUT_S = 30


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def server(request, tmp_path_factory):
    """A CloudVault whose janitor sweeps every second with a one-second grace period."""
    env = {
        "CLOUDVAULT_STAGING_GRACE_SECS": str(GRACE_S),
        "CLOUDVAULT_JANITOR_INTERVAL_SECS": str(JANITOR_INTERVAL_S),
    }
    with running_server(request.param, tmp_path_factory, extra_env=lambda _srv: env) as srv:
        yield srv


# ------------------------------------------------------------------------------------------------
# Raw HTTP/1.1 over a socket
# ------------------------------------------------------------------------------------------------


class RawResponse:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before the response head: {buf[:300]!r}")
            buf += chunk
        head, self.pending = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    @property
    def content_length(self) -> int:
        return int(self.headers["content-length"])

    def read(self, n: int) -> bytes:
        """Up to ``n`` body bytes (fewer only if the server closes the connection)."""
        out = bytearray()
        if self.pending:
            take, self.pending = self.pending[:n], self.pending[n:]
            out += take
        while len(out) < n:
            chunk = self.sock.recv(min(65536, n - len(out)))
            if not chunk:
                break
            out += chunk
        return bytes(out)


def connect(server, rcvbuf: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: fixes the window
    sock.settimeout(SOCKET_TIMEOUT_S)
    sock.connect(("127.0.0.1", server.port))
    return sock


def signed_head(server, method: str, path: str, headers: dict, payload_hash: str | None = None) -> bytes:
    """The request line and SigV4-signed headers (``path`` already percent-encoded)."""
    host = f"127.0.0.1:{server.port}"
    signed = server.sign_headers(method, server.endpoint + path, {"Host": host, **headers},
                                 payload_hash=payload_hash)
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in signed.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def blob_files(server) -> set[Path]:
    root = Path(server.data_dir) / "blobs"
    assert root.is_dir(), f"no blobs directory under {server.data_dir}"
    return {p for p in root.rglob("*") if p.is_file()}


def wait_gone(paths: set[Path], timeout: float) -> set[Path]:
    deadline = time.monotonic() + timeout
    while True:
        left = {p for p in paths if p.exists()}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------


def test_paused_get_survives_overwrite_and_sweep(server, s3, bucket):
    rng = random.Random(11)
    parts = [rng.randbytes(PART_SIZE) for _ in range(PARTS)]
    old_md5 = hashlib.md5(b"".join(parts)).hexdigest()
    key = "big/multipart.bin"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n + 1, Body=p)["ETag"]
             for n, p in enumerate(parts)]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
    assert done["ETag"] == multipart_etag(parts)

    # The canary: an object whose old blob must be swept while the GET is paused (33 KB: over the
    # inline threshold, so its bytes are a file).
    before = blob_files(server)
    s3.put_object(Bucket=bucket, Key="canary", Body=b"old canary " * 3000)
    canary_old = blob_files(server) - before
    assert canary_old, "the canary PUT created no blob file"

    sock = connect(server, rcvbuf=RCVBUF)
    try:
        sock.sendall(signed_head(server, "GET", f"/{bucket}/{quote_key(key)}", {}))
        resp = RawResponse(sock)
        assert resp.status == 200, (resp.status, resp.headers, resp.pending[:300])
        assert resp.content_length == PARTS * PART_SIZE
        assert resp.headers.get("etag") == multipart_etag(parts)
        head = resp.read(READ_BEFORE_PAUSE)
        assert len(head) == READ_BEFORE_PAUSE

        # Paused: overwrite the key (and the canary) and let the janitor sweep.
        new_body = b"the new version " * 4096
        s3.put_object(Bucket=bucket, Key=key, Body=new_body)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == new_body
        s3.put_object(Bucket=bucket, Key="canary", Body=b"new canary")
        time.sleep(SWEEP_WAIT_S)
        left = wait_gone(canary_old, timeout=5)
        assert not left, (
            f"the canary's retired blob {sorted(map(str, left))} is still there {SWEEP_WAIT_S}s+ after its "
            f"overwrite: the janitor (grace {GRACE_S}s, every {JANITOR_INTERVAL_S}s) did not sweep"
        )

        # Resume.
        rest = resp.read(resp.content_length - READ_BEFORE_PAUSE)
    finally:
        sock.close()
    body = head + rest
    got = len(body)
    assert got == PARTS * PART_SIZE, (
        f"the paused GET got {got} of {PARTS * PART_SIZE} bytes of the old object after the overwrite and "
        f"a janitor sweep (stream cut at {got / MiB:.2f} MiB)\n{server.log_tail(20)}"
    )
    assert hashlib.md5(body).hexdigest() == old_md5, "the paused GET's bytes are not the old object's"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == new_body


def test_paused_put_completes(server, s3, bucket):
    body = random.Random(12).randbytes(UPLOAD_SIZE)
    key = "slow/upload.bin"
    half = UPLOAD_SIZE // 2

    staging = Path(server.data_dir) / "staging"
    assert staging.is_dir(), f"no staging directory under {server.data_dir}"
    canary = staging / f"canary-{secrets.token_hex(8)}"
    canary.write_bytes(b"left behind by a crashed writer")
    old = time.time() - 3600
    os.utime(canary, (old, old))

    sock = connect(server)
    try:
        sock.sendall(signed_head(server, "PUT", f"/{bucket}/{quote_key(key)}",
                                 {"Content-Length": str(UPLOAD_SIZE)}, payload_hash="UNSIGNED-PAYLOAD"))
        sock.sendall(body[:half])
        time.sleep(UPLOAD_PAUSE_S)
        assert not canary.exists(), (
            f"a stale staging file survived {UPLOAD_PAUSE_S}s: the janitor did not sweep during the pause"
        )
        sock.sendall(body[half:])
        resp = RawResponse(sock)
        detail = resp.read(int(resp.headers.get("content-length", "0") or 0))
    finally:
        sock.close()
    assert resp.status == 200, (
        f"PUT paused {UPLOAD_PAUSE_S}s (grace {GRACE_S}s) -> {resp.status} {detail[:400]!r}\n{server.log_tail(20)}"
    )
    assert resp.headers.get("etag") == f'"{hashlib.md5(body).hexdigest()}"', resp.headers
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(got) == UPLOAD_SIZE and got == body, f"read back {len(got)} bytes, not the bytes sent"
