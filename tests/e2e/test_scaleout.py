"""Scale-out: several ``cloudvault serve`` replicas on one MySQL database and one data dir behave
as one server, survive a rolling restart behind a load balancer, and expose probes and metrics.

MySQL only (the production topology): a fresh database on the test MariaDB per module (and one per
simultaneous-start case), dropped afterwards. The module's group is three replicas sharing the
database, the data dir, the root key and CLOUDVAULT_MASTER_KEY (as the OpenShift Deployment does),
each on its own S3 and API port, behind HAProxy (``balance roundrobin``, health check
``GET /readyz`` on the API port).

Rolling restart, as a Kubernetes rollout with maxUnavailable 0 would do it: for each replica in
turn, ``set server be/rN state drain`` on HAProxy's runtime API (no new request goes to it; the
endpoint removal of a rollout), 0.5 s later SIGTERM it with whatever is still in flight on it (slow
1 MiB uploads make sure something usually is; the server must finish those and exit 0), start it
again on the same ports, wait for its /readyz, ``state ready``, and wait until HAProxy marks it UP
and routes requests to it again. Health checks (inter 500 ms, fall 2) plus ``option redispatch`` /
``retries 3`` are only the safety net for connection failures; no L7 retry (``retry-on``) hides an
accepted request that a replica dropped. Clients do not retry either (boto3 max_attempts 1): the
requirement is zero failed client requests.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from botocore.exceptions import ClientError

from cluster import HAProxy, Replica, fresh_mysql_database, mysql_query, new_group, s3_client, stop_all
from conftest import REPO_ROOT, GeneratedBody, client_error

MiB = 1024 * 1024
MIGRATIONS_DIR = REPO_ROOT / "migrations" / "mysql"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Three replicas (one database, one data dir) behind HAProxy; yields (replicas, haproxy)."""
    base = tmp_path_factory.mktemp("scaleout")
    with fresh_mysql_database() as (_db, url):
        replicas = new_group(base, url, 3)
        proxy = HAProxy(base / "haproxy", replicas)
        try:
            for r in replicas:
                r.start()
            proxy.start()
            yield replicas, proxy
        finally:
            try:
                proxy.stop()
            finally:
                stop_all(replicas)


def logs(replicas, proxy=None) -> str:
    parts = [f"[{r.name} pid {r.proc.pid if r.proc else '-'}]\n{r.log_tail(25)}" for r in replicas]
    if proxy is not None:
        parts.append(proxy.log_tail(25))
    return "\n".join(parts)


def describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        status, code = client_error(exc)
        rid = exc.response.get("ResponseMetadata", {}).get("RequestId", "")
        return f"{status} {code} (request id {rid}): {exc}"
    return repr(exc)


# ------------------------------------------------------------------------------------------------
# Probes and metrics
# ------------------------------------------------------------------------------------------------


EXPECTED_METRICS = {
    "cloudvault_s3_requests_total": "counter",
    "cloudvault_s3_request_duration_seconds": "histogram",
    "cloudvault_s3_bytes_received_total": "counter",
    "cloudvault_s3_bytes_sent_total": "counter",
    "cloudvault_s3_requests_in_flight": "gauge",
    "cloudvault_db_pool_connections": "gauge",
    "cloudvault_db_pool_idle_connections": "gauge",
}


