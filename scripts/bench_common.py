"""What the benchmark scripts share: a free port, timing rounds, a signed GET timed without any XML
parsing on our side, and waiting for a server to answer."""

from __future__ import annotations

import socket
import statistics
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(call, rounds: int) -> tuple[float, float, object]:
    """(median seconds, best seconds, last result) of `rounds` calls."""
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), result


def signed_get(session, port: int, key: str, secret: str, path_query: str) -> bytes:
    """One SigV4-signed GET of `path_query` (already percent-encoded) over plain HTTP."""
    url = f"http://127.0.0.1:{port}/{path_query}"
    request = AWSRequest(method="GET", url=url)
    request.headers["x-amz-content-sha256"] = EMPTY_SHA256
    SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    resp = session.get(url, headers=dict(request.headers), timeout=120)
    resp.raise_for_status()
    return resp.content


def wait_until_up(s3, timeout: float = 30) -> None:
    """Until a signed ListBuckets succeeds."""
    deadline = time.time() + timeout
    while True:
        try:
            s3.list_buckets()
            return
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
