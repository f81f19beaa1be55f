"""A full data volume: writes are refused with 503, nothing half-written shows up, deletes still work,
and once there is room again everything acknowledged is there, also after a restart.

The server's ``CLOUDVAULT_DATA_DIR`` is a 32 MiB tmpfs mounted by the test (as root; unmounted in a
``finally`` whatever happens) with ``CLOUDVAULT_MIN_FREE_BYTES`` = 4 MiB. With SQLite the database
file lives on the same tmpfs (so its commits compete for the same space); with MariaDB only the blobs
do. Per backend, and once with SIGTERM and once with SIGKILL as the restart:

1. 512 KiB PUTs (boto3, ``Expect: 100-continue``) until the server refuses them, and three more
   after the first refusal. They stop while about ``CLOUDVAULT_MIN_FREE_BYTES`` (less 1 MiB of
   slack) is still free: the server refuses up front, not by running into ENOSPC. Every answer is 200 (acknowledged, ETag = MD5) or 503 with S3 code
   ``ServiceUnavailable`` or ``SlowDown`` and a <Message> that names the volume or space; never a
   500, never a dropped connection.
2. A refused key is not listed and GET answers 404 NoSuchKey; the listing is exactly the
   acknowledged keys.
3. DeleteObject of acknowledged keys answers 204 on the full volume (and GET then 404).
4. CreateBucket on the full volume either fails with a 5xx or, if it answers 200, the bucket is
   still there after the restart.
5. The tmpfs is remounted at 128 MiB: PUTs work again (a refused key can now be written). The
   first success may take up to ``ROOM_AGAIN_S`` (a server may sample free space periodically);
   after that every PUT must succeed.
6. Restart (SIGTERM, exit 0; or SIGKILL): every acknowledged write reads back byte-identical, every
   acknowledged delete stays gone, refused keys never written later are absent, and the listing is
   exactly what was acknowledged.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator, Optional

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cluster import fresh_mysql_database
from conftest import DEFAULT_BIN, REGION, CloudVaultServer, client_error

MiB = 1024 * 1024
VOLUME_SIZE = "32m"
BIGGER_SIZE = "128m"
MIN_FREE = 4 * MiB
MIN_FREE_SLACK = 1 * MiB
OBJECT_SIZE = 512 * 1024
MAX_FILL_PUTS = 120          # 60 MiB: far more than the volume holds
EXTRA_AFTER_REFUSAL = 3
DELETES = 4
ROOM_AGAIN_S = 5.0
REFUSAL_CODES = ("ServiceUnavailable", "SlowDown")
SPACE_WORDS = re.compile(r"volume|space|disk|storage", re.IGNORECASE)
BUCKET = "vault"


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``mountpoint``; always unmount it afterwards."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"mount -t tmpfs failed (this test runs as root): {proc.stderr}"
    try:
        yield mountpoint
    finally:
        for _ in range(40):
            if subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=30).returncode == 0:
                break
            time.sleep(0.25)
        else:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30)


def remount(mountpoint: Path, size: str) -> None:
    proc = subprocess.run(["mount", "-o", f"remount,size={size}", str(mountpoint)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"remount to {size} failed: {proc.stderr}"


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@contextlib.contextmanager
def database_url(backend: str, volume: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite://{volume / 'metadata.sqlite'}?mode=rwc"
    else:
        with fresh_mysql_database("cv_e2e_full") as (_name, url):
            yield url


@contextlib.contextmanager
def server_on_small_volume(backend: str, tmp_path: Path) -> Iterator[tuple[CloudVaultServer, Path]]:
    workdir = tmp_path / f"cv-{backend}"
    workdir.mkdir(parents=True, exist_ok=True)
    volume = workdir / "vol"
    binary = Path(os.environ.get("CLOUDVAULT_BIN", str(DEFAULT_BIN)))
    with tmpfs(volume, VOLUME_SIZE), database_url(backend, volume) as url:
        srv = CloudVaultServer(backend, workdir, url, binary)
        srv.data_dir = volume / "data"
        srv.data_dir.mkdir(parents=True, exist_ok=True)
        srv.extra_env.update(CLOUDVAULT_MIN_FREE_BYTES=str(MIN_FREE))
        try:
            srv.start()
            yield srv, volume
        finally:
            try:
                if srv.proc is not None and srv.proc.poll() is None:
                    srv.proc.send_signal(signal.SIGTERM)
                    srv.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            finally:
                srv.kill()  # before the unmount: a running server keeps the tmpfs busy


def client(srv: CloudVaultServer):
    """A boto3 client that makes exactly one attempt per call (``retries.max_attempts`` counts
    retries, so the suite's usual ``max_attempts: 1`` still retries a 503 once)."""
    return boto3.session.Session().client(
        "s3", endpoint_url=srv.endpoint, region_name=REGION,
        aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"},
                      connect_timeout=5, read_timeout=60),
    )