def test_probes_and_metrics(cluster, bucket_name):
    """/healthz and /readyz answer 200 on every replica; after a workload through one replica its
    /metrics counts exactly the PUTs sent (status 200), at least the GETs in the GetObject
    histogram, at least the bytes uploaded/downloaded, 0 requests in flight, and pool gauges."""
    replicas, _ = cluster
    for r in replicas:
        for path in ("/healthz", "/readyz"):
            resp = r.api_get(path)
            assert resp.status_code == 200, f"{r.name} GET {path} -> {resp.status_code} {resp.text[:300]!r}"

    r = replicas[1]
    s3 = r.client()
    s3.create_bucket(Bucket=bucket_name)
    before = r.metrics()

    rng = random.Random(7)
    bodies = {f"m/{i:02d}": rng.randbytes(rng.randint(1, 200 * 1024)) for i in range(25)}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket_name, Key=key, Body=body)
    gets, sent = 0, 0
    for _ in range(2):
        for key, body in bodies.items():
            data = s3.get_object(Bucket=bucket_name, Key=key)["Body"].read()
            assert data == body
            gets += 1
            sent += len(data)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket_name, Key="m/does-not-exist")
    assert client_error(missing.value) == (404, "NoSuchKey")
    uploaded = sum(len(b) for b in bodies.values())

    after = r.metrics()
    text = after.text[:3000]

    def delta(name, **labels):
        return (after.value(name, **labels) or 0) - (before.value(name, **labels) or 0)

    for name in EXPECTED_METRICS:
        assert after.value(name) is not None or after.find(name + "_count"), f"{name} missing from /metrics\n{text}"
    assert delta("cloudvault_s3_requests_total", operation="PutObject", status="200") == len(bodies), (
        f"PutObject status=200 counter moved by {delta('cloudvault_s3_requests_total', operation='PutObject', status='200')}, "
        f"sent {len(bodies)} PUTs\n{after.find('cloudvault_s3_requests_total')}"
    )
    assert delta("cloudvault_s3_requests_total", operation="GetObject", status="200") == gets
    assert delta("cloudvault_s3_requests_total", operation="GetObject", status="404") == 1, (
        f"the NoSuchKey GET is not counted with status=\"404\": {after.find('cloudvault_s3_requests_total', operation='GetObject')}"
    )
    count = delta("cloudvault_s3_request_duration_seconds_count", operation="GetObject")
    assert count >= gets, f"GetObject histogram _count moved by {count}, sent {gets} GETs"
    inf = after.value("cloudvault_s3_request_duration_seconds_bucket", operation="GetObject", le="+Inf")
    assert inf == after.value("cloudvault_s3_request_duration_seconds_count", operation="GetObject")
    assert after.value("cloudvault_s3_request_duration_seconds_sum", operation="GetObject") is not None
    assert len(after.find("cloudvault_s3_request_duration_seconds_bucket", operation="PutObject")) >= 2
    assert delta("cloudvault_s3_bytes_received_total") >= uploaded
    assert delta("cloudvault_s3_bytes_sent_total") >= sent

    # Idle: the in-flight gauge goes back to 0 (allow a moment for the last response to finish).
    deadline = time.monotonic() + 3
    while True:
        in_flight = r.metrics().value("cloudvault_s3_requests_in_flight")
        if in_flight == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert in_flight == 0, f"cloudvault_s3_requests_in_flight = {in_flight} while idle"

    conns = after.value("cloudvault_db_pool_connections")
    idle = after.value("cloudvault_db_pool_idle_connections")
    assert conns is not None and idle is not None, f"pool gauges missing\n{text}"
    assert 1 <= conns and 0 <= idle <= conns, f"pool connections={conns} idle={idle}"


def test_metrics_text_format(cluster):
    """/metrics is well-formed for the format its Content-Type announces: Prometheus text 0.0.4
    (``# TYPE x_total counter``) or OpenMetrics (``# TYPE x counter`` + ``x_total`` samples, and a
    final ``# EOF``), so a scraper keeps the metric types."""
    replicas, _ = cluster
    m = replicas[0].metrics()
    ctype = m.content_type.split(";")[0].strip()
    assert ctype in ("text/plain", "application/openmetrics-text"), f"Content-Type {m.content_type!r}"
    wrong = {
        name: m.declared_type(name) for name, kind in EXPECTED_METRICS.items() if m.declared_type(name) != kind
    }
    assert not wrong, (
        f"with Content-Type {m.content_type!r}, these metrics have no (or the wrong) # TYPE: {wrong}; "
        f"TYPE lines: {m.types}"
    )
    if m.openmetrics:
        assert m.text.rstrip().endswith("# EOF"), "OpenMetrics exposition must end with '# EOF'"


