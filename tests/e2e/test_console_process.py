"""How the console is served: ``cloudvault console`` (the frontend process: the bundle plus a reverse
proxy of /api to the backend) and ``cloudvault serve`` serving the same bundle on its API address.

The browser journey itself is test_console_ui.py; this module checks the serving contract a browser
and an operator rely on: the app's files and headers, the fallback to index.html for in-app paths,
the proxy passing requests and answers through unchanged, and failing loudly or cleanly when the
bundle or the backend is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import DEFAULT_BIN, free_port, running_server
from test_console_ui import CONSOLE_DIST, ConsoleProcess, _require_tools


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    _require_tools()
    with running_server("sqlite", tmp_path_factory,
                        extra_env=lambda srv: {"CLOUDVAULT_CONSOLE_DIR": str(CONSOLE_DIST)}) as srv:
        yield srv


@pytest.fixture(scope="module")
def console(backend, tmp_path_factory):
    proc = ConsoleProcess(backend.binary, tmp_path_factory.mktemp("console-proc"), backend.api, free_port())
    yield proc
    proc.stop()


def login(base: str, user: str, password: str) -> requests.Response:
    return requests.post(f"{base}/api/login", json={"username": user, "password": password}, timeout=30)


@pytest.mark.parametrize("where", ["console", "serve"])
def test_the_bundle_is_served_with_protective_headers(where, console, backend):
    base = console.url if where == "console" else backend.api
    index = (CONSOLE_DIST / "index.html").read_bytes()
    for path in ("/", "/buckets/photos/some/deep/folder/"):
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code)
        assert r.content == index, f"{path} must fall back to the app's index.html"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "script-src 'self' 'wasm-unsafe-eval';" in csp and "unsafe-inline" not in csp, csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
        if where == "serve":
            assert f"connect-src 'self' {backend.endpoint};" in csp, "the S3 endpoint is the one other origin"
    wasm = requests.get(base + "/cloudvault_console_bg.wasm", timeout=30)
    assert wasm.status_code == 200
    assert wasm.headers["content-type"] == "application/wasm", "browsers stream-compile only application/wasm"
    assert wasm.content == (CONSOLE_DIST / "cloudvault_console_bg.wasm").read_bytes()
    # Unknown API paths are the API's JSON 404, never the app's page.
    r = requests.get(base + "/api/no-such-endpoint", timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_the_proxy_passes_api_calls_through(console, backend):
    r = login(console.url, backend.access_key, backend.secret_key)
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    name = f"proxied-{free_port()}"
    r = requests.post(f"{console.url}/api/buckets", json={"name": name}, headers=auth, timeout=30)
    assert r.status_code == 201, r.text
    # A streamed upload and download through the proxy keep the bytes.
    body = bytes(range(256)) * 4096  # 1 MiB
    r = requests.put(f"{console.url}/api/buckets/{name}/object/content", params={"key": "blob.bin"},
                     data=body, headers=auth, timeout=60)
    assert r.status_code == 201, r.text
    r = requests.get(f"{console.url}/api/buckets/{name}/object/content", params={"key": "blob.bin"},
                     headers=auth, timeout=60)
    assert r.status_code == 200 and r.content == body
    # Errors come back with their status and JSON body; a bad token stays a 401.
    r = requests.get(f"{console.url}/api/buckets", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    r = login(console.url, backend.access_key, "wrong password!")
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"


def test_an_unreachable_backend_is_a_clean_502(tmp_path):
    port = free_port()
    proc = ConsoleProcess(_binary(), tmp_path, f"http://127.0.0.1:{free_port()}", port)
    try:
        r = requests.post(f"{proc.url}/api/login", json={"username": "a", "password": "b"}, timeout=30)
        assert r.status_code == 502
        assert r.json()["code"] == "unavailable"
        # The app itself still loads, so the page can say what is wrong.
        assert requests.get(proc.url + "/", timeout=10).status_code == 200
    finally:
        proc.stop()


def test_console_refuses_to_start_without_a_bundle(tmp_path):
    env = {"CLOUDVAULT_CONSOLE_DIR": str(tmp_path / "nothing-built-here"),
           "CLOUDVAULT_CONSOLE_ADDR": f"127.0.0.1:{free_port()}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(_binary()), "console"], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "no console bundle" in proc.stderr and "scripts/build-console" in proc.stderr


def _binary() -> Path:
    return Path(os.environ.get("CLOUDVAULT_BIN", str(DEFAULT_BIN)))
