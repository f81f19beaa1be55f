"""aws-sdk-js v3 (``@aws-sdk/client-s3`` + ``@aws-sdk/lib-storage``) against CloudVault.

``js/s3_roundtrip.js`` runs under the machine's Node.js with the packages that
``scripts/setup-test-env`` installs into ``${CLOUDVAULT_CACHE:-~/.cache/cloudvault}/node``
(``js/package.json`` pins the majors). The SDK keeps its default checksum behaviour (CRC32 on every
upload, aws-chunked trailers on streamed parts) and ``forcePathStyle: true``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import GeneratedBody, run

MiB = 1024 * 1024
JS_DIR = Path(__file__).resolve().parent / "js"
NODE_PREFIX = Path(os.environ.get("CLOUDVAULT_CACHE", str(Path.home() / ".cache" / "cloudvault"))) / "node"


def node_env(server, **extra: str) -> dict:
    modules = NODE_PREFIX / "node_modules"
    if not (modules / "@aws-sdk" / "client-s3").is_dir() or not (modules / "@aws-sdk" / "lib-storage").is_dir():
        pytest.fail(f"aws-sdk-js v3 is not installed under {modules}; run scripts/setup-test-env")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("CV_")}
    env.update(
        NODE_PATH=str(modules),
        CV_ENDPOINT=server.endpoint,
        CV_ACCESS_KEY=server.access_key,
        CV_SECRET_KEY=server.secret_key,
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    if server.tls is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(server.tls.cert)
    return env


def run_node(server, timeout: float, **extra: str) -> dict:
    node = shutil.which("node") or pytest.fail("node not found; Node.js 20 is required (scripts/setup-test-env)")
    proc = run([node, str(JS_DIR / "s3_roundtrip.js")], env=node_env(server, **extra), timeout=timeout)
    lines = proc.stdout.decode().strip().splitlines()
    assert lines, f"no output from node; stderr: {proc.stderr.decode()[-2000:]}"
    return json.loads(lines[-1])


def test_upload_50mib_stream_over_tls(tls_server, tls_s3, tls_bucket, tmp_path):
    """lib-storage Upload of a 50 MiB Readable (unknown length: 5 MiB parts, multipart with CRC32
    trailers) over HTTPS, then GetObject: the MD5 of the downloaded bytes equals that of the
    generated stream, and the stored object is a 10-part multipart object."""
    size = 50 * MiB
    gen = GeneratedBody(size, seed=5)
    base = tmp_path / "base-block.bin"
    base.write_bytes(gen._base)
    expected_md5 = hashlib.md5()
    for block in gen:
        expected_md5.update(block)
    out = run_node(tls_server, timeout=300, CV_BUCKET=tls_bucket, CV_KEY="js/stream.bin",
                   CV_MODE="upload-stream", CV_SIZE=str(size), CV_BASE_BLOCK=str(base))
    assert out["sentMd5"] == expected_md5.hexdigest(), "the JS generator diverged from GeneratedBody"
    assert out["size"] == size
    assert out["gotMd5"] == expected_md5.hexdigest(), out
    head = tls_s3.head_object(Bucket=tls_bucket, Key="js/stream.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == size
    assert head["ETag"] == out["putEtag"] == out["etag"]
    assert head["ETag"].endswith('-10"'), head["ETag"]
    assert "aws-chunked" not in (head.get("ContentEncoding") or "")


def test_small_put_get_plain_http(server, s3, bucket):
    """PutObject + HeadObject + GetObject with default checksums over plain HTTP: the CRC32 the SDK
    sent is stored and returned, the bytes round-trip."""
    out = run_node(server, timeout=120, CV_BUCKET=bucket, CV_KEY="js/small.txt", CV_MODE="small")
    body = b"hello from aws-sdk-js v3\n" * 100
    assert out["sentMd5"] == out["gotMd5"] == hashlib.md5(body).hexdigest()
    assert out["putEtag"] == out["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    import awscrt.checksums  # noqa: PLC0415 - only this test needs it
    import base64

    crc = base64.b64encode(awscrt.checksums.crc32(body).to_bytes(4, "big")).decode()
    assert out["putChecksums"].get("ChecksumCRC32") == crc, out
    assert out["checksums"].get("ChecksumCRC32") == crc, out
    assert s3.get_object(Bucket=bucket, Key="js/small.txt")["Body"].read() == body
