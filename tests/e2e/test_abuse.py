"""Connections an attacker holds open, with no credentials: every listener (S3, API, console) cuts them.

The servers run with short limits so the suite stays quick (the defaults are 20 s header, 60 s idle,
30 s body, 4096 connections; see the README):

* ``CLOUDVAULT_HEADER_TIMEOUT_SECS=2``: a request head sent one byte per second is cut within the
  header timeout, on the S3, API and console listeners;
* ``CLOUDVAULT_IDLE_TIMEOUT_SECS=3``: 500 idle S3 connections and 300 idle API connections are all
  closed by the server (counted from the client side, and the server's open descriptors return to
  their idle figure);
* ``CLOUDVAULT_BODY_TIMEOUT_SECS=3``: a signed PUT whose body stalls is cut, stores nothing and
  leaves no staging file;
* with 1,000 idle connections open (default limits), an authenticated client still gets its PUTs and
  GETs answered;
* ``CLOUDVAULT_MAX_CONNECTIONS=20``: past the cap a new connection waits (it is answered once the
  idle ones are cut) and the process keeps running.

Connection handling does not depend on the metadata backend, so these run on SQLite only.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from contextlib import ExitStack

import pytest

from conftest import free_port, quote_key, running_server
from test_console_ui import CONSOLE_DIST, ConsoleProcess

HEADER_S = 2
IDLE_S = 3
BODY_S = 3
SHORT_LIMITS = {
    "CLOUDVAULT_HEADER_TIMEOUT_SECS": str(HEADER_S),
    "CLOUDVAULT_IDLE_TIMEOUT_SECS": str(IDLE_S),
    "CLOUDVAULT_BODY_TIMEOUT_SECS": str(BODY_S),
}


def _raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _eof_within(s: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``s`` before ``deadline`` (reading and discarding any answer)."""
    try:
        while True:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            if s.recv(65536) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """A server with short limits, and a console process in front of its API with the same limits."""
    env = dict(SHORT_LIMITS, CLOUDVAULT_CONSOLE_DIR=str(CONSOLE_DIST))
    with running_server("sqlite", tmp_path_factory, extra_env=lambda _srv: env) as srv:
        console = ConsoleProcess(srv.binary, tmp_path_factory.mktemp("abuse-console"), srv.api, free_port(),
                                 extra_env=SHORT_LIMITS)
        try:
            yield srv, console
        finally:
            console.stop()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_idle_connections_are_closed_within_the_idle_timeout(short):
    """500 S3 keep-alive connections that made one request and went quiet (the idle timeout), and 300
    API connections that never sent a byte (the first-request header timeout)."""
    srv, _console = short
    _raise_fd_limit(4096)
    idle_fds = _open_fds(srv.pid)
    rss_before = srv.rss_bytes()
    with ExitStack() as stack:
        s3 = [stack.enter_context(_connect(_port(srv.endpoint))) for _ in range(500)]
        for s in s3:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        api = [stack.enter_context(_connect(_port(srv.api))) for _ in range(300)]
        time.sleep(0.3)
        held = _open_fds(srv.pid)
        rss_held = srv.rss_bytes()
        deadline = time.monotonic() + max(HEADER_S, IDLE_S) + 3
        closed_s3 = sum(_eof_within(s, deadline) for s in s3)
        closed_api = sum(_eof_within(s, deadline) for s in api)
    assert (closed_s3, closed_api) == (500, 300), (
        f"closed by the server within {max(HEADER_S, IDLE_S) + 3} s: {closed_s3}/500 S3, {closed_api}/300 API")
    time.sleep(0.5)
    after = _open_fds(srv.pid)
    print(f"fds: idle {idle_fds}, with the connections open {held}, after {after}; RSS {rss_before >> 20} -> "
          f"{rss_held >> 20} MiB")
    assert after <= idle_fds + 5, f"the server's descriptors return to idle: {after} vs {idle_fds}"


