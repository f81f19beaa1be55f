"""Crash faults: CloudVault SIGKILLed at random moments under a write load loses nothing it
acknowledged, never shows a partial object, never keeps a row without its blob, and its janitor
leaves no orphan file behind.

For each backend (SQLite and MySQL metadata) one server runs with a short janitor grace period
(``CLOUDVAULT_STAGING_GRACE_SECS=1``, ``CLOUDVAULT_JANITOR_INTERVAL_SECS=1``) through
``CLOUDVAULT_FAULT_KILLS`` rounds (default 150). In each round four boto3 client threads write to
keys they own (so the order of the operations on one key is known): PUT a new key, overwrite a key,
delete a key, and (thread 0, now and then) a multipart upload of a 5 MiB part plus a small one.
Bodies are 0-300 KiB. Between 0.05 s and 0.6 s into the round the server gets SIGKILL, then it is
started again on the same data dir, database and port.

The model of each key is the set of states it may be in: after a 2xx it is exactly what was
acknowledged (content MD5, or absent after a DELETE); a request in flight at the kill (or failed
in any way that does not prove it was never applied) adds its new state to the set, since it may
have committed or not; a request whose connection was refused never reached the server and changes
nothing. After every restart each key written in the round is read back (before a later overwrite
can hide a loss) and one hit by an in-flight request is narrowed to what the server shows; and,
with the server idle, every object row and part row must name blob files that exist with the size
the manifest says.

After the last round: incomplete multipart uploads are aborted, the janitor is given time for a
sweep past the grace period (polled, bounded), every key is read through S3 and ListObjectsV2 must
show exactly the keys that read back, then the server is stopped with SIGTERM and the database
(sqlite3 on the file, pymysql for MariaDB) and the data dir are compared. Counted, and all
required to be 0:
  * lost_or_changed: a key whose content or absence is not one of its allowed states (an
    acknowledged write gone, reverted or unreadable, a deleted key back);
  * partial: a key whose bytes are none of the bodies ever sent to it (torn, truncated, mixed), or
    a listed key no client wrote;
  * rows_without_blob: a manifest line (object, version or part row) whose file is missing, the
    wrong size, or (final check) of the wrong MD5;
  * orphan_files: a file under ``blobs/`` or ``staging/`` named by no object, part, intent or
    garbage row; also no intent or garbage row may be left older than the sweep allowed for.

Knobs: CLOUDVAULT_FAULT_KILLS (kills per backend), CLOUDVAULT_FAULT_SEED (the random schedule;
printed), CLOUDVAULT_FAULT_BUDGET_SECS (wall-time bound of the rounds per backend). A round's
timing is not reproducible, the seed only fixes the choices. On a violation the failure names the
key, its recent operations (round, op, MD5 prefix, size, outcome, times within the round) and the
server's log lines for it; the full report is written to ``faults-report.json`` in the server's
work dir, next to ``server.log`` (one ``===== cloudvault serve ... starting`` marker per start).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import signal
import socket
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from conftest import REGION, CloudVaultServer, _mysql_connect, md5_hex, running_server


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        pytest.fail(f"{name}={raw!r} is not an integer")


KILLS = _env_int("CLOUDVAULT_FAULT_KILLS", 150)
SEED = _env_int("CLOUDVAULT_FAULT_SEED", secrets.randbits(32))
# Wall-time bound of the kill rounds per backend: well above the ~0.6 s a round takes here, so only
# a hang or a pathological slowdown hits it (the kill count assertion then fails).
BUDGET_S = float(os.environ.get("CLOUDVAULT_FAULT_BUDGET_SECS") or (60 + 1.5 * KILLS))

THREADS = 4
KEYS_PER_THREAD = 40
GRACE_S = 1
JANITOR_S = 1
KILL_AFTER_S = (0.05, 0.6)
MAX_BODY = 300 * 1024
PART = 5 * 1024 * 1024
MULTIPART_P = 0.10          # thread 0 only
READY_TIMEOUT_S = 30.0
MAX_OPS_PER_ROUND = 5000   # per thread; a round ends at the kill, these only bound a runaway loop
ROUND_LIMIT_S = 30.0
JOIN_TIMEOUT_S = 20.0       # a client request times out after 10 s; the kill closes them anyway
SWEEP_TIMEOUT_S = GRACE_S + 2 * JANITOR_S + 20.0
STALE_QUEUE_MS = (GRACE_S + 2 * JANITOR_S) * 1000
BUCKET = "faults"
ABSENT = "<absent>"

# Outcomes of one client operation.
OK = "ok"              # 2xx: the new state is THE state
NOT_SENT = "not-sent"  # connection refused: never reached the server
REJECTED = "rejected"  # a 4xx: the server answered and did not apply it
UNKNOWN = "unknown"    # in flight at the kill, a reset, a timeout, a 5xx: may or may not have applied
CUT = "cut"            # a multipart upload that failed before CompleteMultipartUpload: key unchanged


def short(state: str) -> str:
    return state if state == ABSENT or state.startswith("error") else state[:10]


@dataclass
class KeyState:
    allowed: set = field(default_factory=lambda: {ABSENT})
    history: set = field(default_factory=set)     # every MD5 ever sent for this key
    ops: list = field(default_factory=list)       # recent operations, for reports
    unresolved: bool = False                      # an UNKNOWN op since the last observation
    touched: int = 0                              # the last round with an operation on it

    def note(self, entry: str) -> None:
        self.ops.append(entry)
        del self.ops[:-12]

    def may_exist(self) -> bool:
        return self.allowed != {ABSENT}


@dataclass
class Stats:
    ops: int = 0
    acked: int = 0
    unknown: int = 0
    not_sent: int = 0
    cut: int = 0
    rejected: int = 0
    multipart_completed: int = 0
    http_error_count: int = 0
    http_errors: list = field(default_factory=list)     # the first 50


@dataclass
class Violation:
    counter: str
    key: str
    detail: str
    round: int
    ops: list

    def __str__(self) -> str:
        return f"[{self.counter}] {self.key} (after round {self.round}): {self.detail}; recent ops: {self.ops}"


def outcome_of(exc: Optional[BaseException]) -> str:
    if exc is None:
        return OK
    if isinstance(exc, EndpointConnectionError):  # includes ConnectTimeoutError: nothing was sent
        return NOT_SENT
    if isinstance(exc, ClientError):
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return REJECTED if 400 <= status < 500 else UNKNOWN
    return UNKNOWN


def describe(exc: Optional[BaseException]) -> str:
    if exc is None:
        return ""
    if isinstance(exc, ClientError):
        meta = exc.response["ResponseMetadata"]
        return f"{meta['HTTPStatusCode']} {exc.response.get('Error', {}).get('Code', '')}"
    return type(exc).__name__


# ------------------------------------------------------------------------------------------------
# Metadata and data dir, read directly
# ------------------------------------------------------------------------------------------------


class Metadata:
    """Direct read access to the server's metadata database (no server involved)."""

    def __init__(self, srv: CloudVaultServer):
        self._mysql = None
        url = srv.database_url
        if srv.backend == "sqlite":
            assert url.startswith("sqlite://"), url
            self.sqlite_path = Path(urllib.parse.urlsplit(url).path)
            if not self.sqlite_path.exists():
                pytest.fail(f"SQLite metadata file {self.sqlite_path} (from {url}) does not exist")
            self.db_name = None
        else:
            self.sqlite_path = None
            self.db_name = urllib.parse.urlsplit(url).path.lstrip("/")
            assert self.db_name, url

    def query(self, sql: str) -> list[tuple]:
        if self.sqlite_path is not None:
            conn = sqlite3.connect(str(self.sqlite_path), timeout=30)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        # One autocommit connection for the whole test (a new one takes ~80 ms): every SELECT is
        # its own transaction, so it sees what is committed now.
        if self._mysql is None:
            self._mysql = _mysql_connect()
            with self._mysql.cursor() as cur:
                cur.execute(f"USE `{self.db_name}`")
        self._mysql.ping(reconnect=True)
        with self._mysql.cursor() as cur:
            cur.execute(f"USE `{self.db_name}`")
            cur.execute(sql)
            return list(cur.fetchall())

    def close(self) -> None:
        if self._mysql is not None:
            self._mysql.close()
            self._mysql = None

    def snapshot(self) -> dict:
        def text(v) -> str:
            return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)

        return {
            "objects": [(text(k), text(m)) for k, m in self.query("SELECT object_key, manifest FROM objects")],
            # Versioned buckets: every noncurrent version and every delete marker (a marker's manifest
            # is empty). Their manifests name live blobs exactly as an `objects` row's do.
            "versions": [
                (text(k), text(v), int(mk) != 0, text(m))
                for k, v, mk, m in self.query("SELECT object_key, version_id, is_marker, manifest FROM object_versions")
            ],
            "parts": [
                (text(u), int(n), text(b), int(s))
                for u, n, b, s in self.query("SELECT upload_id, part_number, blob_id, size FROM multipart_parts")
            ],
            "pending": {text(b): int(t) for b, t in self.query("SELECT blob_id, created_at FROM pending_blobs")},
            "garbage": {text(b): int(t) for b, t in self.query("SELECT blob_id, enqueued_at FROM garbage_blobs")},
            # Inline blobs (ids starting with "i"): their bytes are rows, not files. id -> (length, MD5).
            "inline": {text(b): (len(d), hashlib.md5(bytes(d)).hexdigest())
                       for b, d in self.query("SELECT blob_id, data FROM inline_blobs")},
        }


