"""Fixtures and helpers for CloudVault's end-to-end suite.

Every test module runs against a real ``cloudvault serve`` process, once per metadata backend
(``sqlite`` and ``mysql``). The server is configured only through its documented environment
variables and is driven by the clients users run: boto3, aws-cli (as a subprocess), rclone (as a
subprocess), and hand-signed HTTP requests for what the SDKs refuse to send.

Environment knobs:
    CLOUDVAULT_BIN             server binary (default: <repo>/target/release/cloudvault)
    CLOUDVAULT_TEST_MYSQL_URL  MariaDB/MySQL admin URL (default: mysql://root@127.0.0.1:3306)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import signal
import random
import socket
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union
from unittest import mock

import boto3
import botocore.auth
import botocore.credentials
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "release" / "cloudvault"
REGION = "us-east-1"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 40.0  # above the server's default 30 s shutdown grace

# Everything this suite talks to is on loopback; never let a proxy setting reroute it.
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1", "localhost"]))


# ------------------------------------------------------------------------------------------------
# Small utilities
# ------------------------------------------------------------------------------------------------


# Independent of any test's random.seed(): two servers must never be handed the same sequence.
_PORT_PICKER = random.SystemRandom()


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (outgoing connections take their local ports there)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, chosen BELOW the kernel's ephemeral
    range: a server restarted on its port by a crash test must find it free, and an outgoing connection
    (to MariaDB, a client's) would otherwise be able to take it as its local port in between (seen as
    "Address already in use" on a restart). Bounded: 200 tries, then any port the kernel gives."""
    low = _ephemeral_low()
    for _ in range(200):
        port = _PORT_PICKER.randint(max(1025, low - 12000), max(1026, low - 1))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def quoted_md5(data: bytes) -> str:
    """The ETag S3 gives a single-part object: the hex MD5 of its bytes, in double quotes."""
    return f'"{md5_hex(data)}"'


def tool_path(name: str) -> str:
    """Find a console script, preferring the venv that runs pytest (aws-cli lives there)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name!r} not found next to {sys.executable} nor on PATH; run scripts/setup-test-env")
    return found


def client_error(exc: ClientError) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a botocore ClientError."""
    return (
        exc.response["ResponseMetadata"]["HTTPStatusCode"],
        exc.response.get("Error", {}).get("Code", ""),
    )


def assert_client_error(excinfo: pytest.ExceptionInfo, status: int, code: Optional[str]) -> None:
    """Assert a boto3 call failed with the given HTTP status and (unless None) S3 error code."""
    got_status, got_code = client_error(excinfo.value)
    assert (got_status, got_code if code is not None else None) == (status, code), (
        f"expected {status} {code}, got {got_status} {got_code}: {excinfo.value.response}"
    )


