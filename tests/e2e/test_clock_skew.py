"""Clock skew between replicas: a replica whose clock runs 2 h ahead must not make the other one's
acknowledged writes disappear, nor leave a committed row whose blob file is gone.

MySQL only (replicas need a shared database). Two ``cloudvault serve`` replicas share one database
on the test MariaDB and one data dir, both with a short janitor grace
(``CLOUDVAULT_STAGING_GRACE_SECS=2``) and a 1 s janitor interval. Replica ``r1`` runs under Debian's
libfaketime (``LD_PRELOAD`` of ``libfaketime.so.1`` with ``FAKETIME=+2h``, which is what
``faketime -f +2h`` does; the ``faketime`` wrapper itself is not used because it forks and does
not forward SIGTERM to the server). Its wall clock is 2 h ahead, so for its janitor every intent
(``pending_blobs``) and every garbage row ``r0`` writes is already far past the grace period: it
claims ``r0``'s intents as soon as it sees them, racing ``r0``'s commits. The write protocol
(s3-api/src/engine/protocol.rs) says that race is decided by the database, not by clocks: the
claim and the commit delete the same intent row, so either the commit wins (and the blob is never
queued as garbage) or the claim wins and the commit fails with 503.

The skew is checked before the load: ``r1``'s HTTP ``Date`` and an object's ``Last-Modified``
written through it are 2 h ahead of ``r0``'s, and a request signed with the real clock is refused
by ``r1`` (SigV4 allows 15 min). Requests to ``r1`` are therefore signed with a clock 2 h ahead
(botocore's signing clock, patched per thread).

Load (about 25 s, bounded in operations too): four writer threads, each owning its keys, each
operation through a replica picked at random: PUT of a new key, overwrite, DELETE, and (threads 0
and 1) a multipart upload (a 5 MiB part and a small one; create, parts and complete each through a
random replica). Two reader threads GET random keys, one through each replica. Every 2 s the test
reads the database and the data dir: a committed object or part row whose blob file is missing or
of the wrong size is a violation (a missing file is re-checked against a second read of the
database, so a row replaced between the two reads is not counted).

Asserted:
  * every request is answered (no timeout, no reset) and no request is refused with a 4xx;
  * no GET ever returns bytes that are not one whole body written to that key;
  * 0 committed rows without their blob, in every sample during the run and at the end (then also
    by MD5, with the servers idle after two more janitor passes);
  * every key reads back, through both replicas, as its last acknowledged state (byte-identical
    content, or absent after an acknowledged DELETE); a key whose last write failed with a 5xx
    may show either the state before or after that write; ListObjectsV2 through each replica lists
    exactly the keys that read back;
  * the load really went through both replicas: each acknowledged PUTs, overwrites and DELETEs, and
    at least one multipart upload was completed.
Failed writes are counted and printed; the only failure allowed is 503 (the skewed janitor claimed
an intent first, which the protocol allows: nothing was acknowledged). A 500 fails the test. One was
seen (about 1 write in 5000) when ``r1`` claimed an intent of ``r0``'s and removed its staging file
before ``r0``'s rename: that write now fails with the same 503, and test_stalled_writes.py forces the
case every time with a failpoint. ``test_paused_put_survives_the_skewed_replicas_staging_sweep``
checks the staging sweep's side: ``r1`` never removes a file ``r0`` is still writing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import os
import random
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cluster import Replica, fresh_mysql_database, new_group, stop_all
from conftest import REGION, md5_hex, quote_key
from test_faults import Metadata, blob_path, is_inline, parse_manifest, rows_without_blob
from test_slow_clients import RawResponse, connect, signed_head

SKEW = dt.timedelta(hours=2)
GRACE_S = 2
JANITOR_S = 1
LOAD_S = 25.0
SAMPLE_EVERY_S = 2.0
WRITERS = 4
KEYS_PER_WRITER = 25
MAX_OPS_PER_THREAD = 4000      # bounds a runaway loop; the load normally ends at LOAD_S
MAX_BODY = 256 * 1024
PART = 5 * 1024 * 1024
MULTIPART_P = 0.12             # writers 0 and 1
CLIENT_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 30.0
DATE_TOLERANCE_S = 120.0
BUCKET = "skew"
ABSENT = "<absent>"

FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)


def libfaketime() -> str:
    """The libfaketime library of Debian's ``faketime`` package (fail loudly when it is missing)."""
    if shutil.which("faketime") is None:
        pytest.fail(
            "faketime is not installed: this test runs a replica with its clock 2 h ahead under "
            "libfaketime. Install it with `apt-get install faketime` (scripts/setup-test-env does)."
        )
    for path in FAKETIME_LIBS:
        if os.path.exists(path):
            return path
    pytest.fail(f"`faketime` is on PATH but libfaketime.so.1 is in none of {FAKETIME_LIBS}; "
                "reinstall with `apt-get install --reinstall faketime libfaketime`")


