"""Failpoints in VERSIONED buckets: CloudVault crashed (``exit``) or failed (``error-once``) at a named
step of a versioned write or delete loses no version, shows no half-visible version, keeps no row
without its blob and leaves no orphan file.

The machinery is test_failpoints.py's (the ``server`` fixture: the failpoint build on a fresh data dir
and database per case, janitor grace and interval 1 s; ``Case``: arming, ``expect_crash``, restart
without failpoints, the bounded janitor sweep); test_faults.py's ``Metadata.snapshot``,
``rows_without_blob`` and ``orphan_files`` cover ``object_versions`` rows (noncurrent versions and delete
markers) as well as ``objects`` and part rows. Each case, per backend:
  1. seed, in the armed process without reaching the armed step (put.* armed: every seed object is a
     one-part multipart upload; otherwise PutObject): a bucket with versioning Enabled, three ``keep/``
     objects never touched again, and the key ``target`` with two acknowledged versions v1, v2 (known
     bytes, ETag, version id); family ``suspended``: one Enabled-era version, then versioning
     Suspended and a ``null`` version over it;
  2. the operation that reaches the step, answered by no response and exit 86 (``exit``) or a 500/503
     (``error``):
       put        PutObject of v3 over ``target``;
       complete   CompleteMultipartUpload of a two-part upload on ``target`` (v3 = part 1 + part 2);
       marker     DeleteObject ``target`` without a version id (a delete marker);
       version    DeleteObject ``target`` with VersionId=v1 (a noncurrent version, for good);
       suspended  PutObject over the ``null`` version in the Suspended bucket;
     with the process gone, the database and data dir are checked against what protocol.rs says a crash
     there leaves (e.g. a committed overwrite in an Enabled bucket queues NO garbage: the replaced
     version keeps its blob); then a restart without failpoints;
  3. one janitor sweep past the grace period, then the four numbers, all 0 (lost_or_changed,
     partial, rows_without_blob, orphan_files, as in test_failpoints.py, versions included), and the
     key in one of its two allowed states, the one the protocol promises for the step:
       put/complete  old: ListObjectVersions shows exactly [v2, v1], GET gives v2; new: exactly
                     [v3, v2, v1] with v3 latest, GET and GET by v3's id give v3's bytes and ETag;
       marker        old: no marker, v2 current; new: a marker on top, GET 404 NoSuchKey with
                     x-amz-delete-marker: true and the marker's version id;
       version       old: v1 listed and readable by id; new: v1 NoSuchVersion, not listed, and its
                     blob file removed by the janitor;
       suspended     the ``null`` version (listed first, GET by VersionId=null and GET) is the old or
                     the new bytes; the Enabled-era version intact;
     and in every case each acknowledged version (v1 and v2, or the Enabled-era one) is still listed
     and readable by its id with its bytes, ETag and version id (except v1 once its delete committed);
  4. where the operation did not take effect it is retried and succeeds, ending in the new state with
     no row without its blob.

Each case prints ``failpoint-versions[<backend>] <family> <step>=<action>: lost_or_changed=0
partial=0 rows_without_blob=0 orphan_files=0``.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Optional

import pytest
from botocore.exceptions import ClientError

from conftest import md5_hex
from test_faults import (
    BUCKET,
    blob_path,
    observe,
    parse_manifest,
    referenced_blobs,
    rows_without_blob,
    staging_files,
)
from test_failpoints import (  # noqa: F401 - `server` and `failpoints_bin` are fixtures used here
    OP_TIMEOUT_S,
    PART1,
    SCENARIOS,
    STEPS,
    Case,
    failpoints_bin,
    one_shot_client,
    server,
)

# (family, step, action). Bounded: the steps where a versioned write differs from an unversioned one
# (before the intent, with a placed blob, right after the commit), one `error` variant, both sides of
# a delete's commit for a marker and for a version delete, and a versioned multipart completion.
VCASES = [
    ("put", "put.staged", "exit"),
    ("put", "put.placed", "exit"),
    ("put", "put.committed", "exit"),
    ("put", "put.placed", "error"),
    ("complete", "complete.before_commit", "exit"),
    ("complete", "complete.committed", "exit"),
    ("marker", "delete.before_commit", "exit"),
    ("marker", "delete.committed", "exit"),
    ("version", "delete.before_commit", "exit"),
    ("version", "delete.committed", "exit"),
    ("version", "delete.before_commit", "error"),
    ("suspended", "put.placed", "exit"),
    ("suspended", "put.committed", "exit"),
]
FAMILY_OF_STEP = {"put": "put", "suspended": "put", "complete": "complete", "marker": "delete", "version": "delete"}


def test_every_versioned_case_names_a_real_step():
    """Every step armed here is a step of failpoint.rs, of the operation family the case drives."""
    unknown = sorted({s for _, s, _ in VCASES} - set(STEPS))
    assert not unknown, f"versioned cases arm steps failpoint.rs does not have: {unknown}"
    wrong = [(f, s) for f, s, _ in VCASES if SCENARIOS[s][0] != FAMILY_OF_STEP[f]]
    assert not wrong, f"versioned cases whose operation never reaches the armed step: {wrong}"


@dataclass
class VersionedCase(Case):
    family: str = ""
    acked: dict = field(default_factory=dict)        # version id -> (bytes, ETag), acknowledged
    v1: Optional[str] = None                         # target's oldest acknowledged version
    v2: Optional[str] = None                         # target's newest acknowledged version (not suspended)
    old_null: Optional[tuple] = None                 # suspended: the null version's (bytes, ETag) before the put
    new_etag: Optional[str] = None                   # ETag of the bytes the operation writes
    v1_blobs: set = field(default_factory=set)       # version: v1's blob ids
    old_null_blobs: set = field(default_factory=set)  # suspended: the replaced null version's blob ids

    @property
    def label(self) -> str:
        return f"failpoint-versions[{self.srv.backend}] {self.family} {self.step}={self.action}"

    def seed_put(self, key: str, data: bytes) -> tuple[str, str]:
        """Writes ``key`` without reaching an armed put.* step (a one-part multipart upload when put.*
        is armed); returns (version id, ETag) as acknowledged."""
        if FAMILY_OF_STEP[self.family] == "put":
            upload = self.s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
            etag = self.s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=data)["ETag"]
            got = self.s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
        else:
            got = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        assert got.get("VersionId"), f"{self.label}: seed write of {key} answered no version id: {got}"
        return got["VersionId"], got["ETag"]

    def versioning(self, status: str) -> None:
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": status})

    def blobs_of(self, key: str, version_id: str) -> set:
        """The blob ids the row of ``key``'s version ``version_id`` names (either table)."""
        rows = self.meta.query("SELECT object_key, version_id, manifest FROM objects")
        rows += self.meta.query("SELECT object_key, version_id, manifest FROM object_versions")
        out = set()
        for k, v, m in rows:
            k = k.decode() if isinstance(k, (bytes, bytearray)) else k
            m = m.decode() if isinstance(m, (bytes, bytearray)) else m
            if k == key and v == version_id:
                out |= {b for b, _, _ in parse_manifest(m)}
        assert out, f"{self.label}: no row names blobs for {key} version {version_id}"
        return out

    # -- what a user sees ------------------------------------------------------------------------

    def listed_versions(self, key: str) -> tuple[list, list]:
        """ListObjectVersions of ``key``: [(version id, is latest)] of its versions, newest first,
        and of its delete markers."""
        versions, markers = [], []
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=key)
        for page in pages:
            versions += [(v["VersionId"], v["IsLatest"]) for v in page.get("Versions", []) if v["Key"] == key]
            markers += [(m["VersionId"], m["IsLatest"]) for m in page.get("DeleteMarkers", []) if m["Key"] == key]
        return versions, markers

    def read(self, key: str, version_id: Optional[str] = None) -> tuple:
        """("ok", bytes, ETag, version id) or ("error", status, code, headers)."""
        kw = {"VersionId": version_id} if version_id else {}
        try:
            got = self.s3.get_object(Bucket=BUCKET, Key=key, **kw)
            data = got["Body"].read()
        except ClientError as e:
            meta = e.response["ResponseMetadata"]
            return ("error", meta["HTTPStatusCode"], e.response.get("Error", {}).get("Code", ""), meta["HTTPHeaders"])
        except Exception as e:  # noqa: BLE001 - a truncated body, a reset
            return ("error", None, repr(e), {})
        if len(data) != got["ContentLength"]:
            return ("error", None, f"{len(data)} bytes read, Content-Length {got['ContentLength']}", {})
        return ("ok", data, got["ETag"], got.get("VersionId"))

    def check_version(self, key: str, version_id: str, data: bytes, etag: str, what: str) -> Optional[str]:
        """None when ``key``'s version ``version_id`` reads back as ``data`` with ``etag``; else why not."""
        got = self.read(key, version_id)
        if got[0] == "error":
            return f"{what} {version_id}: GET by id answered {got[1]} {got[2]}"
        if got[1] != data:
            return (f"{what} {version_id}: GET by id gave {len(got[1])} bytes of MD5 {md5_hex(got[1])}, "
                    f"wanted {md5_hex(data)}")
        if (got[2], got[3]) != (etag, version_id):
            return f"{what} {version_id}: GET by id answered ETag {got[2]} version {got[3]}, wanted {etag} {version_id}"
        return None

    def check_current(self, key: str, data: bytes, etag: str, version_id: str) -> Optional[str]:
        got = self.read(key)
        if got[0] == "error":
            return f"GET {key}: {got[1]} {got[2]}, wanted version {version_id}"
        if (got[1], got[2], got[3]) != (data, etag, version_id):
            return (f"GET {key}: MD5 {md5_hex(got[1])} ETag {got[2]} version {got[3]}, "
                    f"wanted MD5 {md5_hex(data)} ETag {etag} version {version_id}")
        return None


