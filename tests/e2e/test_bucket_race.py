"""Bucket ownership under races: another user's requests around the moment a bucket is created, and
after a bucket name changes hands, are refused every time.

Two non-admin users, A and B, each with an access key made in the console API. What must hold:

* **Creation race.** While A creates ``race-<i>``, B fires PutBucketPolicy (a public-read policy) and
  PutObject at the same name, before, during and after the create. None of B's requests succeeds:
  each answers 404 NoSuchBucket (the bucket does not exist yet: a signed-in non-admin's request on a
  missing bucket is not let through to the operation) or 403 AccessDenied (it is A's). Afterwards
  A's bucket has no policy (GetBucketPolicy → 404 NoSuchBucketPolicy) and no object.
* **Name swap.** B creates ``swap-<i>``, puts and lists an object, deletes the object and the
  bucket; A creates the same name. From the very first request after that, B's PutObject,
  ListObjects and PutBucketPolicy on the name answer 403 AccessDenied, and A's PutObject/GetObject
  are never refused, whatever any replica cached about B's bucket a moment earlier.

One replica (SQLite and MySQL) and two replicas sharing one MariaDB database and data dir (MySQL):
there A talks to replica r0 and B to replica r1, and B's requests on r1 before the swap warm r1's
bucket cache with B's ownership (B's deletes go to r0, so r1 never sees them itself), so a stale
cache entry would let B in or keep A out.

Requests are hand-signed SigV4 over keep-alive sessions (one per thread and caller) so that a few
thousand of them take seconds; boto3 is not involved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

import botocore.auth
import botocore.credentials
import pytest
import requests
from botocore.awsrequest import AWSRequest

from cluster import fresh_mysql_database, new_group, stop_all
from conftest import REGION, console_login, quote_key, xml_error_code

RACE_ROUNDS = 1000
RACE_ROUNDS_TWO_REPLICAS = 300
SWAP_ROUNDS = 200
ROUND_CONCURRENCY = 4       # rounds in flight at once (each uses up to 3 threads)
B_STREAM_MAX = 6            # requests per B stream in one creation race
B_AFTER_CREATE = 2          # each B stream keeps going until this many were sent after A's create returned
WALL_LIMIT_S = 240          # hard bound for one test's rounds (the expected time is far below)


# ------------------------------------------------------------------------------------------------
# Signed requests, fast
# ------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    code: Optional[str]
    body: bytes

    def __str__(self) -> str:
        return f"{self.status} {self.code or ''} {self.body[:200]!r}"


class Caller:
    """One user's access key against one endpoint: SigV4-signed requests over a keep-alive
    ``requests.Session`` per thread."""

    def __init__(self, who: str, endpoint: str, access_key: str, secret_key: str):
        self.who = who
        self.endpoint = endpoint
        self.creds = botocore.credentials.Credentials(access_key, secret_key)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            self._local.session = s
            with self._lock:
                self._sessions.append(s)
        return s

    def close(self) -> None:
        with self._lock:
            for s in self._sessions:
                s.close()
            self._sessions.clear()

    def call(self, method: str, bucket: str, key: Optional[str] = None, *, query: str = "",
             body: bytes = b"", headers: Optional[dict] = None) -> Answer:
        path = f"/{bucket}" + (f"/{quote_key(key)}" if key is not None else "")
        url = self.endpoint + path + (f"?{query}" if query else "")
        aws = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
        botocore.auth.S3SigV4Auth(self.creds, "s3", REGION).add_auth(aws)
        prepared = requests.Request(method, url, headers=dict(aws.headers.items()), data=body).prepare()
        prepared.url = url
        resp = self._session().send(prepared, timeout=30, allow_redirects=False)
        code = xml_error_code(resp.content) if resp.status_code >= 300 else None
        return Answer(resp.status_code, code, resp.content)

    # -- the S3 operations used here -------------------------------------------------------------

    def create_bucket(self, bucket: str) -> Answer:
        return self.call("PUT", bucket)

    def delete_bucket(self, bucket: str) -> Answer:
        return self.call("DELETE", bucket)

    def put_object(self, bucket: str, key: str, data: bytes) -> Answer:
        return self.call("PUT", bucket, key, body=data)

    def get_object(self, bucket: str, key: str) -> Answer:
        return self.call("GET", bucket, key)

    def delete_object(self, bucket: str, key: str) -> Answer:
        return self.call("DELETE", bucket, key)

    def list_objects(self, bucket: str) -> Answer:
        return self.call("GET", bucket, query="list-type=2")

    def put_policy(self, bucket: str) -> Answer:
        doc = public_read_policy(bucket).encode()
        md5 = base64.b64encode(hashlib.md5(doc).digest()).decode()
        return self.call("PUT", bucket, query="policy", body=doc,
                         headers={"Content-Type": "application/json", "Content-MD5": md5})

    def get_policy(self, bucket: str) -> Answer:
        return self.call("GET", bucket, query="policy")


def public_read_policy(bucket: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{bucket}/*"}],
    })


def listed_keys(answer: Answer) -> list[str]:
    root = ET.fromstring(answer.body)
    return [el.text for el in root.iter() if el.tag.split("}")[-1] == "Key"]


def make_user(server, name: str) -> tuple[str, str]:
    """A non-admin user made by root in the console API, and an access key it made for itself."""
    root = console_login(server)
    password = f"{name}-password-1"
    r = root.post("/api/users", json={"name": name, "password": password, "role": "user"})
    assert r.status_code == 201, f"creating user {name}: {r.status_code} {r.text}"
    me = console_login(server, name, password)
    assert me.user.get("role") == "user", me.user
    k = me.post("/api/keys", json={})
    assert k.status_code == 201, f"creating a key for {name}: {k.status_code} {k.text}"
    return k.json()["access_key_id"], k.json()["secret_access_key"]


def unique(prefix: str) -> str:
    return f"{prefix}{time.time_ns() % 10**9}"


@dataclass
class Users:
    """A's and B's keys; ``caller(who, endpoint)`` makes a Caller for either."""

    a: tuple[str, str]
    b: tuple[str, str]

    def caller(self, who: str, endpoint: str) -> Caller:
        key, secret = self.a if who == "A" else self.b
        return Caller(who, endpoint, key, secret)


def sanity_check(a: Caller, b: Caller, a_other: Caller) -> None:
    """The requests used below work for the bucket's owner (so a refusal of B is about B): A creates
    a bucket, sets and reads a policy, puts and gets an object (also through ``a_other``); B gets 403
    AccessDenied on it, and 404 NoSuchBucket on a name that does not exist."""
    name = unique("sanity-")
    assert a.create_bucket(name).status == 200
    put = a.put_policy(name)
    assert put.status in (200, 204), f"A's own PutBucketPolicy: {put}"
    got = a.get_policy(name)
    assert got.status == 200 and json.loads(got.body) == json.loads(public_read_policy(name)), str(got)
    assert a.call("DELETE", name, query="policy").status == 204
    assert a.put_object(name, "k", b"owner").status == 200
    got = a_other.get_object(name, "k")
    assert (got.status, got.body) == (200, b"owner"), str(got)
    for answer in (b.put_object(name, "k", b"intruder"), b.put_policy(name), b.list_objects(name)):
        assert (answer.status, answer.code) == (403, "AccessDenied"), f"B on A's bucket: {answer}"
    missing = unique("missing-")
    for answer in (b.put_object(missing, "k", b"x"), b.put_policy(missing), b.list_objects(missing)):
        assert (answer.status, answer.code) == (404, "NoSuchBucket"), f"B on a missing bucket: {answer}"
    assert a.delete_object(name, "k").status == 204
    assert a.delete_bucket(name).status == 204


# ------------------------------------------------------------------------------------------------
# The creation race
# ------------------------------------------------------------------------------------------------


REFUSED = {(403, "AccessDenied"), (404, "NoSuchBucket")}


def race_round(i: int, prefix: str, a: Caller, b: Caller, a_check: Caller, b_pool: ThreadPoolExecutor,
               rng: random.Random) -> tuple[list[str], int]:
    """One round: A creates ``<prefix><i>`` while two B streams (policies, objects) run across the
    creation. Returns (violations, number of B requests)."""
    name = f"{prefix}{i:04d}"
    created = threading.Event()
    go = threading.Event()
    problems: list[str] = []
    sent = [0]
    lock = threading.Lock()

    def stream(kind: str) -> None:
        go.wait(10)
        after = 0
        for j in range(B_STREAM_MAX):
            was_created = created.is_set()
            if kind == "policy":
                answer = b.put_policy(name)
            else:
                answer = b.put_object(name, f"from-b-{j}", b"B was here %d" % j)
            with lock:
                sent[0] += 1
            if (answer.status, answer.code) not in REFUSED:
                when = "after" if was_created else "around"
                problems.append(f"{name}: B's {kind} #{j} ({when} A's create) -> {answer}")
            if was_created:
                after += 1
                if after >= B_AFTER_CREATE:
                    return

    futures = [b_pool.submit(stream, "policy"), b_pool.submit(stream, "object")]
    go.set()
    # Land A's create somewhere among B's first requests.
    time.sleep(rng.choice((0, 0, 0.0005, 0.001, 0.002)))
    answer = a.create_bucket(name)
    created.set()
    for f in futures:
        f.result(timeout=60)
    if answer.status != 200:
        problems.append(f"{name}: A's CreateBucket -> {answer}")
        return problems, sent[0]

    policy = a_check.get_policy(name)
    if (policy.status, policy.code) != (404, "NoSuchBucketPolicy"):
        problems.append(f"{name}: A's GetBucketPolicy after the race -> {policy}")
    listing = a_check.list_objects(name)
    if listing.status != 200:
        problems.append(f"{name}: A's ListObjectsV2 after the race -> {listing}")
    elif listed_keys(listing):
        problems.append(f"{name}: objects in A's bucket after the race: {listed_keys(listing)}")
    return problems, sent[0]


def run_creation_race(users: Users, a_endpoint: str, b_endpoint: str, rounds: int, prefix: str,
                      logs: Callable[[], str] = lambda: "") -> None:
    a = users.caller("A", a_endpoint)
    b = users.caller("B", b_endpoint)
    a_other = users.caller("A", b_endpoint)
    try:
        sanity_check(a, b, a_other)
        rng = random.Random(rounds)
        problems: list[str] = []
        total_b = 0
        started = time.monotonic()
        with ThreadPoolExecutor(ROUND_CONCURRENCY) as rounds_pool, \
                ThreadPoolExecutor(2 * ROUND_CONCURRENCY) as b_pool:
            futures = [
                rounds_pool.submit(race_round, i, prefix, a, b, a, b_pool, random.Random(rng.random()))
                for i in range(rounds)
            ]
            for f in futures:
                remaining = WALL_LIMIT_S - (time.monotonic() - started)
                assert remaining > 0, f"{rounds} creation races did not finish within {WALL_LIMIT_S}s"
                found, sent = f.result(timeout=remaining)
                problems += found
                total_b += sent
        elapsed = time.monotonic() - started
        assert not problems, (
            f"{len(problems)} violations in {rounds} creation races ({total_b} requests by B, "
            f"{elapsed:.1f}s); first ones:\n" + "\n".join(problems[:25]) + logs()
        )
        assert total_b >= rounds * 2 * B_AFTER_CREATE
        print(f"{rounds} creation races, {total_b} refused requests by B, {elapsed:.1f}s")
    finally:
        for c in (a, b, a_other):
            c.close()


# ------------------------------------------------------------------------------------------------
# The name swap
# ------------------------------------------------------------------------------------------------


def swap_round(i: int, prefix: str, *, a_home: Caller, a_other: Caller, b_home: Caller,
               b_delete: Caller) -> list[str]:
    """B creates, uses (through ``b_home``, warming its cache) and deletes (through ``b_delete``) the
    bucket; A creates it through ``a_home``; then B is refused and A is not, on every endpoint."""
    name = f"{prefix}{i:04d}"
    problems: list[str] = []

    def expect(what: str, answer: Answer, status: int, code: Optional[str] = None) -> bool:
        if answer.status != status or (code is not None and answer.code != code):
            problems.append(f"{name}: {what} -> {answer} (expected {status} {code or ''})")
            return False
        return True

    if not expect("B's CreateBucket", b_home.create_bucket(name), 200):
        return problems
    expect("B's PutObject", b_home.put_object(name, "b-object", b"B's bytes"), 200)
    listing = b_home.list_objects(name)
    if expect("B's ListObjectsV2", listing, 200) and listed_keys(listing) != ["b-object"]:
        problems.append(f"{name}: B lists {listed_keys(listing)}")
    expect("B's GetObject", b_home.get_object(name, "b-object"), 200)
    expect("B's DeleteObject", b_delete.delete_object(name, "b-object"), 204)
    if not expect("B's DeleteBucket", b_delete.delete_bucket(name), 204):
        return problems
    if not expect("A's CreateBucket of the freed name", a_home.create_bucket(name), 200):
        return problems

    # From the very first request after A's create.
    expect("B's first PutObject after the swap", b_home.put_object(name, "b-again", b"B again"), 403, "AccessDenied")
    expect("B's ListObjectsV2 after the swap", b_home.list_objects(name), 403, "AccessDenied")
    expect("B's PutBucketPolicy after the swap", b_home.put_policy(name), 403, "AccessDenied")

    data = b"A's bytes for %s" % name.encode()
    expect("A's PutObject (A's replica)", a_home.put_object(name, "a-object", data), 200)
    expect("A's PutObject (B's replica)", a_other.put_object(name, "a-other", data + b"!"), 200)
    for caller, key, want in ((a_home, "a-object", data), (a_other, "a-object", data),
                              (a_home, "a-other", data + b"!"), (a_other, "a-other", data + b"!")):
        got = caller.get_object(name, key)
        if expect(f"A's GetObject {key} via {caller.endpoint}", got, 200) and got.body != want:
            problems.append(f"{name}: A's {key} reads {got.body!r}, expected {want!r}")
    expect("B's GetObject after the swap", b_home.get_object(name, "a-object"), 403, "AccessDenied")

    listing = a_home.list_objects(name)
    if expect("A's ListObjectsV2", listing, 200) and sorted(listed_keys(listing)) != ["a-object", "a-other"]:
        problems.append(f"{name}: A's new bucket lists {listed_keys(listing)} (B's objects must not reappear)")
    expect("A's GetBucketPolicy", a_home.get_policy(name), 404, "NoSuchBucketPolicy")
    return problems


def run_swaps(users: Users, a_endpoint: str, b_endpoint: str, rounds: int, prefix: str,
              logs: Callable[[], str] = lambda: "") -> None:
    a_home = users.caller("A", a_endpoint)
    a_other = users.caller("A", b_endpoint)
    b_home = users.caller("B", b_endpoint)
    b_delete = users.caller("B", a_endpoint)
    callers = (a_home, a_other, b_home, b_delete)
    try:
        problems: list[str] = []
        started = time.monotonic()
        with ThreadPoolExecutor(ROUND_CONCURRENCY) as pool:
            futures = [
                pool.submit(swap_round, i, prefix, a_home=a_home, a_other=a_other, b_home=b_home,
                            b_delete=b_delete)
                for i in range(rounds)
            ]
            for f in futures:
                remaining = WALL_LIMIT_S - (time.monotonic() - started)
                assert remaining > 0, f"{rounds} name swaps did not finish within {WALL_LIMIT_S}s"
                problems += f.result(timeout=remaining)
        elapsed = time.monotonic() - started
        assert not problems, (
            f"{len(problems)} violations in {rounds} name swaps ({elapsed:.1f}s); first ones:\n"
            + "\n".join(problems[:25]) + logs()
        )
        print(f"{rounds} name swaps, {elapsed:.1f}s")
    finally:
        for c in callers:
            c.close()


# ------------------------------------------------------------------------------------------------
# Fixtures and tests
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def users(server) -> Users:
    return Users(a=make_user(server, unique("alice")), b=make_user(server, unique("bob")))


def replica_logs(replicas) -> str:
    return "".join(f"\n[{r.name}]\n{r.log_tail(15)}" for r in replicas)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two replicas on one fresh MariaDB database and one data dir; yields (replicas, users)."""
    base = tmp_path_factory.mktemp("bucket-race")
    with fresh_mysql_database() as (_db, url):
        replicas = new_group(base, url, 2)
        try:
            for r in replicas:
                r.start()
            users = Users(a=make_user(replicas[0], unique("alice")), b=make_user(replicas[0], unique("bob")))
            yield replicas, users
        finally:
            stop_all(replicas)


