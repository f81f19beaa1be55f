"""Helpers for the multi-process suites: replicas, HAProxy, a private MariaDB, Prometheus text.

Used by ``test_scaleout.py`` (several ``cloudvault serve`` replicas on one MySQL database and one
data dir, behind HAProxy) and ``test_db_outage.py`` (a CloudVault whose private MariaDB is killed
and restarted). Every process here is started by the test, signalled by its own pid and never by
name: the machine's shared MariaDB on 3306 and other people's servers are never touched.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import (
    DEFAULT_BIN,
    REGION,
    CloudVaultServer,
    _mysql_connect,
    _mysql_server_url,
    free_port,
    run,
)

# ------------------------------------------------------------------------------------------------
# Shared database on the test MariaDB (CLOUDVAULT_TEST_MYSQL_URL)
# ------------------------------------------------------------------------------------------------


def socket_path(preferred: Path) -> Path:
    """``preferred``, or a path in a new short temp dir when it is too long for a Unix socket
    (108 bytes, e.g. under a deep --basetemp)."""
    if len(str(preferred)) < 100:
        return preferred
    return Path(tempfile.mkdtemp(prefix="cv-sock-")) / preferred.name


def server_binary() -> Path:
    return Path(os.environ.get("CLOUDVAULT_BIN", str(DEFAULT_BIN)))


@contextlib.contextmanager
def fresh_mysql_database(prefix: str = "cv_e2e") -> Iterator[tuple[str, str]]:
    """Create an empty ``<prefix>_<hex>`` database on the test MariaDB; yield (name, server URL);
    drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    conn = _mysql_connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    conn.close()
    try:
        yield name, _mysql_server_url(name)
    finally:
        conn = _mysql_connect()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def mysql_query(sql: str, args: Sequence = (), *, database: Optional[str] = None) -> list[tuple]:
    """Run one query on the test MariaDB (optionally in ``database``) and return all rows."""
    conn = _mysql_connect()
    try:
        if database:
            conn.select_db(database)
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------
# boto3 clients for arbitrary endpoints (HAProxy)
# ------------------------------------------------------------------------------------------------


def s3_client(endpoint: str, access_key: str, secret_key: str, *, read_timeout: float = 60,
              connect_timeout: float = 5, **config):
    """A boto3 S3 client like ``CloudVaultServer.client`` (path style, no retries) for any endpoint."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            **config,
        ),
    )


# ------------------------------------------------------------------------------------------------
# A replica: CloudVaultServer + API listener, shared data dir, shared credentials
# ------------------------------------------------------------------------------------------------


class Replica(CloudVaultServer):
    """One ``cloudvault serve`` of a group: its own S3 and API ports (127.0.0.1) and log, but the
    group's database, data dir, root credentials and (optionally) CLOUDVAULT_MASTER_KEY."""

    def __init__(self, name: str, workdir: Path, *, data_dir: Path, database_url: str,
                 access_key: str, secret_key: str, master_key: Optional[str],
                 shutdown_grace_secs: int = 10, binary: Optional[Path] = None):
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__("mysql", workdir, database_url, binary or server_binary())
        self.name = name
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.access_key = access_key
        self.secret_key = secret_key
        self.master_key = master_key
        self.shutdown_grace_secs = shutdown_grace_secs
        self.api_port = free_port()

    def server_env(self) -> dict:
        env = super().server_env()
        env["CLOUDVAULT_API_ADDR"] = f"127.0.0.1:{self.api_port}"
        env["CLOUDVAULT_SHUTDOWN_GRACE_SECS"] = str(self.shutdown_grace_secs)
        if self.master_key is not None:
            env["CLOUDVAULT_MASTER_KEY"] = self.master_key
        return env

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self.name

    def start(self, *, wait_api: bool = True) -> None:
        """Start and wait until a signed ListBuckets succeeds and (``wait_api``) /readyz is 200."""
        self.spawn()
        self.wait_ready()
        if wait_api:
            self.wait_api_ready()

    # -- API listener ----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def api_get(self, path: str, timeout: float = 10) -> requests.Response:
        return requests.get(self.api_url + path, timeout=timeout)

    def wait_api_ready(self, timeout: float = 30) -> None:
        """Poll GET /readyz until it answers 200 (fail with the last answer and the log tail)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with code {self.proc.returncode}\n{self.log_tail()}")
            try:
                resp = self.api_get("/readyz", timeout=5)
                if resp.status_code == 200:
                    return
                last = f"{resp.status_code} {resp.text[:300]!r}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.2)
        pytest.fail(
            f"{self.name}: GET {self.api_url}/readyz never answered 200 within {timeout}s "
            f"(CLOUDVAULT_API_ADDR=127.0.0.1:{self.api_port}); last: {last}\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        """The log's last lines without Rust backtrace frames (they would push the error out)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        kept, in_backtrace = [], False
        for line in text.splitlines():
            if line.startswith("Stack backtrace:"):
                in_backtrace = True
            elif in_backtrace and not (line.startswith(" ") or line == ""):
                in_backtrace = False
            if not in_backtrace:
                kept.append(line)
        return f"---- last {lines} lines of {self.log_path} (backtrace frames omitted) ----\n" + "\n".join(kept[-lines:])

    def metrics(self) -> "Metrics":
        resp = self.api_get("/metrics")
        assert resp.status_code == 200, f"{self.name}: GET /metrics -> {resp.status_code} {resp.text[:300]!r}"
        return Metrics(resp.text, resp.headers.get("content-type", ""))