def multipart_etag(parts: list[bytes]) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


# ------------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family,step,action", VCASES, ids=[f"{f}-{s}={a}" for f, s, a in VCASES])
def test_versioned_failpoint(server, family, step, action):
    srv = server
    t_case = time.monotonic()
    c = VersionedCase(srv, step, action, random.Random(f"versions-{family}-{step}-{action}-{srv.backend}"),
                      family=family)
    c.s3 = one_shot_client(srv, read_timeout=OP_TIMEOUT_S)
    c.probe = one_shot_client(srv, read_timeout=5, connect_timeout=0.5)
    armed = f"{step}={'exit' if action == 'exit' else 'error-once'}"
    try:
        _run_case(c, SCENARIOS[step][1], armed)
    finally:
        if c.meta is not None:
            c.meta.close()
    print(f"{c.label}: done in {time.monotonic() - t_case:.1f}s")


def _run_case(c: VersionedCase, after_commit: bool, armed: str) -> None:
    srv, family = c.srv, c.family

    # 1. Seed, in the armed process, reaching no armed step.
    c.start(armed)
    c.s3.create_bucket(Bucket=BUCKET)
    c.versioning("Enabled")
    for i, size in enumerate((1, 1500, 70_000)):
        c.keep[f"keep/{i}"] = c.body(size)
        c.seed_put(f"keep/{i}", c.keep[f"keep/{i}"])
    if family == "suspended":
        data = c.body(25_000)
        c.v1, etag = c.seed_put("target", data)
        c.acked[c.v1] = (data, etag)
        c.versioning("Suspended")
        data = c.body(40_000)
        vid, etag = c.seed_put("target", data)
        assert vid == "null", f"{c.label}: a write in a Suspended bucket answered version {vid}, wanted null"
        c.old_null = (data, etag)
        c.old_null_blobs = c.blobs_of("target", "null")
    else:
        for name in ("v1", "v2"):
            data = c.body(40_000 if name == "v1" else 45_000)
            vid, etag = c.seed_put("target", data)
            assert vid != "null" and vid not in c.acked, f"{c.label}: seed version id {vid} (have {list(c.acked)})"
            c.acked[vid] = (data, etag)
            setattr(c, name, vid)
        if family == "version":
            c.v1_blobs = c.blobs_of("target", c.v1)
    if family == "complete":
        c.upload = c.s3.create_multipart_upload(Bucket=BUCKET, Key="target")["UploadId"]
        c.parts = {1: c.body(PART1), 2: c.body(30_000)}
        c.upload_part(1)
        c.upload_part(2)
        c.acked_parts = {1, 2}
        c.new = c.parts[1] + c.parts[2]
        c.new_etag = multipart_etag([c.parts[1], c.parts[2]])
    elif family in ("put", "suspended"):
        c.new = c.body(60_000)
        c.new_etag = f'"{md5_hex(c.new)}"'

    # 2. Armed: reach the step.
    if family in ("put", "suspended"):
        c.expect_crash("PutObject target", lambda: c.put("target", c.new))
    elif family == "complete":
        c.expect_crash("CompleteMultipartUpload target", c.complete)
    elif family == "marker":
        c.expect_crash("DeleteObject target (a delete marker)",
                       lambda: c.s3.delete_object(Bucket=BUCKET, Key="target"))
    elif family == "version":
        c.expect_crash(f"DeleteObject target VersionId={c.v1}",
                       lambda: c.s3.delete_object(Bucket=BUCKET, Key="target", VersionId=c.v1))
    else:
        raise AssertionError(family)
    t_crash = time.monotonic()
    residue: list[str] = []
    if c.action == "exit":
        residue = crash_residue(c)
        c.start(None)

    # 3. One sweep past the grace period, then the four numbers and the promised state.
    snap, queued, sweep_s = c.sweep(t_crash)
    lost: list[str] = []
    partial: list[str] = []
    wrong_state: list[str] = []
    for key, data in c.keep.items():
        seen = observe(c.s3, key)
        if seen != md5_hex(data):
            (lost if seen == "<absent>" or seen.startswith("error") else partial).append(f"{key}: {seen}")
        versions, markers = c.listed_versions(key)
        if len(versions) != 1 or markers or not versions[0][1]:
            lost.append(f"{key}: versions {versions} markers {markers}, wanted one latest version")
    state = judge_target(c, lost, partial, swept=True)
    promised = "new" if after_commit else "old"
    if state in ("old", "new") and state != promised:
        wrong_state.append(f"target is {state}, the protocol promises {promised} after a crash at {c.step}")
    if c.upload is not None:
        parts = c.listed_parts()
        if state == "new" and parts is not None:
            wrong_state.append(f"upload still open although its object is visible (parts {sorted(parts)})")
        if state == "old":
            want = {n: f'"{md5_hex(c.parts[n])}"' for n in c.acked_parts}
            if parts != want:
                lost.append(f"upload {c.upload}: parts {parts}, wanted {want} (the completion did not commit)")
    want_listed = set(c.keep) | ({"target"} if not (family == "marker" and state == "new") else set())
    listed = c.listed_keys()
    lost += [f"{k}: not in ListObjectsV2" for k in sorted(want_listed - listed)]
    partial += [f"{k}: in ListObjectsV2 although it should not be" for k in sorted(listed - want_listed)]
    rows = rows_without_blob(srv.data_dir, snap, check_md5=True)
    orphans = c.strict_orphans(snap)
    summary = (f"{c.label}: lost_or_changed={len(lost)} partial={len(partial)} "
               f"rows_without_blob={len(rows)} orphan_files={len(orphans)}")
    print(f"\n{summary}")

    def listing(items: list) -> str:
        return "".join(f"\n  {x}" for x in items[:10]) or " none"

    if lost or partial or rows or orphans or queued or wrong_state or residue:
        pytest.fail(
            f"{summary}\nlost_or_changed:{listing(lost)}\npartial:{listing(partial)}\n"
            f"rows_without_blob:{listing(rows)}\norphan_files:{listing(orphans)}\n"
            f"still queued/staged {sweep_s:.1f} s into the sweep:{listing(queued)}\n"
            f"promised state:{listing(wrong_state)}\ncrash residue (protocol.rs):{listing(residue)}\n"
            f"target's versions {c.listed_versions('target')}\n"
            f"server log: {srv.log_path}\n{srv.log_tail()}",
            pytrace=False,
        )

    # 4. The operation, where it did not take effect, retried: it succeeds and ends in the new state.
    if state == "old":
        if family in ("put", "suspended"):
            c.put("target", c.new)
        elif family == "complete":
            c.complete()
        elif family == "marker":
            got = c.s3.delete_object(Bucket=BUCKET, Key="target")
            assert got.get("DeleteMarker") is True, f"{c.label}: the retried delete made no marker: {got}"
        elif family == "version":
            got = c.s3.delete_object(Bucket=BUCKET, Key="target", VersionId=c.v1)
            assert got.get("VersionId") == c.v1, f"{c.label}: the retried version delete answered {got}"
    problems: list[str] = []
    final = judge_target(c, problems, problems, swept=False)
    assert final == "new" and not problems, (
        f"{c.label}: after the retry target is {final}, wanted new:{listing(problems)}")
    if c.upload is not None:
        assert c.listed_parts() is None, f"{c.label}: upload still open after CompleteMultipartUpload"
    rows = rows_without_blob(srv.data_dir, c.snapshot(), check_md5=True)
    assert not rows, f"{c.label}: rows without blob after the retry:{listing(rows)}"
    assert srv.proc.poll() is None, f"{c.label}: the server exited\n{srv.log_tail()}"


