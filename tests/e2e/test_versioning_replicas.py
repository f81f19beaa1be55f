"""Versioning across replicas: two ``cloudvault serve`` processes on one MariaDB database and one data
dir.

- 8 clients write one key of a versioned bucket at the same moment (4 through each replica). Every
  write gets its own version, and GET, HEAD and ListObjectVersions on both replicas agree on one total
  order: the current version is the newest listed, and every version holds its writer's bytes.
- Both replicas' janitors apply one lifecycle rule at once (a 2-second test day, 1 s passes): every
  expired noncurrent version is removed exactly once, so the bucket's counters end exact (a second
  removal would drive them below the truth) and the newest noncurrent version of each key stays.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import time

from cluster import fresh_mysql_database, mysql_query, new_group, s3_client, stop_all

WRITERS = 8


KEYS = 20
VERSIONS = 4
LIFECYCLE_WAIT_S = 40.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two replicas on one fresh database; yields (replicas, database name)."""
    base = tmp_path_factory.mktemp("versions-pair")
    with fresh_mysql_database("cv_versions") as (db, url):
        replicas = new_group(base, url, 2)
        try:
            for r in replicas:
                r.extra_env.update({"CLOUDVAULT_LIFECYCLE_DAY_SECS": "2", "CLOUDVAULT_JANITOR_INTERVAL_SECS": "1"})
                r.start(wait_api=False)
            yield replicas, db
        finally:
            stop_all(replicas)


def test_concurrent_puts_on_two_replicas_make_one_version_order(pair, bucket_name):
    clients = [s3_client(r.endpoint, r.access_key, r.secret_key) for r in pair[0]]
    clients[0].create_bucket(Bucket=bucket_name)
    clients[1].put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    bodies = [f"writer {i} ".encode() * (100 + i) for i in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)

    def put(i):
        barrier.wait(timeout=30)
        return clients[i % 2].put_object(Bucket=bucket_name, Key="shared", Body=bodies[i])["VersionId"]

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        ids = [f.result(timeout=120) for f in [pool.submit(put, i) for i in range(WRITERS)]]
    assert len(set(ids)) == WRITERS, f"every write has its own version: {ids}"
    body_of = dict(zip(ids, bodies))
    orders = []
    for c in clients:
        listed = c.list_object_versions(Bucket=bucket_name)["Versions"]
        order = [v["VersionId"] for v in listed]
        assert sorted(order) == sorted(ids) and [v["IsLatest"] for v in listed] == [True] + [False] * (WRITERS - 1)
        current = c.get_object(Bucket=bucket_name, Key="shared")
        assert current["VersionId"] == order[0], "GET serves the newest listed version"
        assert current["Body"].read() == body_of[order[0]]
        assert c.head_object(Bucket=bucket_name, Key="shared")["VersionId"] == order[0]
        orders.append(order)
    assert orders[0] == orders[1], "both replicas list the same order"
    for vid in ids:
        got = clients[1].get_object(Bucket=bucket_name, Key="shared", VersionId=vid)["Body"].read()
        assert got == body_of[vid]


def test_lifecycle_on_two_replicas_removes_each_version_once(pair, bucket_name):
    replicas, db = pair
    clients = [s3_client(r.endpoint, r.access_key, r.secret_key) for r in replicas]
    c = clients[0]
    c.create_bucket(Bucket=bucket_name)
    c.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    newest = {}
    for k in range(KEYS):
        for v in range(VERSIONS):
            vid = clients[v % 2].put_object(Bucket=bucket_name, Key=f"k{k:02d}", Body=f"{k}.{v}".encode())["VersionId"]
            newest.setdefault(k, []).append(vid)
    c.put_bucket_lifecycle_configuration(Bucket=bucket_name, LifecycleConfiguration={"Rules": [{
        "ID": "trim", "Status": "Enabled", "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}}]})
    deadline = time.monotonic() + LIFECYCLE_WAIT_S
    while True:
        listed = clients[1].list_object_versions(Bucket=bucket_name)["Versions"]
        if len(listed) == 2 * KEYS:
            break
        assert time.monotonic() < deadline, f"{len(listed)} versions left, expected {2 * KEYS}"
        time.sleep(0.5)
    kept = {}
    for v in listed:
        kept.setdefault(int(v["Key"][1:]), []).append(v["VersionId"])
    assert kept == {k: ids[:-3:-1] for k, ids in newest.items()}, "each key keeps its current and newest noncurrent"
    time.sleep(3)
    # A bucket's usage is its row's counters plus its counter shards' deltas (migration 0010).
    counters = mysql_query("SELECT b.object_count + SUM(c.d_objects), b.bytes_used + SUM(c.d_bytes), "
                           "b.noncurrent_count + SUM(c.d_noncurrent), b.noncurrent_bytes + SUM(c.d_noncurrent_bytes) "
                           "FROM buckets b JOIN bucket_counters c ON c.bucket_id = b.id WHERE b.name = %s "
                           "GROUP BY b.id, b.object_count, b.bytes_used, b.noncurrent_count, b.noncurrent_bytes",
                           (bucket_name,), database=db)
    sizes = {k: [len(f"{k}.{v}") for v in range(VERSIONS)] for k in range(KEYS)}
    expected = (KEYS, sum(s[-1] for s in sizes.values()), KEYS, sum(s[-2] for s in sizes.values()))
    assert tuple(int(x) for x in counters[0]) == expected, "every removal counted once"