def new_group(base: Path, database_url: str, count: int, *, master_key: Optional[str] = "generate",
              shutdown_grace_secs: int = 10) -> list[Replica]:
    """``count`` replicas sharing ``database_url``, ``base/data``, one root key and (unless
    ``master_key`` is None) one CLOUDVAULT_MASTER_KEY."""
    access_key = "CV" + secrets.token_hex(9).upper()
    secret_key = secrets.token_urlsafe(30)
    if master_key == "generate":
        master_key = secrets.token_urlsafe(32)
    return [
        Replica(f"r{i}", base / f"r{i}", data_dir=base / "data", database_url=database_url,
                access_key=access_key, secret_key=secret_key, master_key=master_key,
                shutdown_grace_secs=shutdown_grace_secs)
        for i in range(count)
    ]


def stop_all(replicas: Sequence[Replica]) -> None:
    """Best-effort teardown: SIGTERM every running replica, SIGKILL what does not exit."""
    for r in replicas:
        if r.proc is not None and r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)
    for r in replicas:
        if r.proc is not None:
            try:
                r.proc.wait(timeout=r.shutdown_grace_secs + 10)
            except subprocess.TimeoutExpired:
                r.kill()


# ------------------------------------------------------------------------------------------------
# Prometheus text format
# ------------------------------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