def parse_manifest(text: str) -> list[tuple[str, int, str]]:
    out = []
    for line in text.splitlines():
        if not line:
            continue
        blob_id, size, md5 = line.split(" ")
        out.append((blob_id, int(size), md5))
    return out


def is_inline(blob_id: str) -> bool:
    """Inline blob ids start with "i" (file blob ids are lowercase hex): their bytes are an
    ``inline_blobs`` row written by the object's commit."""
    return blob_id.startswith("i")


def blob_path(data_dir: Path, blob_id: str) -> Path:
    return data_dir / "blobs" / blob_id[:2] / blob_id


def file_md5(path: Path) -> Optional[str]:
    import hashlib

    h = hashlib.md5()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1024 * 1024), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def rows_without_blob(data_dir: Path, snap: dict, *, check_md5: bool) -> list[str]:
    """Every manifest line of every object row, noncurrent version row, and every part row, whose file
    is missing, of another size than recorded, or (``check_md5``) of other bytes; and every delete
    marker row that names a blob (a marker has no bytes)."""
    problems = []
    refs = [(f"object {key!r}", blob_id, size, md5)
            for key, manifest in snap["objects"] for blob_id, size, md5 in parse_manifest(manifest)]
    for key, version_id, is_marker, manifest in snap.get("versions", []):
        lines = parse_manifest(manifest)
        if is_marker and lines:
            problems.append(f"delete marker {version_id} of {key!r}: names blobs {[b for b, _, _ in lines]}")
        refs += [(f"version {version_id} of {key!r}", blob_id, size, md5) for blob_id, size, md5 in lines]
    refs += [(f"part {n} of upload {upload}", blob_id, size, None) for upload, n, blob_id, size in snap["parts"]]
    for owner, blob_id, size, md5 in refs:
        if is_inline(blob_id):
            row = snap["inline"].get(blob_id)
            if row is None:
                problems.append(f"{owner}: inline blob {blob_id} has no row")
            elif row[0] != size or (check_md5 and md5 is not None and row[1] != md5):
                problems.append(f"{owner}: inline blob {blob_id} is {row}, manifest says ({size}, {md5})")
            continue
        path = blob_path(data_dir, blob_id)
        try:
            got = path.stat().st_size
        except FileNotFoundError:
            problems.append(f"{owner}: blob {blob_id} missing ({path})")
            continue
        if got != size:
            problems.append(f"{owner}: blob {blob_id} is {got} bytes, manifest says {size}")
        elif check_md5 and md5 is not None and file_md5(path) != md5:
            problems.append(f"{owner}: blob {blob_id} has MD5 {file_md5(path)}, manifest says {md5}")
    return problems