# ------------------------------------------------------------------------------------------------
# Signing with a per-thread clock offset (requests to r1 are signed 2 h ahead)
# ------------------------------------------------------------------------------------------------

_signing_clock = threading.local()


@contextlib.contextmanager
def per_thread_signing_clock():
    """Make botocore's SigV4 signing clock (pure-Python and CRT signers) add this thread's
    ``_signing_clock.offset`` (a timedelta; none by default)."""
    import botocore.auth

    modules = [botocore.auth]
    try:
        import botocore.crt.auth

        modules.append(botocore.crt.auth)
    except ImportError:
        pass
    saved = [(m, m.get_current_datetime) for m in modules]

    def wrap(orig):
        def now(*args, **kwargs):
            return orig(*args, **kwargs) + getattr(_signing_clock, "offset", dt.timedelta(0))

        return now

    for m, orig in saved:
        m.get_current_datetime = wrap(orig)
    try:
        yield
    finally:
        for m, orig in saved:
            m.get_current_datetime = orig


class Endpoint:
    """boto3 clients for one replica; every call goes through ``call`` so it is signed with the
    replica's clock."""

    def __init__(self, replica: Replica, skew: dt.timedelta):
        self.replica = replica
        self.name = replica.name
        self.skew = skew

    def client(self):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.replica.endpoint,
            region_name=REGION,
            aws_access_key_id=self.replica.access_key,
            aws_secret_access_key=self.replica.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                # Exactly one attempt per call: a 503 must reach the model as a 503.
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=3,
                read_timeout=CLIENT_TIMEOUT_S,
                max_pool_connections=2,
            ),
        )

    @contextlib.contextmanager
    def clock(self):
        old = getattr(_signing_clock, "offset", dt.timedelta(0))
        _signing_clock.offset = self.skew
        try:
            yield
        finally:
            _signing_clock.offset = old


# ------------------------------------------------------------------------------------------------
# The model of each key
# ------------------------------------------------------------------------------------------------


@dataclass
class KeyState:
    allowed: set = field(default_factory=lambda: {ABSENT})
    history: set = field(default_factory=set)     # MD5 of every body ever sent for this key
    last_acked: Optional[str] = None              # state after the last 2xx write (None: never written)
    after_acked: bool = True                      # no failed write since that 2xx
    ops: list = field(default_factory=list)

    def note(self, entry: str) -> None:
        self.ops.append(entry)
        del self.ops[:-10]


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict = field(default_factory=dict)          # (replica, op) -> count
    failed: dict = field(default_factory=dict)         # (replica, op, status code) -> count
    examples: list = field(default_factory=list)       # a few failed requests, with messages
    no_answer: list = field(default_factory=list)      # timeouts, resets: never allowed
    rejected: list = field(default_factory=list)       # 4xx: never expected
    wrong_bytes: list = field(default_factory=list)    # a GET with bytes no writer sent
    gets: dict = field(default_factory=dict)           # (replica, outcome) -> count
    samples: list = field(default_factory=list)        # (t, objects, parts, problems)

    def bump(self, table: dict, key) -> None:
        with self.lock:
            table[key] = table.get(key, 0) + 1