def test_creation_race_one_replica(server, users):
    """1000 rounds: B's PutBucketPolicy/PutObject around A's CreateBucket never succeed (403/404);
    A's bucket ends with no policy and no object."""
    run_creation_race(users, server.endpoint, server.endpoint, RACE_ROUNDS, "race-")


def test_name_swap_one_replica(server, users):
    """200 rounds: B's bucket deleted and re-created by A; B refused (403) from the first request,
    A never refused."""
    run_swaps(users, server.endpoint, server.endpoint, SWAP_ROUNDS, "swap-")


def test_creation_race_two_replicas(pair):
    """300 rounds, A's create on r0 while B hits r1."""
    replicas, users = pair
    run_creation_race(users, replicas[0].endpoint, replicas[1].endpoint, RACE_ROUNDS_TWO_REPLICAS, "race-",
                      logs=lambda: replica_logs(replicas))


def test_name_swap_two_replicas(pair):
    """200 rounds: B creates and uses the bucket on r1 (warming r1's cache), deletes it on r0, A
    creates it on r0; B's requests on r1 are refused from the first one, A's on r0 and r1 never."""
    replicas, users = pair
    run_swaps(users, replicas[0].endpoint, replicas[1].endpoint, SWAP_ROUNDS, "swap-",
              logs=lambda: replica_logs(replicas))
