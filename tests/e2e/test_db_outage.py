"""Database outage: CloudVault fails fast while its MySQL is gone and recovers by itself.

A PRIVATE MariaDB (``mariadb-install-db`` + ``mariadbd --no-defaults`` on a free 127.0.0.1 port, all
files in the test's tmp dir; never the shared instance on 3306) holds the metadata of one
``cloudvault serve``. Under a light load of raw signed requests (five clients: PUT, PUT, GET,
LIST, HEAD, each one request at a time) the private mariadbd is SIGKILLed (a crash: InnoDB
recovers on restart), left down for 12 s, then started again on the same datadir and port. The
server is never restarted.

What must hold (one test per clause, all observed from the single scenario run by the
``outage`` fixture):
  * every request answers within 6 s (pool acquire timeout 5 s), none hangs; a request that fails
    because of the outage is a 503 with an S3 XML error ``ServiceUnavailable`` or ``SlowDown``;
  * ``/healthz`` stays 200 throughout; ``/readyz`` is 200 before, 503 (JSON naming the failing
    check) during, and 200 again after the outage;
  * service resumes within 30 s of the database's return, with the same server process, and every
    request after that succeeds;
  * every object acknowledged before or during the outage reads back identically; a PUT that got an
    error is either absent or (its commit was in flight) present with exactly the bytes sent;
  * new writes work.
A last test freezes the database instead (SIGSTOP: connections stay open but nothing answers, as
in a network partition) and expects the same fail-fast 503s and recovery after SIGCONT.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import pytest
import requests

from cluster import PrivateMariaDB, Replica, new_group
from conftest import quote_key, xml_error_code

FAIL_FAST_S = 6.0          # pool acquire timeout (5 s) + slack
OUTAGE_S = 12.0            # long enough for two acquire timeouts back to back
RECOVERY_TIMEOUT_S = 30.0
OK_CODES = ("ServiceUnavailable", "SlowDown")
BUCKET = "outage"


@dataclass
class Attempt:
    op: str
    key: str
    t_start: float
    t_end: float = 0.0
    status: Optional[int] = None
    code: Optional[str] = None
    error: Optional[str] = None     # exception (timeout, connection reset...)
    body: bytes = b""
    md5: Optional[str] = None       # PUT: md5 of the body sent

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def secs(self) -> float:
        return self.t_end - self.t_start

    def __str__(self) -> str:
        what = self.error or f"{self.status} {self.code or ''} {self.body[:160]!r}"
        return f"{self.op} {self.key} at t={self.t_start:.2f}s took {self.secs:.2f}s -> {what}"


@dataclass
class Probe:
    path: str
    t_start: float
    t_end: float
    status: Optional[int]
    body: str

    def __str__(self) -> str:
        return f"GET {self.path} at t={self.t_start:.2f}s took {self.t_end - self.t_start:.2f}s -> {self.status} {self.body[:200]!r}"


@dataclass
class Scenario:
    server: Replica
    db: PrivateMariaDB
    pid: int
    baseline: dict[str, bytes]
    attempts: list[Attempt] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    t_kill: float = 0.0
    t_db_back: float = 0.0
    t_recovered: Optional[float] = None
    t_ready_again: Optional[float] = None

    def log(self) -> str:
        return self.server.log_tail(40) + "\n" + self.db.log_tail(10)


def timed(server: Replica, t0: float, op: str, key: str, method: str, path: str, *,
          query=None, body: bytes = b"") -> Attempt:
    a = Attempt(op, key, time.monotonic() - t0)
    if method == "PUT":
        a.md5 = hashlib.md5(body).hexdigest()
    try:
        resp = server.request(method, path, query=query, body=body, timeout=15)
        a.status, a.body = resp.status_code, resp.content
        a.code = xml_error_code(resp.content) if resp.status_code >= 300 else None
    except requests.RequestException as e:
        a.error = repr(e)
    a.t_end = time.monotonic() - t0
    return a


def probe(server: Replica, t0: float, path: str) -> Probe:
    start = time.monotonic() - t0
    try:
        resp = server.api_get(path, timeout=15)
        status, body = resp.status_code, resp.text
    except requests.RequestException as e:
        status, body = None, repr(e)
    return Probe(path, start, time.monotonic() - t0, status, body)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A private MariaDB and one CloudVault on it; yields (server, db)."""
    base = tmp_path_factory.mktemp("db-outage")
    db = PrivateMariaDB(base / "mariadb")
    db.install()
    db.start()
    try:
        conn = db.connect()
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE cloudvault CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        conn.close()
    except BaseException:
        db.stop()
        raise
    (server,) = new_group(base / "cv", db.url("cloudvault"), 1, shutdown_grace_secs=5)
    try:
        server.start(wait_api=False)  # the probes are observed by the tests, not required to start
        yield server, db
    finally:
        try:
            server.stop(timeout=30)  # before the database, so shutdown never waits on it
        finally:
            server.kill()
            db.stop()