@pytest.mark.parametrize("listener", ["s3", "api", "console"])
def test_a_header_sent_one_byte_per_second_is_cut(short, listener):
    srv, console = short
    port = {"s3": _port(srv.endpoint), "api": _port(srv.api), "console": console.port}[listener]
    s = _connect(port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    cut = False
    while time.monotonic() - started < HEADER_S + 6:
        try:
            s.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            cut = True
            break
        if _eof_within(s, time.monotonic() + 1.0):
            cut = True
            break
    elapsed = time.monotonic() - started
    s.close()
    assert cut, f"{listener}: a header trickling one byte per second was still open after {elapsed:.1f} s"
    assert elapsed < HEADER_S + 3, f"{listener}: cut after {elapsed:.1f} s (header timeout {HEADER_S} s)"


def _staging_files(srv) -> list[str]:
    staging = srv.data_dir / "staging"
    return [n for n in os.listdir(staging) if not n.startswith(".")] if staging.is_dir() else []


def test_a_stalled_put_body_is_cut_and_leaves_nothing(short):
    srv, _console = short
    s3 = srv.s3
    s3.create_bucket(Bucket="stall")
    path = "/stall/" + quote_key("stalled")
    url = srv.endpoint + path
    size = 1024 * 1024
    headers = srv.sign_headers("PUT", url, {"Content-Length": str(size)}, b"", payload_hash="UNSIGNED-PAYLOAD")
    s = _connect(_port(srv.endpoint))
    head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{_port(srv.endpoint)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    s.sendall(head.encode() + b"x" * (100 * 1024))
    time.sleep(0.5)
    assert _staging_files(srv), "the upload is being staged"
    started = time.monotonic()
    s.settimeout(BODY_S + IDLE_S + 5)
    answer = b""
    try:
        while chunk := s.recv(4096):
            answer += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    elapsed = time.monotonic() - started
    s.close()
    assert elapsed < BODY_S + 4, f"the stalled body was cut after {elapsed:.1f} s (body timeout {BODY_S} s)"
    assert b"RequestTimeout" in answer or answer == b"", f"answer to the stalled PUT: {answer[:300]!r}"
    time.sleep(0.3)
    assert _staging_files(srv) == [], "the stalled upload's staging file is removed"
    listed = s3.list_objects_v2(Bucket="stall")
    assert listed.get("KeyCount", 0) == 0, "nothing was stored"


@pytest.fixture(scope="module")
def default_limits(tmp_path_factory):
    with running_server("sqlite", tmp_path_factory) as srv:
        yield srv


def test_gets_are_answered_with_1000_idle_connections_open(default_limits):
    srv = default_limits
    _raise_fd_limit(4096)
    s3 = srv.s3
    s3.create_bucket(Bucket="busy")
    rss_idle = srv.rss_bytes()
    with ExitStack() as stack:
        for _ in range(1000):
            stack.enter_context(_connect(_port(srv.endpoint)))
        rss_held = srv.rss_bytes()
        started = time.monotonic()
        for i in range(20):
            body = f"object {i}".encode()
            s3.put_object(Bucket="busy", Key=f"k{i}", Body=body)
            assert s3.get_object(Bucket="busy", Key=f"k{i}")["Body"].read() == body
        elapsed = time.monotonic() - started
    print(f"20 PUT+GET with 1000 idle connections open: {elapsed:.2f} s; RSS {rss_idle >> 20} -> {rss_held >> 20} MiB")
    assert elapsed < 10, f"authenticated requests were starved: {elapsed:.1f} s for 20 PUT+GET"
    assert rss_held - rss_idle < 64 * 1024 * 1024, "1000 idle connections cost under 64 MiB"


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    env = {"CLOUDVAULT_MAX_CONNECTIONS": "20", "CLOUDVAULT_HEADER_TIMEOUT_SECS": str(HEADER_S)}
    with running_server("sqlite", tmp_path_factory, extra_env=lambda _srv: env) as srv:
        yield srv


def test_past_the_connection_cap_new_connections_wait_and_the_process_survives(capped):
    srv = capped
    with ExitStack() as stack:
        for _ in range(60):  # three times the cap: the rest wait in the accept queue
            stack.enter_context(_connect(_port(srv.endpoint)))
        started = time.monotonic()
        resp = srv.request("GET", "/", timeout=30)
        elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.text[:300]
    assert srv.proc.poll() is None, "the server is still running"
    assert elapsed < 3 * HEADER_S + 6, f"the waiting connection was served after {elapsed:.1f} s"
    print(f"a request queued behind 60 idle connections (cap 20) was answered after {elapsed:.2f} s")