def put(s3, key: str, data: bytes) -> tuple[Optional[int], str, str]:
    """PutObject with a file-like body (so boto3 sends ``Expect: 100-continue``); returns
    (HTTP status or None, S3 code or exception, message)."""
    try:
        out = s3.put_object(Bucket=BUCKET, Key=key, Body=io.BytesIO(data))
    except ClientError as e:
        status, code = client_error(e)
        return status, code, e.response.get("Error", {}).get("Message", "")
    except BotoCoreError as e:
        return None, type(e).__name__, str(e)
    assert out["ETag"] == f'"{hashlib.md5(data).hexdigest()}"', f"{key}: ETag {out['ETag']}"
    return out["ResponseMetadata"]["HTTPStatusCode"], "", ""


def all_keys(s3, bucket: str = BUCKET) -> list[str]:
    keys, token = [], None
    while True:
        kw = {"Bucket": bucket, "MaxKeys": 1000}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return keys
        token = page["NextContinuationToken"]


def get_status(s3, key: str) -> tuple[int, str, bytes]:
    try:
        return 200, "", s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError as e:
        status, code = client_error(e)
        return status, code, b""


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
@pytest.mark.parametrize("backend", ["sqlite", "mysql"])
def test_full_volume(backend, stop, tmp_path):
    rng = random.Random(f"{backend}-{stop}")
    with server_on_small_volume(backend, tmp_path) as (srv, volume):
        s3 = client(srv)
        s3.create_bucket(Bucket=BUCKET)
        log = lambda: srv.log_tail(40)  # noqa: E731

        # 1. Fill until refused.
        acked: dict[str, bytes] = {}
        refused: dict[str, tuple] = {}
        bad: list[str] = []
        after_refusal = 0
        for i in range(MAX_FILL_PUTS):
            key = f"fill/{i:03d}"
            data = rng.randbytes(OBJECT_SIZE)
            status, code, message = put(s3, key, data)
            if status == 200:
                acked[key] = data
            else:
                refused[key] = (status, code, message)
                if status != 503 or code not in REFUSAL_CODES or not SPACE_WORDS.search(message or ""):
                    bad.append(f"{key}: {status} {code} {message!r}")
            if refused:
                after_refusal += 1
                if after_refusal > EXTRA_AFTER_REFUSAL:
                    break
        free_when_full = free_bytes(volume)
        assert refused, (
            f"{len(acked)} PUTs of {OBJECT_SIZE} bytes all acknowledged on a {VOLUME_SIZE} volume "
            f"({free_when_full} bytes free)\n{log()}"
        )
        assert not bad, (
            "a PUT on the full volume must answer 503 ServiceUnavailable/SlowDown naming the volume/space:\n"
            + "\n".join(bad) + f"\n{log()}"
        )
        assert len(acked) >= 4, f"only {len(acked)} PUTs acknowledged before the volume was full"
        # The refusals come from CLOUDVAULT_MIN_FREE_BYTES, not from running into ENOSPC: about that
        # much is still free (slack for the metadata the acknowledged writes added).
        assert free_when_full >= MIN_FREE - MIN_FREE_SLACK, (
            f"only {free_when_full} bytes left on the volume when PUTs were refused; with "
            f"CLOUDVAULT_MIN_FREE_BYTES={MIN_FREE} writes must stop while that much is still free\n{log()}"
        )

        # 2. Nothing refused is visible.
        listed = all_keys(s3)
        assert sorted(listed) == sorted(acked), (
            f"listing on the full volume differs from the acknowledged PUTs: extra "
            f"{sorted(set(listed) - set(acked))}, missing {sorted(set(acked) - set(listed))}"
        )
        for key in refused:
            status, code, _ = get_status(s3, key)
            assert (status, code) == (404, "NoSuchKey"), f"refused {key}: GET -> {status} {code}"

        # 3. Deletes work on the full volume.
        deleted: set[str] = set()
        for key in list(acked)[:DELETES]:
            try:
                out = s3.delete_object(Bucket=BUCKET, Key=key)
            except ClientError as e:
                pytest.fail(f"DeleteObject {key} on the full volume -> {client_error(e)} "
                            f"{e.response.get('Error', {}).get('Message')!r}\n{log()}")
            assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
            deleted.add(key)
            del acked[key]
            status, code, _ = get_status(s3, key)
            assert (status, code) == (404, "NoSuchKey"), f"deleted {key}: GET -> {status} {code}"

        # 4. CreateBucket on the full volume: a 5xx, or a bucket that lasts.
        extra_bucket = "made-when-full"
        try:
            s3.create_bucket(Bucket=extra_bucket)
            extra_created = True
        except ClientError as e:
            status, code = client_error(e)
            assert 500 <= status < 600, f"CreateBucket on the full volume -> {status} {code}"
            extra_created = False

        # 5. Room again: PUTs work.
        remount(volume, BIGGER_SIZE)
        first_refused = next(iter(refused))
        data = rng.randbytes(OBJECT_SIZE)
        deadline = time.monotonic() + ROOM_AGAIN_S
        while True:
            status, code, message = put(s3, first_refused, data)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 200, (
            f"PUT still refused {ROOM_AGAIN_S}s after the volume grew to {BIGGER_SIZE}: {status} {code} "
            f"{message!r}\n{log()}"
        )
        acked[first_refused] = data
        for i in range(6):
            key = f"room/{i}"
            data = rng.randbytes(OBJECT_SIZE)
            status, code, message = put(s3, key, data)
            assert status == 200, f"PUT {key} after the remount -> {status} {code} {message!r}\n{log()}"
            acked[key] = data

        # 6. Restart and check everything.
        if stop == "sigterm":
            code = srv.stop(signal.SIGTERM)
            assert code in (0, -signal.SIGTERM), f"exit code {code} on SIGTERM\n{log()}"
        else:
            srv.proc.kill()
            srv.proc.wait(timeout=10)
        srv.start()
        s3 = client(srv)
        listed = all_keys(s3)
        assert sorted(listed) == sorted(acked), (
            f"after the {stop} restart the listing differs from what was acknowledged: extra "
            f"{sorted(set(listed) - set(acked))}, missing {sorted(set(acked) - set(listed))}"
        )
        for key, want in acked.items():
            status, code, body = get_status(s3, key)
            assert status == 200, f"{key} after restart: GET -> {status} {code}"
            assert hashlib.md5(body).hexdigest() == hashlib.md5(want).hexdigest(), f"{key} bytes differ after restart"
        for key in deleted | (set(refused) - set(acked)):
            status, code, _ = get_status(s3, key)
            assert (status, code) == (404, "NoSuchKey"), f"{key} (deleted or refused) after restart: {status} {code}"
        if extra_created:
            s3.head_bucket(Bucket=extra_bucket)
            assert extra_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        # And the restarted server takes writes.
        status, code, message = put(s3, "after-restart", b"still writable")
        assert status == 200, f"PUT after restart -> {status} {code} {message!r}"
        print(f"{backend}/{stop}: {len(acked)} objects kept, {len(refused)} PUTs refused with "
              f"{sorted({r[1] for r in refused.values()})}, {free_when_full} bytes free when full, "
              f"CreateBucket when full {'succeeded' if extra_created else 'refused'}")
