"""A write that stalls between recording its intent and its durable rename for longer than the
janitor's grace period (a stopped process, a slow disk, or under clock skew any write of another
replica, whose intents all look stale to it): the janitor claims the intent and removes its file.
The write must then fail with 503 ServiceUnavailable (nothing stored, retry), never a 500; the key
keeps its acknowledged state; nothing is left on disk or queued once the janitor has passed; and a
retry succeeds with the new bytes.

Forced with the failpoint build (``CLOUDVAULT_FAILPOINTS_BIN``, as test_failpoints.py):
``<step>=pause-once:<ms>`` stalls the step once for longer than grace + janitor interval (1 s each).
Both steps that come between the intent and the rename are covered: ``put.intent_recorded``
(PutObject) and ``part.intent_recorded`` (UploadPart). Before the fix this answered 500 "data
volume: No such file or directory": the rename found its staging file removed by the janitor.
Both backends.
"""

from __future__ import annotations

import random
import time

import pytest
from botocore.exceptions import ClientError

from conftest import md5_hex
from test_failpoints import GRACE_S, JANITOR_S, OP_TIMEOUT_S, SWEEP_TIMEOUT_S, one_shot_client
from test_failpoints import failpoints_bin, server  # noqa: F401 - fixtures
from test_faults import BUCKET, Metadata, observe, orphan_files, rows_without_blob, staging_files

STALL_MS = int((GRACE_S + 2 * JANITOR_S + 1) * 1000)  # the janitor claims and removes within the stall


def wait_swept(srv, meta: Metadata) -> list[str]:
    """Polls (bounded) until no intent, garbage row, staging file or unnamed file is left; returns
    what is still left at the deadline (empty: swept)."""
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while True:
        snap = meta.snapshot()
        left = [f"pending {b}" for b in snap["pending"]] + [f"garbage {b}" for b in snap["garbage"]]
        left += [f"staging/{f}" for f in staging_files(srv.data_dir)]
        left += orphan_files(srv.data_dir, {**snap, "pending": {}, "garbage": {}})
        left += rows_without_blob(srv.data_dir, snap, check_md5=True)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def expect_stalled_503(srv, step: str, what: str, op) -> None:
    t0 = time.monotonic()
    with pytest.raises(ClientError) as failed:
        op()
    took = time.monotonic() - t0
    err = failed.value.response
    got = (err["ResponseMetadata"]["HTTPStatusCode"], err.get("Error", {}).get("Code"))
    assert got == (503, "ServiceUnavailable"), (
        f"{what} stalled {STALL_MS} ms at {step} answered {got} {err.get('Error')}, wanted 503 "
        f"ServiceUnavailable\n{srv.log_tail(30)}")
    assert took * 1000 >= STALL_MS * 0.9, f"{what} answered after {took:.1f}s: the failpoint did not stall it"
    assert "stalled past the cleanup grace period" in err.get("Error", {}).get("Message", ""), err.get("Error")
    log = srv.log_path.read_text(errors="replace")
    assert f"failpoint {step}: pausing" in log, f"the failpoint did not fire\n{log[-2000:]}"


@pytest.mark.parametrize("step", ["put.intent_recorded", "part.intent_recorded"])
def test_write_stalled_past_the_grace_answers_503_and_leaves_nothing(server, step):  # noqa: F811
    srv = server
    srv.extra_env["CLOUDVAULT_FAILPOINTS"] = f"{step}=pause-once:{STALL_MS}"
    srv.start()
    s3 = one_shot_client(srv, read_timeout=OP_TIMEOUT_S + STALL_MS / 1000)
    rng = random.Random(f"stall-{step}-{srv.backend}")
    old, new = rng.randbytes(40_000), rng.randbytes(60_000)
    s3.create_bucket(Bucket=BUCKET)
    meta = Metadata(srv)
    try:
        if step.startswith("put."):
            # Seeded by a one-part multipart upload, which reaches no put.* step.
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key="target")["UploadId"]
            etag = s3.upload_part(Bucket=BUCKET, Key="target", UploadId=upload, PartNumber=1, Body=old)["ETag"]
            s3.complete_multipart_upload(Bucket=BUCKET, Key="target", UploadId=upload,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
            expect_stalled_503(srv, step, "PutObject",
                               lambda: s3.put_object(Bucket=BUCKET, Key="target", Body=new))
            assert observe(s3, "target") == md5_hex(old), "the stalled PUT changed the key"
            left = wait_swept(srv, meta)
            assert not left, f"left after the janitor passed: {left}"
            etag = s3.put_object(Bucket=BUCKET, Key="target", Body=new)["ETag"]
            assert etag == f'"{md5_hex(new)}"'
        else:
            s3.put_object(Bucket=BUCKET, Key="target", Body=old)  # reaches no part.* step
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key="target")["UploadId"]
            expect_stalled_503(srv, step, "UploadPart", lambda: s3.upload_part(
                Bucket=BUCKET, Key="target", UploadId=upload, PartNumber=1, Body=new))
            parts = s3.list_parts(Bucket=BUCKET, Key="target", UploadId=upload).get("Parts", [])
            assert parts == [], f"the stalled part is listed: {parts}"
            left = wait_swept(srv, meta)
            assert not left, f"left after the janitor passed: {left}"
            etag = s3.upload_part(Bucket=BUCKET, Key="target", UploadId=upload, PartNumber=1, Body=new)["ETag"]
            assert etag == f'"{md5_hex(new)}"'
            s3.complete_multipart_upload(Bucket=BUCKET, Key="target", UploadId=upload,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
        assert observe(s3, "target") == md5_hex(new), "the retried write did not take effect"
        assert srv.proc.poll() is None, f"the server exited\n{srv.log_tail()}"
    finally:
        meta.close()
