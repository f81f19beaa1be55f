"""SQLite's group commit crashed in the middle of a batch (issue 14): no acknowledged write is lost,
nothing unacknowledged is half there, and a batch is all or nothing.

The failpoint build (``CLOUDVAULT_FAILPOINTS_BIN``) hits the steps ``batch.before_commit`` (the batch
is about to COMMIT; none of its members has been answered) and ``batch.committed`` (the COMMIT
returned; still no member answered) only for a batch of at least two members
(``s3-api/src/engine/failpoint.rs``, ``batch_hook``). Each case arms one of them with ``exit-once``
on a fresh SQLite server, and 16 client threads PUT distinct keys (bodies of 1-40 KB, so both inline
and file-backed objects) until the process exits at that step (status 86, the step in its log).
Then the server is started again without failpoints, and:

* every PUT answered 200 reads back byte-identical;
* every PUT not answered is absent or has exactly the bytes sent (never torn or mixed);
* before the COMMIT: at least two unanswered PUTs (the batch's members) are absent;
  after it: at least two unanswered PUTs are present (the batch committed, though none was answered);
* no object row names a missing blob file or inline row (``test_faults.rows_without_blob``).

Bounded: each case stops its writers after 20 s or 4,000 PUTs, and fails if the step was not hit.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import CloudVaultServer, md5_hex
from test_faults import Metadata, one_shot_client, rows_without_blob, wait_up
from test_failpoints import EXIT_CODE, failpoints_bin  # noqa: F401 - the fixture

BUCKET = "batch"
THREADS = 16
MAX_PUTS = 4000
WRITE_BUDGET_S = 20.0


@pytest.fixture
def srv(tmp_path, failpoints_bin):  # noqa: F811 - the imported fixture
    server = CloudVaultServer("sqlite", tmp_path, f"sqlite://{tmp_path / 'metadata.sqlite'}?mode=rwc",
                              failpoints_bin)
    server.extra_env.update(CLOUDVAULT_SHUTDOWN_GRACE_SECS="5", CLOUDVAULT_GROUP_COMMIT_WAIT_MS="10")
    try:
        yield server
    finally:
        server.kill()


def write_until_exit(srv: CloudVaultServer) -> tuple[dict, dict, list]:
    """16 threads PUT distinct keys until the process is gone; returns (answered 200, unanswered, errors
    answered before the crash), the first two key -> bytes."""
    acked, unanswered, errors, lock = {}, {}, [], threading.Lock()
    stop = threading.Event()
    counter = iter(range(MAX_PUTS))

    def writer(tid: int) -> None:
        client = one_shot_client(srv, read_timeout=10, connect_timeout=1)
        rng = random.Random(tid)
        deadline = time.monotonic() + WRITE_BUDGET_S
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            key, body = f"k/{n:05d}", rng.randbytes(rng.choice((1_000, 4_000, 15_000, 40_000)))
            try:
                client.put_object(Bucket=BUCKET, Key=key, Body=body)
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                with lock:
                    errors.append(f"PUT {key} answered {status} before the crash: {e}")
                stop.set()
                return
            except Exception:  # noqa: BLE001 - the connection died with the process
                with lock:
                    unanswered[key] = body
                stop.set()
                return
            with lock:
                acked[key] = body

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WRITE_BUDGET_S + 15)
    return acked, unanswered, errors


@pytest.mark.parametrize("step", ["batch.before_commit", "batch.committed"])
def test_a_crash_mid_batch_loses_nothing_acknowledged_and_shows_nothing_partial(srv, step):
    srv.extra_env["CLOUDVAULT_FAILPOINTS"] = f"{step}=exit-once"
    srv.spawn()
    probe = one_shot_client(srv, read_timeout=5, connect_timeout=0.5)
    wait_up(srv, probe)
    probe.create_bucket(Bucket=BUCKET)
    acked, unanswered, errors = write_until_exit(srv)
    assert not errors, errors[:5]
    try:
        code = srv.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{step}: the process still runs after {len(acked)} PUTs; the step was never hit\n"
                    f"{srv.log_tail()}")
    assert code == EXIT_CODE, f"{step}: exit {code}, wanted {EXIT_CODE}\n{srv.log_tail()}"
    assert f"failpoint {step}: exiting" in Path(srv.log_path).read_text(errors="replace"), srv.log_tail()

    srv.extra_env.pop("CLOUDVAULT_FAILPOINTS")
    srv.spawn()
    wait_up(srv, probe)
    lost, partial, present, absent = [], [], [], []
    for key, body in acked.items():
        got = probe.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        if got != body:
            lost.append(f"{key}: {len(got)} bytes, MD5 {md5_hex(got)[:8]} != acknowledged {md5_hex(body)[:8]}")
    for key, body in unanswered.items():
        try:
            got = probe.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NoSuchKey", f"{key}: {e}"
            absent.append(key)
            continue
        (present if got == body else partial).append(key)
    meta = Metadata(srv)
    try:
        broken = rows_without_blob(srv.data_dir, meta.snapshot(), check_md5=True)
    finally:
        meta.close()
    report = (f"{step}: {len(acked)} PUTs acknowledged, {len(unanswered)} unanswered "
              f"({len(present)} present, {len(absent)} absent, {len(partial)} partial)")
    print(report)
    assert not lost, report + "\nacknowledged writes lost:\n  " + "\n  ".join(lost[:20])
    assert not partial, report + f"\nunanswered writes half there: {partial[:20]}"
    assert not broken, report + "\nrows without their blob:\n  " + "\n  ".join(broken[:20])
    if step == "batch.before_commit":
        assert len(absent) >= 2, report + ": the crashed batch's members must be absent"
    else:
        assert len(present) >= 2, report + ": the committed batch's members must be there, unanswered"
    assert srv.stop(sig=signal.SIGTERM) in (0, -signal.SIGTERM)
