"""Inline objects behave exactly like file-backed ones.

Two servers per backend (SQLite, MariaDB), janitor grace and interval 1 s: one with the default
inline threshold (``CLOUDVAULT_INLINE_MAX_BYTES`` = 16384), one with inlining off (``0``). The same
script of S3 operations runs against both over object sizes that straddle the threshold (0, 1,
4096, 16384, 16385, 70000 bytes): PutObject with a content type, user metadata and a SHA-256
checksum; HEAD; GET whole and by ranges (first byte, middle, suffix, last byte, past the end: 416);
conditional GET (If-None-Match: 304, If-Match with another ETag: 412); GetObjectAttributes; CopyObject
(with and without a metadata replace); UploadPartCopy from a small source and a small last part;
versioned overwrites, GET by version id, delete markers and version deletes; overwrites across the
threshold in both directions; listing; DeleteObjects. Every answer is recorded (status, S3 error code,
ETag, length, bytes' MD5, Content-Range, checksum, metadata) and

- each is also checked against what was sent (bytes, MD5 ETags, multipart ETags), so two servers
  that agree on a wrong answer still fail;
- the two transcripts must be identical, step by step;
- on the inline server every object of at most 16384 bytes is an inline row and none bigger is; on
  the other none is;
- after everything is deleted and the janitor has passed, neither server keeps an inline row, a
  garbage row, an intent or a blob file.
"""

from __future__ import annotations

import hashlib
import time

import pytest
from botocore.exceptions import ClientError

from conftest import client_error, md5_hex, multipart_etag, quoted_md5, running_server
from test_faults import Metadata, is_inline, orphan_files, parse_manifest, rows_without_blob

THRESHOLD = 16384
SIZES = (0, 1, 4096, THRESHOLD, THRESHOLD + 1, 70_000)
PART1 = 5 * 1024 * 1024
SWEEP_TIMEOUT_S = 20.0


def body(size: int, seed: int) -> bytes:
    """Deterministic bytes, the same on both servers."""
    blocks = (size + 31) // 32
    return b"".join(hashlib.sha256(f"{seed}-{i}".encode()).digest() for i in range(blocks))[:size]


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def pair(request, tmp_path_factory):
    env = {"CLOUDVAULT_STAGING_GRACE_SECS": "1", "CLOUDVAULT_JANITOR_INTERVAL_SECS": "1"}
    with running_server(request.param, tmp_path_factory, extra_env=lambda _: env) as inline:
        off_env = {**env, "CLOUDVAULT_INLINE_MAX_BYTES": "0"}
        with running_server(request.param, tmp_path_factory, extra_env=lambda _: off_env) as off:
            yield inline, off


class Script:
    """Runs the operations on one server and records every answer."""

    def __init__(self, srv):
        self.s3 = srv.s3
        self.log: list[tuple] = []

    def record(self, step: str, call) -> dict:
        """Runs ``call``; records (step, outcome) and returns the response (empty on an error)."""
        try:
            resp = call()
        except ClientError as e:
            self.log.append((step, "error", *client_error(e)))
            return {}
        summary = {"status": resp["ResponseMetadata"]["HTTPStatusCode"]}
        for field in ("ETag", "ContentLength", "ContentRange", "ContentType", "Metadata", "ChecksumSHA256",
                      "ObjectSize", "DeleteMarker", "KeyCount"):
            if field in resp:
                summary[field] = resp[field]
        if "Body" in resp:
            data = resp["Body"].read()
            resp["_bytes"] = data
            summary["md5"] = md5_hex(data)
        self.log.append((step, summary))
        return resp

    def get(self, step: str, key: str, want: bytes | None, **kw) -> None:
        resp = self.record(step, lambda: self.s3.get_object(Bucket="inl", Key=key, **kw))
        if want is not None:
            assert resp.get("_bytes") == want, f"{step}: got {len(resp.get('_bytes', b''))} bytes, wanted {len(want)}"


