"""The console API's OpenAPI document (`s3-api/src/api/openapi.json`, served at `GET /api/openapi.json`)
is valid, describes exactly the calls of docs/console-api.md, is served byte for byte, and is true:
schemathesis fuzzes every documented operation (signed in as root) and checks that nothing answers
5xx and that every answer's status, content type, headers and body are the documented ones.

The fuzzing run may create, change and delete anything this module's server holds (the `server` fixture
is module-scoped, so no other module shares it). Extra CLI arguments can be passed in
`CLOUDVAULT_SCHEMATHESIS_ARGS` (e.g. `--seed N` to replay a run). It leaves out `POST /api/logout` and
`POST /api/me/password`, which would end the session the run uses, and never aims the user calls
(`/api/users/{id}...`) at root itself. It is bounded: a few examples per operation and a hard timeout.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest
import requests

from conftest import REPO_ROOT, console_login, tool_path

SPEC_PATH = REPO_ROOT / "s3-api" / "src" / "api" / "openapi.json"
CONTRACT_PATH = REPO_ROOT / "docs" / "console-api.md"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Per backend; the run usually takes well under a minute.
SCHEMATHESIS_TIMEOUT_S = 170
MAX_EXAMPLES = 25


def spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def documented_operations() -> set[tuple[str, str]]:
    """(METHOD, path) of every call in the contract's tables, e.g. ("POST", "/api/keys/{id}/disable")."""
    ops = set()
    for line in CONTRACT_PATH.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        last = None
        for item in re.findall(r"`([^`]+)`", cell):
            m = re.fullmatch(r"(GET|PUT|POST|DELETE|PATCH) (/api/\S+)", item)
            if m:
                method, path = m.groups()
            elif item.startswith("/") and last is not None:
                # "`POST /api/keys/{id}/disable`, `/enable`": a sibling of the previous path.
                method, path = last[0], last[1].rsplit("/", 1)[0] + item
            else:
                continue
            ops.add((method, path))
            last = (method, path)
    return ops


def spec_operations(doc: dict) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}


def test_document_is_valid_and_matches_the_contract():
    from openapi_spec_validator import validate

    doc = spec()
    validate(doc)
    assert doc["openapi"].startswith("3.0.")
    contract = documented_operations()
    assert len(contract) >= 30, f"the contract parser found only {sorted(contract)}"
    assert spec_operations(doc) == contract | {("GET", "/api/openapi.json")}, (
        f"only in the document: {sorted(spec_operations(doc) - contract)}; "
        f"only in the contract: {sorted(contract - spec_operations(doc))}"
    )
    # Bearer tokens everywhere except sign-in, the public settings and this document.
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme.get("bearerFormat")) == ("http", "bearer", "JWT")
    assert doc["security"] == [{"bearerAuth": []}]
    public = {(m.upper(), p) for p, item in doc["paths"].items() for m, o in item.items()
              if m in METHODS and o.get("security") == []}
    assert public == {("POST", "/api/login"), ("GET", "/api/openapi.json"), ("GET", "/api/config")}
    # Every path parameter is declared, and every error answer is the Error schema.
    for path, item in doc["paths"].items():
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)
            for status, resp in op["responses"].items():
                if status.startswith(("4", "5")):
                    resp = doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]] if "$ref" in resp else resp
                    assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["code", "message"]


def test_served_document_is_the_repository_file(server):
    r = requests.get(f"{server.api}/api/openapi.json", timeout=30)  # no token needed
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/json"
    assert r.content == SPEC_PATH.read_bytes(), "served verbatim (include_str!): rebuild the server after editing the file"


HOOKS = textwrap.dedent('''
    """Schemathesis hooks for CloudVault's run (written by tests/e2e/test_openapi.py)."""
    import os

    import schemathesis

    ROOT_ID = int(os.environ["CLOUDVAULT_TEST_ROOT_USER_ID"])


    @schemathesis.hook
    def before_call(context, case, kwargs):
        """Never disable, reset or delete the user whose session the run uses (also not as "01" or "+1")."""
        params = case.path_parameters
        if not case.path.startswith("/api/users/{id}") or not params or "id" not in params:
            return
        try:
            same = int(str(params["id"])) == ROOT_ID
        except ValueError:
            same = False
        if same:
            params["id"] = ROOT_ID + 1_000_000
''')


def test_schemathesis_finds_the_server_true_to_its_document(server, tmp_path):
    root = console_login(server)
    root_id = root.get("/api/me").json()["id"]
    # What the document's examples name exists, so the examples phase reaches the success answers.
    server.s3.create_bucket(Bucket="photos")
    server.s3.put_object(Bucket="photos", Key="2026/cat.jpg", Body=b"\xff\xd8\xff meow", ContentType="image/jpeg")

    hooks_dir = tmp_path / "hooks"
    hooks_dir.mkdir()
    (hooks_dir / "cloudvault_schemathesis_hooks.py").write_text(HOOKS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    env.update(
        SCHEMATHESIS_HOOKS="cloudvault_schemathesis_hooks",
        PYTHONPATH=os.pathsep.join(filter(None, [str(hooks_dir), env.get("PYTHONPATH", "")])),
        CLOUDVAULT_TEST_ROOT_USER_ID=str(root_id),
        NO_COLOR="1",
    )
    report = tmp_path / "junit.xml"
    argv = [
        tool_path("schemathesis"), "run", f"{server.api}/api/openapi.json",
        "--checks", ",".join([
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_headers_conformance",
            "response_schema_conformance",
        ]),
        "--header", f"Authorization: Bearer {root.token}",
        "--exclude-path", "/api/logout",
        "--exclude-path", "/api/me/password",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--request-timeout", "30",
        "--workers", "1",
        "--generation-database", "none",
        "--continue-on-failure",
        "--no-color",
        "--report", "junit", "--report-junit-path", str(report),
        # e.g. "--seed 1234" to replay a run (the seed is printed at the end of every run).
        *shlex.split(os.environ.get("CLOUDVAULT_SCHEMATHESIS_ARGS", "")),
    ]
    try:
        # In tmp_path: schemathesis keeps a cache of past failures in .schemathesis/ under its cwd.
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=SCHEMATHESIS_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, cwd=tmp_path)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"schemathesis did not finish within {SCHEMATHESIS_TIMEOUT_S} s\n{(e.stdout or '')[-6000:]}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"schemathesis found the server and its document disagree:\n{out[-20000:]}"
    # The run reached every selected operation, and the session it used still works afterwards.
    selected = re.search(r"Selected: (\d+)/(\d+)", out)
    tested = re.search(r"Tested: (\d+)", out)
    assert selected and tested, out[-4000:]
    assert int(tested.group(1)) == int(selected.group(1)) >= 30, out[-4000:]
    assert root.get("/api/me").status_code == 200, "the run ended its own session"
    print(out[-3000:], file=sys.stderr)
