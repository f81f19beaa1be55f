#!/usr/bin/env python3
"""Listing benchmark: how long one ListObjectsV2 page takes when its 1,000 entries are common prefixes
(1,000 folders, 3 objects each, `delimiter=/`) compared with 1,000 plain keys (no delimiter), on a real
`cloudvault serve`. Rerun it to compare builds; the figures are the point, not a pass/fail.

    scripts/bench-listing [--mysql URL] [--rounds N]

Prints the median and best time of each listing over N rounds (default 20), and checks that the folder
listing returned exactly the 1,000 prefixes (exit 1 if not).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
import requests
from botocore.config import Config

from bench_common import free_port, signed_get, timed, wait_until_up

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mysql", help="mysql:// URL of an empty database (default: embedded SQLite)")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    binary = Path(__import__("os").environ.get("CLOUDVAULT_BIN", REPO / "target/release/cloudvault"))
    work = Path(tempfile.mkdtemp(prefix="cv-bench-listing-"))
    port, api_port = free_port(), free_port()
    key, secret = "BENCH" + secrets.token_hex(6).upper(), secrets.token_urlsafe(24)
    env = {
        "CLOUDVAULT_DATA_DIR": str(work / "data"),
        "CLOUDVAULT_S3_ADDR": f"127.0.0.1:{port}",
        "CLOUDVAULT_API_ADDR": f"127.0.0.1:{api_port}",
        "CLOUDVAULT_ROOT_USER": key,
        "CLOUDVAULT_ROOT_PASSWORD": secret,
        "PATH": "/usr/bin:/bin",
    }
    if args.mysql:
        env["CLOUDVAULT_DATABASE_URL"] = args.mysql
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=log)
    try:
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=key,
                          aws_secret_access_key=secret, region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}, max_pool_connections=16))
        wait_until_up(s3)
        s3.create_bucket(Bucket="folders")
        s3.create_bucket(Bucket="flat")
        jobs = [("folders", f"dir{i:04d}/file{j}") for i in range(1000) for j in range(3)]
        jobs += [("flat", f"key{i:04d}") for i in range(1000)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda job: s3.put_object(Bucket=job[0], Key=job[1], Body=b"x"), jobs))
        session = requests.Session()

        def raw_list(bucket: str, query: str):
            return signed_get(session, port, key, secret, f"{bucket}?{query}")

        with_delim = timed(lambda: raw_list("folders", "delimiter=%2F&list-type=2&max-keys=1000"), args.rounds)
        flat = timed(lambda: raw_list("flat", "list-type=2&max-keys=1000"), args.rounds)
        prefixes = with_delim[2].count(b"<CommonPrefixes>")
        backend = "MySQL" if args.mysql else "SQLite"
        print(f"backend {backend}, {args.rounds} rounds")
        print(f"1,000 common prefixes (3,000 objects, delimiter /): median {with_delim[0] * 1000:.1f} ms, "
              f"best {with_delim[1] * 1000:.1f} ms, {prefixes} prefixes returned")
        print(f"1,000 plain keys (no delimiter):                   median {flat[0] * 1000:.1f} ms, "
              f"best {flat[1] * 1000:.1f} ms")
        return 0 if prefixes == 1000 else 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
