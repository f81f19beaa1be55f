#!/usr/bin/env python3
"""Memory benchmark: PUT and GET one large object through a real `cloudvault serve` and report the
server's resident memory. Rerun it to compare builds; the figures are the point, not a pass/fail.

    scripts/bench-memory [SIZE_MIB] [--mysql URL]

Prints: idle RSS, peak RSS during PUT and during GET (VmHWM from /proc), throughput, and whether the
downloaded bytes' MD5 equals the uploaded one (exit 1 if not).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import botocore.auth
import botocore.credentials
import requests
from botocore.awsrequest import AWSRequest

REPO = Path(__file__).resolve().parents[1]
CHUNK = 1024 * 1024


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """Samples VmRSS of a process every 20 ms and keeps the maximum."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid, "VmRSS"))
            time.sleep(0.02)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def signed(method: str, url: str, key: str, secret: str, headers: dict) -> dict:
    req = AWSRequest(method=method, url=url, headers={**headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("size_mib", nargs="?", type=int, default=1024)
    ap.add_argument("--mysql", help="mysql:// URL of an existing empty database (default: embedded SQLite)")
    args = ap.parse_args()
    binary = os.environ.get("CLOUDVAULT_BIN", str(REPO / "target/release/cloudvault"))
    size = args.size_mib * CHUNK
    block = secrets.token_bytes(CHUNK)
    key, secret = "bench", secrets.token_hex(16)
    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    port, api_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, CLOUDVAULT_DATA_DIR=data, CLOUDVAULT_S3_ADDR=f"127.0.0.1:{port}", CLOUDVAULT_API_ADDR=f"127.0.0.1:{api_port}",
                   CLOUDVAULT_ROOT_USER=key, CLOUDVAULT_ROOT_PASSWORD=secret)
        if args.mysql:
            env["CLOUDVAULT_DATABASE_URL"] = args.mysql
        server = subprocess.Popen([binary, "serve"], env=env, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    r = requests.put(f"{base}/bench", headers=signed("PUT", f"{base}/bench", key, secret, {}))
                    if r.status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)
            else:
                print("server did not start", file=sys.stderr)
                return 1
            idle = rss_kib(server.pid, "VmRSS")
            url = f"{base}/bench/big-object"
            sent = hashlib.md5()

            class Body:
                """Generated on the fly; `__len__` makes requests send Content-Length, not chunked."""

                def __len__(self) -> int:
                    return size

                def __iter__(self):
                    for i in range(args.size_mib):
                        chunk = block[i % 7 :] + block[: i % 7]
                        sent.update(chunk)
                        yield chunk

            sampler = Sampler(server.pid)
            sampler.start()
            t0 = time.monotonic()
            r = requests.put(url, data=Body(), headers=signed("PUT", url, key, secret, {"Content-Length": str(size)}))
            put_s = time.monotonic() - t0
            put_peak = sampler.stop()
            assert r.status_code == 200, r.text

            sampler = Sampler(server.pid)
            sampler.start()
            got = hashlib.md5()
            n = 0
            t0 = time.monotonic()
            with requests.get(url, headers=signed("GET", url, key, secret, {}), stream=True) as r:
                assert r.status_code == 200, r.text
                for chunk in r.iter_content(CHUNK):
                    got.update(chunk)
                    n += len(chunk)
            get_s = time.monotonic() - t0
            get_peak = sampler.stop()
            hwm = rss_kib(server.pid, "VmHWM")
            ok = n == size and got.hexdigest() == sent.hexdigest()
            print(f"object: {args.size_mib} MiB  backend: {'mysql' if args.mysql else 'sqlite'}")
            print(f"idle RSS: {idle / 1024:.1f} MiB")
            print(f"PUT: {size / put_s / CHUNK:.0f} MiB/s, peak RSS {put_peak / 1024:.1f} MiB")
            print(f"GET: {size / get_s / CHUNK:.0f} MiB/s, peak RSS {get_peak / 1024:.1f} MiB")
            print(f"process high-water mark (VmHWM): {hwm / 1024:.1f} MiB")
            print(f"bytes identical: {ok}")
            return 0 if ok else 1
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