def referenced_blobs(snap: dict) -> set[str]:
    """The blob ids a live row names: current objects, noncurrent versions, parts."""
    refs = {b for _, m in snap["objects"] for b, _, _ in parse_manifest(m)}
    refs |= {b for _, _, _, m in snap.get("versions", []) for b, _, _ in parse_manifest(m)}
    refs |= {b for _, _, b, _ in snap["parts"]}
    return refs


def orphan_files(data_dir: Path, snap: dict) -> list[str]:
    """Files under blobs/ and staging/, and inline blob rows, that no object, version, part, intent or
    garbage row names (a blob file outside its fan-out directory counts too)."""
    referenced = referenced_blobs(snap)
    queued = set(snap["pending"]) | set(snap["garbage"])
    orphans = [f"inline blob row {b} ({n} bytes)" for b, (n, _) in sorted(snap.get("inline", {}).items())
               if b not in referenced and b not in queued]
    blobs = data_dir / "blobs"
    for entry in sorted(blobs.iterdir()):
        if not entry.is_dir():
            orphans.append(f"{entry} (stray file in blobs/)")
            continue
        for f in sorted(entry.iterdir()):
            if f.name[:2] != entry.name or f.is_dir():
                orphans.append(f"{f} (misplaced)")
            elif f.name not in referenced and f.name not in queued:
                orphans.append(f"{f} ({f.stat().st_size} bytes)")
    for f in sorted((data_dir / "staging").iterdir()):
        if f.name not in queued:
            orphans.append(f"{f} (staging, {f.stat().st_size} bytes)")
    return orphans


