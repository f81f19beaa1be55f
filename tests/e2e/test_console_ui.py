"""The web console in a real browser: Debian's chromium driven by npm playwright-core
(tests/e2e/console/ui.mjs) against a real ``cloudvault console`` process proxying to a real
``cloudvault serve``. Nothing here skips: a missing chromium, Node.js, playwright-core or console
bundle (scripts/build-console) fails the module loudly.

Screenshots of every page go to tests/e2e/artifacts/console/.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping, Optional

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import (
    REGION,
    REPO_ROOT,
    CloudVaultServer,
    free_port,
    run,
    tool_path,
    write_generated_file,
)

CHROMIUM = Path("/usr/bin/chromium")
CONSOLE_DIST = REPO_ROOT / "console" / "dist"
UI_SCRIPT = Path(__file__).resolve().parent / "console" / "ui.mjs"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "console"
NODE_DIR = Path(os.environ.get("CLOUDVAULT_CACHE", str(Path.home() / ".cache" / "cloudvault"))) / "node"
HOSTILE = "<img src=x onerror=alert(1)>.txt"
UTF8_TEXT = "grüße ✓ 日本\nΚαλημέρα — ½ €\n"
# A minimal one-page PDF (its bytes need not render; the console only has to open it on the S3 origin).
TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
MIB = 1024 * 1024


def _require_tools() -> None:
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium; scripts/setup-test-env does it)")
    if shutil.which("node") is None:
        problems.append("node is missing (scripts/setup-test-env)")
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir():
        problems.append(f"playwright-core is not installed in {NODE_DIR} (scripts/setup-test-env)")
    for name in ("index.html", "cloudvault_console.js", "cloudvault_console_bg.wasm"):
        if not (CONSOLE_DIST / name).is_file():
            problems.append(f"{CONSOLE_DIST / name} is missing: build the console with scripts/build-console")
    if problems:
        pytest.fail("the console browser suite cannot run:\n  " + "\n  ".join(problems))


class ConsoleBackend(CloudVaultServer):
    """``cloudvault serve`` that lets the console's origin call the S3 endpoint (CORS)."""

    console_origin = ""
    extra_env: dict = {}

    def server_env(self) -> dict:
        env = super().server_env()
        env["CLOUDVAULT_CORS_ORIGINS"] = self.console_origin
        env["CLOUDVAULT_CONSOLE_DIR"] = str(CONSOLE_DIST)
        env.update(self.extra_env)
        return env


class ConsoleProcess:
    """One ``cloudvault console`` serving console/dist and proxying /api to the backend."""

    def __init__(self, binary: Path, workdir: Path, api_url: str, port: int,
                 extra_env: Optional[Mapping[str, str]] = None):
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log_path = workdir / "console.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDVAULT_")}
        env.update(
            CLOUDVAULT_CONSOLE_ADDR=f"127.0.0.1:{port}",
            CLOUDVAULT_CONSOLE_DIR=str(CONSOLE_DIST),
            CLOUDVAULT_API_URL=api_url,
            RUST_LOG="info",
        )
        env.update(extra_env or {})
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(binary), "console"], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=workdir, start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"cloudvault console exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"cloudvault console not answering on {self.url}:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])
        except OSError:
            return "(no console log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextlib.contextmanager