def run_script(srv) -> list[tuple]:
    sc = Script(srv)
    s3 = sc.s3
    s3.create_bucket(Bucket="inl")
    for size in SIZES:
        data, key = body(size, size), f"obj/{size}"
        put = sc.record(f"put {size}", lambda: s3.put_object(
            Bucket="inl", Key=key, Body=data, ContentType="text/x-test", Metadata={"m": f"v{size}"},
            ChecksumAlgorithm="SHA256"))
        assert put.get("ETag") == quoted_md5(data), f"put {size}: {put}"
        head = sc.record(f"head {size}", lambda: s3.head_object(Bucket="inl", Key=key))
        assert (head.get("ContentLength"), head.get("Metadata")) == (size, {"m": f"v{size}"}), head
        sc.get(f"get {size}", key, data)
        if size:
            ranges = {"bytes=0-0": data[:1], "bytes=-5": data[-5:], f"bytes={size - 1}-": data[size - 1:]}
            if size > 1:
                ranges["bytes=1-3"] = data[1:4]
            for rng, want in ranges.items():
                sc.get(f"range {rng} of {size}", key, want, Range=rng)
        sc.get(f"range past the end of {size}", key, None, Range=f"bytes={size}-")
        sc.get(f"if-none-match {size}", key, None, IfNoneMatch=quoted_md5(data))
        sc.get(f"if-match other {size}", key, None, IfMatch='"0123456789abcdef0123456789abcdef"')
        sc.record(f"attributes {size}", lambda: s3.get_object_attributes(
            Bucket="inl", Key=key, ObjectAttributes=["ETag", "ObjectSize"]))
        copy = sc.record(f"copy {size}", lambda: s3.copy_object(
            Bucket="inl", Key=f"copy/{size}", CopySource={"Bucket": "inl", "Key": key}))
        assert copy.get("CopyObjectResult", {}).get("ETag") == quoted_md5(data), copy
        sc.record(f"copy replace {size}", lambda: s3.copy_object(
            Bucket="inl", Key=key, CopySource={"Bucket": "inl", "Key": key}, MetadataDirective="REPLACE",
            Metadata={"m": "replaced"}, ContentType="text/plain"))
        sc.get(f"get copy {size}", f"copy/{size}", data)
        head = sc.record(f"head replaced {size}", lambda: s3.head_object(Bucket="inl", Key=key))
        assert head.get("Metadata") == {"m": "replaced"}, head
        sc.get(f"get replaced {size}", key, data)
    multipart(sc)
    across_the_threshold(sc)
    versioned(sc)
    listed = sc.record("list", lambda: s3.list_objects_v2(Bucket="inl"))
    sc.log.append(("listing", sorted((o["Key"], o["Size"], o["ETag"]) for o in listed.get("Contents", []))))
    return sc.log


def multipart(sc: Script) -> None:
    """Two uploads over 5 MiB first parts: one whose last part is copied from an inline-sized
    object, one whose last part is a small upload (parts are always files)."""
    s3 = sc.s3
    p1, small = body(PART1, 2), body(100, 1)
    copied = body(4096, 4096)[:2048]
    for key, last in (("mp/copied", copied), ("mp/small", small)):
        upload = s3.create_multipart_upload(Bucket="inl", Key=key)["UploadId"]
        e1 = sc.record(f"{key} part 1", lambda: s3.upload_part(
            Bucket="inl", Key=key, UploadId=upload, PartNumber=1, Body=p1))
        if last is copied:
            resp = sc.record(f"{key} part 2", lambda: s3.upload_part_copy(
                Bucket="inl", Key=key, UploadId=upload, PartNumber=2,
                CopySource={"Bucket": "inl", "Key": "obj/4096"}, CopySourceRange="bytes=0-2047"))
            e2 = resp.get("CopyPartResult", {}).get("ETag")
        else:
            e2 = sc.record(f"{key} part 2", lambda: s3.upload_part(
                Bucket="inl", Key=key, UploadId=upload, PartNumber=2, Body=small)).get("ETag")
        parts = [{"PartNumber": 1, "ETag": e1.get("ETag")}, {"PartNumber": 2, "ETag": e2}]
        done = sc.record(f"{key} complete", lambda: s3.complete_multipart_upload(
            Bucket="inl", Key=key, UploadId=upload, MultipartUpload={"Parts": parts}))
        assert done.get("ETag") == multipart_etag([p1, last]), done
        sc.get(f"get {key}", key, p1 + last)
        sc.get(f"range across the parts of {key}", key, (p1 + last)[PART1 - 10:PART1 + 10],
               Range=f"bytes={PART1 - 10}-{PART1 + 9}")


def across_the_threshold(sc: Script) -> None:
    s3 = sc.s3
    small, big = body(10, 10), body(50_000, 50_000)
    for step, data in [("small", small), ("small to big", big), ("big to small", small), ("small again", small)]:
        sc.record(f"overwrite {step}", lambda: s3.put_object(Bucket="inl", Key="flip", Body=data))
        sc.get(f"get after {step}", "flip", data)
    sc.record("put if-none-match * on an inline key", lambda: s3.put_object(
        Bucket="inl", Key="flip", Body=big, IfNoneMatch="*"))
    sc.get("still small", "flip", small)


