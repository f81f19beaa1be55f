#!/usr/bin/env python3
"""The performance benchmark (issue 14): a release `cloudvault serve` on SQLite and on MariaDB, driven by
`cloudvault-loadgen` (Rust, one keep-alive connection per client), optionally next to any other S3
server. Rerun it to compare builds; the figures are the point, not a pass/fail (it exits 1 only when a
request failed).

    scripts/bench [--backends sqlite,mysql] [--duration 10] [--fill N] [--json out.json]
                  [--peer http://host:port --peer-key K --peer-secret S [--peer-pid PID]]

Workloads, in order, each for `--duration` seconds at fixed concurrency: PUT / GET / DELETE 4 KiB from
16 clients (the DELETE removes what the PUT wrote), PUT / GET 1 MiB from 8, PUT / GET 16 MiB from 4, a
LIST of 10,000 keys (10 pages), on MariaDB PUT 4 KiB from 16 clients into 16 buckets (against one
bucket: per-bucket serialization), and with `--fill N` a bucket of N 1 KiB objects (fill rate) with
1,000-key pages at its start, middle and end, with a delimiter, a full listing and random HEADs.

For each: ops/s, MiB/s, p50 / p99 latency, the server's CPU per operation (user + system, all threads,
from /proc) and its peak RSS (VmHWM) at the end of the run; `--peer-pid` gives the same for the peer.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import pymysql
from botocore.config import Config

from bench_common import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Endpoint:
    """An S3 server under test: its URL, credentials and (when known) its process id."""

    def __init__(self, name: str, url: str, key: str, secret: str, pid: int | None):
        self.name, self.url, self.key, self.secret, self.pid = name, url, key, secret, pid
        self.s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret,
                               region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))

    def cpu_seconds(self) -> float | None:
        if self.pid is None:
            return None
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def peak_rss_mib(self) -> float | None:
        if self.pid is None:
            return None
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def bucket(self, name: str) -> str:
        self.s3.create_bucket(Bucket=name)
        return name


def loadgen(ep: Endpoint, bucket: str, op: str, **kw) -> dict:
    """One loadgen run; its JSON plus the server's CPU per operation."""
    cmd = [str(TARGET / "release/cloudvault-loadgen"), "--endpoint", ep.url, "--bucket", bucket, "--op", op]
    for name, value in kw.items():
        cmd += [f"--{name.replace('_', '-')}", str(value)]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ep.key, AWS_SECRET_ACCESS_KEY=ep.secret, RUST_BACKTRACE="0")
    before = ep.cpu_seconds()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    after = ep.cpu_seconds()
    if before is not None and after is not None and result["ops"]:
        result["cpu_us_per_op"] = (after - before) * 1e6 / result["ops"]
    if out.stderr.strip():
        print(out.stderr.strip()[-600:], file=sys.stderr)
    return result


def workloads(ep: Endpoint, args, mysql: bool) -> dict[str, dict]:
    d = args.duration
    tag = secrets.token_hex(3)
    small = ep.bucket(f"bench-small-{tag}")
    rows: dict[str, dict] = {}
    rows["PUT 4 KiB x16"] = loadgen(ep, small, "put", size=4096, clients=16, duration=d, prefix="s/")
    written = rows["PUT 4 KiB x16"]["ops"]
    rows["GET 4 KiB x16"] = loadgen(ep, small, "get", size=4096, clients=16, duration=d, prefix="s/", keys=written)
    rows["DELETE 4 KiB x16"] = loadgen(ep, small, "delete", clients=16, duration=d, prefix="s/", count=written)
    big = ep.bucket(f"bench-big-{tag}")
    rows["PUT 1 MiB x8"] = loadgen(ep, big, "put", size=1 << 20, clients=8, duration=d, prefix="m/")
    rows["GET 1 MiB x8"] = loadgen(ep, big, "get", size=1 << 20, clients=8, duration=d, prefix="m/",
                                   keys=rows["PUT 1 MiB x8"]["ops"])
    rows["PUT 16 MiB x4"] = loadgen(ep, big, "put", size=16 << 20, clients=4, duration=d, prefix="l/")
    rows["GET 16 MiB x4"] = loadgen(ep, big, "get", size=16 << 20, clients=4, duration=d, prefix="l/",
                                    keys=rows["PUT 16 MiB x4"]["ops"])
    listed = ep.bucket(f"bench-list-{tag}")
    loadgen(ep, listed, "put", size=16, clients=16, duration=600, count=10_000, prefix="k/")
    rows["LIST 10,000 keys (10 pages)"] = loadgen(ep, listed, "list", clients=1, duration=d)
    if mysql:
        spread = ",".join(ep.bucket(f"bench-spread{i}-{tag}") for i in range(16))
        rows["PUT 4 KiB x16, 16 buckets"] = loadgen(ep, spread, "put", size=4096, clients=16, duration=d, prefix="s/")
    if args.fill:
        rows.update(fill(ep, args, tag))
    return rows