class Metrics:
    """A parsed /metrics page: samples (name, labels, value) and ``# TYPE`` declarations."""

    def __init__(self, text: str, content_type: str = ""):
        self.text = text
        self.content_type = content_type
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict, float]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3]
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError(f"not a Prometheus sample line: {line!r}")
            labels = {k: v for k, v in _LABEL.findall(m.group(2) or "")}
            self.samples.append((m.group(1), labels, float(m.group(3))))

    def find(self, name: str, **labels: str) -> list[tuple[dict, float]]:
        return [
            (lab, val) for n, lab, val in self.samples
            if n == name and all(lab.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> Optional[float]:
        """Sum of the samples of ``name`` whose labels include ``labels``; None when there is none."""
        found = self.find(name, **labels)
        return sum(v for _, v in found) if found else None

    def names(self) -> set[str]:
        return {n for n, _, _ in self.samples}

    @property
    def openmetrics(self) -> bool:
        return self.content_type.split(";")[0].strip() == "application/openmetrics-text"

    def declared_type(self, name: str) -> Optional[str]:
        """The ``# TYPE`` of a metric as its Content-Type's format names it: in OpenMetrics a
        counter family ``x`` has samples ``x_total``; in Prometheus text 0.0.4 the TYPE line names
        ``x_total`` itself."""
        if self.openmetrics and name.endswith("_total") and self.types.get(name[: -len("_total")]) == "counter":
            return "counter"
        return self.types.get(name)


# ------------------------------------------------------------------------------------------------
# HAProxy
# ------------------------------------------------------------------------------------------------


class HAProxy:
    """HAProxy in front of replicas: ``mode http``, ``balance roundrobin``, health checks
    ``GET /readyz`` on each replica's API port, a runtime API socket for drain/ready.

    Backend ``be``, servers named after the replicas (``r0``...). Runs in the foreground (``-db``)
    as our child; stopped by its pid.
    """

    BACKEND = "be"

    def __init__(self, workdir: Path, replicas: Sequence[Replica]):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.replicas = list(replicas)
        self.port = free_port()
        self.sock = socket_path(workdir / "haproxy.sock")
        self.cfg = workdir / "haproxy.cfg"
        self.log_path = workdir / "haproxy.log"
        self.proc: Optional[subprocess.Popen] = None
        binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
        if binary is None:
            pytest.fail("haproxy is not installed; run scripts/setup-test-env (Debian package haproxy)")
        self.binary = binary

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        servers = "\n".join(
            f"    server {r.name} 127.0.0.1:{r.port} check port {r.api_port}" for r in self.replicas
        )
        return f"""\
global
    maxconn 1024
    stats socket {self.sock} mode 600 level admin
    log stderr format raw local0 info

defaults
    mode http
    log global
    option httplog
    # Safety net only: a connection refused by a stopping replica is retried on another one.
    # No L7 retries (retry-on): a replica dropping a request it had accepted must show up as an error.
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 60s
    timeout http-keep-alive 10s
    timeout queue 30s
    timeout check 2s

frontend s3
    bind 127.0.0.1:{self.port}
    default_backend {self.BACKEND}

backend {self.BACKEND}
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2
{servers}
"""

    def start(self, timeout: float = 20) -> None:
        self.cfg.write_text(self.config_text())
        run([self.binary, "-c", "-q", "-f", str(self.cfg)], env=os.environ, timeout=30)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-f", str(self.cfg), "-db"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.workdir,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"haproxy exited with code {self.proc.returncode}\n{self.log_tail()}")
            if self.sock.exists():
                try:
                    self.command("show info")
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            pytest.fail(f"haproxy runtime socket {self.sock} not up after {timeout}s\n{self.log_tail()}")
        for r in self.replicas:
            self.wait_status(r.name, "UP", timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # hard stop; nothing is in flight by then
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no haproxy log)"
        return f"---- last {lines} lines of {self.log_path} ----\n" + "\n".join(text.splitlines()[-lines:])

    # -- runtime API -----------------------------------------------------------------------------

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.sock))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")

    def server_stats(self, name: str) -> dict:
        text = self.command("show stat")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("# "))))
        for row in rows:
            if row.get("pxname") == self.BACKEND and row.get("svname") == name:
                return row
        raise AssertionError(f"server {self.BACKEND}/{name} not in haproxy stats:\n{text[:2000]}")

    def set_state(self, name: str, state: str) -> None:
        out = self.command(f"set server {self.BACKEND}/{name} state {state}").strip()
        assert out == "", f"haproxy refused 'set server {self.BACKEND}/{name} state {state}': {out!r}"

    def wait_status(self, name: str, status: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        row: dict = {}
        while time.monotonic() < deadline:
            row = self.server_stats(name)
            if row.get("status") == status:
                return
            time.sleep(0.1)
        pytest.fail(
            f"haproxy: {self.BACKEND}/{name} is {row.get('status')!r} (last check: "
            f"{row.get('check_status')} {row.get('check_code')} {row.get('last_chk')!r}), not {status!r} "
            f"after {timeout}s\n{self.log_tail()}"
        )


# ------------------------------------------------------------------------------------------------
# A private MariaDB (never the shared one on 3306)
# ------------------------------------------------------------------------------------------------


class PrivateMariaDB:
    """A throw-away mariadbd on a free 127.0.0.1 port with its datadir, socket and pid file in
    ``workdir``; ``--no-defaults`` so no /etc/mysql config (nor /var/lib/mysql, /run/mysqld) is used.
    root has no password (``--auth-root-authentication-method=normal``)."""

    def __init__(self, workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.datadir = workdir / "datadir"
        self.port = free_port()
        self.socket = socket_path(workdir / "mysqld.sock")
        self.pid_file = workdir / "mysqld.pid"
        self.log_path = workdir / "mariadbd.err"
        self.proc: Optional[subprocess.Popen] = None
        self.mariadbd = "/usr/sbin/mariadbd" if os.access("/usr/sbin/mariadbd", os.X_OK) else shutil.which("mariadbd")
        self.install_db = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not self.mariadbd or not self.install_db:
            pytest.fail(
                f"MariaDB server binaries missing (mariadbd={self.mariadbd}, mariadb-install-db="
                f"{self.install_db}); run scripts/setup-test-env (Debian package mariadb-server)"
            )
        self._user = ["--user=root"] if os.geteuid() == 0 else []

    def install(self) -> None:
        run(
            [self.install_db, "--no-defaults", f"--datadir={self.datadir}", *self._user,
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            env=os.environ, timeout=120,
        )

    def start(self, timeout: float = 30) -> None:
        with open(self.workdir / "mariadbd.out", "ab") as out:
            self.proc = subprocess.Popen(
                [self.mariadbd, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
                 "--bind-address=127.0.0.1", f"--socket={self.socket}", f"--pid-file={self.pid_file}",
                 f"--log-error={self.log_path}", f"--tmpdir={self.workdir}", *self._user,
                 "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=64M",
                 "--max-connections=300"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"private mariadbd exited with code {self.proc.returncode}\n{self.log_tail()}")
            try:
                self.connect().close()
                return
            except Exception as e:  # noqa: BLE001 - not up yet
                last = e
                time.sleep(0.1)
        self.kill()
        pytest.fail(f"private mariadbd not answering on port {self.port} after {timeout}s: {last!r}\n{self.log_tail()}")

    def connect(self, database: Optional[str] = None):
        import pymysql

        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="",
                               database=database, connect_timeout=3, autocommit=True)

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def signal(self, sig: int) -> None:
        assert self.proc is not None and self.proc.poll() is None, "private mariadbd is not running"
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)  # in case a test froze it
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no mariadbd log)"
        return f"---- last {lines} lines of {self.log_path} ----\n" + "\n".join(text.splitlines()[-lines:])
