#!/usr/bin/env python3
"""Version listing benchmark: one 1,000-entry ListObjectVersions page of a bucket holding 100,000
versions over 10,000 keys, next to a 1,000-key ListObjectsV2 page of the same bucket, on a real
`cloudvault serve` with embedded SQLite. Rerun it to compare builds; the figures are the point.

    scripts/bench-versions [--rounds N] [--keys K] [--versions-per-key V]

The bucket is created and versioning enabled through S3; the versions are then written straight into
the SQLite file while the server is stopped (10 versions per key: the current one in `objects`, the
others in `object_versions`, in the layout the commit transaction produces), because 100,000 PUTs
would take minutes and measure the write path instead. Listing never reads blobs, so none are made.
Prints median and best of N rounds for the first page, a page from the middle (key-marker and
version-id-marker), and ListObjectsV2; exits 1 if a page is not full.
"""

from __future__ import annotations

import argparse
import secrets
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import boto3
import requests
from botocore.config import Config

from bench_common import free_port, signed_get, timed, wait_until_up

REPO = Path(__file__).resolve().parents[1]


class Server:
    def __init__(self, binary: Path, work: Path):
        self.binary, self.work = binary, work
        self.port, self.api_port = free_port(), free_port()
        self.key, self.secret = "BENCH" + secrets.token_hex(6).upper(), secrets.token_urlsafe(24)
        self.db = work / "meta.sqlite"
        self.proc = None

    def start(self):
        env = {
            "CLOUDVAULT_DATA_DIR": str(self.work / "data"),
            "CLOUDVAULT_DATABASE_URL": f"sqlite://{self.db}?mode=rwc",
            "CLOUDVAULT_S3_ADDR": f"127.0.0.1:{self.port}",
            "CLOUDVAULT_API_ADDR": f"127.0.0.1:{self.api_port}",
            "CLOUDVAULT_ROOT_USER": self.key,
            "CLOUDVAULT_ROOT_PASSWORD": self.secret,
            "PATH": "/usr/bin:/bin",
        }
        log = open(self.work / "server.log", "ab")
        self.proc = subprocess.Popen([str(self.binary), "serve"], env=env, stdout=log, stderr=log)
        s3 = self.client()
        wait_until_up(s3)
        return s3

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=40)

    def client(self):
        return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.port}", aws_access_key_id=self.key,
                            aws_secret_access_key=self.secret, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}))

    def raw(self, session, path_query: str) -> bytes:
        return signed_get(session, self.port, self.key, self.secret, path_query)


def seed(db: Path, bucket: str, keys: int, per_key: int) -> str:
    """Writes `keys` keys of `per_key` versions each; returns a version id from the middle."""
    conn = sqlite3.connect(db)
    (bucket_id, owner) = conn.execute("SELECT id, owner_id FROM buckets WHERE name = ?", (bucket,)).fetchone()
    seq, current, older, middle = 0, [], [], ""
    for k in range(keys):
        key = f"data/{k:06d}".encode()
        for v in range(per_key):
            seq += 1
            vid = f"{seq:016x}{secrets.token_hex(8)}"
            row = (bucket_id, key, -seq, vid, 10, "0" * 32, 1_700_000_000_000 + seq, owner, "{}",
                   f"{secrets.token_hex(16)} 10 {'0' * 32}\n", None)
            (current if v == per_key - 1 else older).append(row)
            if k == keys // 2 and v == per_key // 2:
                middle = vid
    conn.executemany(
        "INSERT INTO objects (bucket_id, object_key, vorder, version_id, size, etag, last_modified, owner_id, "
        "attributes, manifest, parts_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", current)
    conn.executemany(
        "INSERT INTO object_versions (bucket_id, object_key, vorder, version_id, size, etag, last_modified, "
        "owner_id, attributes, manifest, parts_count, is_marker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        older)
    conn.execute("UPDATE buckets SET object_count = ?, bytes_used = ?, noncurrent_count = ?, "
                 "noncurrent_bytes = ? WHERE id = ?",
                 (len(current), 10 * len(current), len(older), 10 * len(older), bucket_id))
    conn.commit()
    conn.close()
    return middle


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--versions-per-key", type=int, default=10)
    args = parser.parse_args()
    binary = Path(__import__("os").environ.get("CLOUDVAULT_BIN", REPO / "target/release/cloudvault"))
    work = Path(tempfile.mkdtemp(prefix="cv-bench-versions-"))
    server = Server(binary, work)
    s3 = server.start()
    s3.create_bucket(Bucket="versions")
    s3.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
    server.stop()
    middle = seed(server.db, "versions", args.keys, args.versions_per_key)
    server.start()
    try:
        session = requests.Session()
        mid_key = f"data/{args.keys // 2:06d}"
        first = timed(lambda: server.raw(session, "versions?versions&max-keys=1000"), args.rounds)
        marker = f"key-marker={quote(mid_key, safe='')}&version-id-marker={middle}"
        mid = timed(lambda: server.raw(session, f"versions?versions&max-keys=1000&{marker}"), args.rounds)
        plain = timed(lambda: server.raw(session, "versions?list-type=2&max-keys=1000"), args.rounds)
        counts = [r[2].count(b"<Version>") for r in (first, mid)] + [plain[2].count(b"<Contents>")]
        total = args.keys * args.versions_per_key
        print(f"SQLite, {total:,} versions over {args.keys:,} keys, {args.rounds} rounds")
        print(f"ListObjectVersions, first 1,000:       median {first[0] * 1000:.1f} ms, best {first[1] * 1000:.1f} ms")
        print(f"ListObjectVersions, 1,000 mid-bucket:  median {mid[0] * 1000:.1f} ms, best {mid[1] * 1000:.1f} ms")
        print(f"ListObjectsV2, first 1,000 keys:       median {plain[0] * 1000:.1f} ms, best {plain[1] * 1000:.1f} ms")
        return 0 if counts == [1000, 1000, 1000] else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
