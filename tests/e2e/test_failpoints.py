"""Failpoints: CloudVault crashed (or failed) at every named step of its write protocol keeps every
acknowledged object, never shows a partial object, never keeps a row without its blob, and its
janitor leaves no orphan file.

The server under test is the debug build with ``--features failpoints`` named by
``CLOUDVAULT_FAILPOINTS_BIN`` (unset or missing: every case fails, none is skipped). It reads
``CLOUDVAULT_FAILPOINTS="step=action,..."`` at start-up (s3-api/src/engine/failpoint.rs): ``exit``
ends the process on the spot with status 86 and no answer, ``error`` fails the step with an I/O
error, ``*-once`` only the first time. The steps are parsed from that file's ``STEPS`` at
collection time, so a new step gets a case (and fails until this module has a scenario for it).

One case per (backend, step, action), each on a fresh data dir and database, janitor grace and
interval 1 s:
  1. seed three objects that are never touched again, the ``target`` key (old bytes) and, for the
     part and complete steps, a multipart upload on ``target`` with part 1 (5 MiB; and part 2 for
     complete) acknowledged. The process is armed with ``<step>=exit`` (or ``error-once``) from
     the start and the seed reaches no armed step (put.*, inline.*: the objects are one-part multipart
     uploads), except for part.*: seeded without failpoints, SIGTERM, restarted armed;
  2. do the operation that reaches the step: PutObject over ``target`` (put.*; inline.*: a
     2,000-byte body, stored inline), UploadPart 2 (part.*), CompleteMultipartUpload (complete.*),
     DeleteObject (delete.*), an acknowledged overwrite whose old blob the janitor sweeps
     (janitor.removed), a PutObject cut at put.placed then a restart armed at janitor.claimed for the janitor to claim its stale intent;
     ``exit``: the client gets no answer (no success), the process exits with 86 having logged the
     step, and what is left on disk and in the database is what protocol.rs says a crash there
     leaves; then a restart WITHOUT failpoints;
     ``error``: the client gets a 500/503 within the read timeout, the server keeps running;
  3. one janitor sweep past the grace period (polled, bounded), then the four numbers, all 0:
     lost_or_changed (an acknowledged object or part gone or different; listing differs),
     partial (bytes that are no body ever sent), rows_without_blob (object, version and part rows
     against the files, sizes and MD5s), orphan_files (files under blobs/ and staging/ named by no
     object, version or part row: after the sweep nothing may be left queued either);
     and the key under write is in the state the protocol promises: before the step's commit the
     old state (old bytes; upload without the part; upload still open; object still there), at or
     after it the new one (new bytes; part listed; object complete; object gone);
  4. where the operation did not take effect, it is retried and succeeds (for ``error-once`` in the
     same process), ending in the new state with no row without its blob.

Each case prints ``failpoint[<backend>] <step>=<action>: lost_or_changed=0 partial=0
rows_without_blob=0 orphan_files=0``.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, REPO_ROOT, CloudVaultServer, _mysql_connect, _mysql_server_url, md5_hex
from test_faults import (
    ABSENT,
    BUCKET,
    Metadata,
    observe,
    parse_manifest,
    orphan_files,
    referenced_blobs,
    rows_without_blob,
    staging_files,
    wait_up,
)

FAILPOINT_RS = REPO_ROOT / "s3-api" / "src" / "engine" / "failpoint.rs"
EXIT_CODE = 86
GRACE_S = 1
JANITOR_S = 1
OP_TIMEOUT_S = 15.0         # client read timeout: an `error` answered later than this is a hang
EXIT_WAIT_S = 15.0          # the client saw the connection drop: the process must be gone by then
JANITOR_WAIT_S = 20.0       # a janitor step is reached within grace + interval; generous under load
SWEEP_TIMEOUT_S = 20.0      # grace + interval + slack for the post-crash sweep
STOP_TIMEOUT_S = 20.0
PART1 = 5 * 1024 * 1024     # every part but the last must be at least 5 MiB
INLINE_BODY = 2_000         # under the default inline threshold (CLOUDVAULT_INLINE_MAX_BYTES, 16 KiB)


def parse_steps() -> list[str]:
    """The STEPS constant of failpoint.rs, in order."""
    src = FAILPOINT_RS.read_text()
    m = re.search(r"pub const STEPS\s*:\s*&\[&str\]\s*=\s*&\[(.*?)\];", src, re.S)
    assert m, f"no `pub const STEPS: &[&str] = &[...];` in {FAILPOINT_RS}"
    body = re.sub(r"//[^\n]*", "", m.group(1))
    steps = re.findall(r'"([^"\\]+)"', body)
    assert steps, f"STEPS in {FAILPOINT_RS} parsed as empty"
    assert len(steps) == len(set(steps)), f"duplicate steps in {FAILPOINT_RS}: {steps}"
    return steps


# The operation family of each step and whether the step comes after its commit (the protocol then
# promises the new state; before it, the old one).
SCENARIOS: dict[str, tuple[str, bool]] = {
    "put.staged": ("put", False),
    "put.intent_recorded": ("put", False),
    "put.placed": ("put", False),
    "put.committed": ("put", True),
    "inline.staged": ("inline", False),
    "inline.committed": ("inline", True),
    "part.staged": ("part", False),
    "part.intent_recorded": ("part", False),
    "part.placed": ("part", False),
    "part.committed": ("part", True),
    "complete.before_commit": ("complete", False),
    "complete.committed": ("complete", True),
    "delete.before_commit": ("delete", False),
    "delete.committed": ("delete", True),
    "janitor.claimed": ("janitor.claimed", False),
    "janitor.removed": ("janitor.removed", True),
}
# Steps of SQLite's group commit, reached only by a batch of two or more concurrent writers: covered
# by their own suite, test_group_commit_crash.py.
OTHER_SUITES = {"batch.before_commit": "test_group_commit_crash.py", "batch.committed": "test_group_commit_crash.py"}
# Steps also run with `error-once`.
ERROR_STEPS = ("put.placed", "inline.staged", "part.placed", "complete.before_commit", "delete.before_commit", "janitor.removed")

STEPS = parse_steps()
assert STEPS, "failpoint.rs lists no steps"
CASES = [(step, "exit") for step in STEPS if step not in OTHER_SUITES] + [
    (step, "error") for step in ERROR_STEPS if step in STEPS
]


def test_every_failpoint_step_has_a_scenario():
    """The steps in failpoint.rs and the scenarios here are the same set (a new step, or a renamed
    one, needs a scenario; an error variant must name a real step)."""
    assert set(STEPS) == set(SCENARIOS) | set(OTHER_SUITES), (
        f"failpoint.rs STEPS and this module's scenarios differ: only in failpoint.rs "
        f"{sorted(set(STEPS) - set(SCENARIOS))}, only here {sorted(set(SCENARIOS) - set(STEPS))}"
    )
    assert set(ERROR_STEPS) <= set(STEPS), f"error variants of unknown steps: {set(ERROR_STEPS) - set(STEPS)}"


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def failpoints_bin() -> Path:
    raw = os.environ.get("CLOUDVAULT_FAILPOINTS_BIN")
    if not raw:
        pytest.fail(
            "CLOUDVAULT_FAILPOINTS_BIN is not set: it must name the server built with "
            "`cargo build -p cloudvault-s3-api --features failpoints` (scripts/test exports it)",
            pytrace=False,
        )
    path = Path(raw)
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"CLOUDVAULT_FAILPOINTS_BIN={raw}: no such executable file", pytrace=False)
    return path


@pytest.fixture(params=["sqlite", "mysql"])
def server(request, tmp_path_factory, failpoints_bin):
    """A not yet started failpoint server on a fresh data dir and database (named ``server`` so a
    failure report gets its log tail); killed and its database dropped afterwards."""
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"fp-{backend}")
    db_name = None
    if backend == "sqlite":
        database_url = f"sqlite://{workdir / 'metadata.sqlite'}?mode=rwc"
    else:
        db_name = f"cv_e2e_fp_{secrets.token_hex(6)}"
        conn = _mysql_connect()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        conn.close()
        database_url = _mysql_server_url(db_name)
    srv = CloudVaultServer(backend, workdir, database_url, failpoints_bin)
    srv.extra_env.update(
        CLOUDVAULT_STAGING_GRACE_SECS=str(GRACE_S),
        CLOUDVAULT_JANITOR_INTERVAL_SECS=str(JANITOR_S),
        CLOUDVAULT_SHUTDOWN_GRACE_SECS="5",
    )
    try:
        yield srv
    finally:
        srv.kill()
        if db_name is not None:
            conn = _mysql_connect()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{db_name}`")
            conn.close()


def test_unknown_failpoint_refuses_to_start(tmp_path, failpoints_bin):
    """An unknown step or action makes the failpoint build refuse to start (so a case can never arm
    nothing), and the message proves the binary is a failpoint build."""
    srv = CloudVaultServer("sqlite", tmp_path, f"sqlite://{tmp_path / 'metadata.sqlite'}?mode=rwc", failpoints_bin)
    for spec, needle in (("no.such.step=exit", "unknown failpoint step"),
                         (f"{STEPS[0]}=explode", "unknown action")):
        env = srv.server_env()
        env["CLOUDVAULT_FAILPOINTS"] = spec
        try:
            proc = subprocess.run([str(failpoints_bin), "serve"], env=env, capture_output=True, timeout=30,
                                  stdin=subprocess.DEVNULL, cwd=tmp_path)
        except subprocess.TimeoutExpired:
            pytest.fail(f"CLOUDVAULT_FAILPOINTS={spec!r}: the server did not refuse to start within 30 s")
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        assert proc.returncode not in (0, None) and needle in out, (
            f"CLOUDVAULT_FAILPOINTS={spec!r}: exit {proc.returncode}, wanted a refusal naming {needle!r}:\n{out[-2000:]}"
        )


_SESSION = boto3.session.Session()   # one session: its loaded service model makes clients cheap


def one_shot_client(srv: CloudVaultServer, *, read_timeout: float, connect_timeout: float = 2):
    """test_faults.one_shot_client, from one shared session: every request is sent exactly once
    (``total_max_attempts=1``; conftest's ``max_attempts=1`` still retries once), so a request cut
    off by an exit is never re-sent to the restarted server."""
    return _SESSION.client(
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


# ------------------------------------------------------------------------------------------------
# One case
# ------------------------------------------------------------------------------------------------


@dataclass
class Case:
    srv: CloudVaultServer
    step: str
    action: str
    rng: random.Random
    s3: object = None
    probe: object = None
    meta: Optional[Metadata] = None
    log_mark: int = 0
    keep: dict = field(default_factory=dict)      # key -> bytes, acknowledged, never touched again
    old: Optional[bytes] = None                   # target's acknowledged bytes before the operation
    new: Optional[bytes] = None                   # target's bytes once the operation took effect (None: absent)
    upload: Optional[str] = None
    parts: dict = field(default_factory=dict)     # part number -> bytes
    acked_parts: set = field(default_factory=set)  # part numbers acknowledged before the operation

    @property
    def label(self) -> str:
        return f"failpoint[{self.srv.backend}] {self.step}={self.action}"

    def body(self, size: int) -> bytes:
        return self.rng.randbytes(size)

    # -- the process -----------------------------------------------------------------------------

    def spawn(self, armed: Optional[str]) -> None:
        """Starts the process without waiting for it to answer (a janitor step may end it first)."""
        if armed:
            self.srv.extra_env["CLOUDVAULT_FAILPOINTS"] = armed
        else:
            self.srv.extra_env.pop("CLOUDVAULT_FAILPOINTS", None)
        self.log_mark = self.srv.log_path.stat().st_size if self.srv.log_path.exists() else 0
        self.srv.spawn()

    def start(self, armed: Optional[str]) -> None:
        self.spawn(armed)
        wait_up(self.srv, self.probe)
        if self.meta is None:
            self.meta = Metadata(self.srv)

    def stop(self) -> None:
        code = self.srv.stop(timeout=STOP_TIMEOUT_S)
        assert code in (0, -signal.SIGTERM), f"{self.label}: exit {code} on SIGTERM\n{self.srv.log_tail()}"

    def log_since_start(self) -> str:
        with open(self.srv.log_path, "rb") as f:
            f.seek(self.log_mark)
            return f.read().decode(errors="replace")

    def wait_exit(self, timeout: float, what: str) -> None:
        """The armed `exit` failpoint ended the process: status 86, the step named in its log."""
        proc = self.srv.proc
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.srv.kill()
            pytest.fail(f"{self.label}: {what}, but the process was still running {timeout:.0f} s later\n"
                        f"{self.srv.log_tail()}")
        assert code == EXIT_CODE, f"{self.label}: {what}; exit status {code}, wanted {EXIT_CODE}\n{self.srv.log_tail()}"
        assert f"failpoint {self.step}: exiting" in self.log_since_start(), (
            f"{self.label}: exited with {EXIT_CODE} but not at {self.step}\n{self.srv.log_tail()}")

    def expect_crash(self, what: str, op: Callable[[], object]) -> None:
        """``op`` reaches the armed step: for `exit` no answer at all and status 86; for `error` a
        500/503 within the read timeout and a running server."""
        try:
            op()
        except ClientError as e:
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
            if self.action == "exit":
                pytest.fail(f"{self.label}: {what} was answered {status} although the process should have "
                            f"ended before answering\n{self.srv.log_tail()}")
            assert status in (500, 503), f"{self.label}: {what} answered {status}, wanted 500 or 503: {e}"
        except Exception as e:  # noqa: BLE001 - the connection dropped by the exit, or a hang (timeout)
            if self.action == "error":
                pytest.fail(f"{self.label}: {what} got no answer ({e!r}), wanted a 500 or 503\n{self.srv.log_tail()}")
        else:
            pytest.fail(f"{self.label}: {what} succeeded although {self.step} was armed to {self.action}\n"
                        f"{self.srv.log_tail()}")
        if self.action == "exit":
            self.wait_exit(EXIT_WAIT_S, f"{what} lost its connection")
        else:
            assert self.srv.proc.poll() is None, (
                f"{self.label}: the server exited ({self.srv.proc.returncode}) after an `error` failpoint\n"
                f"{self.srv.log_tail()}")
            assert f"failpoint {self.step}" in self.log_since_start(), (
                f"{self.label}: the 5xx did not come from failpoint {self.step}\n{self.srv.log_tail()}")

    def wait_janitor_hit(self) -> None:
        """A janitor step was armed: wait for the janitor to reach it."""
        if self.action == "exit":
            self.wait_exit(JANITOR_WAIT_S, "the janitor had something to sweep")
            return
        deadline = time.monotonic() + JANITOR_WAIT_S
        while f"failpoint {self.step}" not in self.log_since_start():
            assert self.srv.proc.poll() is None, f"{self.label}: the server exited\n{self.srv.log_tail()}"
            if time.monotonic() > deadline:
                pytest.fail(f"{self.label}: the janitor did not reach {self.step} within {JANITOR_WAIT_S:.0f} s\n"
                            f"{self.srv.log_tail()}")
            time.sleep(0.1)
        assert self.srv.proc.poll() is None, f"{self.label}: the server exited after an `error` failpoint"

    # -- S3 --------------------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)

    def put_multipart(self, key: str, data: bytes) -> None:
        """``key`` written by a one-part multipart upload (reaches no put.* step)."""
        upload = self.s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        etag = self.s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=data)["ETag"]
        self.s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})

    def upload_part(self, n: int) -> None:
        self.s3.upload_part(Bucket=BUCKET, Key="target", UploadId=self.upload, PartNumber=n, Body=self.parts[n])

    def complete(self) -> None:
        parts = [{"PartNumber": n, "ETag": f'"{md5_hex(self.parts[n])}"'} for n in sorted(self.parts)]
        self.s3.complete_multipart_upload(Bucket=BUCKET, Key="target", UploadId=self.upload,
                                          MultipartUpload={"Parts": parts})

    def listed_parts(self) -> Optional[dict]:
        """Part number -> ETag of the upload, or None when the upload is gone."""
        try:
            got = self.s3.list_parts(Bucket=BUCKET, Key="target", UploadId=self.upload)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return None
            raise
        return {p["PartNumber"]: p["ETag"] for p in got.get("Parts", [])}

    def listed_keys(self) -> set:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"MaxItems": 1000})
        return {o["Key"] for page in pages for o in page.get("Contents", [])}

    # -- checks ----------------------------------------------------------------------------------

    def snapshot(self) -> dict:
        return self.meta.snapshot()

    def strict_orphans(self, snap: dict) -> list[str]:
        """Files no object or part row names (after a sweep nothing may wait in a queue either)."""
        return orphan_files(self.srv.data_dir, {**snap, "pending": {}, "garbage": {}})

    def sweep(self, t_last_write: float) -> tuple[dict, list[str], float]:
        """Wait for a janitor pass that started after everything left behind was older than the grace
        period, then until nothing is queued, staged or orphaned (bounded); return the last snapshot,
        what is still queued, and how long it took."""
        t0 = time.monotonic()
        not_before = t_last_write + GRACE_S + JANITOR_S + 0.3
        deadline = max(not_before, t0) + SWEEP_TIMEOUT_S
        had_work = False
        while True:
            snap = self.snapshot()
            queued = [f"pending {b}" for b in snap["pending"]] + [f"garbage {b}" for b in snap["garbage"]]
            queued += [f"staging/{f}" for f in staging_files(self.srv.data_dir)]
            clean = not queued and not self.strict_orphans(snap)
            had_work = had_work or not clean
            now = time.monotonic()
            # Clean after there was something to sweep: a pass past the grace period did it. Clean
            # from the start: still wait for such a pass (it must not remove anything live).
            if (clean and (had_work or now >= not_before)) or now > deadline:
                return snap, queued, now - t0
            assert self.srv.proc.poll() is None, f"{self.label}: the server exited during the sweep\n{self.srv.log_tail()}"
            time.sleep(0.1)

    def target_state(self) -> str:
        seen = observe(self.s3, "target")
        if seen == ABSENT:
            return "absent"
        if self.old is not None and seen == md5_hex(self.old):
            return "old"
        if self.new is not None and seen == md5_hex(self.new):
            return "new"
        if seen.startswith("error"):
            return seen
        return f"other bytes (MD5 {seen})"


# ------------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step,action", CASES, ids=[f"{s}={a}" for s, a in CASES])
def test_failpoint(server, step, action):
    srv = server
    if step not in SCENARIOS:
        pytest.fail(f"failpoint step {step!r} (in {FAILPOINT_RS}) has no scenario in this module")
    family, after_commit = SCENARIOS[step]
    t_case = time.monotonic()
    c = Case(srv, step, action, random.Random(f"{step}-{action}-{srv.backend}"))
    c.s3 = one_shot_client(srv, read_timeout=OP_TIMEOUT_S)
    c.probe = one_shot_client(srv, read_timeout=5, connect_timeout=0.5)
    armed = f"{step}={'exit' if action == 'exit' else 'error-once'}"
    try:
        _run_case(c, family, after_commit, armed)
    finally:
        if c.meta is not None:
            c.meta.close()
    print(f"{c.label}: done in {time.monotonic() - t_case:.1f}s")


def _run_case(c: Case, family: str, after_commit: bool, armed: str) -> None:
    srv, step, action = c.srv, c.step, c.action

    # 1. Seed. UploadPart reaches the part.* steps, so their seed runs in a process without
    # failpoints (then SIGTERM); every other case seeds in the armed process, in a way that reaches
    # no armed step: single-part multipart uploads for put.* (and for janitor.claimed, armed with
    # put.placed first), PutObject otherwise (a fresh key leaves nothing for the janitor).
    first_armed = "put.placed=exit" if family == "janitor.claimed" else armed
    seed_unarmed = family == "part"
    seed_multipart = family in ("put", "inline", "janitor.claimed")
    c.start(None if seed_unarmed else first_armed)
    c.s3.create_bucket(Bucket=BUCKET)
    for i, size in enumerate((1 if seed_multipart else 0, 1500, 70_000)):
        c.keep[f"keep/{i}"] = c.body(size)
    c.old = c.body(40_000)
    for key, data in [*c.keep.items(), ("target", c.old)]:
        if seed_multipart:
            c.put_multipart(key, data)
        else:
            c.put(key, data)
    if family in ("part", "complete"):
        c.upload = c.s3.create_multipart_upload(Bucket=BUCKET, Key="target")["UploadId"]
        c.parts = {1: c.body(PART1), 2: c.body(30_000)}
        c.upload_part(1)
        c.acked_parts.add(1)
        if family == "complete":
            c.upload_part(2)
            c.acked_parts.add(2)
        c.new = c.parts[1] + c.parts[2]
    elif family == "delete":
        c.new = None
    elif family == "inline":
        c.new = c.body(INLINE_BODY)
    else:
        c.new = c.body(60_000)
    if seed_unarmed:
        c.stop()
        c.start(armed)

    # 2. Armed: reach the step.
    residue: list[str] = []
    if family in ("put", "inline"):
        c.expect_crash("PutObject target", lambda: c.put("target", c.new))
    elif family == "part":
        c.expect_crash("UploadPart 2", lambda: c.upload_part(2))
    elif family == "complete":
        c.expect_crash("CompleteMultipartUpload", c.complete)
    elif family == "delete":
        c.expect_crash("DeleteObject target", lambda: c.s3.delete_object(Bucket=BUCKET, Key="target"))
    elif family == "janitor.removed":
        c.put("target", c.new)       # acknowledged: its old blob is garbage for the janitor
        c.wait_janitor_hit()
    elif family == "janitor.claimed":
        # A stale intent first: a PutObject cut at put.placed (blob placed, intent recorded), then a
        # process armed at janitor.claimed, whose janitor claims the intent once it is past the grace.
        saved, c.step = c.step, "put.placed"
        c.expect_crash("PutObject target (to leave a stale intent)", lambda: c.put("target", c.new))
        c.step = saved
        # The janitor's first pass runs at start-up and may claim the (already stale) intent before
        # the process answers its first request: do not wait for it to be up.
        c.spawn(armed)
        c.wait_janitor_hit()
    else:
        raise AssertionError(family)
    t_crash = time.monotonic()
    if action == "exit":
        residue = crash_residue(c, family)
        c.start(None)

    # 3. One sweep past the grace period, then the four numbers.
    snap, queued, sweep_s = c.sweep(t_crash)
    lost: list[str] = []
    partial: list[str] = []
    for key, data in c.keep.items():
        seen = observe(c.s3, key)
        if seen != md5_hex(data):
            (lost if seen == ABSENT or seen.startswith("error") else partial).append(f"{key}: {seen}")
    state = c.target_state()
    promised = {
        "put": "new" if after_commit else "old",
        "inline": "new" if after_commit else "old",
        "part": "old",
        "complete": "new" if after_commit else "old",
        "delete": "absent" if after_commit else "old",
        "janitor.claimed": "old",
        "janitor.removed": "new",
    }[family]
    # The states the key may be in at all: its acknowledged one, and the operation's outcome unless
    # that operation was acknowledged itself (janitor.removed: the overwrite got its 200).
    allowed = {"new"} if family == "janitor.removed" else {"old", "absent" if family == "delete" else "new"}
    if state not in allowed:
        if state.startswith("other bytes"):
            partial.append(f"target: {state}, none of the bodies sent")
        else:
            lost.append(f"target: {state} (allowed {sorted(allowed)})")
    wrong_state = [] if state == promised or state not in allowed else [
        f"target is {state}, the protocol promises {promised} after a crash at {step}"]
    if c.upload is not None:
        parts = c.listed_parts()
        want_parts = set(c.acked_parts)
        if family == "part" and after_commit:
            want_parts.add(2)
        if family == "complete" and after_commit:
            if parts is not None:
                wrong_state.append(f"upload still open after its commit (parts {sorted(parts)})")
        elif parts is None:
            lost.append(f"upload {c.upload} gone (acknowledged parts {sorted(c.acked_parts)})")
        else:
            for n in sorted(want_parts):
                if parts.get(n) != f'"{md5_hex(c.parts[n])}"':
                    (lost if n in c.acked_parts else wrong_state).append(f"part {n}: {parts.get(n)} (wanted its MD5)")
            extra = set(parts) - want_parts
            if extra:
                wrong_state.append(f"parts {sorted(extra)} listed, the protocol promises only {sorted(want_parts)}")
    want_listed = set(c.keep) | ({"target"} if state in ("old", "new") else set())
    listed = c.listed_keys()
    lost += [f"{k}: readable but not listed" for k in sorted(want_listed - listed)]
    partial += [f"{k}: listed but never written" for k in sorted(listed - want_listed - {"target"})]
    if "target" in listed and "target" not in want_listed:
        lost.append(f"target listed but reads as {state}")
    rows = rows_without_blob(srv.data_dir, snap, check_md5=True)
    orphans = c.strict_orphans(snap)
    summary = (f"{c.label}: lost_or_changed={len(lost)} partial={len(partial)} "
               f"rows_without_blob={len(rows)} orphan_files={len(orphans)}")
    print(f"\n{summary}")

    def listing(items: list) -> str:
        return "".join(f"\n  {x}" for x in items[:10]) or " none"

    problems = lost or partial or rows or orphans or queued or wrong_state or residue
    if problems:
        pytest.fail(
            f"{summary}\nlost_or_changed:{listing(lost)}\npartial:{listing(partial)}\n"
            f"rows_without_blob:{listing(rows)}\norphan_files:{listing(orphans)}\n"
            f"still queued/staged {sweep_s:.1f} s into the sweep:{listing(queued)}\n"
            f"promised state:{listing(wrong_state)}\ncrash residue (protocol.rs):{listing(residue)}\n"
            f"server log: {srv.log_path}\n{srv.log_tail()}",
            pytrace=False,
        )

    # 4. The operation, where it did not take effect, retried: it succeeds and ends in the new state.
    if family in ("put", "inline", "janitor.claimed") and not after_commit:
        c.put("target", c.new)
    elif family == "part":
        if not after_commit:
            c.upload_part(2)
        c.complete()
    elif family == "complete" and not after_commit:
        c.complete()
    elif family == "delete" and not after_commit:
        c.s3.delete_object(Bucket=BUCKET, Key="target")
    final = c.target_state()
    want = "absent" if family == "delete" else "new"
    assert final == want, f"{c.label}: after the retry target is {final}, wanted {want}"
    if c.upload is not None:
        assert c.listed_parts() is None, f"{c.label}: upload still open after CompleteMultipartUpload"
    rows = rows_without_blob(srv.data_dir, c.snapshot(), check_md5=True)
    assert not rows, f"{c.label}: rows without blob after the retry:{listing(rows)}"
    assert srv.proc.poll() is None, f"{c.label}: the server exited\n{srv.log_tail()}"


def crash_residue(c: Case, family: str) -> list[str]:
    """With the process gone, what protocol.rs says a crash at ``c.step`` leaves behind; returns the
    differences."""
    snap = c.snapshot()
    data = c.srv.data_dir
    staged = staging_files(data)
    pending = set(snap["pending"])
    garbage = set(snap["garbage"])
    live = referenced_blobs(snap)
    placed = {p.name for d in (data / "blobs").iterdir() if d.is_dir() for p in d.iterdir()} - live
    problems = []

    def want(cond: bool, what: str) -> None:
        if not cond:
            problems.append(f"{what} (pending={sorted(pending)} garbage={sorted(garbage)} "
                            f"staging={staged} unreferenced blobs={sorted(placed)})")

    phase = c.step.split(".", 1)[1]
    if family in ("put", "part"):
        if phase == "staged":
            want(len(staged) == 1 and not pending, "a staging file and no intent")
        elif phase == "intent_recorded":
            want(len(staged) == 1 and pending == set(staged), "a staging file named by its intent")
        elif phase == "placed":
            want(not staged and len(pending) == 1 and pending <= placed, "a placed blob named by its intent")
        else:
            want(not staged and not pending, "no staging file and no intent (the commit claimed it)")
            if family == "put":
                want(len(garbage) == 1, "the replaced blob queued as garbage")
    elif family == "inline":
        inline = set(snap["inline"])
        want(not staged and not pending, "no staging file and no intent (an inline write has neither)")
        if phase == "staged":
            want(inline <= live and not garbage, "no inline row but the live objects', nothing queued")
        else:
            target = [m for k, m in snap["objects"] if k == "target"]
            ids = {b for m in target for b, _, _ in parse_manifest(m)}
            want(len(ids) == 1 and ids <= inline and len(garbage) == 1,
                 "the target names its inline row, the replaced blob queued as garbage")
    elif family == "complete":
        uploads = c.meta.query("SELECT upload_id FROM multipart_uploads")
        if phase == "before_commit":
            want(len(uploads) == 1 and not garbage, "the upload still open, nothing queued")
        else:
            want(not uploads and len(garbage) == 1, "the upload gone, the replaced object's blob queued")
    elif family == "delete":
        keys = {k for k, _ in snap["objects"]}
        if phase == "before_commit":
            want("target" in keys and not garbage, "the object row still there, nothing queued")
        else:
            want("target" not in keys and len(garbage) == 1, "the object row gone, its blob queued")
    elif family == "janitor.claimed":
        want(not pending and len(garbage) == 1 and garbage <= placed,
             "the intent claimed: no intent, its blob queued as garbage and still on disk")
    elif family == "janitor.removed":
        want(len(garbage) == 1 and not (garbage & placed) and not placed,
             "the garbage row still there, its file already removed")
    return problems
