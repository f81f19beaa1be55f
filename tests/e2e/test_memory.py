"""Memory: a 256 MiB object must stream through CloudVault, not sit in its memory.

The test never holds the object either: the upload body is generated block by block
(``GeneratedBody``, signed with UNSIGNED-PAYLOAD) and the download is hashed as it arrives.
While the transfers run, a thread samples the server's VmRSS from /proc/<pid>/status.
Deselect with ``-m "not memory"``.
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from conftest import GeneratedBody

MiB = 1024 * 1024
OBJECT_SIZE = 256 * MiB
MAX_GROWTH = 64 * MiB


class RssSampler(threading.Thread):
    """Samples a process's RSS every 10 ms and remembers the peak."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                self.peak = max(self.peak, self.server.rss_bytes())
                self.samples += 1
            except (OSError, AssertionError):
                return  # the process went away; the transfer will fail loudly on its own
            time.sleep(0.01)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak


@pytest.mark.memory
@pytest.mark.slow
def test_256mib_object_streams_with_bounded_memory(server, bucket, capsys):
    """PUT then GET a 256 MiB object: the MD5s match and the server's RSS grows by < 64 MiB."""
    # Warm up code paths and pools with a small round trip, then take the idle baseline.
    warm = server.request("PUT", f"/{bucket}/warmup", body=b"w" * 100_000)
    assert warm.status_code == 200, warm.text
    assert server.request("GET", f"/{bucket}/warmup").content == b"w" * 100_000
    time.sleep(0.5)
    baseline = max(server.rss_bytes() for _ in range(5))

    # Upload, streamed from a generator.
    sampler = RssSampler(server)
    sampler.start()
    body = GeneratedBody(OBJECT_SIZE, seed=256)
    started = time.monotonic()
    put = server.request("PUT", f"/{bucket}/big.bin", body=body, timeout=120)
    put_seconds = time.monotonic() - started
    put_peak = sampler.stop()
    assert put.status_code == 200, f"{put.status_code} {put.text[:500]}"
    uploaded_md5 = body.hexdigest()
    assert put.headers.get("ETag") == f'"{uploaded_md5}"'

    head = server.s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == OBJECT_SIZE

    # Download, hashed as it streams; pause after the first MiB so a server that reads ahead
    # without back-pressure would show it in its RSS.
    sampler = RssSampler(server)
    sampler.start()
    started = time.monotonic()
    resp = server.request("GET", f"/{bucket}/big.bin", stream=True, timeout=120)
    assert resp.status_code == 200, resp.text[:500]
    md5 = hashlib.md5()
    received = 0
    paused = False
    for chunk in resp.iter_content(chunk_size=MiB):
        md5.update(chunk)
        received += len(chunk)
        if not paused and received >= MiB:
            time.sleep(1.5)
            paused = True
    get_seconds = time.monotonic() - started
    get_peak = sampler.stop()

    growth = max(put_peak, get_peak) - baseline
    with capsys.disabled():
        print(
            f"\n[memory:{server.backend}] baseline {baseline / MiB:.1f} MiB, "
            f"peak during PUT {put_peak / MiB:.1f} MiB ({put_seconds:.1f}s), "
            f"peak during GET {get_peak / MiB:.1f} MiB ({get_seconds:.1f}s), "
            f"growth {growth / MiB:.1f} MiB (limit {MAX_GROWTH / MiB:.0f})"
        )
    server.s3.delete_object(Bucket=bucket, Key="big.bin")  # don't leave 256 MiB in /tmp
    assert received == OBJECT_SIZE
    assert md5.hexdigest() == uploaded_md5, "downloaded bytes differ from uploaded bytes"
    assert growth < MAX_GROWTH, (
        f"server RSS grew by {growth / MiB:.1f} MiB over an idle baseline of {baseline / MiB:.1f} MiB "
        f"while moving a {OBJECT_SIZE // MiB} MiB object (limit {MAX_GROWTH // MiB} MiB)"
    )
