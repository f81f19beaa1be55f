"""Static checks of CloudVault's container image and OpenShift manifests (no cluster, no Docker engine).

What runs here:
  * yamllint over openshift/ (config openshift/.yamllint: the default rules, line length relaxed);
  * kubernetes-validate, strict, for every Kubernetes kind: the files as written, the
    `kubectl kustomize` rendering, and the renderings with each component;
  * a structural JSON schema for the OpenShift kinds (Route, ImageStream) that kubernetes-validate
    does not know;
  * checkov on openshift/ (framework kubernetes) and on the Dockerfile (framework dockerfile), with
    the justified skip list below;
  * what a reviewer checks by hand: hardening of every container, probes, resources, ports, the
    HPA/PDB/rollout arithmetic, the network policy graph, the kustomization's file list, secrets
    kept out of ConfigMaps and the image, and the Dockerfile's shape.

Each check helper returns a list of problems; the tests assert that list is empty for the real files
and, in test_checks_catch_*, non-empty for a deliberately broken copy, so no check is vacuous.

Setup (see tests/deploy/README.md): tests/deploy/requirements.txt in the test venv; checkov in a venv
of its own (tests/deploy/requirements-checkov.txt; its pins conflict with awscli's); kubectl (its
built-in kustomize) on PATH.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OPENSHIFT = REPO / "openshift"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DOCS = REPO / "docs" / "deploy-openshift.md"
KUSTOMIZATION = OPENSHIFT / "kustomization.yaml"
SECRET_EXAMPLE = OPENSHIFT / "secret.example.yaml"
COMPONENTS = OPENSHIFT / "components"

# OpenShift 4.20 runs Kubernetes 1.33; 1.37 is the newest schema set kubernetes-validate ships, so
# an API removed in a newer Kubernetes shows up here before it shows up on a cluster upgrade.
K8S_VERSIONS = ["1.33.0", "1.37.0"]

OPENSHIFT_KINDS = {"Route", "ImageStream"}
KUSTOMIZE_KINDS = {"Kustomization", "Component"}

SECRET_NAME = "cloudvault-secrets"
SECRET_KEYS = {"database-password", "jwt-secret", "master-key", "root-user", "root-password"}
CLOUDVAULT_DEPLOYMENTS = {"backend", "frontend"}
MYSQL_IMAGES = ("registry.redhat.io/rhel9/mysql-80:", "quay.io/sclorg/mysql-80-c9s:")

# checkov checks skipped for the whole scan, each for a reason that holds for every resource.
# (Skips that hold for one resource only are annotations on that resource: `checkov.io/skipN`,
# and ALLOWED_RESOURCE_SKIPS below lists the ones allowed to exist.)
CHECKOV_K8S_SKIPS = {
    # "The default namespace should not be used": the manifests are namespace-less on purpose; the
    # project is chosen with `oc project` / `oc apply -n` (test_no_namespace_in_manifests).
    "CKV_K8S_21",
    # "Image should use digest": the cloudvault image is an ImageStreamTag; OpenShift's image trigger
    # replaces it with the pushed digest at each rollout. mysql-80:1 is Red Hat's errata-updated
    # tag; pin a digest with a kustomize `images:` entry where change control requires it.
    "CKV_K8S_43",
    # "Containers should run as a high UID": OpenShift's restricted-v2 SCC assigns the UID from the
    # project's range (1000xxxxxx); setting runAsUser is what we must NOT do (test_hardening).
    "CKV_K8S_40",
    # "Prefer secrets as files over environment variables": cloudvault and the mysql image read
    # their configuration from environment variables only; there is no *_FILE variant to mount.
    "CKV_K8S_35",
}
ALLOWED_RESOURCE_SKIPS = {("CKV_K8S_22", "Deployment.default.mysql")}  # read-only rootfs, see mysql-deployment.yaml
CHECKOV_DOCKER_SKIPS = {
    # "HEALTHCHECK instruction": Kubernetes ignores HEALTHCHECK (and OCI images built by Buildah drop
    # it); the Deployments' startup/liveness/readiness probes are the health checks. One image
    # serves two roles on different ports, so a single HEALTHCHECK would be wrong for one of them.
    "CKV_DOCKER_2",
}

CMD_TIMEOUT = 300


# ---- loading ------------------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    """Top-level manifests in openshift/ (the kustomization itself excluded)."""
    return sorted(p for p in OPENSHIFT.glob("*.yaml") if p.name != "kustomization.yaml")


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def applied_docs() -> list[dict]:
    """Every object of the manifests that `oc apply -k` applies (the files in the kustomization)."""
    kust = yaml.safe_load(KUSTOMIZATION.read_text())
    docs = []
    for name in kust["resources"]:
        docs.extend(load_docs(OPENSHIFT / name))
    return docs


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_templates(docs: list[dict]) -> list[tuple[str, dict]]:
    return [(d["metadata"]["name"], d["spec"]["template"]) for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def all_containers(pod_spec: dict) -> list[dict]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


def configmap_env(docs: list[dict]) -> dict[str, str]:
    return by_kind(docs, "ConfigMap")["cloudvault-config"]["data"]


def run(cmd: list[str], cwd: Path = REPO, timeout: int = CMD_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def kubectl() -> str:
    path = shutil.which("kubectl")
    if not path:
        pytest.fail("kubectl is not on PATH: its built-in kustomize renders openshift/ (install Debian's kubectl or oc)")
    return path


def kustomize_build(directory: Path) -> list[dict]:
    proc = run([kubectl(), "kustomize", str(directory)])
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


def overlay_with(tmp_path: Path, components: list[str]) -> Path:
    """A throw-away overlay: the base plus the given components (paths must be relative for kustomize)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base = os.path.relpath(OPENSHIFT, overlay)
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [base],
                "components": [f"{base}/components/{c}" for c in components],
            }
        )
    )
    return overlay