def test_sign_in_throttle_holds_across_replicas(cluster):
    """Failed sign-ins are counted in the shared database: five failures spread over three replicas
    throttle the name on all of them, not five per replica."""
    replicas, _ = cluster
    name = f"nobody-{time.time_ns() % 10**9}"
    for i in range(5):
        r = requests.post(f"{replicas[i % 3].api}/api/login", json={"username": name, "password": "wrong-password"},
                          timeout=30)
        assert r.status_code == 401, (i, r.status_code, r.text)
    for replica in replicas:
        r = requests.post(f"{replica.api}/api/login", json={"username": name, "password": "wrong-password"},
                          timeout=30)
        assert r.status_code == 429, (replica.name, r.status_code, r.text)
        assert int(r.headers["Retry-After"]) > 0
    # Another name from the same address is not affected.
    r = requests.post(f"{replicas[0].api}/api/login", json={"username": name + "-x", "password": "wrong-password"},
                      timeout=30)
    assert r.status_code == 401


# ------------------------------------------------------------------------------------------------
# Read-after-write across replicas
# ------------------------------------------------------------------------------------------------

RAW_ROUNDS = 1000
DELETE_ROUNDS = 300


def test_read_after_write_across_replicas(cluster, bucket_name):
    """1000 times: PUT through one replica, immediately GET and LIST (prefix = key) through the
    next one (A->B, B->C, C->A); every 10th round also overwrites through B and reads through C.
    Then 300 times: DELETE through one replica, HEAD through the next -> 404 and the key is gone
    from the third one's listing. The bucket itself is created through A and used through B/C at once."""
    replicas, _ = cluster
    clients = [r.client(max_pool_connections=4) for r in replicas]
    clients[0].create_bucket(Bucket=bucket_name)
    rng = random.Random(11)
    problems: list[str] = []
    t0 = time.monotonic()
    for i in range(RAW_ROUNDS):
        a, b, c = clients[i % 3], clients[(i + 1) % 3], clients[(i + 2) % 3]
        key = f"raw/{i:04d}"
        body = rng.randbytes(rng.randint(0, 4096))
        etag = a.put_object(Bucket=bucket_name, Key=key, Body=body)["ETag"]
        try:
            got = b.get_object(Bucket=bucket_name, Key=key)
            data = got["Body"].read()
            if data != body:
                problems.append(f"round {i}: GET via r{(i + 1) % 3} returned {len(data)} bytes, wrote {len(body)}")
        except ClientError as e:
            problems.append(f"round {i}: GET via r{(i + 1) % 3} right after PUT via r{i % 3}: {describe(e)}")
        listed = b.list_objects_v2(Bucket=bucket_name, Prefix=key).get("Contents", [])
        if [(o["Key"], o["Size"], o["ETag"]) for o in listed] != [(key, len(body), etag)]:
            problems.append(f"round {i}: LIST via r{(i + 1) % 3} prefix {key}: {listed}")
        if i % 10 == 0:
            body2 = body + b"-v2"
            b.put_object(Bucket=bucket_name, Key=key, Body=body2)
            data = c.get_object(Bucket=bucket_name, Key=key)["Body"].read()
            if data != body2:
                problems.append(f"round {i}: overwrite via r{(i + 1) % 3} not seen by r{(i + 2) % 3}")
        if len(problems) > 20:
            break
    put_secs = time.monotonic() - t0
    assert not problems, "\n".join(problems)

    for i in range(DELETE_ROUNDS):
        a, b, c = clients[i % 3], clients[(i + 1) % 3], clients[(i + 2) % 3]
        key = f"raw/{i:04d}"
        a.delete_object(Bucket=bucket_name, Key=key)
        with pytest.raises(ClientError) as gone:
            b.head_object(Bucket=bucket_name, Key=key)
        assert client_error(gone.value)[0] == 404, f"round {i}: HEAD via r{(i + 1) % 3} after DELETE: {gone.value}"
        listed = c.list_objects_v2(Bucket=bucket_name, Prefix=key).get("Contents", [])
        assert listed == [], f"round {i}: deleted {key} still listed by r{(i + 2) % 3}: {listed}"

    remaining = []
    for page in clients[2].get_paginator("list_objects_v2").paginate(Bucket=bucket_name):
        remaining += [o["Key"] for o in page.get("Contents", [])]
    assert remaining == [f"raw/{i:04d}" for i in range(DELETE_ROUNDS, RAW_ROUNDS)]
    print(f"{RAW_ROUNDS} PUT/GET/LIST rounds in {put_secs:.1f}s")