def console_stack(tmp_path_factory, **extra_env: str):
    """A SQLite-backed ``cloudvault serve`` plus a ``cloudvault console`` in front of its API."""
    _require_tools()
    binary = Path(os.environ.get("CLOUDVAULT_BIN", str(REPO_ROOT / "target" / "release" / "cloudvault")))
    # Data and metadata on tmpfs when there is one: the 20,000-object fill is bound by the server's
    # fsyncs, which this module does not measure (the console's page times are what it checks).
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        workdir = Path(tempfile.mkdtemp(prefix="cv-console-", dir=shm))
    else:
        workdir = tmp_path_factory.mktemp("cv-console")
    console_port = free_port()
    srv = ConsoleBackend("sqlite", workdir, f"sqlite://{workdir / 'metadata.sqlite'}?mode=rwc", binary)
    srv.console_origin = f"http://127.0.0.1:{console_port}"
    srv.extra_env = extra_env
    console = None
    try:
        srv.start()
        console = ConsoleProcess(binary, workdir, srv.api, console_port)
        yield srv, console
    finally:
        if console is not None:
            console.stop()
        srv.stop()
        srv.kill()
        if workdir.parent == shm:
            for log in ("server.log", "console.log"):
                if (workdir / log).exists():
                    shutil.copy(workdir / log, tmp_path_factory.getbasetemp() / f"{workdir.name}-{log}")
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The console stack for this module. The browser journey is about the console, not the metadata
    backend (test_console_api.py and friends cover both backends), so one backend keeps time down."""
    with console_stack(tmp_path_factory) as pair:
        yield pair


def run_ui(cfg: dict, workdir: Path, timeout: float = 300) -> dict:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    cfg = dict(cfg, chromium=str(CHROMIUM), artifacts=str(ARTIFACTS), workdir=str(workdir))
    env = dict(os.environ, NODE_PATH=str(NODE_DIR / "node_modules"))
    try:
        proc = subprocess.run(
            ["node", str(UI_SCRIPT), json.dumps(cfg)], env=env, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL, cwd=NODE_DIR,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"ui.mjs timed out after {timeout}s\nstderr: {e.stderr}")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT "):]) if lines else {}
    if proc.returncode != 0:
        pytest.fail(
            f"ui.mjs failed (exit {proc.returncode}) after steps {result.get('steps')}:\n"
            f"{result.get('error', '')}\n--- stderr ---\n{proc.stderr[-4000:]}\n"
            f"(screenshots in {ARTIFACTS})"
        )
    return result


def test_bundle_served_by_console_and_serve(stack):
    """``cloudvault console`` and ``cloudvault serve`` (on its API address) both serve the bundle, with
    index.html for unknown non-/api paths and the wasm as application/wasm (streaming compilation)."""
    server, console = stack
    for base in (console.url, server.api):
        index = requests.get(base + "/", timeout=10)
        assert index.status_code == 200 and "cloudvault_console.js" in index.text, (base, index.status_code)
        deep = requests.get(base + "/buckets/some/deep/link", timeout=10)
        assert deep.status_code == 200 and "cloudvault_console.js" in deep.text, (base, deep.status_code)
        wasm = requests.get(base + "/cloudvault_console_bg.wasm", timeout=10)
        assert wasm.status_code == 200 and wasm.content[:4] == b"\0asm", (base, wasm.status_code)
        assert wasm.headers.get("Content-Type", "").startswith("application/wasm"), (base, wasm.headers)
        js = requests.get(base + "/cloudvault_console.js", timeout=10)
        assert "javascript" in js.headers.get("Content-Type", ""), (base, js.headers)
        api = requests.get(base + "/api/nope", timeout=10)
        assert api.status_code == 404 and api.json()["code"] == "not_found", (base, api.status_code, api.text[:200])


def test_console_user_journey(stack, tmp_path):
    server, console = stack
    files_dir = tmp_path / "pick"
    files_dir.mkdir()
    small = files_dir / "hello world #1?%25 ✓ é.txt"
    small.write_bytes(b"hello from the console \xe2\x9c\x93\n" * 100)
    hostile = files_dir / HOSTILE
    hostile.write_bytes(b"<script>alert(2)</script> not run\n")
    big = files_dir / "big.bin"
    big_md5 = write_generated_file(big, 30 * MIB, seed=7)
    folder = tmp_path / "album"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"a" * 1000)
    (folder / "b.jpg").write_bytes(secrets.token_bytes(5000))
    (folder / "sub" / "c.txt").write_bytes(b"c" * 10)
    folder_files = ["album/a.txt", "album/b.jpg", "album/sub/c.txt"]
    utf8 = files_dir / "grüße ✓ 日本.txt"
    utf8.write_bytes(UTF8_TEXT.encode("utf-8"))
    pdf = files_dir / "tiny.pdf"
    pdf.write_bytes(TINY_PDF)
    new_user = f"ui-user-{secrets.token_hex(3)}"
    bucket = f"console-ui-{secrets.token_hex(4)}"

    result = run_ui(
        {
            "mode": "flow",
            "console": console.url,
            "username": server.access_key,
            "password": server.secret_key,
            "bucket": bucket,
            "files": [{"path": str(p), "name": p.name} for p in (small, hostile, big)],
            "big_name": big.name,
            "folder": str(folder),
            "folder_files": folder_files,
            "download": {"name": small.name, "path": str(small)},
            "new_user": new_user,
            "new_user_password": "a-long-password-1",
            "new_user_password2": "änother-long-pässword-2",
            "utf8": {"path": str(utf8), "name": utf8.name},
            "pdf": {"path": str(pdf), "name": pdf.name},
            "s3_endpoint": server.endpoint,
            "new_folder": "empty folder",
            "hostile_name": HOSTILE,
        },
        tmp_path,
    )

    # Uploads: the big file went up in parts and its bar moved before reaching 100 %.
    progress = result["progress"]
    print(f"30 MiB upload: {result['big_upload_ms']} ms, at most {result['max_parts_in_flight']} part PUTs in flight")
    assert result["max_parts_in_flight"] > 1, result["max_parts_in_flight"]
    assert result["part_retried"] is True
    below_full = [v for v in progress if v < 100]
    assert all(b >= a for a, b in zip(progress, progress[1:])), f"progress went backwards: {progress}"
    assert any(b > a for a, b in zip(below_full, below_full[1:])), f"progress never rose below 100 %: {progress}"
    head = server.s3.head_object(Bucket=bucket, Key=big.name)
    assert head["ContentLength"] == 30 * MIB
    assert head["ETag"].endswith('-4"'), f"30 MiB should be 4 parts of 8 MiB: {head['ETag']}"
    got_big = server.s3.get_object(Bucket=bucket, Key=big.name)["Body"].read()
    assert hashlib.md5(got_big).hexdigest() == big_md5
    assert server.s3.get_object(Bucket=bucket, Key=HOSTILE)["Body"].read() == hostile.read_bytes()

    # Folder breadcrumbs, download and share link bytes.
    assert result["breadcrumbs"][-1].strip() == "album", result["breadcrumbs"]
    assert Path(result["download_path"]).read_bytes() == small.read_bytes()
    assert Path(result["share_path"]).read_bytes() == small.read_bytes()
    assert result["share_url"].startswith(server.endpoint), result["share_url"]
    assert requests.get(result["share_url"], timeout=10).content == small.read_bytes()

    # The hostile name is text; no script ran, no element was injected.
    assert HOSTILE in result["hostile_text"], result["hostile_text"]
    assert result["hostile_details"].strip() == HOSTILE
    assert result["injected_imgs"] == 0
    assert result["dialogs"] == [], result["dialogs"]
    assert result["page_errors"] == [], result["page_errors"]
    assert result["csp_violations"] == [], result["csp_violations"]

    # The folder delete named its count and removed exactly the folder.
    assert result["folder_delete_count"] == len(folder_files)
    left = server.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert sorted(o["Key"] for o in left) == sorted([small.name, HOSTILE, big.name, "empty folder/", utf8.name, pdf.name])
    assert server.s3.head_object(Bucket=bucket, Key="empty folder/")["ContentLength"] == 0

    # Text previews: fetched from a presigned inline URL on the S3 origin, decoded as UTF-8, shown as a
    # text node in a <pre> (no elements inside, markup shown as its source).
    assert result["preview"] == {"text": small.read_bytes().decode("utf-8"), "tag": "PRE", "children": 0}, result["preview"]
    assert result["utf8_preview"] == {"text": UTF8_TEXT, "tag": "PRE", "children": 0}, result["utf8_preview"]
    assert result["preview_urls"] and all(u.startswith(server.endpoint) for u in result["preview_urls"]), result["preview_urls"]
    preview = requests.get(result["preview_urls"][0], timeout=10)
    assert preview.content == small.read_bytes()
    assert "attachment" not in preview.headers.get("Content-Disposition", ""), preview.headers
    assert result["hostile_preview"] == {"text": hostile.read_bytes().decode(), "children": 0}, result["hostile_preview"]
    # PDFs open in a new tab on the S3 origin, never the console's, without an opener or referrer.
    assert result["pdf_tab_url"].startswith(server.endpoint), result["pdf_tab_url"]
    assert result["pdf_link"]["href"].startswith(server.endpoint), result["pdf_link"]
    assert result["pdf_link"]["rel"] == "noopener noreferrer" and result["pdf_link"]["target"] == "_blank", result["pdf_link"]
    assert requests.get(result["pdf_link"]["href"], timeout=10).content == TINY_PDF

    # The bucket was made public from the UI (anonymous reads work) and the temporary one is gone.
    assert "anyone" in result["public_warning"]
    assert requests.get(f"{server.endpoint}/{bucket}/{big.name}", timeout=30).status_code == 200
    names = [b["Name"] for b in server.s3.list_buckets()["Buckets"]]
    assert result["deleted_bucket"] not in names and bucket in names

    # The access key made in the UI works with aws-cli; its snippet names the S3 endpoint.
    assert server.endpoint in result["snippet_aws"], result["snippet_aws"]
    env = server.aws_env()
    env.update(AWS_ACCESS_KEY_ID=result["key_id"], AWS_SECRET_ACCESS_KEY=result["secret"])
    listing = run([tool_path("aws"), "s3", "ls", f"s3://{bucket}/", "--endpoint-url", server.endpoint],
                  env=env, timeout=60)
    out = listing.stdout.decode()
    assert big.name in out and small.name in out, out
    # It was made read-only and restricted to the bucket in the UI: the list shows so, and S3 agrees.
    assert result["key_row"]["buckets"] == bucket and result["key_row"]["access"] == "read", result["key_row"]
    upload = files_dir / "denied.txt"
    upload.write_bytes(b"must not be stored\n")
    put = run([tool_path("aws"), "s3", "cp", str(upload), f"s3://{bucket}/denied.txt", "--endpoint-url", server.endpoint],
              env=env, timeout=60, check=False)
    put_err = put.stderr.decode(errors="replace")
    assert put.returncode != 0 and "AccessDenied" in put_err, (put.returncode, put_err)
    other = f"console-other-{secrets.token_hex(4)}"
    server.s3.create_bucket(Bucket=other)
    denied = run([tool_path("aws"), "s3", "ls", f"s3://{other}/", "--endpoint-url", server.endpoint],
                 env=env, timeout=60, check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr.decode(errors="replace"), denied.stderr
    server.s3.delete_bucket(Bucket=other)
    with pytest.raises(Exception):
        server.s3.head_object(Bucket=bucket, Key="denied.txt")

    # The password change kept the session on a new token (the old one is refused at once), the old
    # password no longer signs in and the new one does.
    assert "wrong" in result["password_wrong_error"], result["password_wrong_error"]
    assert result["password_tokens"] == {"old": 401, "new": 200}, result["password_tokens"]
    assert result["whoami_after_change"] == new_user
    assert "Wrong user name or password" in result["old_password_error"], result["old_password_error"]
    assert result["new_password_signs_in"] is True
    assert requests.post(f"{server.api}/api/login", json={"username": new_user, "password": "a-long-password-1"},
                         timeout=10).status_code == 401
    assert requests.post(f"{server.api}/api/login", json={"username": new_user, "password": "änother-long-pässword-2"},
                         timeout=10).status_code == 200

    # Signed out: the old token is refused by the API.
    r = requests.get(f"{console.url}/api/me", headers={"Authorization": f"Bearer {result['token']}"}, timeout=10)
    assert r.status_code == 401, r.text
    r = requests.get(f"{server.api}/api/me", headers={"Authorization": f"Bearer {result['token']}"}, timeout=10)
    assert r.status_code == 401, r.text


def _put_many(args: tuple) -> int:
    """Runs in a child process: PUT one-byte objects with a few threads (boto3 signing is CPU-bound,
    so several processes fill faster than threads of one)."""
    endpoint, access_key, secret_key, bucket, keys = args
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                      max_pool_connections=8),
    )

    def put(chunk):
        for key in chunk:
            client.put_object(Bucket=bucket, Key=key, Body=b"x")

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(put, [keys[i::6] for i in range(6)]))
    return len(keys)


def test_big_folder_first_page_under_a_second(stack, tmp_path):
    server, console = stack
    bucket = f"console-big-{secrets.token_hex(4)}"
    server.s3.create_bucket(Bucket=bucket)
    n = 20_000
    keys = [f"big/item-{i:05d}.txt" for i in range(n)]
    started = time.monotonic()
    procs = 4
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(procs, mp_context=ctx) as pool:
        jobs = [(server.endpoint, server.access_key, server.secret_key, bucket, keys[i::procs]) for i in range(procs)]
        assert sum(pool.map(_put_many, jobs)) == n
    fill_secs = time.monotonic() - started
    token = requests.post(f"{server.api}/api/login", json={"username": server.access_key, "password": server.secret_key},
                          timeout=10).json()["token"]
    c = requests.get(f"{server.api}/api/buckets/{bucket}/objects/count", params={"prefix": "big/"},
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert c.status_code == 200 and c.json()["count"] == n, (c.status_code, c.text, fill_secs)

    result = run_ui(
        {
            "mode": "bigfolder",
            "console": console.url,
            "username": server.access_key,
            "password": server.secret_key,
            "bucket": bucket,
            "prefix": "big/",
            "search": "item-1234",
        },
        tmp_path,
    )
    print(f"filled {n} objects in {fill_secs:.1f}s; first page in {result['first_page_ms']:.0f} ms")
    assert result["first_page_ms"] < 1000, result
    assert result["page1_rows"] == 100 and result["page2_rows"] == 100, result
    assert result["page1_first"] == "big/item-00000.txt"
    assert result["page1_first_descending"] == "big/item-00099.txt"  # sorting stays within the page
    assert result["page2_first"] == "big/item-00100.txt"
    assert result["page3_first"] == "big/item-00200.txt"
    assert result["back_to_page2_first"] == "big/item-00100.txt"
    # "item-1234" matches item-12340 .. item-12349.
    assert result["search_rows"] == 10, result
    assert "session has ended" in result["expired_notice"], result["expired_notice"]


def test_versions_settings_restore_and_locked_version(stack, tmp_path):
    """Bucket settings (versioning, lifecycle rules, object lock), "Show versions" with a download and
    a restore of an old version and a delete marker removed, and a COMPLIANCE version the server
    refuses to delete, with the refusal shown: each checked against what S3 reports."""
    server, console = stack
    s3 = server.s3
    tag = secrets.token_hex(3)
    settings_bucket, versions_bucket, locked_bucket = (f"ui-{n}-{tag}" for n in ("settings", "versions", "locked"))
    s3.create_bucket(Bucket=settings_bucket)
    s3.create_bucket(Bucket=versions_bucket)
    s3.put_bucket_versioning(Bucket=versions_bucket, VersioningConfiguration={"Status": "Enabled"})
    old, new = b"the first report\n", b"the second, rewritten report\n"
    old_id = s3.put_object(Bucket=versions_bucket, Key="report.txt", Body=old)["VersionId"]
    new_id = s3.put_object(Bucket=versions_bucket, Key="report.txt", Body=new)["VersionId"]
    gone_id = s3.put_object(Bucket=versions_bucket, Key="gone.txt", Body=b"deleted by mistake")["VersionId"]
    marker_id = s3.delete_object(Bucket=versions_bucket, Key="gone.txt")["VersionId"]
    s3.create_bucket(Bucket=locked_bucket, ObjectLockEnabledForBucket=True)
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    locked_id = s3.put_object(Bucket=locked_bucket, Key="ledger", Body=b"immutable", ObjectLockMode="COMPLIANCE",
                              ObjectLockRetainUntilDate=until)["VersionId"]
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    small, big = uploads / "small.txt", uploads / "big.bin"
    small.write_bytes(b"locked by default\n" * 100)
    big_md5 = write_generated_file(big, 17 * MIB, seed=11)  # above the 16 MiB threshold: 3 parts

    result = run_ui(
        {
            "mode": "versions",
            "console": console.url,
            "username": server.access_key,
            "password": server.secret_key,
            "settings_bucket": settings_bucket,
            "versions_bucket": versions_bucket,
            "locked_bucket": locked_bucket,
            "old_version": old_id,
            "marker_version": marker_id,
            "locked_version": locked_id,
            "locked_uploads": [{"path": str(p), "name": p.name} for p in (small, big)],
        },
        tmp_path,
    )
    assert result["page_errors"] == [], result["page_errors"]
    # Settings: what the page did is what S3 now reports.
    assert s3.get_bucket_versioning(Bucket=settings_bucket)["Status"] == "Enabled"
    assert "at least 1" in result["rule_problem"], result["rule_problem"]
    assert result["rule_summaries"] == ["Expire current versions after 30 days",
                                        "Expire noncurrent versions after 7 days, keep the newest 2"], result
    rules = s3.get_bucket_lifecycle_configuration(Bucket=settings_bucket)["Rules"]
    assert [(r["ID"], r["Status"], r.get("NoncurrentVersionExpiration")) for r in rules] == \
           [("old-versions", "Enabled", {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2})], rules
    lock = s3.get_object_lock_configuration(Bucket=settings_bucket)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}, lock
    assert result["lock_default"] == "GOVERNANCE, 1 day" and result["suspend_disabled"] is True, result
    # Uploads from the browser into it carried Content-MD5 (AWS's rule there) and got the default retention.
    for name, want in ((small.name, hashlib.md5(small.read_bytes()).hexdigest()), (big.name, big_md5)):
        head = s3.head_object(Bucket=settings_bucket, Key=name)
        assert head["ObjectLockMode"] == "GOVERNANCE", (name, head)
        got = s3.get_object(Bucket=settings_bucket, Key=name)["Body"].read()
        assert hashlib.md5(got).hexdigest() == want, name
    assert s3.head_object(Bucket=settings_bucket, Key=big.name)["ETag"].endswith('-3"'), "went up in parts"
    # Versions: listed newest first; the old one downloaded and restored as a new current version.
    assert result["versions_before"] == [{"id": new_id, "current": True}, {"id": old_id, "current": False}], result
    assert Path(result["old_version_path"]).read_bytes() == old
    after = result["versions_after"]
    assert [v["id"] for v in after[1:]] == [new_id, old_id] and after[0]["current"], after
    current = s3.get_object(Bucket=versions_bucket, Key="report.txt")
    assert current["VersionId"] == after[0]["id"] and current["Body"].read() == old
    assert old_id in result["restore_notice"], result["restore_notice"]
    # The delete marker is gone, so the object is back.
    got = s3.get_object(Bucket=versions_bucket, Key="gone.txt")
    assert got["VersionId"] == gone_id and got["Body"].read() == b"deleted by mistake"
    # The COMPLIANCE version: shown as such, refused with object lock's answer, still there.
    assert result["dialog_retention"].startswith("Object lock: COMPLIANCE until"), result["dialog_retention"]
    assert "object lock" in result["locked_error"].lower(), result["locked_error"]
    assert result["locked_rows"] == 1
    assert s3.get_object(Bucket=locked_bucket, Key="ledger", VersionId=locked_id)["Body"].read() == b"immutable"
    shots = sorted(p.name for p in ARTIFACTS.glob("versions-*.png"))
    assert {"versions-04-versions.png", "versions-06-version-locked.png"} <= set(shots), shots


def test_access_page_ownership_policy_block_public_access_and_acl(stack, tmp_path):
    """The access page: ownership switched to ObjectWriter, a policy refused by the editor and one by
    the server (its reason shown), a public policy saved, Block Public Access turned on and then
    refusing a public policy (the answer shown), a canned ACL set; each checked against S3."""
    server, console = stack
    s3 = server.s3
    bucket = f"ui-access-{secrets.token_hex(3)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<h1>hi</h1>")
    result = run_ui({"mode": "access", "console": console.url, "username": server.access_key,
                     "password": server.secret_key, "bucket": bucket}, tmp_path)
    assert result["page_errors"] == [], result["page_errors"]
    assert result["initial"] == {"acls": "disabled", "bpa": "not configured", "policy": "none", "acl_disabled": 1}, result
    assert result["editor_problem"].startswith("Not valid JSON"), result["editor_problem"]
    assert "invalid resource" in result["server_rejection"], result["server_rejection"]
    assert result["public_warning"] == 1, result
    assert "refused" in result["blocked_warning"], result["blocked_warning"]
    assert "Block Public Access" in result["blocked_rejection"], result["blocked_rejection"]
    assert any("Everyone" in g and "READ" in g for g in result["grants"]), result["grants"]
    # What S3 reports now: ObjectWriter, no policy, no block, the bucket ACL public-read.
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in grants), grants
    assert requests.get(f"{server.endpoint}/{bucket}?list-type=2", timeout=30).status_code == 200
    shots = sorted(p.name for p in ARTIFACTS.glob("access-*.png"))
    assert {"access-02-access-policy-rejected.png", "access-03-access-blocked.png"} <= set(shots), shots


def test_expired_session_returns_to_sign_in(tmp_path_factory, tmp_path):
    """With a 5-second session, the console goes back to the sign-in page by itself, with a message."""
    with console_stack(tmp_path_factory, CLOUDVAULT_JWT_TTL_SECS="5") as (server, console):
        result = run_ui(
            {"mode": "expiry", "console": console.url, "username": server.access_key, "password": server.secret_key},
            tmp_path,
            timeout=120,
        )
    assert "expired" in result["expired_notice"], result
    assert 3000 <= result["signed_out_after_ms"] <= 9000, result