@pytest.fixture(scope="module")
def outage(env) -> Scenario:
    server, db = env
    t0 = time.monotonic()
    rng = random.Random(5)
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    baseline = {f"base/{i:02d}": rng.randbytes(rng.randint(0, 256 * 1024)) for i in range(20)}
    for key, body in baseline.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    sc = Scenario(server, db, server.pid, baseline)
    for path in ("/healthz", "/readyz"):
        sc.probes.append(probe(server, t0, path))

    stop = threading.Event()
    keys = list(baseline)

    def load(kind: str, idx: int) -> None:
        """One client per operation, one request at a time (a failing request takes up to 5 s, so
        one sequential client would send only two or three during the outage)."""
        rng = random.Random(f"{kind}{idx}")
        n = 0
        while not stop.is_set():
            n += 1
            if kind == "PutObject":
                key = f"during/{idx}-{n:05d}"
                body = rng.randbytes(rng.randint(1, 32 * 1024))
                a = timed(server, t0, kind, key, "PUT", f"/{BUCKET}/{quote_key(key)}", body=body)
            elif kind == "GetObject":
                key = rng.choice(keys)
                a = timed(server, t0, kind, key, "GET", f"/{BUCKET}/{quote_key(key)}")
                if a.ok and a.body != baseline[key]:
                    a.error = f"GET returned {len(a.body)} other bytes"
                a.body = a.body[:200]
            elif kind == "ListObjectsV2":
                a = timed(server, t0, kind, "base/", "GET", f"/{BUCKET}",
                          query=[("list-type", "2"), ("prefix", "base/")])
            else:
                key = rng.choice(keys)
                a = timed(server, t0, kind, key, "HEAD", f"/{BUCKET}/{quote_key(key)}")
            sc.attempts.append(a)
            time.sleep(0.1)

    workers = [threading.Thread(target=load, args=kind, daemon=True)
               for kind in (("PutObject", 0), ("PutObject", 1), ("GetObject", 0), ("ListObjectsV2", 0), ("HeadObject", 0))]
    for w in workers:
        w.start()
    try:
        time.sleep(1.5)
        sc.t_kill = time.monotonic() - t0
        db.kill()  # SIGKILL: a crash
        while time.monotonic() - t0 < sc.t_kill + OUTAGE_S:
            for path in ("/healthz", "/readyz"):
                sc.probes.append(probe(server, t0, path))
            time.sleep(0.5)
        db.start()
        sc.t_db_back = time.monotonic() - t0
        deadline = sc.t_db_back + RECOVERY_TIMEOUT_S
        while time.monotonic() - t0 < deadline and (sc.t_recovered is None or sc.t_ready_again is None):
            if sc.t_recovered is None:
                a = timed(server, t0, "ListObjectsV2(recovery)", "base/", "GET", f"/{BUCKET}",
                          query=[("list-type", "2"), ("prefix", "base/")])
                if a.ok:
                    sc.t_recovered = a.t_end
            p = probe(server, t0, "/readyz")
            sc.probes.append(p)
            if sc.t_ready_again is None and p.status == 200:
                sc.t_ready_again = p.t_end
            sc.probes.append(probe(server, t0, "/healthz"))
            time.sleep(0.25)
        time.sleep(2)  # the load keeps running after recovery
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "a load thread is stuck"
    sc.attempts.sort(key=lambda a: a.t_start)
    return sc


def window(sc: Scenario):
    """Attempts that started after the kill and ended before the database was back."""
    return [a for a in sc.attempts if a.t_start >= sc.t_kill and a.t_end <= sc.t_db_back]