def staging_files(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "staging").iterdir())


# ------------------------------------------------------------------------------------------------
# The server, killed and restarted
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def server(request, tmp_path_factory):
    """A CloudVault with a 1 s janitor grace and interval (named ``server`` so a failure report gets
    its log tail)."""
    extra = {
        "CLOUDVAULT_STAGING_GRACE_SECS": str(GRACE_S),
        "CLOUDVAULT_JANITOR_INTERVAL_SECS": str(JANITOR_S),
        "CLOUDVAULT_SHUTDOWN_GRACE_SECS": "10",
    }
    with running_server(request.param, tmp_path_factory, extra_env=lambda srv: extra) as srv:
        yield srv


def one_shot_client(srv: CloudVaultServer, *, read_timeout: float, connect_timeout: float = 2):
    """A boto3 client that sends every request exactly once. (botocore's ``max_attempts`` counts
    RETRIES: ``max_attempts=1`` still retries once, which turns a request cut off by the kill into a
    refused connection on the second attempt, and "refused" must mean "never reached the server".)"""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=srv.endpoint,
        region_name=REGION,
        aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=2,
        ),
    )


def wait_up(srv: CloudVaultServer, probe) -> float:
    """Wait (polling every 20 ms, at most READY_TIMEOUT_S) until a signed ListBuckets succeeds;
    return how long it took."""
    t0 = time.monotonic()
    deadline = t0 + READY_TIMEOUT_S
    last: object = None
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            pytest.fail(f"cloudvault exited with code {srv.proc.returncode} while starting\n{srv.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=0.5):
                pass
            probe.list_buckets()
            return time.monotonic() - t0
        except Exception as e:  # noqa: BLE001 - refused, reset, 5xx while starting
            last = e
            time.sleep(0.02)
    srv.kill()
    pytest.fail(f"cloudvault not ready {READY_TIMEOUT_S}s after a restart: {last!r}\n{srv.log_tail()}")


def sigkill(srv: CloudVaultServer) -> None:
    proc = srv.proc
    assert proc is not None and proc.poll() is None, (
        f"the server died by itself before the kill (exit {proc.returncode if proc else None})\n{srv.log_tail()}"
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def observe(client, key: str) -> str:
    """What the server shows for ``key``: the MD5 of its bytes, ABSENT, or ``error: ...``."""
    try:
        got = client.get_object(Bucket=BUCKET, Key=key)
        data = got["Body"].read()
    except ClientError as e:
        meta = e.response["ResponseMetadata"]
        code = e.response.get("Error", {}).get("Code", "")
        if meta["HTTPStatusCode"] == 404 and code == "NoSuchKey":
            return ABSENT
        return f"error: {meta['HTTPStatusCode']} {code}"
    except Exception as e:  # noqa: BLE001 - a truncated body, a reset
        return f"error: {e!r}"
    if len(data) != got["ContentLength"]:
        return f"error: {len(data)} bytes read, Content-Length {got['ContentLength']}"
    return md5_hex(data)


def judge(key: str, ks: KeyState, seen: str, rnd: int) -> Optional[Violation]:
    """None when ``seen`` is an allowed state of the key; else the violation it is."""
    if seen in ks.allowed:
        return None
    allowed = sorted(short(s) for s in ks.allowed)
    if seen == ABSENT:
        return Violation("lost_or_changed", key, f"404 NoSuchKey, allowed {allowed}", rnd, list(ks.ops))
    if seen.startswith("error"):
        return Violation("lost_or_changed", key, f"GET failed ({seen}), allowed {allowed}", rnd, list(ks.ops))
    if seen in ks.history:
        return Violation("lost_or_changed", key, f"older content {short(seen)}, allowed {allowed}", rnd, list(ks.ops))
    return Violation("partial", key, f"bytes of MD5 {seen} are no body ever sent, allowed {allowed}", rnd,
                     list(ks.ops))


# ------------------------------------------------------------------------------------------------
# The load
# ------------------------------------------------------------------------------------------------


def body_size(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.05:
        return 0
    if r < 0.25:
        return rng.randint(1, 4096)
    return rng.randint(4097, MAX_BODY)


def worker(tid: int, client, keys: dict, rng: random.Random, stop: threading.Event, rnd: int,
           t_round: float, stats: Stats, lock: threading.Lock, errors: list) -> None:
    names = [f"t{tid}/k{n:03d}" for n in range(KEYS_PER_THREAD)]
    give_up = t_round + ROUND_LIMIT_S
    try:
        for _ in range(MAX_OPS_PER_ROUND):
            if stop.is_set() or time.monotonic() > give_up:
                break
            present = [k for k in names if keys[k].may_exist()]
            absent = [k for k in names if not keys[k].may_exist()]
            r = rng.random()
            if tid == 0 and r < MULTIPART_P:
                op, key = "multipart", rng.choice(names)
            elif (r < 0.35 and absent) or not present:
                op, key = "put-new", rng.choice(absent)
            elif r < 0.68:
                op, key = "overwrite", rng.choice(present)
            else:
                op, key = "delete", rng.choice(present)
            ks = keys[key]
            ks.touched = rnd
            t0 = time.monotonic() - t_round
            exc: Optional[BaseException] = None
            size = 0
            if op == "delete":
                new = ABSENT
                try:
                    client.delete_object(Bucket=BUCKET, Key=key)
                except Exception as e:  # noqa: BLE001 - classified below
                    exc = e
            elif op == "multipart":
                p1 = rng.randbytes(PART)
                p2 = rng.randbytes(rng.randint(1, MAX_BODY))
                size = len(p1) + len(p2)
                new = md5_hex(p1 + p2)
                ks.history.add(new)
                exc, step = None, "create"
                try:
                    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
                    parts = []
                    for n, part in ((1, p1), (2, p2)):
                        step = f"part {n}"
                        etag = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n,
                                                  Body=part)["ETag"]
                        parts.append({"PartNumber": n, "ETag": etag})
                    step = "complete"
                    client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                                     MultipartUpload={"Parts": parts})
                except Exception as e:  # noqa: BLE001 - classified below
                    exc = e
                if exc is not None and step != "complete":
                    # Only CompleteMultipartUpload changes the key: a failed earlier step leaves it
                    # as it was (and maybe an upload for the final abort).
                    op = f"multipart (cut at {step})"
                    outcome = CUT
                else:
                    outcome = outcome_of(exc)
            else:
                size = body_size(rng)
                body = rng.randbytes(size)
                new = md5_hex(body)
                ks.history.add(new)
                try:
                    client.put_object(Bucket=BUCKET, Key=key, Body=body)
                except Exception as e:  # noqa: BLE001 - classified below
                    exc = e
            if op in ("delete", "put-new", "overwrite"):
                outcome = outcome_of(exc)
            t1 = time.monotonic() - t_round
            if outcome == OK:
                ks.allowed = {new}
            elif outcome == UNKNOWN:
                ks.allowed = ks.allowed | {new}
                ks.unresolved = True
            ks.note(f"r{rnd} {op} {short(new)} {size}B {outcome} {describe(exc)} t={t0:.3f}-{t1:.3f}s".rstrip())
            with lock:
                stats.ops += 1
                if outcome == OK:
                    stats.acked += 1
                    if op == "multipart":
                        stats.multipart_completed += 1
                elif outcome == UNKNOWN:
                    stats.unknown += 1
                elif outcome == NOT_SENT:
                    stats.not_sent += 1
                elif outcome == CUT:
                    stats.cut += 1
                else:
                    stats.rejected += 1
                if isinstance(exc, ClientError):
                    stats.http_error_count += 1
                if isinstance(exc, ClientError) and len(stats.http_errors) < 50:
                    stats.http_errors.append(f"r{rnd} {op} {key}: {describe(exc)} {exc}")
    except BaseException as e:  # noqa: BLE001 - reported by the main thread
        errors.append(f"worker {tid} crashed: {e!r}")
        raise


# ------------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def meta(server):
    """Direct reads of the server's metadata database."""
    m = Metadata(server)
    yield m
    m.close()


def test_sigkill_under_load_loses_nothing_and_leaks_nothing(server, meta):
    srv = server
    backend = srv.backend
    if KILLS < 1:
        pytest.fail(f"CLOUDVAULT_FAULT_KILLS={KILLS}: at least one kill per backend is needed")
    started = time.monotonic()
    master = random.Random(f"{SEED}-{backend}")
    print(f"\nfaults[{backend}]: seed={SEED} kills={KILLS} budget={BUDGET_S:.0f}s workdir={srv.workdir}")
    data_dir = srv.data_dir
    probe = one_shot_client(srv, read_timeout=5, connect_timeout=0.5)
    checker = one_shot_client(srv, read_timeout=30)
    clients = [one_shot_client(srv, read_timeout=10) for _ in range(THREADS)]
    checker.create_bucket(Bucket=BUCKET)

    keys = {f"t{t}/k{n:03d}": KeyState() for t in range(THREADS) for n in range(KEYS_PER_THREAD)}
    stats = Stats()
    violations: dict[tuple[str, str], Violation] = {}
    row_problems: dict[str, str] = {}   # problem -> when first seen (each counted once)
    kills = 0
    restart_s: list[float] = []
    verified = 0
    phase_s = {"load": 0.0, "join": 0.0, "restart": 0.0, "check": 0.0}

    def flag(v: Optional[Violation]) -> None:
        if v is not None:
            violations.setdefault((v.counter, v.key), v)

    deadline = started + BUDGET_S
    for rnd in range(1, KILLS + 1):
        if time.monotonic() > deadline:
            break
        stop = threading.Event()
        lock = threading.Lock()
        errors: list = []
        t_round = time.monotonic()
        threads = [
            threading.Thread(
                target=worker,
                args=(t, clients[t], keys, random.Random(f"{SEED}-{backend}-{rnd}-{t}"), stop, rnd, t_round,
                      stats, lock, errors),
                name=f"faults-{backend}-{t}",
                daemon=True,
            )
            for t in range(THREADS)
        ]
        for t in threads:
            t.start()
        kill_at = master.uniform(*KILL_AFTER_S)
        time.sleep(max(0.0, t_round + kill_at - time.monotonic()))
        sigkill(srv)
        kills += 1
        stop.set()
        t_killed = time.monotonic()
        phase_s["load"] += t_killed - t_round
        for t in threads:
            t.join(timeout=JOIN_TIMEOUT_S)
        hung = [t.name for t in threads if t.is_alive()]
        assert not hung and not errors, f"round {rnd}: client threads hung {hung} or crashed {errors}"
        for ks in keys.values():
            if ks.unresolved:
                ks.note(f"r{rnd} SIGKILL at t={kill_at:.3f}s")

        t_joined = time.monotonic()
        phase_s["join"] += t_joined - t_killed
        srv.spawn()
        restart_s.append(wait_up(srv, probe))
        t_up = time.monotonic()
        phase_s["restart"] += t_up - t_joined
        # Every key written in this round, read back before anything else touches it (a later
        # overwrite would hide a loss): the acknowledged state, or for a request in flight at the
        # kill, one of the old and new states (the key is then narrowed to what the server shows).
        for key, ks in keys.items():
            if ks.touched == rnd or ks.unresolved:
                seen = observe(checker, key)
                flag(judge(key, ks, seen, rnd))
                if ks.unresolved:
                    ks.note(f"r{rnd} after restart: GET -> {short(seen)}")
                    if not seen.startswith("error"):
                        ks.allowed = {seen}
                    ks.unresolved = False
                verified += 1
        # The server is idle (only its janitor runs): every object and part row must name its blobs.
        for problem in rows_without_blob(data_dir, meta.snapshot(), check_md5=False):
            row_problems.setdefault(problem, f"after round {rnd}")
        phase_s["check"] += time.monotonic() - t_up

    rounds_s = time.monotonic() - started

    # Incomplete uploads left by the kills: abort them, so their parts become garbage to sweep.
    aborted = 0
    for _ in range(100):
        uploads = checker.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        if not uploads:
            break
        for u in uploads:
            checker.abort_multipart_upload(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
            aborted += 1

    # One janitor sweep past the grace period: poll until nothing is queued, nothing is staged and
    # no file is orphaned (bounded; what is left then is counted below).
    t_sweep = time.monotonic()
    time.sleep(GRACE_S + JANITOR_S)
    while True:
        snap = meta.snapshot()
        clean = (not snap["pending"] and not snap["garbage"] and not staging_files(data_dir)
                 and not orphan_files(data_dir, snap))
        if clean or time.monotonic() - t_sweep > SWEEP_TIMEOUT_S:
            break
        time.sleep(0.25)
    sweep_s = time.monotonic() - t_sweep

    # Every key, through S3, and the listing: exactly the keys that read back.
    readable = set()
    for key, ks in keys.items():
        seen = observe(checker, key)
        if seen != ABSENT:
            readable.add(key)
        verified += 1
        flag(judge(key, ks, seen, kills))
    present = len(readable)
    listed = set()
    pages = checker.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"MaxItems": 10000})
    for page in pages:
        listed |= {o["Key"] for o in page.get("Contents", [])}
    for key in sorted(listed - set(keys)):
        flag(Violation("partial", key, "listed, but no client ever wrote this key", kills, []))
    for key in sorted(readable - listed):
        flag(Violation("lost_or_changed", key, "readable but missing from ListObjectsV2", kills, list(keys[key].ops)))
    for key in sorted((listed & set(keys)) - readable):
        flag(Violation("lost_or_changed", key, "listed but GET says 404", kills, list(keys[key].ops)))

    code = srv.stop()
    assert code in (0, -signal.SIGTERM), f"cloudvault exited with code {code} on SIGTERM\n{srv.log_tail()}"

    # The stopped server's database and data dir.
    snap = meta.snapshot()
    for problem in rows_without_blob(data_dir, snap, check_md5=True):
        row_problems.setdefault(problem, "after the final stop")
    orphans = orphan_files(data_dir, snap)
    now_ms = int(time.time() * 1000)
    stale_queue = [f"pending {b} ({now_ms - t} ms old)" for b, t in snap["pending"].items()
                   if now_ms - t > STALE_QUEUE_MS]
    stale_queue += [f"garbage {b} (enqueued_at {t})" for b, t in snap["garbage"].items()
                    if now_ms - t > STALE_QUEUE_MS]

    rows = [f"{when}: {problem}" for problem, when in row_problems.items()]
    log_text = srv.log_path.read_text(errors="replace").splitlines() if violations else []

    def with_log(v: Violation) -> str:
        needle = f"path=/{BUCKET}/{v.key}}}"  # the request span: request{id=... method=... path=...}
        lines = [line for line in log_text if needle in line]
        return f"{v}\n    server log (last 6 lines for the key):" + "".join(f"\n    {line}" for line in lines[-6:])

    lost = sorted(with_log(v) for v in violations.values() if v.counter == "lost_or_changed")
    partial = sorted(with_log(v) for v in violations.values() if v.counter == "partial")
    total_s = time.monotonic() - started
    summary = (f"faults[{backend}]: kills={kills} objects={len(keys)} lost_or_changed={len(lost)} "
               f"partial={len(partial)} rows_without_blob={len(rows)} orphan_files={len(orphans)}")
    phases = " ".join(f"{k}={v:.1f}s" for k, v in phase_s.items())
    details = (f"faults[{backend}] details: seed={SEED} ops={stats.ops} acked={stats.acked} "
               f"unknown={stats.unknown} not_sent={stats.not_sent} rejected={stats.rejected} "
               f"cut_multipart={stats.cut} multipart_completed={stats.multipart_completed} "
               f"gets_verified={verified} present_at_end={present} aborted_uploads={aborted} "
               f"stale_queue={len(stale_queue)} http_errors={stats.http_error_count} "
               f"restart_avg={sum(restart_s) / max(1, len(restart_s)):.3f}s "
               f"restart_max={max(restart_s, default=0):.3f}s rounds={rounds_s:.1f}s ({phases}) "
               f"sweep={sweep_s:.1f}s total={total_s:.1f}s")
    print(summary)
    print(details)
    for e in stats.http_errors:
        print(f"faults[{backend}] http error: {e}")

    report = {
        "summary": summary, "details": details, "lost_or_changed": lost, "partial": partial,
        "rows_without_blob": rows, "orphan_files": orphans, "stale_queue": stale_queue,
        "http_errors": stats.http_errors, "server_log": str(srv.log_path),
        "note": "round N ends with the (N+1)-th '===== cloudvault serve ... starting' marker in the log",
    }
    report_path = srv.workdir / "faults-report.json"
    report_path.write_text(json.dumps(report, indent=2))

    def listing(items: list) -> str:
        return "".join(f"\n  {x}" for x in items[:10]) + (f"\n  ... {len(items) - 10} more" if len(items) > 10 else "")

    if (kills, len(lost), len(partial), len(rows), len(orphans), len(stale_queue)) != (KILLS, 0, 0, 0, 0, 0):
        pytest.fail(
            f"{summary} (wanted kills={KILLS}, all counts 0; stale_queue={len(stale_queue)})\n{details}\n"
            f"report: {report_path}\nserver log: {srv.log_path}"
            f"\nlost_or_changed:{listing(lost)}\npartial:{listing(partial)}"
            f"\nrows_without_blob:{listing(rows)}\norphan_files:{listing(orphans)}"
            f"\nstale_queue:{listing(stale_queue)}",
            pytrace=False,
        )