def versioned(sc: Script) -> None:
    s3 = sc.s3
    s3.create_bucket(Bucket="ver")
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    v1, v2 = body(100, 100), body(200, 200)
    ids = []
    for step, data in [("v1", v1), ("v2", v2)]:
        ids.append(s3.put_object(Bucket="ver", Key="k", Body=data)["VersionId"])
    got = s3.get_object(Bucket="ver", Key="k", VersionId=ids[0])["Body"].read()
    assert got == v1, "GET by version id of an older inline-sized version"
    sc.log.append(("get v1 by version id", md5_hex(got)))
    sc.record("delete (marker)", lambda: s3.delete_object(Bucket="ver", Key="k"))
    sc.record("get under a marker", lambda: s3.get_object(Bucket="ver", Key="k"))
    got = s3.get_object(Bucket="ver", Key="k", VersionId=ids[1])["Body"].read()
    assert got == v2
    sc.log.append(("get v2 by version id", md5_hex(got)))
    s3.delete_object(Bucket="ver", Key="k", VersionId=ids[0])
    with pytest.raises(ClientError) as gone:
        s3.get_object(Bucket="ver", Key="k", VersionId=ids[0])
    sc.log.append(("deleted version", client_error(gone.value)))
    versions = s3.list_object_versions(Bucket="ver")
    sc.log.append(("versions", sorted(v["Size"] for v in versions.get("Versions", [])),
                   len(versions.get("DeleteMarkers", []))))


def delete_everything(srv) -> None:
    s3 = srv.s3
    for bucket in ("inl", "ver"):
        versions = s3.list_object_versions(Bucket=bucket)
        ids = [{"Key": v["Key"], "VersionId": v["VersionId"]}
               for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
        if ids:
            resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": ids})
            assert not resp.get("Errors"), resp


def inline_sizes(meta: Metadata) -> tuple[set, set]:
    """(sizes of inline objects, sizes of file-backed single-blob ones) over every current object and
    version (multipart objects, always files, left out)."""
    snap = meta.snapshot()
    inline, files = set(), set()
    manifests = [m for _, m in snap["objects"]] + [m for _, _, _, m in snap["versions"]]
    for m in manifests:
        blobs = parse_manifest(m)
        if len(blobs) == 1:
            blob_id, size, _ = blobs[0]
            (inline if is_inline(blob_id) else files).add(size)
        assert not any(is_inline(b) for b, _, _ in blobs[1:]), f"a multipart object with an inline part: {m}"
    return inline, files


def wait_clean(srv, meta: Metadata) -> list[str]:
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while True:
        snap = meta.snapshot()
        left = [f"inline row {b}" for b in snap["inline"]] + [f"garbage {b}" for b in snap["garbage"]]
        left += [f"intent {b}" for b in snap["pending"]] + orphan_files(srv.data_dir, {**snap, "garbage": {}})
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_inline_and_file_objects_answer_the_same(pair):
    inline_srv, off_srv = pair
    transcripts = [run_script(inline_srv), run_script(off_srv)]
    a, b = transcripts
    assert len(a) == len(b), f"the scripts ran {len(a)} and {len(b)} steps"
    differ = [(x, y) for x, y in zip(a, b) if x != y]
    assert not differ, "inline and file-backed objects answered differently:\n" + "\n".join(
        f"  inline: {x}\n  files:  {y}" for x, y in differ[:10])
    errors = {e[0]: (e[2], e[3]) for e in a if len(e) == 4 and e[1] == "error"}
    assert errors.get("range past the end of 16384") == (416, "InvalidRange"), errors
    assert errors.get("if-none-match 1", (None,))[0] == 304, errors
    assert errors.get("if-match other 1") == (412, "PreconditionFailed"), errors
    assert errors.get("put if-none-match * on an inline key") == (412, "PreconditionFailed"), errors

    meta_inline, meta_off = Metadata(inline_srv), Metadata(off_srv)
    try:
        inline, files = inline_sizes(meta_inline)
        assert {0, 1, 10, 200, 4096, THRESHOLD} <= inline, f"inline object sizes {sorted(inline)}"
        assert all(s <= THRESHOLD for s in inline), f"inline object sizes {sorted(inline)}"
        assert files and all(s > THRESHOLD for s in files), f"file-backed object sizes {sorted(files)}"
        assert inline_sizes(meta_off)[0] == set(), "inlining off stores no inline object"
        for srv, meta in ((inline_srv, meta_inline), (off_srv, meta_off)):
            rows = rows_without_blob(srv.data_dir, meta.snapshot(), check_md5=True)
            assert not rows, rows
            delete_everything(srv)
            left = wait_clean(srv, meta)
            assert not left, f"{srv.backend}: left after deleting everything and a sweep: {left[:10]}"
    finally:
        meta_inline.close()
        meta_off.close()