def xml_error_code(body: bytes) -> Optional[str]:
    """The <Code> of an S3 XML error document, or None when the body is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag.split("}")[-1] != "Error":
        return None
    code = root.find("{*}Code")
    if code is None:
        code = root.find("Code")
    return code.text if code is not None else None


def assert_xml_error(resp: requests.Response, status: int, code: str) -> None:
    """Assert a raw response is an S3 XML error with this status and <Code>."""
    got = xml_error_code(resp.content)
    assert (resp.status_code, got) == (status, code), (
        f"expected {status} <Code>{code}</Code>, got {resp.status_code} {got!r}; "
        f"headers={dict(resp.headers)} body={resp.content[:600]!r}"
    )


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    check: bool = True,
    cwd: Optional[Path] = None,
) -> subprocess.CompletedProcess:
    """Run a client subprocess with a hard timeout; on failure show its output in the assertion."""
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(
            f"timed out after {timeout}s: {' '.join(argv)}\nstdout: {e.stdout!r}\nstderr: {e.stderr!r}"
        )
    if check and proc.returncode != 0:
        pytest.fail(
            f"exit {proc.returncode}: {' '.join(argv)}\n"
            f"--- stdout ---\n{proc.stdout.decode(errors='replace')[-4000:]}\n"
            f"--- stderr ---\n{proc.stderr.decode(errors='replace')[-4000:]}"
        )
    return proc


class GeneratedBody:
    """A file-like request body of a known length, produced block by block and never held whole.

    The content is deterministic: a 1 MiB pseudo-random block whose first 8 bytes are replaced by the
    block index, so no two MiB are equal. ``md5`` is filled in as the body is read.
    """

    BLOCK = 1024 * 1024

    def __init__(self, size: int, seed: int = 1):
        import random

        self.size = size
        self._base = random.Random(seed).randbytes(self.BLOCK)
        self._pos = 0
        self._md5 = hashlib.md5()
        self._block_index = -1
        self._block = b""

    def __len__(self) -> int:
        return self.size

    def _chunk(self, pos: int, n: int) -> bytes:
        index, offset = divmod(pos, self.BLOCK)
        if index != self._block_index:
            self._block_index = index
            self._block = index.to_bytes(8, "big") + self._base[8:]
        return self._block[offset : offset + min(n, self.BLOCK - offset)]

    def read(self, n: int = -1) -> bytes:
        if self._pos >= self.size:
            return b""
        if n is None or n < 0 or n > self.BLOCK:
            n = self.BLOCK
        n = min(n, self.size - self._pos)
        data = self._chunk(self._pos, n)
        self._pos += len(data)
        self._md5.update(data)
        return data

    def __iter__(self):
        while True:
            data = self.read(self.BLOCK)
            if not data:
                return
            yield data

    def hexdigest(self) -> str:
        assert self._pos == self.size, "body not fully read"
        return self._md5.hexdigest()


def multipart_etag(parts: Sequence[bytes]) -> str:
    """The ETag S3 gives a multipart object: hex(md5(concat(binary part md5s)))-N, in quotes."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


class Checksum:
    """An incremental S3 flexible checksum (CRC32, CRC32C, CRC64NVME via awscrt; SHA1/SHA256 via
    hashlib). ``b64()`` gives the value as S3 shows it (base64 of the big-endian bytes)."""

    def __init__(self, algorithm: str):
        import awscrt.checksums

        self.algorithm = algorithm.upper()
        self._crc = 0
        if self.algorithm in ("SHA1", "SHA256"):
            self._hash = hashlib.new(self.algorithm.lower())
        else:
            self._fn, self._width = {
                "CRC32": (awscrt.checksums.crc32, 4),
                "CRC32C": (awscrt.checksums.crc32c, 4),
                "CRC64NVME": (awscrt.checksums.crc64nvme, 8),
            }[self.algorithm]
            self._hash = None

    def update(self, data: bytes) -> "Checksum":
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._crc = self._fn(data, self._crc)
        return self

    def digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        return self._crc.to_bytes(self._width, "big")

    def b64(self) -> str:
        import base64

        return base64.b64encode(self.digest()).decode()


def checksum_b64(algorithm: str, data: bytes) -> str:
    """base64 of the ``algorithm`` checksum of ``data`` (e.g. ``checksum_b64("CRC32", b"hello")``)."""
    return Checksum(algorithm).update(data).b64()


def composite_checksum_b64(algorithm: str, parts: Sequence[bytes]) -> str:
    """S3's COMPOSITE multipart checksum: base64(alg(concat(raw part checksums)))-N."""
    raw = b"".join(Checksum(algorithm).update(p).digest() for p in parts)
    return f"{checksum_b64(algorithm, raw)}-{len(parts)}"


def write_generated_file(path: Path, size: int, seed: int = 1) -> str:
    """Write ``size`` deterministic bytes (``GeneratedBody``) to ``path``; return their hex MD5."""
    body = GeneratedBody(size, seed)
    with open(path, "wb") as f:
        for block in body:
            f.write(block)
    return body.hexdigest()