# ------------------------------------------------------------------------------------------------
# Rolling restart under load
# ------------------------------------------------------------------------------------------------


class SlowBody(GeneratedBody):
    """A GeneratedBody that takes ~20 ms per 8 KiB read (about 2.5 s per MiB)."""

    def read(self, n: int = -1) -> bytes:
        time.sleep(0.02)
        return super().read(min(n, 8192) if n and n > 0 else 8192)


class Workload:
    """Client threads through HAProxy; every acknowledged write goes to ``acked`` (key -> md5),
    every failed request or wrong answer to ``errors``."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str):
        self.endpoint, self.access_key, self.secret_key = endpoint, access_key, secret_key
        self.bucket = bucket
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: dict[str, str] = {}
        self.errors: list[str] = []
        self.ops = 0
        self.multipart_done = 0
        self.t0 = time.monotonic()

    def client(self):
        return s3_client(self.endpoint, self.access_key, self.secret_key, max_pool_connections=4)

    def error(self, op: str, key: str, detail: str) -> None:
        with self.lock:
            self.errors.append(f"t+{time.monotonic() - self.t0:6.2f}s {op} {key}: {detail}")

    def call(self, op: str, key: str, fn):
        with self.lock:
            self.ops += 1
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - every failure is recorded, none may happen
            self.error(op, key, describe(e))
            return None

    def small_writer(self, wid: int) -> None:
        s3 = self.client()
        rng = random.Random(1000 + wid)
        mine: dict[str, str] = {}
        prefix = f"small/w{wid}/"
        i = 0
        while not self.stop.is_set():
            key = f"{prefix}{i:05d}"
            body = rng.randbytes(rng.randint(0, 64 * 1024))
            md5 = hashlib.md5(body).hexdigest()
            resp = self.call("PutObject", key, lambda: s3.put_object(Bucket=self.bucket, Key=key, Body=body))
            if resp is not None:
                if resp["ETag"] != f'"{md5}"':
                    self.error("PutObject", key, f"ETag {resp['ETag']} for body md5 {md5}")
                mine[key] = md5
                with self.lock:
                    self.acked[key] = md5
            if mine:
                k = rng.choice(list(mine))
                resp = self.call("GetObject", k, lambda: s3.get_object(Bucket=self.bucket, Key=k))
                if resp is not None:
                    data = self.call("GetObject(body)", k, lambda: resp["Body"].read())
                    if data is not None and hashlib.md5(data).hexdigest() != mine[k]:
                        self.error("GetObject", k, f"md5 {hashlib.md5(data).hexdigest()} != acknowledged {mine[k]}")
            if i % 10 == 9:
                def listing():
                    keys = set()
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                        keys.update(o["Key"] for o in page.get("Contents", []))
                    return keys
                keys = self.call("ListObjectsV2", prefix, listing)
                if keys is not None and not set(mine) <= keys:
                    self.error("ListObjectsV2", prefix, f"missing acknowledged keys {sorted(set(mine) - keys)[:5]}")
            i += 1

    def slow_writer(self, wid: int, signer: Replica) -> None:
        """1 MiB PUTs whose body trickles in over ~2.5 s (raw signed requests, UNSIGNED-PAYLOAD),
        so that requests are in flight on the replica that gets SIGTERM."""
        n = 0
        while not self.stop.is_set():
            key = f"slow/w{wid}/{n:03d}"
            n += 1
            body = SlowBody(1 * MiB, seed=wid * 1000 + n)
            url = f"{self.endpoint}/{self.bucket}/{key}"

            def put():
                headers = signer.sign_headers("PUT", url, {"Content-Length": str(len(body))},
                                              payload_hash="UNSIGNED-PAYLOAD")
                resp = requests.put(url, data=body, headers=headers, timeout=60)
                if resp.status_code != 200:
                    raise AssertionError(f"{resp.status_code} {resp.content[:300]!r}")
                return resp

            resp = self.call("PutObject(slow)", key, put)
            if resp is not None:
                with self.lock:
                    self.acked[key] = body.hexdigest()

    def multipart_writer(self, wid: int) -> None:
        """12 MiB objects in parts of 5 + 5 + 2 MiB, each read back after completion; one every
        ~2 s (at most 8 per writer), so that they span the whole rolling restart."""
        s3 = self.client()
        rng = random.Random(2000 + wid)
        n = 0
        while n < 8 and not self.stop.wait(0 if n == 0 else 2.0):
            key = f"multipart/w{wid}/{n:03d}"
            n += 1
            parts = [rng.randbytes(5 * MiB), rng.randbytes(5 * MiB), rng.randbytes(2 * MiB)]
            md5 = hashlib.md5(b"".join(parts)).hexdigest()
            created = self.call("CreateMultipartUpload", key,
                                lambda: s3.create_multipart_upload(Bucket=self.bucket, Key=key))
            if created is None:
                continue
            upload_id = created["UploadId"]
            done = []
            for number, part in enumerate(parts, start=1):
                resp = self.call(f"UploadPart#{number}", key, lambda: s3.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part))
                if resp is None:
                    break
                done.append({"PartNumber": number, "ETag": resp["ETag"]})
            if len(done) != len(parts):
                continue
            resp = self.call("CompleteMultipartUpload", key, lambda: s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}))
            if resp is None:
                continue
            with self.lock:
                self.acked[key] = md5
                self.multipart_done += 1
            got = self.call("GetObject", key, lambda: s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            if got is not None and hashlib.md5(got).hexdigest() != md5:
                self.error("GetObject", key, "multipart object read back with other bytes")


def test_rolling_restart_under_load(cluster, bucket_name):
    """Clients through HAProxy (4 small-object writers/readers/listers, 2 multipart writers) run
    while every replica in turn is drained, SIGTERMed (exit 0), restarted and re-admitted: zero
    failed requests, and afterwards every acknowledged object reads back byte-identical (MD5) from
    every replica directly, and every replica lists all of them."""
    replicas, proxy = cluster
    s3 = s3_client(proxy.endpoint, replicas[0].access_key, replicas[0].secret_key)
    s3.create_bucket(Bucket=bucket_name)
    load = Workload(proxy.endpoint, replicas[0].access_key, replicas[0].secret_key, bucket_name)
    threads = [threading.Thread(target=load.small_writer, args=(w,), daemon=True) for w in range(4)]
    threads += [threading.Thread(target=load.multipart_writer, args=(w,), daemon=True) for w in range(2)]
    threads += [threading.Thread(target=load.slow_writer, args=(w, replicas[0]), daemon=True) for w in range(3)]
    for t in threads:
        t.start()

    exit_codes = {}
    restart_log = []
    try:
        time.sleep(2)
        for r in replicas:
            # Out of rotation first (like the endpoint removal + preStop sleep of a rollout), then
            # SIGTERM with whatever is still in flight on it: the server must finish those.
            proxy.set_state(r.name, "drain")
            time.sleep(0.5)
            in_flight = proxy.server_stats(r.name)["scur"]
            t_term = time.monotonic()
            r.proc.send_signal(signal.SIGTERM)
            try:
                exit_codes[r.name] = r.proc.wait(timeout=r.shutdown_grace_secs + 10)
            except subprocess.TimeoutExpired:
                r.kill()
                pytest.fail(f"{r.name} did not exit within {r.shutdown_grace_secs + 10}s of SIGTERM\n{r.log_tail()}")
            t_exit = time.monotonic()
            r.start()  # same ports, waits for ListBuckets and /readyz
            served_before = int(proxy.server_stats(r.name)["stot"])
            proxy.set_state(r.name, "ready")
            proxy.wait_status(r.name, "UP", timeout=15)
            deadline = time.monotonic() + 10
            while int(proxy.server_stats(r.name)["stot"]) <= served_before + 5:
                assert time.monotonic() < deadline, f"haproxy sends no traffic to {r.name} after its restart"
                time.sleep(0.1)
            restart_log.append(
                f"{r.name}: {in_flight} requests in flight at SIGTERM, exited in {t_exit - t_term:.2f}s, "
                f"back in rotation after {time.monotonic() - t_exit:.2f}s"
            )
        time.sleep(2)
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client thread is stuck"
    print("\n".join(restart_log))
    print(f"{load.ops} requests, {len(load.acked)} acknowledged writes ({load.multipart_done} multipart)")

    assert not load.errors, (
        f"{len(load.errors)} failed client requests out of {load.ops} during the rolling restart:\n"
        + "\n".join(load.errors[:30]) + "\n" + logs(replicas, proxy)
    )
    assert exit_codes == {r.name: 0 for r in replicas}, f"exit codes on SIGTERM: {exit_codes}\n{logs(replicas)}"
    assert load.multipart_done >= 2, f"only {load.multipart_done} multipart uploads completed"
    assert len(load.acked) >= 50, f"only {len(load.acked)} acknowledged writes: the load did not run"

    # Every acknowledged object from every replica directly (bypassing HAProxy).
    mismatches: list[str] = []
    for r in replicas:
        client = r.client(max_pool_connections=8)

        def check(item, client=client, r=r):
            key, md5 = item
            try:
                h = hashlib.md5()
                for chunk in client.get_object(Bucket=bucket_name, Key=key)["Body"].iter_chunks(1 << 20):
                    h.update(chunk)
                if h.hexdigest() != md5:
                    return f"{r.name} {key}: md5 {h.hexdigest()} != acknowledged {md5}"
            except ClientError as e:
                return f"{r.name} {key}: {describe(e)}"
            return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            mismatches += [m for m in pool.map(check, sorted(load.acked.items())) if m]
        listed = set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket_name):
            listed.update(o["Key"] for o in page.get("Contents", []))
        missing = set(load.acked) - listed
        if missing:
            mismatches.append(f"{r.name} does not list {len(missing)} acknowledged keys, e.g. {sorted(missing)[:5]}")
    assert not mismatches, f"{len(mismatches)} problems:\n" + "\n".join(mismatches[:30])


# ------------------------------------------------------------------------------------------------
# Simultaneous first start on an empty database
# ------------------------------------------------------------------------------------------------


def migration_versions() -> list[int]:
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".down.sql"))
    assert files, f"no migrations in {MIGRATIONS_DIR}"
    return [int(name.split("_", 1)[0]) for name in files]


SIMULTANEOUS_ROUNDS = 3


@pytest.mark.parametrize("master_key", ["env", "data-dir"])
def test_simultaneous_start_on_empty_database(tmp_path, master_key):
    """Two replicas started at the same moment on an empty database and an empty shared data dir
    both come up (signed ListBuckets on each), the schema is migrated once (one successful
    ``_sqlx_migrations`` row per migration file), and they act as one (PUT on one, GET on the other).
    ``data-dir``: no CLOUDVAULT_MASTER_KEY, so both also race to create ``master.key``. Three rounds
    (each with a new database and data dir), as these are races."""
    expected = migration_versions()
    for round_ in range(SIMULTANEOUS_ROUNDS):
        with fresh_mysql_database() as (db, url):
            replicas = new_group(tmp_path / f"round{round_}", url, 2,
                                 master_key="generate" if master_key == "env" else None)
            try:
                barrier = threading.Barrier(len(replicas))

                def spawn(r: Replica) -> None:
                    barrier.wait(timeout=10)
                    r.spawn()

                with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
                    list(pool.map(spawn, replicas))
                for r in replicas:
                    r.wait_ready()
                rows = mysql_query("SELECT version, success FROM _sqlx_migrations ORDER BY version", database=db)
                assert [(int(v), bool(s)) for v, s in rows] == [(v, True) for v in expected], (
                    f"round {round_}: _sqlx_migrations rows {rows}, migration files {expected}\n{logs(replicas)}"
                )
                a, b = (r.client() for r in replicas)
                a.create_bucket(Bucket="simultaneous")
                a.put_object(Bucket="simultaneous", Key="k", Body=b"written by r0")
                assert b.get_object(Bucket="simultaneous", Key="k")["Body"].read() == b"written by r0"
                b.put_object(Bucket="simultaneous", Key="k2", Body=b"written by r1")
                assert a.get_object(Bucket="simultaneous", Key="k2")["Body"].read() == b"written by r1"
                for r in replicas:
                    assert r.proc.poll() is None, f"round {round_}: {r.name} died\n{r.log_tail()}"
            finally:
                stop_all(replicas)