def test_requests_fail_fast_with_503(outage):
    """Every request answers within 6 s; every failed one is a 503 S3 XML error (HEAD: 503, no body)."""
    sc = outage
    during = window(sc)
    assert len(during) >= 5, f"only {len(during)} requests during the outage: {[str(a) for a in sc.attempts]}"
    slow = [a for a in sc.attempts if a.error is not None or a.secs > FAIL_FAST_S]
    bad = [
        a for a in sc.attempts
        if not a.ok and a.error is None
        and not (a.status == 503 and (a.op == "HeadObject" or a.code in OK_CODES))
    ]
    failed_puts = [a for a in during if a.op == "PutObject" and not a.ok]
    print(f"{len(sc.attempts)} requests, {len(during)} during the outage "
          f"({sum(1 for a in during if not a.ok)} failed, slowest {max(a.secs for a in during):.2f}s)")
    assert not slow and not bad and failed_puts, (
        f"outage from t={sc.t_kill:.2f}s to t={sc.t_db_back:.2f}s\n"
        f"hung, slower than {FAIL_FAST_S}s or no answer ({len(slow)}):\n" + "\n".join(map(str, slow[:15]))
        + f"\nfailed with something else than 503 {'/'.join(OK_CODES)} ({len(bad)}):\n" + "\n".join(map(str, bad[:15]))
        + f"\nPUTs failed during the outage: {len(failed_puts)} (expected some)\n" + sc.log()
    )


def test_probes_during_outage(outage):
    """/healthz is 200 all along; /readyz is 200 before, 503 with a JSON body naming the failing
    check during (from 2 s after the kill), 200 again after; each probe answers within 6 s."""
    sc = outage
    problems = []
    for p in sc.probes:
        if p.path == "/healthz" and (p.status != 200 or p.t_end - p.t_start > 2.0):
            problems.append(f"healthz: {p}")
        if p.path == "/readyz" and p.t_end - p.t_start > FAIL_FAST_S:
            problems.append(f"readyz slower than {FAIL_FAST_S}s: {p}")
    ready = [p for p in sc.probes if p.path == "/readyz"]
    before = [p for p in ready if p.t_end <= sc.t_kill]
    during = [p for p in ready if p.t_start >= sc.t_kill + 2.0 and p.t_end <= sc.t_db_back]
    if not before or before[0].status != 200:
        problems.append(f"readyz before the outage: {before[0] if before else 'none'}")
    if len(during) < 3:
        problems.append(f"only {len(during)} readyz probes during the outage")
    for p in during:
        if p.status != 503:
            problems.append(f"readyz during the outage: {p}")
            continue
        try:
            json.loads(p.body)
        except ValueError:
            problems.append(f"readyz 503 body is not JSON: {p}")
            continue
        if not re.search(r"database|\bdb\b|mysql", p.body, re.I):
            problems.append(f"readyz 503 body does not name the database check: {p}")
    if during:
        print(f"readyz during the outage: {during[-1]}")
    if sc.t_ready_again is None:
        problems.append(f"readyz not 200 within {RECOVERY_TIMEOUT_S}s of the database's return "
                        f"(last: {ready[-1] if ready else 'none'})")
    assert not problems, "\n".join(problems[:20]) + "\n" + sc.log()


def test_service_resumes_without_restart(outage):
    """Within 30 s of the database's return a signed request succeeds again, on the same process,
    and every request started 1 s after that succeeds."""
    sc = outage
    assert sc.t_recovered is not None, (
        f"no successful request within {RECOVERY_TIMEOUT_S}s after the database came back at "
        f"t={sc.t_db_back:.2f}s; last attempts:\n" + "\n".join(map(str, sc.attempts[-8:])) + "\n" + sc.log()
    )
    assert sc.server.proc.poll() is None and sc.server.pid == sc.pid, "the server process did not survive"
    after = [a for a in sc.attempts if a.t_start >= sc.t_recovered + 1.0]
    assert len(after) >= 5, f"only {len(after)} requests after recovery"
    failed = [a for a in after if not a.ok or a.error]
    assert not failed, (
        f"recovered at t={sc.t_recovered:.2f}s (database back at t={sc.t_db_back:.2f}s), "
        "but later requests failed:\n" + "\n".join(map(str, failed[:15])) + "\n" + sc.log()
    )
    print(f"database back at t={sc.t_db_back:.2f}s, S3 recovered at t={sc.t_recovered:.2f}s, "
          f"readyz 200 at t={sc.t_ready_again}")