def file_md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# Hand-signed requests
# ------------------------------------------------------------------------------------------------


class _SigV4(botocore.auth.S3SigV4Auth):
    """S3 SigV4 header signing with a chosen clock and a chosen x-amz-content-sha256 value."""

    def __init__(self, credentials, region: str, when: Optional[dt.datetime], payload_hash: Optional[str]):
        super().__init__(credentials, "s3", region)
        self._when = when
        self._payload_hash = payload_hash

    def payload(self, request):  # noqa: D401 - botocore hook
        if self._payload_hash is not None:
            return self._payload_hash
        return super().payload(request)

    def add_auth(self, request):
        if self._when is None:
            return super().add_auth(request)
        when = self._when.astimezone(dt.timezone.utc).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            return super().add_auth(request)


def quote_key(key: Union[str, bytes]) -> str:
    """Percent-encode an object key for a path-style URL the way S3 clients do (keep '/')."""
    return urllib.parse.quote(key, safe="/~")


# ------------------------------------------------------------------------------------------------
# The server under test
# ------------------------------------------------------------------------------------------------


class CloudVaultServer:
    """One ``cloudvault serve`` process with its own data dir, database, port and root key."""

    def __init__(self, backend: str, workdir: Path, database_url: str, binary: Path,
                 tls: Optional["TlsCert"] = None):
        self.backend = backend
        self.workdir = workdir
        self.tls = tls
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "server.log"
        self.database_url = database_url
        self.binary = binary
        self.port = free_port()
        self.api_port = free_port()
        self.jwt_secret = secrets.token_hex(32)
        self.access_key = "CV" + secrets.token_hex(9).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.proc: Optional[subprocess.Popen] = None
        # Further CLOUDVAULT_* settings for this server (``running_server(extra_env=...)``).
        self.extra_env: dict = {}
        self._client = None
        self._aws_config = workdir / "aws-config"
        self._aws_config.write_text(
            "[default]\n"
            f"region = {REGION}\n"
            "s3 =\n"
            "    multipart_threshold = 64MB\n"
            "    multipart_chunksize = 64MB\n"
            "    addressing_style = path\n"
        )
        self._rclone_conf = workdir / "rclone.conf"
        common = (
            "type = s3\n"
            "env_auth = false\n"
            f"access_key_id = {self.access_key}\n"
            f"secret_access_key = {self.secret_key}\n"
            f"region = {REGION}\n"
            f"endpoint = {self.endpoint}\n"
            "force_path_style = true\n"
            "list_chunk = 50\n"
        )
        self._rclone_conf.write_text(
            "[other]\nprovider = Other\n" + common + "list_version = 1\nlist_url_encode = false\n\n"
            "[minio]\nprovider = Minio\n" + common + "list_version = 2\nlist_url_encode = true\n"
        )

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        """Base URL of the API listener (console API under /api, probes, metrics)."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def verify(self) -> Union[bool, str]:
        """What to pass as ``verify=`` to boto3/requests: the self-signed cert over TLS."""
        return str(self.tls.cert) if self.tls is not None else True

    @property
    def pid(self) -> int:
        assert self.proc is not None and self.proc.poll() is None, "server is not running"
        return self.proc.pid

    def server_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDVAULT_")}
        env.update(
            CLOUDVAULT_DATA_DIR=str(self.data_dir),
            CLOUDVAULT_DATABASE_URL=self.database_url,
            CLOUDVAULT_S3_ADDR=f"127.0.0.1:{self.port}",
            CLOUDVAULT_API_ADDR=f"127.0.0.1:{self.api_port}",
            CLOUDVAULT_JWT_SECRET=self.jwt_secret,
            CLOUDVAULT_ROOT_USER=self.access_key,
            CLOUDVAULT_ROOT_PASSWORD=self.secret_key,
            CLOUDVAULT_REGION=REGION,
        )
        if self.tls is not None:
            env.update(CLOUDVAULT_TLS_CERT=str(self.tls.cert), CLOUDVAULT_TLS_KEY=str(self.tls.key))
        env.setdefault("RUST_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(self.extra_env)
        return env

    @property
    def label(self) -> str:
        """How the log names this server (the backend; replicas override it)."""
        return self.backend

    def spawn(self) -> None:
        """Start the process without waiting for it (see ``start``)."""
        if not self.binary.exists():
            pytest.fail(
                f"server binary {self.binary} does not exist (set CLOUDVAULT_BIN or build it with "
                "`cargo build --release`)"
            )
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== cloudvault serve ({self.label}) starting at {time.ctime()} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(self.binary), "serve"],
                env=self.server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.workdir,
                start_new_session=True,
            )
        self._client = None

    def start(self) -> None:
        """Start the process and wait until a signed ListBuckets succeeds (or fail with the log)."""
        self.spawn()
        self.wait_ready()

    def wait_ready(self) -> None:
        probe = self.client(read_timeout=5, connect_timeout=1)
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"cloudvault exited with code {self.proc.returncode} before it was ready\n"
                    f"{self.log_tail()}"
                )
            try:
                probe.list_buckets()
                return
            except Exception as e:  # connection refused, 5xx, auth not wired yet...
                last_error = e
                time.sleep(0.2)
        self.kill()
        pytest.fail(
            f"cloudvault not ready after {READY_TIMEOUT_S}s on {self.endpoint}: {last_error!r}\n{self.log_tail()}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> Optional[int]:
        """Send ``sig`` and wait for the process to exit; return its exit code (None if not running).

        Fails the test if the process ignores SIGTERM for ``timeout`` seconds (it is then killed).
        """
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        if self._client is not None:
            self._client.close()  # drop our idle keep-alive connections first
            self._client = None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"cloudvault did not exit within {timeout}s of signal {sig}\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Stop with SIGTERM and start again on the same port, data dir, database and root key."""
        code = self.stop()
        assert code == 0 or code == -signal.SIGTERM, (
            f"cloudvault exited with code {code} on SIGTERM\n{self.log_tail()}"
        )
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"---- last {lines} lines of {self.log_path} ----\n{tail}"

    def rss_bytes(self) -> int:
        """Resident set size of the server process (VmRSS from /proc)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("VmRSS not found")

    # -- users -----------------------------------------------------------------------------------

    def admin(self, *args: str, stdin: Optional[str] = None) -> str:
        """Run `cloudvault admin ...` on this server's database and data dir; return stdout."""
        proc = subprocess.run([str(self.binary), "admin", *args], env=self.server_env(), input=stdin,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"cloudvault admin {' '.join(args)} failed: {proc.stderr}"
        return proc.stdout

    def new_user(self, name: str) -> tuple:
        """Creates user `name` (password `pw-<name>-12345`) with one access key: (key id, secret)."""
        self.admin("user", "add", name, "--password-stdin", stdin=f"pw-{name}-12345\n")
        out = self.admin("key", "create", name)
        key_id = re.search(r"access key id:\s+(\S+)", out).group(1)
        secret = re.search(r"secret access key:\s+(\S+)", out).group(1)
        return key_id, secret

    # -- clients ---------------------------------------------------------------------------------

    def client(self, *, access_key: Optional[str] = None, secret_key: Optional[str] = None,
               read_timeout: float = 120, connect_timeout: float = 5, **config):
        """A boto3 S3 client: path style, us-east-1, this server's endpoint, no retries."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            verify=self.verify,
            region_name=REGION,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                **config,
            ),
        )

    @property
    def s3(self):
        """A cached boto3 client with the root credentials."""
        if self._client is None:
            self._client = self.client()
        return self._client

    def aws_env(self) -> dict:
        """Environment for running aws-cli as a subprocess against this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(self._aws_config),
            AWS_SHARED_CREDENTIALS_FILE=str(self.workdir / "aws-credentials-unused"),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_PAGER="",
        )
        if self.tls is not None:
            env["AWS_CA_BUNDLE"] = str(self.tls.cert)
        return env

    def aws(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``aws <args> --endpoint-url <server>``."""
        return run(
            [tool_path("aws"), *args, "--endpoint-url", self.endpoint],
            env=self.aws_env(),
            timeout=timeout,
            check=check,
        )

    def rclone_env(self) -> dict:
        # rclone refuses to start when AWS_CA_BUNDLE is set; RCLONE_* could override our config.
        return {
            k: v
            for k, v in os.environ.items()
            if k != "AWS_CA_BUNDLE" and not k.startswith("RCLONE_") and not k.startswith("AWS_")
        }

    def rclone(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        """Run rclone with a config holding two remotes for this server: ``other:`` and ``minio:``.

        ``other`` is provider Other (ListObjects V1, no URL encoding); ``minio`` is provider Minio
        (ListObjects V2 with encoding-type=url). Both list 50 keys per page to exercise paging.
        """
        return run(
            [
                shutil.which("rclone") or pytest.fail("rclone missing; run scripts/setup-test-env"),
                "--config", str(self._rclone_conf),
                "--s3-upload-cutoff", "100M",
                "--retries", "1",
                "--low-level-retries", "1",
                "--contimeout", "5s",
                "--timeout", "60s",
                *(["--ca-cert", str(self.tls.cert)] if self.tls is not None else []),
                *args,
            ],
            env=self.rclone_env(),
            timeout=timeout,
            check=check,
        )

    def sign_headers(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes = b"",
        *,
        access_key: Optional[str] = None,
        secret_key: Optional[str] = None,
        when: Optional[dt.datetime] = None,
        payload_hash: Optional[str] = None,
    ) -> dict:
        """Return ``headers`` plus X-Amz-Date, X-Amz-Content-SHA256 and a SigV4 Authorization
        for a request to ``url`` (an already percent-encoded full URL)."""
        aws_req = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
        creds = botocore.credentials.Credentials(access_key or self.access_key, secret_key or self.secret_key)
        _SigV4(creds, REGION, when, payload_hash).add_auth(aws_req)
        return dict(aws_req.headers.items())

    def request(
        self,
        method: str,
        path: str = "/",
        *,
        query: Union[None, str, Sequence[tuple], Mapping[str, str]] = None,
        headers: Optional[Mapping[str, str]] = None,
        body: Union[bytes, GeneratedBody, None] = b"",
        sign: bool = True,
        access_key: Optional[str] = None,
        secret_key: Optional[str] = None,
        when: Optional[dt.datetime] = None,
        payload_hash: Optional[str] = None,
        tamper_signature: bool = False,
        stream: bool = False,
        timeout: float = 60,
    ) -> requests.Response:
        """Send one raw HTTP request, signed with botocore's SigV4 unless ``sign`` is False.

        ``path`` must already be percent-encoded (use ``quote_key``). ``query`` may be a raw string
        (``"website"``, ``"list-type=2&prefix=a"``) or pairs. ``when`` signs with another clock,
        ``payload_hash`` replaces x-amz-content-sha256 (e.g. ``UNSIGNED-PAYLOAD``),
        ``tamper_signature`` flips the last hex digit of the signature after signing.
        """
        if query is None:
            qs = ""
        elif isinstance(query, str):
            qs = query
        else:
            items = query.items() if isinstance(query, Mapping) else query
            qs = urllib.parse.urlencode(list(items), quote_via=urllib.parse.quote, safe="~")
        url = self.endpoint + path + (f"?{qs}" if qs else "")
        hdrs = dict(headers or {})
        if sign:
            if isinstance(body, GeneratedBody) and payload_hash is None:
                payload_hash = "UNSIGNED-PAYLOAD"
            hdrs = self.sign_headers(
                method, url, hdrs, body if isinstance(body, bytes) else b"",
                access_key=access_key, secret_key=secret_key, when=when, payload_hash=payload_hash,
            )
            if tamper_signature:
                auth = hdrs["Authorization"]
                last = auth[-1]
                hdrs["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
        # Pass a pre-built URL so requests does not re-encode the path or query.
        session = requests.Session()
        req = requests.Request(method, url, headers=hdrs, data=body if body is not None else b"")
        prepared = session.prepare_request(req)
        prepared.url = url
        return session.send(prepared, stream=stream, timeout=timeout, allow_redirects=False, verify=self.verify)


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


def _mysql_admin_params() -> dict:
    url = urllib.parse.urlsplit(os.environ.get("CLOUDVAULT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
    return dict(
        host=url.hostname or "127.0.0.1",
        port=url.port or 3306,
        user=urllib.parse.unquote(url.username or "root"),
        password=urllib.parse.unquote(url.password or ""),
    )


def _mysql_connect():
    import pymysql

    params = _mysql_admin_params()
    try:
        return pymysql.connect(**params, connect_timeout=5, autocommit=True)
    except Exception as e:  # noqa: BLE001 - any failure here must fail, never skip
        pytest.fail(
            f"MariaDB/MySQL unreachable at {params['host']}:{params['port']} ({e!r}); "
            "run scripts/setup-test-env or set CLOUDVAULT_TEST_MYSQL_URL"
        )


def _mysql_server_url(db_name: str) -> str:
    p = _mysql_admin_params()
    auth = urllib.parse.quote(p["user"], safe="")
    if p["password"]:
        auth += ":" + urllib.parse.quote(p["password"], safe="")
    return f"mysql://{auth}@{p['host']}:{p['port']}/{db_name}"


class TlsCert:
    """A self-signed certificate (and its key) for 127.0.0.1 and localhost, made with the openssl CLI."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.cert = directory / "cert.pem"
        self.key = directory / "key.pem"
        run(
            [
                shutil.which("openssl") or pytest.fail("openssl CLI missing"),
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", str(self.key), "-out", str(self.cert), "-days", "2",
                "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            env=os.environ,
            timeout=30,
        )


@contextlib.contextmanager
def running_server(backend: str, tmp_path_factory, *, tls: bool = False,
                   extra_env: Optional[Callable[["CloudVaultServer"], Mapping[str, str]]] = None):
    """Start a CloudVault with a fresh data dir and database for ``backend``; stop and clean up after.

    ``extra_env(server)`` may return further settings, computed from the server's ports (e.g.
    ``CLOUDVAULT_PUBLIC_S3_URL``)."""
    binary = Path(os.environ.get("CLOUDVAULT_BIN", str(DEFAULT_BIN)))
    workdir = tmp_path_factory.mktemp(f"cv-{backend}{'-tls' if tls else ''}")
    db_name = None
    if backend == "sqlite":
        database_url = f"sqlite://{workdir / 'metadata.sqlite'}?mode=rwc"
    else:
        db_name = f"cv_e2e_{secrets.token_hex(6)}"
        conn = _mysql_connect()
        with conn.cursor() as cur:
            # A case-insensitive default collation on purpose, as MySQL 8 and many hosted MariaDBs
            # have: the server's own schema must make keys byte-ordered and case-sensitive.
            cur.execute(f"CREATE DATABASE `{db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        conn.close()
        database_url = _mysql_server_url(db_name)
    cert = TlsCert(workdir / "tls") if tls else None
    srv = CloudVaultServer(backend, workdir, database_url, binary, tls=cert)
    if extra_env is not None:
        srv.extra_env.update(extra_env(srv))
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        srv.kill()
        if db_name is not None:
            conn = _mysql_connect()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{db_name}`")
            conn.close()


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def server(request, tmp_path_factory):
    """A running CloudVault for this test module, once with SQLite and once with MySQL metadata."""
    with running_server(request.param, tmp_path_factory) as srv:
        yield srv


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def tls_server(request, tmp_path_factory):
    """Like ``server`` but the S3 listener speaks HTTPS (CLOUDVAULT_TLS_CERT/KEY, a self-signed cert
    for 127.0.0.1). Its clients trust that cert: boto3 ``verify=``, aws-cli ``AWS_CA_BUNDLE``,
    rclone ``--ca-cert``, ``request()``. Over HTTPS boto3 and aws-cli send aws-chunked bodies with
    trailing checksums."""
    with running_server(request.param, tmp_path_factory, tls=True) as srv:
        yield srv


@pytest.fixture
def s3(server):
    """The module's server boto3 client (root credentials)."""
    return server.s3


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@pytest.fixture
def bucket_name(request) -> str:
    """A unique, valid, not-yet-created bucket name derived from the test name."""
    base = _slug(request.node.originalname or request.node.name)[:40].strip("-")
    return f"{base}-{secrets.token_hex(4)}"


@pytest.fixture
def bucket(s3, bucket_name) -> str:
    """A freshly created, empty bucket (its name)."""
    s3.create_bucket(Bucket=bucket_name)
    return bucket_name


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server log tail to every failed test that used the server."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        funcargs = getattr(item, "funcargs", {}) or {}
        srv = funcargs.get("server") or funcargs.get("tls_server")
        if isinstance(srv, CloudVaultServer):
            status = ""
            if srv.proc is not None and srv.proc.poll() is not None:
                status = f"!!! the cloudvault process (pid {srv.proc.pid}) is gone: exit code {srv.proc.returncode}\n"
            report.sections.append((f"cloudvault log ({srv.backend})", status + srv.log_tail()))


@pytest.fixture
def tls_s3(tls_server):
    """The module's TLS server boto3 client (root credentials, trusts the self-signed cert)."""
    return tls_server.s3


@pytest.fixture
def tls_bucket(tls_s3, bucket_name) -> str:
    """A freshly created, empty bucket on the TLS server (its name)."""
    tls_s3.create_bucket(Bucket=bucket_name)
    return bucket_name


# ------------------------------------------------------------------------------------------------
# Console API (JSON on the API listener)
# ------------------------------------------------------------------------------------------------


class ConsoleSession:
    """A signed-in console API user: requests to ``server.api`` with ``Authorization: Bearer``."""

    def __init__(self, server: CloudVaultServer, token: Optional[str], user: Optional[dict] = None):
        """``token=None`` sends no Authorization header at all."""
        self.server = server
        self.token = token
        self.user = user or {}

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}

    def request(self, method: str, path: str, **kw) -> requests.Response:
        """``path`` starts with ``/api``; ``params`` are URL-encoded by requests (any key works)."""
        kw.setdefault("timeout", 60)
        headers = {**self.headers, **(kw.pop("headers", None) or {})}
        return requests.request(method, self.server.api + path, headers=headers, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)


def console_login(server: CloudVaultServer, user: Optional[str] = None,
                  password: Optional[str] = None) -> ConsoleSession:
    """Sign in to the console API (root by default) or fail the test with the answer."""
    user = user if user is not None else server.access_key
    password = password if password is not None else server.secret_key
    r = requests.post(f"{server.api}/api/login", json={"username": user, "password": password}, timeout=30)
    assert r.status_code == 200, f"sign-in as {user!r} failed: {r.status_code} {r.text}"
    return ConsoleSession(server, r.json()["token"], r.json().get("user"))


def assert_api_error(resp: requests.Response, status: int, code: str) -> None:
    """Assert a console API answer is the JSON error ``{"code", "message"}`` with this status and code."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    got = body.get("code") if isinstance(body, dict) else None
    assert (resp.status_code, got) == (status, code), (
        f"expected {status} {code!r}, got {resp.status_code} {got!r}: {resp.text[:600]!r}"
    )
    assert isinstance(body.get("message"), str), f"error without a message: {body!r}"