def judge_target(c: VersionedCase, lost: list, partial: list, *, swept: bool) -> str:
    """What ``target`` shows through S3: "old" (the operation did not take effect), "new" (it did,
    completely), or a description of anything else (each problem appended to ``lost`` / ``partial``).
    Every acknowledged version must read back by id unless the operation removed it; ``swept``: the
    janitor has swept since, so a deleted version's blob files must be gone."""
    family = c.family
    versions, markers = c.listed_versions("target")
    ids = [v for v, _ in versions]
    latest = [v for v, is_latest in versions + markers if is_latest]
    problems_before = len(lost) + len(partial)

    def need(problem: Optional[str], into: list) -> None:
        if problem:
            into.append(f"target: {problem}")

    state = "?"
    if family in ("put", "complete"):
        if ids == [c.v2, c.v1] and not markers:
            state = "old"
            need(None if latest == [c.v2] else f"latest {latest}, wanted {c.v2}", lost)
            need(c.check_current("target", *c.acked[c.v2], c.v2), lost)
        elif len(ids) == 3 and ids[1:] == [c.v2, c.v1] and ids[0] not in c.acked and ids[0] != "null" and not markers:
            state = "new"
            v3 = ids[0]
            need(None if latest == [v3] else f"latest {latest}, wanted the new version {v3}", partial)
            # Listed but unreadable, or other bytes: a half-visible version.
            need(c.check_version("target", v3, c.new, c.new_etag, "new version"), partial)
            need(c.check_current("target", c.new, c.new_etag, v3), partial)
        else:
            state = f"versions {versions} markers {markers}"
            lost.append(f"target: ListObjectVersions shows {versions} markers {markers}, wanted "
                        f"[{c.v2}, {c.v1}] or [<new>, {c.v2}, {c.v1}]")
        for vid in (c.v1, c.v2):
            need(c.check_version("target", vid, *c.acked[vid], "acknowledged version"), lost)
    elif family == "marker":
        if ids != [c.v2, c.v1]:
            lost.append(f"target: versions {versions}, wanted [{c.v2}, {c.v1}] (a delete marker removes none)")
        if not markers:
            state = "old"
            need(None if latest == [c.v2] else f"latest {latest}, wanted {c.v2}", lost)
            need(c.check_current("target", *c.acked[c.v2], c.v2), lost)
        elif len(markers) == 1 and markers[0][1] and markers[0][0] not in c.acked and latest == [markers[0][0]]:
            state = "new"
            got = c.read("target")
            hdrs = got[3] if got[0] == "error" else {}
            if got[0] != "error" or (got[1], got[2]) != (404, "NoSuchKey") \
                    or hdrs.get("x-amz-delete-marker") != "true" or hdrs.get("x-amz-version-id") != markers[0][0]:
                shown = got[:3] if got[0] == "error" else ("ok", f"MD5 {md5_hex(got[1])}", got[3])
                partial.append(f"target: marker {markers[0][0]} listed on top but GET answered {shown} "
                               f"headers {dict((k, v) for k, v in hdrs.items() if k.startswith('x-amz'))}, "
                               f"wanted 404 NoSuchKey, x-amz-delete-marker: true, its version id")
        else:
            state = f"markers {markers}"
            partial.append(f"target: delete markers {markers} (latest {latest}), wanted none or one on top")
        for vid in (c.v1, c.v2):
            need(c.check_version("target", vid, *c.acked[vid], "acknowledged version"), lost)
    elif family == "version":
        if markers:
            partial.append(f"target: delete markers {markers} after a delete by version id")
        if ids == [c.v2, c.v1]:
            state = "old"
            need(c.check_version("target", c.v1, *c.acked[c.v1], "version under delete"), lost)
        elif ids == [c.v2]:
            state = "new"
            got = c.read("target", c.v1)
            if got[0] != "error" or (got[1], got[2]) != (404, "NoSuchVersion"):
                shown = got[:3] if got[0] == "error" else ("ok", f"MD5 {md5_hex(got[1])}", got[3])
                partial.append(f"target: {c.v1} not listed but GET by id answered {shown}, wanted 404 NoSuchVersion")
            left = [str(blob_path(c.srv.data_dir, b)) for b in sorted(c.v1_blobs)
                    if blob_path(c.srv.data_dir, b).exists()]
            if swept and left:
                partial.append(f"target: {c.v1} deleted but the janitor left its blob files {left}")
        else:
            state = f"versions {versions}"
            lost.append(f"target: versions {versions}, wanted [{c.v2}, {c.v1}] or [{c.v2}]")
        need(None if latest == [c.v2] else f"latest {latest}, wanted {c.v2}", lost)
        need(c.check_current("target", *c.acked[c.v2], c.v2), lost)
        need(c.check_version("target", c.v2, *c.acked[c.v2], "acknowledged version"), lost)
    elif family == "suspended":
        if ids != ["null", c.v1] or markers or latest != ["null"]:
            lost.append(f"target: versions {versions} markers {markers}, wanted [null (latest), {c.v1}]")
        got = c.read("target", "null")
        if got[0] == "error":
            state = f"null version: {got[1]} {got[2]}"
            lost.append(f"target: GET VersionId=null answered {got[1]} {got[2]}")
        elif (got[1], got[2]) == c.old_null:
            state = "old"
        elif (got[1], got[2]) == (c.new, c.new_etag):
            state = "new"
        else:
            state = f"null version of MD5 {md5_hex(got[1])} ETag {got[2]}"
            partial.append(f"target: the null version reads as MD5 {md5_hex(got[1])} ETag {got[2]}, neither "
                           f"the old {md5_hex(c.old_null[0])} nor the new {md5_hex(c.new)} bytes")
        if state in ("old", "new"):
            data, etag = c.old_null if state == "old" else (c.new, c.new_etag)
            if got[3] != "null":
                partial.append(f"target: GET VersionId=null answered version id {got[3]}")
            need(c.check_current("target", data, etag, "null"), partial)
        need(c.check_version("target", c.v1, *c.acked[c.v1], "Enabled-era version"), lost)
    else:
        raise AssertionError(family)
    if len(lost) + len(partial) > problems_before and state in ("old", "new"):
        state = f"{state} (with problems)"
    return state