def test_acknowledged_writes_survive(outage):
    """Every object acknowledged before or during the outage reads back byte-identical."""
    sc = outage
    assert sc.t_recovered is not None, "the service never recovered (see test_service_resumes_without_restart)"
    s3 = sc.server.client()
    expected = {k: hashlib.md5(v).hexdigest() for k, v in sc.baseline.items()}
    expected.update({a.key: a.md5 for a in sc.attempts if a.op == "PutObject" and a.ok and not a.error})
    wrong = []
    for key, md5 in expected.items():
        try:
            got = hashlib.md5(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest()
        except Exception as e:  # noqa: BLE001
            got = repr(e)
        if got != md5:
            wrong.append(f"{key}: {got} != acknowledged {md5}")
    assert not wrong, "\n".join(wrong[:20])


def test_failed_writes_are_absent_or_complete(outage):
    """A PUT that got an error is absent (404 NoSuchKey, not listed) or, if its commit was in
    flight, present with exactly the bytes sent — never half-visible."""
    sc = outage
    assert sc.t_recovered is not None, "the service never recovered (see test_service_resumes_without_restart)"
    s3 = sc.server.client()
    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="during/"):
        listed.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    failed = [a for a in sc.attempts if a.op == "PutObject" and (not a.ok or a.error)]
    assert failed, "no PUT failed during the outage"
    wrong = []
    for a in failed:
        r = sc.server.request("GET", f"/{BUCKET}/{quote_key(a.key)}", timeout=20)
        if r.status_code == 404:
            if xml_error_code(r.content) != "NoSuchKey" or a.key in listed:
                wrong.append(f"{a.key}: 404 {xml_error_code(r.content)}, listed={a.key in listed}")
        elif r.status_code == 200:
            if hashlib.md5(r.content).hexdigest() != a.md5 or listed.get(a.key) != len(r.content):
                wrong.append(f"{a.key}: present with {len(r.content)} other bytes (listed size {listed.get(a.key)})")
        else:
            wrong.append(f"{a.key}: GET -> {r.status_code} {r.content[:200]!r}")
    assert not wrong, "failed PUTs left something half-visible:\n" + "\n".join(wrong[:20])
    print(f"{len(failed)} failed PUTs: {sum(1 for a in failed if a.key in listed)} present (complete), rest absent")


def test_new_writes_after_recovery(outage):
    sc = outage
    assert sc.t_recovered is not None, "the service never recovered (see test_service_resumes_without_restart)"
    s3 = sc.server.client()
    for i in range(5):
        body = f"after the outage {i}".encode() * 100
        s3.put_object(Bucket=BUCKET, Key=f"after/{i}", Body=body)
        assert s3.get_object(Bucket=BUCKET, Key=f"after/{i}")["Body"].read() == body
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="after/")["Contents"]]
    assert keys == [f"after/{i}" for i in range(5)]


def test_frozen_database_fails_fast_then_recovers(env, outage):
    """SIGSTOP the database (connections stay open, nothing answers: a network partition): S3
    requests still answer 503 ServiceUnavailable/SlowDown within 6 s and /healthz stays 200; after
    SIGCONT the service resumes within 30 s."""
    server, db = env
    t0 = time.monotonic()
    attempts: list[Attempt] = []
    healthz: list[Probe] = []
    db.signal(signal.SIGSTOP)
    try:
        t_freeze_end = time.monotonic() + 10
        n = 0
        while time.monotonic() < t_freeze_end:
            n += 1
            if n % 2:
                body = f"frozen {n}".encode()
                attempts.append(timed(server, t0, "PutObject", f"frozen/{n}", "PUT", f"/{BUCKET}/frozen/{n}", body=body))
            else:
                attempts.append(timed(server, t0, "GetObject", "base/00", "GET", f"/{BUCKET}/base/00"))
            healthz.append(probe(server, t0, "/healthz"))
    finally:
        db.signal(signal.SIGCONT)
    t_thaw = time.monotonic() - t0
    recovered = None
    while time.monotonic() - t0 < t_thaw + RECOVERY_TIMEOUT_S:
        a = timed(server, t0, "GetObject", "base/00", "GET", f"/{BUCKET}/base/00")
        if a.ok:
            recovered = a.t_end
            break
        time.sleep(0.25)
    print(f"{len(attempts)} requests while frozen: " + "; ".join(
        f"{a.op} {a.status} {a.code} {a.secs:.2f}s" for a in attempts) + f"; recovered {recovered}")
    problems = [f"slower than {FAIL_FAST_S}s or no answer: {a}" for a in attempts if a.error or a.secs > FAIL_FAST_S]
    problems += [f"not 503 {'/'.join(OK_CODES)}: {a}" for a in attempts
                 if not a.ok and not a.error and not (a.status == 503 and a.code in OK_CODES)]
    problems += [f"healthz: {p}" for p in healthz if p.status != 200]
    if recovered is None:
        problems.append(f"no successful GET within {RECOVERY_TIMEOUT_S}s of SIGCONT")
    assert not problems, (
        f"{len(attempts)} requests while the database was frozen:\n" + "\n".join(problems[:20])
        + "\n" + server.log_tail(30)
    )
