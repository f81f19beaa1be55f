"""Versioning across replicas: two ``cloudvault serve`` processes on one MariaDB database and one data
dir, 8 clients writing one key of a versioned bucket at the same moment (4 through each replica).
Every write gets its own version, and GET, HEAD and ListObjectVersions on both replicas agree on one
total order: the current version is the newest listed, and every version holds its writer's bytes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cluster import fresh_mysql_database, new_group, s3_client, stop_all

WRITERS = 8


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("versions-pair")
    with fresh_mysql_database("cv_versions") as (_db, url):
        replicas = new_group(base, url, 2)
        try:
            for r in replicas:
                r.start(wait_api=False)
            yield replicas
        finally:
            stop_all(replicas)


def test_concurrent_puts_on_two_replicas_make_one_version_order(pair, bucket_name):
    clients = [s3_client(r.endpoint, r.access_key, r.secret_key) for r in pair]
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