def error_of(exc: BaseException) -> tuple[Optional[int], str, str]:
    if isinstance(exc, ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        err = exc.response.get("Error", {})
        return meta.get("HTTPStatusCode"), err.get("Code", ""), err.get("Message", "")
    return None, type(exc).__name__, str(exc)[:200]


def body_size(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.05:
        return 0
    if r < 0.35:
        return rng.randint(1, 4096)
    return rng.randint(4097, MAX_BODY)


# ------------------------------------------------------------------------------------------------
# Database vs. data dir
# ------------------------------------------------------------------------------------------------


def referenced_blobs(snap: dict) -> set:
    refs = {b for _, m in snap["objects"] for b, _, _ in parse_manifest(m)}
    return refs | {b for _, _, b, _ in snap["parts"]}


def committed_rows_missing_blobs(meta: Metadata, data_dir: Path) -> tuple[list[str], int, int]:
    """Rows (object manifest lines, part rows) whose blob file is missing or of another size than
    recorded, while the servers are running. A missing file is confirmed by a second read of the
    database: a blob still referenced then was referenced all along (blob ids are never reused), so
    its file should have been there when it was looked for."""
    snap = meta.snapshot()
    suspects = []
    refs = [(f"object {key!r}", b, size) for key, m in snap["objects"] for b, size, _ in parse_manifest(m)]
    refs += [(f"part {n} of upload {u}", b, size) for u, n, b, size in snap["parts"]]
    for owner, blob_id, size in refs:
        if is_inline(blob_id):
            row = snap["inline"].get(blob_id)
            if row is None or row[0] != size:
                suspects.append((blob_id, f"{owner}: inline blob {blob_id} is {row}, the row says {size}"))
            continue
        try:
            got = blob_path(data_dir, blob_id).stat().st_size
        except FileNotFoundError:
            suspects.append((blob_id, f"{owner}: blob {blob_id} missing"))
            continue
        if got != size:
            suspects.append((blob_id, f"{owner}: blob {blob_id} is {got} bytes, the row says {size}"))
    if not suspects:
        return [], len(snap["objects"]), len(snap["parts"])
    still = referenced_blobs(meta.snapshot())
    return [detail for blob_id, detail in suspects if blob_id in still], len(snap["objects"]), len(snap["parts"])


# ------------------------------------------------------------------------------------------------
# Fixture: two replicas, r1 2 h ahead
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def skewed_pair(tmp_path_factory):
    lib = libfaketime()
    base = tmp_path_factory.mktemp("clock-skew")
    with per_thread_signing_clock(), fresh_mysql_database("cv_skew") as (_db, url):
        replicas = new_group(base, url, 2, shutdown_grace_secs=5)
        for r in replicas:
            r.extra_env.update(
                CLOUDVAULT_STAGING_GRACE_SECS=str(GRACE_S),
                CLOUDVAULT_JANITOR_INTERVAL_SECS=str(JANITOR_S),
            )
        replicas[1].extra_env.update(
            LD_PRELOAD=lib,
            FAKETIME="+2h",
            # Only the wall clock is skewed: timers and timeouts (CLOCK_MONOTONIC) stay real.
            FAKETIME_DONT_FAKE_MONOTONIC="1",
        )
        endpoints = [Endpoint(replicas[0], dt.timedelta(0)), Endpoint(replicas[1], SKEW)]
        try:
            replicas[0].start()  # migrates the database
            with endpoints[1].clock():  # its readiness probe is a signed ListBuckets
                replicas[1].start()
            yield replicas, endpoints
        finally:
            stop_all(replicas)


def http_date(resp_headers) -> dt.datetime:
    return email.utils.parsedate_to_datetime(resp_headers["date"])


def test_skewed_replica_does_not_lose_acknowledged_writes(skewed_pair):
    replicas, endpoints = skewed_pair
    r0, r1 = endpoints
    data_dir = replicas[0].data_dir
    started = time.monotonic()

    # -- the skew took effect ------------------------------------------------------------------
    c0, c1 = r0.client(), r1.client()
    with r0.clock():
        c0.create_bucket(Bucket=BUCKET)
        put0 = c0.put_object(Bucket=BUCKET, Key="probe/r0", Body=b"r0")
        lm0 = c0.head_object(Bucket=BUCKET, Key="probe/r0")["LastModified"]
    with r1.clock():
        put1 = c1.put_object(Bucket=BUCKET, Key="probe/r1", Body=b"r1")
        lm1 = c1.head_object(Bucket=BUCKET, Key="probe/r1")["LastModified"]
    now = dt.datetime.now(dt.timezone.utc)
    d0 = http_date(put0["ResponseMetadata"]["HTTPHeaders"])
    d1 = http_date(put1["ResponseMetadata"]["HTTPHeaders"])
    api_d1 = email.utils.parsedate_to_datetime(replicas[1].api_get("/healthz").headers["date"])
    skew_report = (f"now {now:%H:%M:%S}; r0 Date {d0:%H:%M:%S}, Last-Modified {lm0:%H:%M:%S}; "
                   f"r1 Date {d1:%H:%M:%S}, API Date {api_d1:%H:%M:%S}, Last-Modified {lm1:%H:%M:%S}")
    print(f"\nclock skew: {skew_report}")
    for what, got, want in (("r0 Date", d0, now), ("r0 Last-Modified", lm0, now),
                            ("r1 Date", d1, now + SKEW), ("r1 API Date", api_d1, now + SKEW),
                            ("r1 Last-Modified", lm1, now + SKEW)):
        assert abs((got - want).total_seconds()) < DATE_TOLERANCE_S, f"{what} is {got}, expected ~{want}: {skew_report}"
    # Signed with the real clock, r1 refuses the request (SigV4 allows 15 minutes).
    with pytest.raises(ClientError) as refused:
        c1.head_object(Bucket=BUCKET, Key="probe/r1")
    assert error_of(refused.value)[0] == 403, f"r1 accepted a request signed 2 h in its past: {refused.value}"
    with r1.clock():
        c1.delete_object(Bucket=BUCKET, Key="probe/r1")
    with r0.clock():
        c0.delete_object(Bucket=BUCKET, Key="probe/r0")

    # -- the load ------------------------------------------------------------------------------
    keys = {f"w{t}/k{n:02d}": KeyState() for t in range(WRITERS) for n in range(KEYS_PER_WRITER)}
    all_keys = list(keys)
    stats = Stats()
    stop = threading.Event()
    crashed: list[str] = []
    t0 = time.monotonic()

    def request(ep: Endpoint, op: str, fn):
        """Run one S3 call through ``ep``; return (response, exception)."""
        try:
            with ep.clock():
                return fn(), None
        except Exception as e:  # noqa: BLE001 - classified by the caller
            status, code, msg = error_of(e)
            if status is None:
                with stats.lock:
                    stats.no_answer.append(f"t+{time.monotonic() - t0:.2f}s {ep.name} {op}: {code} {msg}")
            elif 400 <= status < 500:
                with stats.lock:
                    stats.rejected.append(f"t+{time.monotonic() - t0:.2f}s {ep.name} {op}: {status} {code} {msg}")
            else:
                stats.bump(stats.failed, (ep.name, op, f"{status} {code}"))
                with stats.lock:
                    if len(stats.examples) < 12:
                        stats.examples.append(f"t+{time.monotonic() - t0:.2f}s {ep.name} {op}: {status} {code} {msg}")
            return None, e

    def writer(tid: int) -> None:
        rng = random.Random(f"skew-{tid}")
        clients = [(ep, ep.client()) for ep in endpoints]
        names = [k for k in all_keys if k.startswith(f"w{tid}/")]
        try:
            for _ in range(MAX_OPS_PER_THREAD):
                if stop.is_set():
                    return
                present = [k for k in names if keys[k].allowed != {ABSENT}]
                absent = [k for k in names if ABSENT in keys[k].allowed]
                r = rng.random()
                if tid < 2 and r < MULTIPART_P:
                    op, key = "multipart", rng.choice(names)
                elif (r < 0.40 and absent) or not present:
                    op, key = "put", rng.choice(absent or names)
                elif r < 0.75:
                    op, key = "overwrite", rng.choice(present)
                else:
                    op, key = "delete", rng.choice(present)
                ks = keys[key]
                ep, c = rng.choice(clients)
                t_op = time.monotonic() - t0
                cut = False
                if op == "delete":
                    new = ABSENT
                    _, exc = request(ep, "DeleteObject", lambda: c.delete_object(Bucket=BUCKET, Key=key))
                    via = ep.name
                elif op == "multipart":
                    p1, p2 = rng.randbytes(PART), rng.randbytes(rng.randint(1, 64 * 1024))
                    new = md5_hex(p1 + p2)
                    ks.history.add(new)
                    steps = [rng.choice(clients) for _ in range(4)]
                    via = "/".join(e.name for e, _ in steps)
                    (e0, k0), (e1, k1), (e2, k2), (e3, k3) = steps
                    resp, exc = request(e0, "CreateMultipartUpload",
                                        lambda: k0.create_multipart_upload(Bucket=BUCKET, Key=key))
                    parts = []
                    if exc is None:
                        upload = resp["UploadId"]
                        for n, body, (e_, k_) in ((1, p1, (e1, k1)), (2, p2, (e2, k2))):
                            resp, exc = request(e_, "UploadPart", lambda: k_.upload_part(
                                Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body))
                            if exc is not None:
                                break
                            parts.append({"PartNumber": n, "ETag": resp["ETag"]})
                    if exc is None:
                        _, exc = request(e3, "CompleteMultipartUpload", lambda: k3.complete_multipart_upload(
                            Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}))
                        ep = e3
                    else:
                        cut = True  # the key is unchanged: only Complete changes it
                else:
                    body = rng.randbytes(body_size(rng))
                    new = md5_hex(body)
                    ks.history.add(new)
                    resp, exc = request(ep, "PutObject", lambda: c.put_object(Bucket=BUCKET, Key=key, Body=body))
                    if exc is None and resp["ETag"] != f'"{new}"':
                        with stats.lock:
                            stats.wrong_bytes.append(f"{key}: PUT via {ep.name} answered ETag {resp['ETag']} for {new}")
                    via = ep.name
                t_end = time.monotonic() - t0
                if cut:
                    outcome = "cut"
                elif exc is None:
                    outcome = "ok"
                    ks.allowed = {new}
                    ks.last_acked = new
                    ks.after_acked = True
                    stats.bump(stats.acked, (ep.name, op))
                else:
                    status = error_of(exc)[0]
                    outcome = f"failed {status}"
                    if status is None or status >= 500:  # may or may not have been applied
                        ks.allowed = ks.allowed | {new}
                        ks.after_acked = False
                ks.note(f"{op} via {via} {new[:10]} {outcome} t={t_op:.2f}-{t_end:.2f}s")
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            crashed.append(f"writer {tid}: {e!r}")
            raise

    def reader(ep: Endpoint) -> None:
        rng = random.Random(f"reader-{ep.name}")
        c = ep.client()
        try:
            for _ in range(MAX_OPS_PER_THREAD):
                if stop.is_set():
                    return
                key = rng.choice(all_keys)
                try:
                    with ep.clock():
                        got = c.get_object(Bucket=BUCKET, Key=key)
                        data = got["Body"].read()
                except ClientError as e:
                    status, code, msg = error_of(e)
                    if status == 404 and code == "NoSuchKey":
                        stats.bump(stats.gets, (ep.name, "404"))
                    else:
                        stats.bump(stats.gets, (ep.name, f"{status} {code}"))
                        if 400 <= status < 500:
                            with stats.lock:
                                stats.rejected.append(f"{ep.name} GetObject {key}: {status} {code} {msg}")
                        elif len(stats.examples) < 24:
                            with stats.lock:
                                stats.examples.append(f"t+{time.monotonic() - t0:.2f}s {ep.name} GetObject {key}: "
                                                      f"{status} {code} {msg}")
                    continue
                except Exception as e:  # noqa: BLE001 - a timeout or a reset: no answer
                    with stats.lock:
                        stats.no_answer.append(f"t+{time.monotonic() - t0:.2f}s {ep.name} GetObject {key}: {e!r}")
                    continue
                md5 = md5_hex(data)
                stats.bump(stats.gets, (ep.name, "200"))
                if md5 not in keys[key].history or len(data) != got["ContentLength"]:
                    with stats.lock:
                        stats.wrong_bytes.append(f"{key}: GET via {ep.name} returned {len(data)} bytes (MD5 {md5}, "
                                                 f"Content-Length {got['ContentLength']}), no body written to it")
                time.sleep(0.01)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            crashed.append(f"reader {ep.name}: {e!r}")
            raise

    meta = Metadata(replicas[0])
    threads = [threading.Thread(target=writer, args=(t,), name=f"skew-w{t}", daemon=True) for t in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(ep,), name=f"skew-r-{ep.name}", daemon=True) for ep in endpoints]
    row_problems: dict[str, str] = {}
    try:
        for t in threads:
            t.start()
        next_sample = time.monotonic() + SAMPLE_EVERY_S
        while time.monotonic() - t0 < LOAD_S and not crashed:
            time.sleep(max(0.0, next_sample - time.monotonic()))
            next_sample += SAMPLE_EVERY_S
            t_sample = time.monotonic() - t0
            problems, n_objects, n_parts = committed_rows_missing_blobs(meta, data_dir)
            stats.samples.append((round(t_sample, 1), n_objects, n_parts, len(problems)))
            for p in problems:
                row_problems.setdefault(p, f"sample at t+{t_sample:.1f}s")
        stop.set()
        for t in threads:
            t.join(timeout=JOIN_TIMEOUT_S)
        hung = [t.name for t in threads if t.is_alive()]
        assert not hung and not crashed, f"client threads hung {hung} or crashed {crashed}"
        load_s = time.monotonic() - t0

        # Idle: two more passes of both janitors, then the strict check (sizes and MD5s).
        time.sleep(GRACE_S + 2 * JANITOR_S)
        problems, _, _ = committed_rows_missing_blobs(meta, data_dir)
        for p in problems:
            row_problems.setdefault(p, "after the load")
        for p in rows_without_blob(data_dir, meta.snapshot(), check_md5=True):
            row_problems.setdefault(p, "after the load (idle, by MD5)")
        final_snap = meta.snapshot()
    finally:
        stop.set()
        meta.close()

    # -- every key through both replicas ------------------------------------------------------
    lost: list[str] = []
    readable: dict[str, set] = {ep.name: set() for ep in endpoints}
    for ep in endpoints:
        c = ep.client()
        for key, ks in keys.items():
            try:
                with ep.clock():
                    got = c.get_object(Bucket=BUCKET, Key=key)
                    data = got["Body"].read()
                seen = md5_hex(data)
            except ClientError as e:
                status, code, _ = error_of(e)
                seen = ABSENT if (status, code) == (404, "NoSuchKey") else f"error {status} {code}"
            if seen != ABSENT and not seen.startswith("error"):
                readable[ep.name].add(key)
            if ks.after_acked and ks.last_acked is not None:
                ok = seen == ks.last_acked
                want = f"its last acknowledged state {ks.last_acked[:10]}"
            else:
                ok = seen in ks.allowed
                want = f"one of {sorted(s[:10] for s in ks.allowed)}"
            if not ok:
                what = "bytes no writer sent" if seen not in ks.history and seen != ABSENT else seen[:24]
                lost.append(f"{key} via {ep.name}: {what}, expected {want}; ops: {ks.ops}")
    listing_problems = []
    for ep in endpoints:
        c = ep.client()
        listed = set()
        with ep.clock():
            for page in c.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                listed |= {o["Key"] for o in page.get("Contents", [])}
        if listed != readable[ep.name]:
            listing_problems.append(
                f"ListObjectsV2 via {ep.name}: listed but not readable {sorted(listed - readable[ep.name])[:10]}, "
                f"readable but not listed {sorted(readable[ep.name] - listed)[:10]}")
    if readable[endpoints[0].name] != readable[endpoints[1].name]:
        listing_problems.append(f"the replicas disagree on which keys exist: "
                                f"{sorted(readable[endpoints[0].name] ^ readable[endpoints[1].name])[:10]}")

    # -- report --------------------------------------------------------------------------------
    def fmt(table: dict) -> str:
        return ", ".join(f"{'/'.join(map(str, k))}={v}" for k, v in sorted(table.items())) or "none"

    total_acked = sum(stats.acked.values())
    total_failed = sum(stats.failed.values())
    summary = (
        f"clock skew: {load_s:.1f}s of load, {total_acked} writes acknowledged ({fmt(stats.acked)}), "
        f"{total_failed} failed with 5xx ({fmt(stats.failed)}); GETs: {fmt(stats.gets)}; "
        f"{len(stats.samples)} samples (t, objects, parts, rows without blob): {stats.samples}; "
        f"at the end {len(final_snap['objects'])} objects, {len(final_snap['parts'])} parts, "
        f"{len(final_snap['pending'])} intents, {len(final_snap['garbage'])} garbage rows; "
        f"total {time.monotonic() - started:.1f}s"
    )
    print(summary)
    for e in stats.examples:
        print(f"clock skew: failed request: {e}")
    # The only failure the protocol allows under skew is 503 (an intent the fast janitor claimed first);
    # a 500 means a live staging file or blob was removed under a write.
    internal = {k: v for k, v in stats.failed.items() if not str(k[2]).startswith("503")}
    assert not internal, f"writes failed with other than 503 under clock skew: {internal}\n{summary}"

    coverage = []
    for ep in endpoints:
        for op in ("put", "overwrite", "delete"):
            if stats.acked.get((ep.name, op), 0) < 3:
                coverage.append(f"only {stats.acked.get((ep.name, op), 0)} acknowledged {op} via {ep.name}")
    if sum(v for (_, op), v in stats.acked.items() if op == "multipart") < 1:
        coverage.append("no multipart upload was completed")

    def listing(items) -> str:
        items = list(items)
        return "".join(f"\n  {x}" for x in items[:12]) + (f"\n  ... {len(items) - 12} more" if len(items) > 12 else "")

    problems = {
        "requests without an answer (timeout/reset)": stats.no_answer,
        "requests refused with a 4xx": stats.rejected,
        "wrong bytes": stats.wrong_bytes,
        "committed rows without their blob": [f"{when}: {p}" for p, when in row_problems.items()],
        "acknowledged state not read back": lost,
        "listing": listing_problems,
        "coverage": coverage,
    }
    failed = {k: v for k, v in problems.items() if v}
    assert not failed, (
        f"{summary}\n" + "".join(f"\n{k} ({len(v)}):{listing(v)}" for k, v in failed.items())
        + f"\n\nfailed requests (examples):{listing(stats.examples)}\n"
        + "\n".join(r.log_tail(20) for r in replicas)
    )