def crash_residue(c: VersionedCase) -> list[str]:
    """With the process gone, what protocol.rs says a crash at ``c.step`` leaves in a versioned bucket;
    returns the differences."""
    snap = c.snapshot()
    data = c.srv.data_dir
    staged = staging_files(data)
    pending = set(snap["pending"])
    garbage = set(snap["garbage"])
    placed = {p.name for d in (data / "blobs").iterdir() if d.is_dir() for p in d.iterdir()} - referenced_blobs(snap)
    target_versions = sorted((v, mk) for k, v, mk, _ in snap["versions"] if k == "target")
    current = [k for k, _ in snap["objects"] if k == "target"]
    problems = []

    def want(cond: bool, what: str) -> None:
        if not cond:
            problems.append(f"{what} (pending={sorted(pending)} garbage={sorted(garbage)} staging={staged} "
                            f"unreferenced blobs={sorted(placed)} target: objects row={bool(current)} "
                            f"object_versions rows={target_versions})")

    phase = c.step.split(".", 1)[1]
    family = c.family
    if family in ("put", "suspended"):
        if phase == "staged":
            want(len(staged) == 1 and not pending, "a staging file and no intent")
        elif phase == "placed":
            want(not staged and len(pending) == 1 and pending <= placed, "a placed blob named by its intent")
        elif phase == "committed":
            want(not staged and not pending, "no staging file and no intent (the commit claimed it)")
            if family == "put":
                want(not garbage, "nothing queued as garbage (the replaced version keeps its blob)")
                want(target_versions == sorted([(c.v1, False), (c.v2, False)]),
                     f"v1 {c.v1} and v2 {c.v2} both noncurrent rows")
            else:
                want(garbage == c.old_null_blobs,
                     f"the replaced null version's blobs {sorted(c.old_null_blobs)} queued")
                want(target_versions == [(c.v1, False)], f"only the Enabled-era version {c.v1} noncurrent")
        if phase != "committed":
            want(not garbage, "nothing queued as garbage")
    elif family == "complete":
        uploads = c.meta.query("SELECT upload_id FROM multipart_uploads")
        if phase == "before_commit":
            want(len(uploads) == 1 and not garbage, "the upload still open, nothing queued")
        else:
            want(not uploads and not garbage, "the upload gone, nothing queued (the replaced version keeps its blob)")
            want(target_versions == sorted([(c.v1, False), (c.v2, False)]), f"v1 {c.v1} and v2 {c.v2} noncurrent rows")
    elif family == "marker":
        want(not garbage, "nothing queued as garbage (a delete marker removes no bytes)")
        if phase == "before_commit":
            want(bool(current) and target_versions == [(c.v1, False)], "v2 current, v1 noncurrent, no marker")
        else:
            markers = [v for v, mk in target_versions if mk]
            want(not current and len(markers) == 1 and len(target_versions) == 3,
                 "no current row, v1 and v2 noncurrent and one marker row")
    elif family == "version":
        if phase == "before_commit":
            want(not garbage and (c.v1, False) in target_versions, "v1's row still there, nothing queued")
        else:
            want(garbage == c.v1_blobs and (c.v1, False) not in target_versions,
                 f"v1's row gone, its blobs {sorted(c.v1_blobs)} queued")
        want(bool(current), "v2 still current")
    else:
        raise AssertionError(family)
    return problems