def fill(ep: Endpoint, args, tag: str) -> dict[str, dict]:
    """A bucket of `--fill` 1 KiB objects, then pages anywhere in it, a full listing and HEADs."""
    n = args.fill
    bucket = ep.bucket(f"bench-fill-{tag}")
    rows = {f"fill {n:,} x 1 KiB x16": loadgen(ep, bucket, "put", size=1024, clients=16, duration=args.fill_limit,
                                               count=n, prefix="f/")}
    filled = rows[f"fill {n:,} x 1 KiB x16"]["ops"]
    for name, position in (("start", 0), ("middle", filled // 2), ("end", max(filled - 1000, 0))):
        rows[f"page at the {name}"] = loadgen(ep, bucket, "list", clients=1, duration=3, pages=1,
                                              start_after=f"f/{position:010}")
    rows["page with delimiter /"] = loadgen(ep, bucket, "list", clients=1, duration=3, pages=1, delimiter="/")
    rows["full listing"] = loadgen(ep, bucket, "list", clients=1, duration=600, count=max(filled // 1000, 1) + 1)
    rows["HEAD random key x16"] = loadgen(ep, bucket, "head", clients=16, duration=args.duration, prefix="f/",
                                          keys=filled)
    return rows


def start_cloudvault(backend: str, work: Path) -> tuple[subprocess.Popen, Endpoint, str | None]:
    port, api_port = free_port(), free_port()
    key, secret = "BENCH" + secrets.token_hex(6).upper(), secrets.token_urlsafe(24)
    env = {
        "CLOUDVAULT_DATA_DIR": str(work / f"data-{backend}"),
        "CLOUDVAULT_S3_ADDR": f"127.0.0.1:{port}",
        "CLOUDVAULT_API_ADDR": f"127.0.0.1:{api_port}",
        "CLOUDVAULT_ROOT_USER": key,
        "CLOUDVAULT_ROOT_PASSWORD": secret,
        "PATH": "/usr/bin:/bin",
    }
    database = None
    if backend == "mysql":
        database = f"cv_bench_{secrets.token_hex(4)}"
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        conn.close()
        env["CLOUDVAULT_DATABASE_URL"] = f"mysql://root@127.0.0.1:3306/{database}"
    log = open(work / f"server-{backend}.log", "wb")
    binary = Path(os.environ.get("CLOUDVAULT_BIN", TARGET / "release/cloudvault"))
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=log)
    ep = Endpoint(f"CloudVault {'MariaDB' if backend == 'mysql' else 'SQLite'}", f"http://127.0.0.1:{port}",
                  key, secret, proc.pid)
    wait_until_up(ep.s3)
    return proc, ep, database


def drop_database(name: str | None) -> None:
    if name:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict[str, dict], peer: str | None) -> None:
    names = list(results)
    rows = list(dict.fromkeys(r for n in names for r in results[n]["rows"]))
    for row in rows:
        print(f"\n{row}")
        for name in names:
            r = results[name]["rows"].get(row)
            if r is None:
                continue
            ratio = ""
            base = results.get(peer, {}).get("rows", {}).get(row) if peer and name != peer else None
            if base and base["ops_per_s"]:
                ratio = f"  {r['ops_per_s'] / base['ops_per_s']:.2f}x peer"
            print(f"  {name:22} {r['ops_per_s']:>10,.0f} ops/s {r['mib_per_s']:>9,.1f} MiB/s "
                  f"p50 {r['p50_ms']:>7.2f} ms p99 {r['p99_ms']:>7.2f} ms "
                  f"cpu {fmt(r.get('cpu_us_per_op'), '>7,.0f')} us/op  err {r['errors']}{ratio}")
    print()
    for name in names:
        print(f"{name}: peak RSS {fmt(results[name].get('peak_rss_mib'), '.0f')} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,mysql")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per workload")
    parser.add_argument("--fill", type=int, default=0, help="objects in the fill bucket (0: no fill)")
    parser.add_argument("--fill-limit", type=float, default=900.0, help="most seconds the fill may take")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--peer", help="another S3 endpoint, http://host:port")
    parser.add_argument("--peer-name", default="peer")
    parser.add_argument("--peer-key", default=os.environ.get("PEER_ACCESS_KEY", ""))
    parser.add_argument("--peer-secret", default=os.environ.get("PEER_SECRET_KEY", ""))
    parser.add_argument("--peer-pid", type=int)
    parser.add_argument("--data-dir", help="where the servers keep their data (default: a fresh temp dir)")
    args = parser.parse_args()
    work = Path(args.data_dir or tempfile.mkdtemp(prefix="cv-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    for backend in [b for b in args.backends.split(",") if b]:
        proc, ep, database = start_cloudvault(backend, work)
        try:
            rows = workloads(ep, args, backend == "mysql")
            results[ep.name] = {"rows": rows, "peak_rss_mib": ep.peak_rss_mib()}
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            drop_database(database)
    if args.peer:
        ep = Endpoint(args.peer_name, args.peer, args.peer_key, args.peer_secret, args.peer_pid)
        results[ep.name] = {"rows": workloads(ep, args, False), "peak_rss_mib": ep.peak_rss_mib()}
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    print_table(results, args.peer_name if args.peer else None)
    print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)}; {os.cpu_count()} cpus")
    failed = any(r["errors"] for res in results.values() for r in res["rows"].values())
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "load_before": load_before,
                                               "load_after": load_after, "time": time.time()}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