def duration_seconds(text: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", str(text).strip())
    assert m, f"not a HAProxy duration: {text!r}"
    value, unit = int(m.group(1)), m.group(2) or "ms"
    return {"ms": value // 1000, "s": value, "m": value * 60, "h": value * 3600, "d": value * 86400}[unit]


# ---- check helpers (each returns a list of problems) -------------------------------------------


def hardening_problems(docs: list[dict]) -> list[str]:
    """OpenShift restricted-v2 friendly hardening of every pod and container."""
    problems = []
    for name, template in pod_templates(docs):
        spec = template["spec"]
        psc = spec.get("securityContext", {})
        for forbidden in ("runAsUser", "runAsGroup", "fsGroup"):
            if forbidden in psc:
                problems.append(f"{name}: pod securityContext sets {forbidden} (SCC must assign it)")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: pod seccompProfile is not RuntimeDefault")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: service account token is mounted")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            problems.append(f"{name}: uses a host namespace")
        for c in all_containers(spec):
            cid = f"{name}/{c['name']}"
            sc = c.get("securityContext", {})
            for forbidden in ("runAsUser", "runAsGroup"):
                if forbidden in sc:
                    problems.append(f"{cid}: securityContext sets {forbidden}")
            if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
                problems.append(f"{cid}: runAsNonRoot is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cid}: allowPrivilegeEscalation is not false")
            if sc.get("privileged", False):
                problems.append(f"{cid}: privileged")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                problems.append(f"{cid}: capabilities do not drop ALL")
            if sc.get("capabilities", {}).get("add"):
                problems.append(f"{cid}: adds capabilities")
            if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") != "RuntimeDefault":
                problems.append(f"{cid}: seccompProfile is not RuntimeDefault")
            if name in CLOUDVAULT_DEPLOYMENTS:
                if sc.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{cid}: readOnlyRootFilesystem is not true")
                tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
                vols = {v["name"]: v for v in spec.get("volumes", [])}
                if not tmp or "emptyDir" not in vols.get(tmp[0]["name"], {}):
                    problems.append(f"{cid}: /tmp is not an emptyDir")
    return problems


def resources_and_probes_problems(docs: list[dict]) -> list[str]:
    problems = []
    for name, template in pod_templates(docs):
        for c in all_containers(template["spec"]):
            cid = f"{name}/{c['name']}"
            res = c.get("resources", {})
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in res.get(section, {}):
                        problems.append(f"{cid}: no {section}.{resource}")
            if c in template["spec"].get("containers", []):
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if probe not in c:
                        problems.append(f"{cid}: no {probe}")
            if not c.get("image") or c["image"].endswith(":latest") or ":" not in c["image"].rsplit("/", 1)[-1]:
                problems.append(f"{cid}: image {c.get('image')!r} has no fixed tag")
    return problems


def named_ports(docs: list[dict]) -> dict[str, dict[str, int]]:
    """Deployment name -> {port name: containerPort}."""
    out = {}
    for name, template in pod_templates(docs):
        out[name] = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
    return out


def port_problems(docs: list[dict]) -> list[str]:
    """Every port the manifests open or target is above 1024 (no NET_BIND_SERVICE needed)."""
    problems = []
    ports: list[tuple[str, object]] = []
    for name, template in pod_templates(docs):
        for c in all_containers(template["spec"]):
            ports += [(f"{name}/{c['name']} containerPort", p["containerPort"]) for p in c.get("ports", [])]
    for name, svc in by_kind(docs, "Service").items():
        for p in svc["spec"]["ports"]:
            ports.append((f"service {name} port", p["port"]))
            if isinstance(p.get("targetPort"), int):
                ports.append((f"service {name} targetPort", p["targetPort"]))
    for name, np in by_kind(docs, "NetworkPolicy").items():
        for rule in np["spec"].get("ingress", []):
            ports += [(f"networkpolicy {name}", p["port"]) for p in rule.get("ports", [])]
    for where, port in ports:
        if not isinstance(port, int) or port <= 1024:
            problems.append(f"{where}: {port!r} is not a port number above 1024")
    if not ports:
        problems.append("no ports found at all")
    return problems


def selector_matches(selector: dict, labels: dict) -> bool:
    match_labels = selector.get("matchLabels", {}) if "matchLabels" in selector or "matchExpressions" in selector else selector
    assert not selector.get("matchExpressions"), "matchExpressions are not evaluated by these checks"
    return all(labels.get(k) == v for k, v in match_labels.items())


def service_problems(docs: list[dict]) -> list[str]:
    """Each Service selects the pods of one Deployment and its target ports exist there."""
    problems = []
    ports = named_ports(docs)
    templates = dict(pod_templates(docs))
    for name, svc in by_kind(docs, "Service").items():
        targets = [d for d, t in templates.items() if selector_matches(svc["spec"]["selector"], t["metadata"]["labels"])]
        if len(targets) != 1:
            problems.append(f"service {name} selects {targets}, expected exactly one Deployment")
            continue
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            known = ports[targets[0]]
            if isinstance(target, str) and target not in known:
                problems.append(f"service {name}: targetPort {target!r} is not a port name of {targets[0]}")
            if isinstance(target, int) and target not in known.values():
                problems.append(f"service {name}: targetPort {target} is not a containerPort of {targets[0]}")
    return problems


# The network-policy graph: who may open a connection to which pod and port.
ROUTER = "openshift-router"
ROUTER_NS_LABELS = [{"network.openshift.io/policy-group": "ingress"}, {"policy-group.network.openshift.io/ingress": ""}]


def allowed_ingress(docs: list[dict]) -> set[tuple[str, str, int]]:
    """(source, destination Deployment, port) triples the NetworkPolicies allow.

    Sources: the Deployments of the project and ROUTER (a pod in a namespace carrying the router's
    policy-group label). A destination pod that no policy selects would accept everything: it is
    reported with source "*".
    """
    templates = {name: t["metadata"]["labels"] for name, t in pod_templates(docs)}
    policies = [p for p in docs if p["kind"] == "NetworkPolicy"]
    allowed = set()
    for dest, dest_labels in templates.items():
        dest_ports = set(named_ports(docs)[dest].values())
        selecting = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", ["Ingress"]) and selector_matches(p["spec"]["podSelector"], dest_labels)]
        if not selecting:
            allowed |= {("*", dest, port) for port in dest_ports}
            continue
        for policy in selecting:
            for rule in policy["spec"].get("ingress", []):
                rule_ports = {p["port"] for p in rule.get("ports", [])} or dest_ports
                sources = set()
                for peer in rule.get("from", [{}]):
                    if "namespaceSelector" in peer:
                        ns = peer["namespaceSelector"].get("matchLabels", {})
                        if any(ns == lbl for lbl in ROUTER_NS_LABELS) and peer.get("podSelector", {}) == {}:
                            sources.add(ROUTER)
                        elif not ns:
                            sources.add("*")
                    elif "podSelector" in peer:
                        sources |= {src for src, lbl in templates.items() if selector_matches(peer["podSelector"], lbl)}
                    else:
                        sources.add("*")
                allowed |= {(src, dest, port) for src in sources for port in rule_ports if port in dest_ports}
    return allowed


EXPECTED_INGRESS = {
    (ROUTER, "frontend", 8080),
    (ROUTER, "backend", 9000),
    ("frontend", "backend", 4000),
    ("backend", "mysql", 3306),
}


def dockerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """(stage index, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, stage, buf = [], -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        full = (buf + line).strip()
        buf = ""
        if not full:
            continue
        instr, _, args = full.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            stage += 1
        out.append((stage, instr, args.strip()))
    return out


def dockerfile_problems(text: str) -> list[str]:
    problems = []
    ins = dockerfile_instructions(text)
    froms = [a for _, i, a in ins if i == "FROM"]
    if len(froms) < 2:
        problems.append("not a multi-stage build")
    last = len(froms) - 1
    final = [(i, a) for s, i, a in ins if s == last]
    users = [a for i, a in final if i == "USER"]
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]):
        problems.append(f"final stage USER is not a numeric non-root UID: {users[-1] if users else None!r}")
    for s, i, a in ins:
        if i == "ADD" and re.search(r"(https?|ftp)://", a):
            problems.append(f"ADD of a remote URL: {a}")
        if i in ("ENV", "ARG") and re.search(r"(PASSWORD|SECRET|JWT|MASTER_KEY|DATABASE_URL|TOKEN)", a, re.I):
            problems.append(f"{i} in the image looks like a secret: {a}")
    runs = " ".join(a for i, a in final if i == "RUN")
    if not re.search(r"(chgrp\s+(-R\s+)?0\s+\S*/data|chown\s+(-R\s+)?\d+:0\s+\S*/data)", runs):
        problems.append("/data is not given to group 0 (chgrp 0 / chown UID:0) in the final stage")
    if not re.search(r"chmod\s+(-R\s+)?g=u\s+\S*/data", runs):
        problems.append("/data is not chmod g=u in the final stage")
    exposed = [int(p.split("/")[0]) for i, a in final if i == "EXPOSE" for p in a.split()]
    if sorted(exposed) != [4000, 8080, 9000]:
        problems.append(f"EXPOSE {exposed}, expected 9000 4000 8080")
    if any(p <= 1024 for p in exposed):
        problems.append("a port at or below 1024 is exposed")
    entry = [a for i, a in final if i == "ENTRYPOINT"]
    if not entry or json.loads(entry[-1]) != ["/usr/local/bin/cloudvault"]:
        problems.append(f"ENTRYPOINT is {entry[-1] if entry else None}")
    cmd = [a for i, a in final if i == "CMD"]
    if not cmd or json.loads(cmd[-1]) != ["serve"]:
        problems.append(f"CMD is {cmd[-1] if cmd else None}")
    if not any(i == "VOLUME" and "/data" in a for i, a in final):
        problems.append("no VOLUME /data")
    if not any(i == "COPY" and a.startswith("--from=") for i, a in final):
        problems.append("the final stage copies nothing from the builder")
    base = froms[-1].split()[0] if froms else ""
    if not re.fullmatch(r"(docker\.io/(library/)?)?debian:(bookworm|trixie)-slim|registry\.access\.redhat\.com/ubi\d+/ubi-minimal(:\S+)?", base):
        problems.append(f"runtime base {base!r} is not debian bookworm/trixie-slim or ubi-minimal")
    if "ca-certificates" not in runs:
        problems.append("ca-certificates is not installed in the runtime image")
    return problems


def secret_literal_problems(docs: list[dict]) -> list[str]:
    """Secret material only through secretKeyRef, never as a literal value or in the ConfigMap."""
    problems = []
    sensitive = re.compile(r"(PASSWORD|SECRET|JWT|MASTER_KEY)", re.I)
    for key in configmap_env(docs):
        if sensitive.search(key) or key == "CLOUDVAULT_DATABASE_URL":
            problems.append(f"ConfigMap carries {key}")
    for name, template in pod_templates(docs):
        for c in all_containers(template["spec"]):
            for env in c.get("env", []):
                if sensitive.search(env["name"]) and "value" in env:
                    problems.append(f"{name}/{c['name']}: {env['name']} is a literal value")
                if "value" in env and re.search(r"://[^:/@]+:[^$@]+@", env["value"]):
                    problems.append(f"{name}/{c['name']}: {env['name']} embeds a literal password")
    return problems


# ---- yamllint ----------------------------------------------------------------------------------


def yamllint(paths: list[Path]) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "yamllint", "-s", "-f", "parsable", "-c", str(OPENSHIFT / ".yamllint"), *map(str, paths)])


def test_yamllint_openshift():
    proc = yamllint([OPENSHIFT])
    assert proc.returncode == 0, f"yamllint:\n{proc.stdout}{proc.stderr}"


def test_yamllint_config_relaxes_only_line_length():
    config = yaml.safe_load((OPENSHIFT / ".yamllint").read_text())
    assert config["extends"] == "default"
    assert config.get("rules") == {"line-length": "disable"}
    assert set(config) <= {"extends", "rules"}


def test_checks_catch_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("---\napiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata:\n   name: x\n")  # duplicate key, bad indent
    proc = yamllint([bad])
    assert proc.returncode != 0 and "duplicate" in proc.stdout


# ---- kubernetes-validate -----------------------------------------------------------------------


def k8s_validation_errors(docs: list[dict], version: str) -> list[str]:
    errors = []
    for d in docs:
        if d["kind"] in OPENSHIFT_KINDS | KUSTOMIZE_KINDS:
            continue
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{d['kind']}/{d['metadata'].get('name')}: {e.message} at {'/'.join(map(str, e.path))}")
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{d['kind']}/{d['metadata'].get('name')}: no schema ({e})")
    return errors


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_kubernetes_schema_of_each_file(path, version):
    docs = load_docs(path)
    assert docs, f"{path.name} holds no document"
    assert k8s_validation_errors(docs, version) == []


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_schema_of_rendered_variants(tmp_path, version):
    variants = {
        "base": kustomize_build(OPENSHIFT),
        "single-replica+s3-only": kustomize_build(overlay_with(tmp_path, ["single-replica", "s3-only"])),
    }
    for name, docs in variants.items():
        k8s_kinds = [d for d in docs if d["kind"] not in OPENSHIFT_KINDS]
        assert len(k8s_kinds) >= 10, f"{name}: rendering lost objects"
        assert k8s_validation_errors(docs, version) == [], name


def test_checks_catch_schema_errors():
    deployment = copy.deepcopy(by_kind(applied_docs(), "Deployment")["backend"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 4000  # typo
    deployment["spec"]["replicas"] = "two"
    errors = k8s_validation_errors([deployment], K8S_VERSIONS[0])
    assert len(errors) == 1 and "Deployment/backend" in errors[0]


# ---- OpenShift kinds: structural schemas --------------------------------------------------------

METADATA_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}

ROUTE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "route.openshift.io/v1"},
        "kind": {"const": "Route"},
        "metadata": METADATA_SCHEMA,
        "spec": {
            "type": "object",
            "required": ["to", "port", "tls"],
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string"},
                "path": {"type": "string", "pattern": "^/"},
                "to": {
                    "type": "object",
                    "required": ["kind", "name"],
                    "additionalProperties": False,
                    "properties": {
                        "kind": {"const": "Service"},
                        "name": {"type": "string"},
                        "weight": {"type": "integer", "minimum": 0, "maximum": 256},
                    },
                },
                "port": {
                    "type": "object",
                    "required": ["targetPort"],
                    "additionalProperties": False,
                    "properties": {"targetPort": {"type": ["string", "integer"]}},
                },
                "tls": {
                    "type": "object",
                    "required": ["termination", "insecureEdgeTerminationPolicy"],
                    "additionalProperties": False,
                    "properties": {
                        "termination": {"const": "edge"},
                        "insecureEdgeTerminationPolicy": {"enum": ["Allow", "Redirect", "None"]},
                        "certificate": {"type": "string"},
                        "key": {"type": "string"},
                        "caCertificate": {"type": "string"},
                    },
                },
                "wildcardPolicy": {"enum": ["None", "Subdomain"]},
            },
        },
    },
}

IMAGESTREAM_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "image.openshift.io/v1"},
        "kind": {"const": "ImageStream"},
        "metadata": METADATA_SCHEMA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["lookupPolicy"],
            "properties": {
                "lookupPolicy": {
                    "type": "object",
                    "required": ["local"],
                    "additionalProperties": False,
                    "properties": {"local": {"const": True}},
                },
                "tags": {"type": "array"},
            },
        },
    },
}

OPENSHIFT_SCHEMAS = {"Route": ROUTE_SCHEMA, "ImageStream": IMAGESTREAM_SCHEMA}


def openshift_schema_errors(docs: list[dict]) -> list[str]:
    errors = []
    for d in docs:
        if d.get("kind") in OPENSHIFT_SCHEMAS:
            validator = jsonschema.Draft202012Validator(OPENSHIFT_SCHEMAS[d["kind"]])
            errors += [f"{d['kind']}/{d['metadata'].get('name')}: {e.message} at {'/'.join(map(str, e.path))}" for e in validator.iter_errors(d)]
    return errors


def route_problems(docs: list[dict]) -> list[str]:
    problems = openshift_schema_errors(docs)
    routes = by_kind(docs, "Route")
    services = by_kind(docs, "Service")
    expected = {"console": ("frontend", "Redirect"), "s3": ("backend", "Allow")}
    if set(routes) != set(expected):
        problems.append(f"routes {sorted(routes)}, expected {sorted(expected)}")
    for name, (service, policy) in expected.items():
        route = routes.get(name)
        if not route:
            continue
        spec = route["spec"]
        if spec["to"]["name"] != service:
            problems.append(f"route {name} -> {spec['to']['name']}, expected {service}")
        if spec["tls"]["insecureEdgeTerminationPolicy"] != policy:
            problems.append(f"route {name}: insecureEdgeTerminationPolicy {spec['tls']['insecureEdgeTerminationPolicy']}, expected {policy}")
        svc_ports = {p["name"]: p["port"] for p in services.get(spec["to"]["name"], {"spec": {"ports": []}})["spec"]["ports"]}
        if spec["port"]["targetPort"] not in svc_ports:
            problems.append(f"route {name}: targetPort {spec['port']['targetPort']!r} is not a port of service {spec['to']['name']}")
    s3 = routes.get("s3")
    if s3:
        timeout = s3["metadata"].get("annotations", {}).get("haproxy.router.openshift.io/timeout")
        if timeout is None:
            problems.append("route s3 has no haproxy.router.openshift.io/timeout")
        elif duration_seconds(timeout) < 300:
            problems.append(f"route s3 timeout {timeout} is too short for large uploads")
        if s3["spec"]["port"]["targetPort"] != "s3":
            problems.append("route s3 does not target the backend's S3 port")
    return problems


def test_openshift_kinds_against_structural_schema():
    docs = applied_docs()
    assert {d["kind"] for d in docs} >= OPENSHIFT_KINDS
    assert route_problems(docs) == []


def test_checks_catch_bad_routes():
    docs = copy.deepcopy(applied_docs())
    routes = by_kind(docs, "Route")
    routes["s3"]["spec"]["tls"]["termination"] = "passthrough"
    routes["s3"]["metadata"].setdefault("annotations", {}).pop("haproxy.router.openshift.io/timeout", None)
    routes["console"]["spec"]["tls"]["insecureEdgeTerminationPolicy"] = "Allow"
    routes["console"]["spec"]["port"]["targetPort"] = "api"
    problems = route_problems(docs)
    assert any("passthrough" in p or "edge" in p for p in problems), problems
    assert any("timeout" in p for p in problems), problems
    assert any("console: insecureEdgeTerminationPolicy" in p for p in problems), problems
    assert any("'api' is not a port of service frontend" in p for p in problems), problems


# ---- checkov -----------------------------------------------------------------------------------


def checkov_bin() -> str:
    cache = Path(os.environ.get("CLOUDVAULT_CACHE", Path.home() / ".cache" / "cloudvault"))
    for candidate in (os.environ.get("CHECKOV"), str(cache / "checkov-venv" / "bin" / "checkov"), shutil.which("checkov")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "checkov not found: python3 -m venv ~/.cache/cloudvault/checkov-venv && "
        "~/.cache/cloudvault/checkov-venv/bin/pip install -r tests/deploy/requirements-checkov.txt "
        "(or set CHECKOV=/path/to/checkov)"
    )


def checkov(args: list[str], skips: set[str]) -> dict:
    cmd = [checkov_bin(), *args, "-o", "json", "--skip-download", "--compact"]
    if skips:
        cmd += ["--skip-check", ",".join(sorted(skips))]
    proc = run(cmd)
    assert proc.stdout.strip(), f"checkov printed nothing (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    assert len(reports) == 1, f"expected one framework's report, got {[r.get('check_type') for r in reports]}"
    return reports[0]


def failed(report: dict) -> list[str]:
    return [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in report.get("results", {}).get("failed_checks", [])]


def test_checkov_kubernetes():
    report = checkov(["-d", str(OPENSHIFT), "--framework", "kubernetes"], CHECKOV_K8S_SKIPS)
    assert failed(report) == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] >= 150, report["summary"]  # it did scan the Deployments
    skipped = {(c["check_id"], c["resource"]) for c in report["results"].get("skipped_checks", [])}
    assert skipped == ALLOWED_RESOURCE_SKIPS, "resource-level checkov skips changed: justify them here"


def test_checkov_dockerfile():
    report = checkov(["-f", str(DOCKERFILE), "--framework", "dockerfile"], CHECKOV_DOCKER_SKIPS)
    assert failed(report) == []
    assert report["summary"]["passed"] >= 10, report["summary"]


def test_checks_catch_checkov_findings(tmp_path):
    bad = copy.deepcopy(by_kind(applied_docs(), "Deployment")["backend"])
    container = bad["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True}
    del container["resources"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    report = checkov(["-d", str(tmp_path), "--framework", "kubernetes"], CHECKOV_K8S_SKIPS)
    ids = {c.split()[0] for c in failed(report)}
    assert {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_11", "CKV_K8S_13"} <= ids, ids


# ---- what a reviewer checks --------------------------------------------------------------------


def test_hardening():
    assert hardening_problems(applied_docs()) == []


def test_resources_and_probes():
    assert resources_and_probes_problems(applied_docs()) == []


def test_checks_catch_weak_containers():
    docs = copy.deepcopy(applied_docs())
    spec = by_kind(docs, "Deployment")["frontend"]["spec"]["template"]["spec"]
    spec["securityContext"]["runAsUser"] = 1000
    c = spec["containers"][0]
    c["securityContext"]["allowPrivilegeEscalation"] = True
    c["securityContext"]["readOnlyRootFilesystem"] = False
    c["securityContext"]["capabilities"] = {"add": ["NET_BIND_SERVICE"]}
    del c["readinessProbe"]
    del c["resources"]["limits"]
    c["image"] = "cloudvault:latest"
    hard = hardening_problems(docs)
    assert len(hard) == 5, hard
    res = resources_and_probes_problems(docs)
    assert len(res) == 4, res


def test_ports_above_1024_and_services_wired():
    docs = applied_docs()
    assert port_problems(docs) == []
    assert service_problems(docs) == []
    services = by_kind(docs, "Service")
    assert {p["name"]: p["port"] for p in services["backend"]["spec"]["ports"]} == {"api": 4000, "s3": 9000}
    assert [p["port"] for p in services["frontend"]["spec"]["ports"]] == [8080]
    assert [p["port"] for p in services["mysql"]["spec"]["ports"]] == [3306]


def test_checks_catch_bad_ports():
    docs = copy.deepcopy(applied_docs())
    by_kind(docs, "Service")["frontend"]["spec"]["ports"][0]["port"] = 80
    by_kind(docs, "Service")["backend"]["spec"]["ports"][0]["targetPort"] = "apii"
    assert port_problems(docs) == ["service frontend port: 80 is not a port number above 1024"]
    assert service_problems(docs) == ["service backend: targetPort 'apii' is not a port name of backend"]


def test_backend_rollout_probes_and_shutdown():
    docs = applied_docs()
    backend = by_kind(docs, "Deployment")["backend"]
    spec = backend["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    assert c["name"] == "backend" and c["args"] == ["serve"]
    ports = named_ports(docs)["backend"]
    assert ports == {"s3": 9000, "api": 4000}
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert (get["path"], ports.get(get["port"], get["port"])) == (path, 4000), probe
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "startupProbe too short for migrations"
    grace = int(configmap_env(docs)["CLOUDVAULT_SHUTDOWN_GRACE_SECS"])
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > grace + int(pre_stop[1])
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"] == "cloudvault-data"
    assert configmap_env(docs)["CLOUDVAULT_DATA_DIR"] == "/data"


def test_frontend_runs_console_against_backend():
    docs = applied_docs()
    frontend = by_kind(docs, "Deployment")["frontend"]
    c = frontend["spec"]["template"]["spec"]["containers"][0]
    assert frontend["spec"]["replicas"] == 2
    assert frontend["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert c["args"] == ["console"]
    assert named_ports(docs)["frontend"] == {"http": 8080}
    env = configmap_env(docs)
    assert [e["configMapRef"]["name"] for e in c["envFrom"]] == ["cloudvault-config"]
    api = urlsplit(env["CLOUDVAULT_API_URL"])
    assert (api.hostname, api.port) == ("backend", 4000)
    assert env["CLOUDVAULT_CONSOLE_DIR"] == "/opt/cloudvault/console"


def test_images_resolve_through_the_image_stream():
    docs = applied_docs()
    stream = by_kind(docs, "ImageStream")["cloudvault"]
    assert stream["spec"]["lookupPolicy"]["local"] is True
    for name in CLOUDVAULT_DEPLOYMENTS:
        d = by_kind(docs, "Deployment")[name]
        image = d["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith(stream["metadata"]["name"] + ":"), image
        triggers = json.loads(d["metadata"]["annotations"]["image.openshift.io/triggers"])
        assert triggers[0]["from"] == {"kind": "ImageStreamTag", "name": image}
        assert f'@.name=="{name}"' in triggers[0]["fieldPath"], triggers[0]["fieldPath"]


def test_hpa_and_pdb():
    docs = applied_docs()
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["backend"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "backend"}
    assert spec["minReplicas"] >= 2 and spec["maxReplicas"] == 6 and spec["minReplicas"] <= spec["maxReplicas"]
    assert spec["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    pdbs = by_kind(docs, "PodDisruptionBudget")
    assert pdbs["backend"]["spec"] == {"minAvailable": 1, "selector": by_kind(docs, "Deployment")["backend"]["spec"]["selector"]}
    assert spec["minReplicas"] > pdbs["backend"]["spec"]["minAvailable"], "a drain would be blocked"
    for pdb in pdbs.values():
        target = by_kind(docs, "Deployment")[pdb["metadata"]["name"]]
        assert target["spec"]["replicas"] > pdb["spec"]["minAvailable"]


def test_database_wiring_and_connection_budget():
    docs = applied_docs()
    deployments = by_kind(docs, "Deployment")
    mysql = deployments["mysql"]
    assert mysql["spec"]["replicas"] == 1 and mysql["spec"]["strategy"] == {"type": "Recreate"}
    mc = mysql["spec"]["template"]["spec"]["containers"][0]
    assert mc["image"].startswith(MYSQL_IMAGES), mc["image"]
    menv = {e["name"]: e for e in mc["env"]}
    assert menv["MYSQL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": SECRET_NAME, "key": "database-password"}
    mounts = {m["mountPath"]: m["name"] for m in mc["volumeMounts"]}
    volumes = {v["name"]: v for v in mysql["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/var/lib/mysql/data"]]["persistentVolumeClaim"]["claimName"] == "mysql-data"
    # An acknowledged commit is on disk: redo log and binary log flushed at every commit.
    assert mc["args"][0] == "run-mysqld", mc.get("args")
    assert {"--innodb-flush-log-at-trx-commit=1", "--sync-binlog=1"} <= set(mc["args"]), mc["args"]

    backend = deployments["backend"]["spec"]["template"]["spec"]["containers"][0]
    names = [e["name"] for e in backend["env"]]
    benv = {e["name"]: e for e in backend["env"]}
    url = benv["CLOUDVAULT_DATABASE_URL"]["value"]
    refs = re.findall(r"\$\((\w+)\)", url)
    assert refs == ["DATABASE_PASSWORD"]
    assert names.index("DATABASE_PASSWORD") < names.index("CLOUDVAULT_DATABASE_URL"), "$(VAR) must be defined first"
    assert benv["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": SECRET_NAME, "key": "database-password"}
    parts = urlsplit(url.replace("$(DATABASE_PASSWORD)", "pw"))
    svc = by_kind(docs, "Service")["mysql"]
    assert parts.scheme == "mysql"
    assert (parts.username, parts.hostname, parts.port, parts.path) == (
        menv["MYSQL_USER"]["value"],
        svc["metadata"]["name"],
        svc["spec"]["ports"][0]["port"],
        "/" + menv["MYSQL_DATABASE"]["value"],
    )
    # Every replica's pool, one surge pod included, fits in MySQL's connection limit.
    pool = int(configmap_env(docs)["CLOUDVAULT_DB_MAX_CONNECTIONS"])
    hpa_max = by_kind(docs, "HorizontalPodAutoscaler")["backend"]["spec"]["maxReplicas"]
    assert (hpa_max + 1) * pool < int(menv["MYSQL_MAX_CONNECTIONS"]["value"])


def test_volumes():
    pvcs = by_kind(applied_docs(), "PersistentVolumeClaim")
    assert set(pvcs) == {"cloudvault-data", "mysql-data"}
    assert pvcs["cloudvault-data"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvcs["mysql-data"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    comment = (OPENSHIFT / "pvc-cloudvault-data.yaml").read_text()
    assert "ReadWriteOnce" in comment and "single-replica" in comment and "CephFS" in comment


def test_secrets_come_from_the_operator_secret():
    docs = applied_docs()
    assert secret_literal_problems(docs) == []
    assert not [d for d in docs if d["kind"] == "Secret"], "a Secret is applied by the kustomization"
    used = {}
    for name, template in pod_templates(docs):
        for c in all_containers(template["spec"]):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == SECRET_NAME and not ref.get("optional", False), (name, e)
                    used.setdefault(ref["key"], set()).add(name)
    assert set(used) == SECRET_KEYS
    assert used["database-password"] == {"backend", "mysql"}
    example = load_docs(SECRET_EXAMPLE)
    assert len(example) == 1 and example[0]["kind"] == "Secret" and example[0]["metadata"]["name"] == SECRET_NAME
    assert set(example[0]["stringData"]) == SECRET_KEYS
    assert all("REPLACE" in v or v == "admin" for v in example[0]["stringData"].values())


def test_checks_catch_literal_secrets():
    docs = copy.deepcopy(applied_docs())
    configmap_env(docs)["CLOUDVAULT_JWT_SECRET"] = "x"
    backend = by_kind(docs, "Deployment")["backend"]["spec"]["template"]["spec"]["containers"][0]
    backend["env"].append({"name": "CLOUDVAULT_ROOT_PASSWORD", "value": "hunter22"})
    backend["env"].append({"name": "OTHER_URL", "value": "mysql://u:hunter22@mysql:3306/db"})
    assert len(secret_literal_problems(docs)) == 3


def test_network_policies():
    docs = applied_docs()
    policies = by_kind(docs, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and not deny.get("ingress")
    router_rules = [
        peer["namespaceSelector"]["matchLabels"]
        for p in policies.values()
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if "namespaceSelector" in peer
    ]
    assert {"network.openshift.io/policy-group": "ingress"} in router_rules
    assert allowed_ingress(docs) == EXPECTED_INGRESS


def test_only_the_router_and_frontend_can_reach_the_trusted_proxy_listeners():
    """CLOUDVAULT_TRUSTED_PROXIES names the pod network; that is safe only while the backend's
    NetworkPolicies admit nothing but the router and the console frontend."""
    docs = applied_docs()
    config = by_kind(docs, "ConfigMap")["cloudvault-config"]["data"]
    assert config["CLOUDVAULT_TRUSTED_PROXIES"], "the frontend's X-Forwarded-For must be trusted"
    into_backend = {(src, port) for src, dest, port in allowed_ingress(docs) if dest == "backend"}
    assert into_backend == {(ROUTER, 9000), ("frontend", 4000)}, into_backend


def test_checks_catch_open_network_paths():
    docs = copy.deepcopy(applied_docs())
    for d in docs:
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "allow-frontend-to-backend-api":
            d["spec"]["podSelector"] = {"matchLabels": {"app.kubernetes.io/name": "nothing"}}
    assert EXPECTED_INGRESS - allowed_ingress(docs) == {("frontend", "backend", 4000)}
    # Without the default deny, a pod that no other policy selects is open to everyone.
    docs = [d for d in docs if d["metadata"]["name"] not in ("default-deny-ingress", "allow-backend-to-mysql")]
    assert ("*", "mysql", 3306) in allowed_ingress(docs)


def test_kustomization_lists_every_manifest_but_the_secret_example():
    kust = yaml.safe_load(KUSTOMIZATION.read_text())
    assert kust["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and kust["kind"] == "Kustomization"
    listed = kust["resources"]
    assert len(listed) == len(set(listed)), "duplicate resources"
    expected = {p.name for p in manifest_files()} - {SECRET_EXAMPLE.name}
    assert set(listed) == expected
    assert SECRET_EXAMPLE.name not in listed
    assert "namespace" not in kust, "the kustomization must stay namespace-less"
    assert not kust.get("secretGenerator"), "secrets come from the operator"


def test_no_namespace_in_manifests():
    for path in manifest_files():
        for d in load_docs(path):
            assert "namespace" not in d["metadata"], f"{path.name}: {d['kind']}/{d['metadata']['name']} sets a namespace"


def test_kustomize_build_renders_the_base():
    docs = kustomize_build(OPENSHIFT)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(d["kind"] for d in applied_docs())
    assert "Secret" not in kinds
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"} == {"backend", "frontend", "mysql"}


def test_component_single_replica(tmp_path):
    docs = kustomize_build(overlay_with(tmp_path, ["single-replica"]))
    backend = by_kind(docs, "Deployment")["backend"]
    assert backend["spec"]["replicas"] == 1
    assert backend["spec"]["strategy"] == {"type": "Recreate"}
    assert by_kind(docs, "PersistentVolumeClaim")["cloudvault-data"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "backend" not in by_kind(docs, "HorizontalPodAutoscaler")
    assert "backend" not in by_kind(docs, "PodDisruptionBudget")
    assert "frontend" in by_kind(docs, "PodDisruptionBudget")
    assert hardening_problems(docs) == [] and resources_and_probes_problems(docs) == []


def test_component_s3_only(tmp_path):
    docs = kustomize_build(overlay_with(tmp_path, ["s3-only"]))
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"backend", "mysql"}
    assert set(by_kind(docs, "Route")) == {"s3"}
    c = deployments["backend"]["spec"]["template"]["spec"]["containers"][0]
    assert c["name"] == "backend"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["tcpSocket"] == {"port": "s3"} and "httpGet" not in c[probe], probe
    assert hardening_problems(docs) == [] and port_problems(docs) == [] and service_problems(docs) == []


# ---- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_shape():
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_checks_catch_bad_dockerfile():
    bad = (
        "FROM debian:trixie-slim\n"
        "ADD https://example.com/tool.tgz /opt/\n"
        "ENV CLOUDVAULT_ROOT_PASSWORD=changeme\n"
        "EXPOSE 80\n"
        "USER root\n"
        'ENTRYPOINT ["/bin/sh"]\n'
    )
    problems = dockerfile_problems(bad)
    for fragment in ("multi-stage", "numeric non-root", "remote URL", "secret", "group 0", "g=u", "EXPOSE", "ENTRYPOINT", "CMD", "VOLUME"):
        assert any(fragment in p for p in problems), (fragment, problems)


def test_dockerfile_toolchain_matches_the_repository():
    text = DOCKERFILE.read_text()
    ins = dockerfile_instructions(text)
    channel = re.search(r'channel\s*=\s*"([^"]+)"', (REPO / "rust-toolchain.toml").read_text()).group(1)
    builder = [a for s, i, a in ins if i == "FROM"][0]
    assert re.match(rf"(docker\.io/(library/)?)?rust:{re.escape(channel)}([.-]|$)", builder), (builder, channel)
    assert "wasm32-unknown-unknown" in text
    lock = (REPO / "Cargo.lock").read_text()
    locked = re.search(r'name = "wasm-bindgen"\nversion = "([^"]+)"', lock)
    cli = re.search(r"cargo install wasm-bindgen-cli --version (\S+)", text)
    assert cli, "wasm-bindgen-cli is not installed"
    assert "--locked" not in text[cli.start() : text.index("\n", cli.start())]
    if locked:  # wasm-bindgen CLI and crate must be the same version, or the bundle does not load
        assert cli.group(1) == locked.group(1)
    runs = " ".join(a for _, i, a in ins if i == "RUN")
    assert "cargo build --release --locked -p cloudvault-s3-api" in runs
    assert "--target wasm32-unknown-unknown -p cloudvault-console" in runs
    assert "/opt/cloudvault/console" in runs
    env = " ".join(a for _, i, a in ins if i == "ENV")
    assert "CLOUDVAULT_CONSOLE_DIR=/opt/cloudvault/console" in env and "CLOUDVAULT_DATA_DIR=/data" in env


def test_dockerignore():
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")}
    for required in ("target", ".git", "node_modules", "data", ".cache"):
        assert required in entries, required
    # Whatever the image build needs must not be ignored.
    for needed in ("Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "migrations", "console", "s3-api", "metadata", "tests"):
        assert needed not in entries, needed


# ---- documentation -----------------------------------------------------------------------------


def test_docs_cover_the_deployment_path():
    text = DOCS.read_text()
    for needed in (
        "oc new-project",
        "oc new-build --strategy docker --binary",
        "oc start-build",
        "oc create secret generic cloudvault-secrets",
        "oc apply -k openshift/",
        "oc get route",
        "aws --endpoint-url",
        "oc scale deployment/backend --replicas=",
        "dc/",
        "4.14",
        "ReadWriteMany",
        "components/single-replica",
        "What was tested here",
    ):
        assert needed in text, needed
    for key in SECRET_KEYS:
        assert f"--from-literal={key}=" in text, key