def test_paused_put_survives_the_skewed_replicas_staging_sweep(skewed_pair):
    """A PUT through ``r0`` whose body pauses for less than the grace period, while ``r1`` (2 h ahead,
    for which every file ``r0`` writes is 2 h old) sweeps staging at least once: the staging file
    survives the pause and the PUT answers 200 with the bytes sent. The sweep never compares an mtime
    with its own clock (a client-stamped filesystem such as CephFS stamps each file with its writer
    node's clock); it waits for a file to stay unchanged for the grace period."""
    replicas, endpoints = skewed_pair
    r0 = replicas[0]
    bucket, key = "skew-paused", "paused/upload.bin"
    with endpoints[0].clock():
        endpoints[0].client().create_bucket(Bucket=bucket)
    body = random.Random(7).randbytes(512 * 1024)
    half = len(body) // 2
    pause_s = JANITOR_S * 1.6  # at least one sweep of r1 during the pause, and less than GRACE_S
    assert pause_s < GRACE_S
    staging = Path(r0.data_dir) / "staging"
    before = set(staging.iterdir())
    sock = connect(r0)
    try:
        sock.sendall(signed_head(r0, "PUT", f"/{bucket}/{quote_key(key)}",
                                 {"Content-Length": str(len(body))}, payload_hash="UNSIGNED-PAYLOAD"))
        sock.sendall(body[:half])
        time.sleep(0.3)
        mine = set(staging.iterdir()) - before
        assert len(mine) == 1, f"expected the paused PUT's one staging file, found {sorted(mine)}"
        time.sleep(pause_s)
        assert all(p.exists() for p in mine), (
            f"r1's sweep removed r0's live staging file during a {pause_s}s pause (grace {GRACE_S}s)\n"
            + replicas[1].log_tail(20)
        )
        sock.sendall(body[half:])
        resp = RawResponse(sock)
        detail = resp.read(int(resp.headers.get("content-length", "0") or 0))
    finally:
        sock.close()
    assert resp.status == 200, f"paused PUT -> {resp.status} {detail[:400]!r}\n{r0.log_tail(20)}"
    assert resp.headers.get("etag") == f'"{md5_hex(body)}"', resp.headers
    with endpoints[0].clock():
        got = endpoints[0].client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert got == body, f"read back {len(got)} bytes, not the {len(body)} sent"
