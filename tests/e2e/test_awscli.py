"""aws-cli (``aws s3`` and ``aws s3api``, run as a subprocess) against CloudVault.

The CLI's config sets a 64 MB multipart threshold so every upload here is a single PutObject
(multipart is not in CloudVault's scope yet).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import md5_hex, quoted_md5

OBJECT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(\d+) (.+)$")


def pre_line(name: str) -> str:
    """aws s3 ls prints a common prefix as 'PRE' right-aligned in 30 columns, a space, the name."""
    return "PRE".rjust(30) + " " + name


def ls_lines(server, uri: str, *extra: str) -> list[str]:
    out = server.aws("s3", "ls", uri, *extra).stdout.decode("utf-8")
    return [line for line in out.splitlines() if line.strip()]


def parse_ls(lines: list[str]) -> tuple[list[str], list[tuple[str, int]]]:
    """Split `aws s3 ls` output into PRE names and (name, size) object entries; fail on anything else."""
    prefixes, objects = [], []
    for line in lines:
        if line.lstrip().startswith("PRE "):
            assert line == pre_line(line.split("PRE ", 1)[1]), f"malformed PRE line {line!r}"
            prefixes.append(line.split("PRE ", 1)[1])
        else:
            m = OBJECT_LINE.match(line)
            assert m, f"malformed object line {line!r}"
            objects.append((m.group(2), int(m.group(1))))
    return prefixes, objects


def s3api(server, *args: str, check: bool = True):
    proc = server.aws("s3api", *args, "--output", "json", check=check)
    out = proc.stdout.decode("utf-8").strip()
    return (json.loads(out) if out else {}) if check else proc


@pytest.fixture
def files(tmp_path) -> dict[str, bytes]:
    """A local tree: a few KB and a few MB files at several depths."""
    tree = {
        "top.txt": os.urandom(3 * 1024 + 5),
        "dir1/a.txt": os.urandom(4096),
        "dir1/sub/b.bin": os.urandom(5 * 1024 * 1024 + 123),
        "dir1/sub/deeper/c.txt": b"deep\n",
        "dir2/d.txt": os.urandom(1),
        "dir2/with space+plus.txt": os.urandom(2048),
    }
    old = 1_600_000_000  # 2020-09-13: older than any upload, so `sync` sees the remote as current
    for rel, data in tree.items():
        p = tmp_path / "src" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, (old, old))
    return tree


def upload_tree(server, bucket: str, root: Path, tree: dict[str, bytes]) -> None:
    for rel in tree:
        out = server.aws("s3", "cp", "--no-progress", str(root / rel), f"s3://{bucket}/{rel}").stdout.decode()
        assert "upload: " in out and f"s3://{bucket}/{rel}" in out, out


def test_mb_cp_up_and_down(server, bucket_name, files, tmp_path):
    """`aws s3 mb` then `cp` up and down: the downloaded bytes equal the uploaded ones
    and the ETag is the MD5 of the file (a single PUT)."""
    out = server.aws("s3", "mb", f"s3://{bucket_name}").stdout.decode()
    assert f"make_bucket: {bucket_name}" in out
    assert f"{bucket_name}" in server.aws("s3", "ls").stdout.decode()

    upload_tree(server, bucket_name, tmp_path / "src", files)
    for rel, data in files.items():
        dst = tmp_path / "down" / rel
        server.aws("s3", "cp", "--no-progress", f"s3://{bucket_name}/{rel}", str(dst))
        assert dst.read_bytes() == data, rel
        head = s3api(server, "head-object", "--bucket", bucket_name, "--key", rel)
        assert head["ContentLength"] == len(data)
        assert head["ETag"] == quoted_md5(data)


def test_cp_recursive_and_sync_is_idempotent(server, bucket, files, tmp_path):
    """`cp --recursive` uploads a tree; `sync` right after transfers nothing; download matches."""
    out = server.aws("s3", "cp", "--no-progress", "--recursive", str(tmp_path / "src"), f"s3://{bucket}/tree/")
    assert out.stdout.decode().count("upload: ") == len(files), out.stdout
    out = server.aws("s3", "sync", "--no-progress", str(tmp_path / "src"), f"s3://{bucket}/tree/").stdout.decode()
    assert out.strip() == "", f"second sync transferred something:\n{out}"
    server.aws("s3", "sync", "--no-progress", f"s3://{bucket}/tree/", str(tmp_path / "back"))
    for rel, data in files.items():
        assert (tmp_path / "back" / rel).read_bytes() == data, rel


def test_ls_at_several_depths(server, bucket, files, tmp_path):
    """`aws s3 ls` shows exactly the PRE and object lines expected at each prefix depth."""
    upload_tree(server, bucket, tmp_path / "src", files)
    size = {rel: len(data) for rel, data in files.items()}

    lines = ls_lines(server, f"s3://{bucket}/")
    assert lines[:2] == [pre_line("dir1/"), pre_line("dir2/")]
    assert parse_ls(lines) == (["dir1/", "dir2/"], [("top.txt", size["top.txt"])])

    assert parse_ls(ls_lines(server, f"s3://{bucket}/dir1/")) == (["sub/"], [("a.txt", size["dir1/a.txt"])])
    assert parse_ls(ls_lines(server, f"s3://{bucket}/dir1/sub/")) == (
        ["deeper/"], [("b.bin", size["dir1/sub/b.bin"])]
    )
    assert parse_ls(ls_lines(server, f"s3://{bucket}/dir1/sub/deeper/")) == (
        [], [("c.txt", size["dir1/sub/deeper/c.txt"])]
    )
    # A partial prefix matches names that start with it.
    assert parse_ls(ls_lines(server, f"s3://{bucket}/dir1/s")) == (["sub/"], [])
    assert parse_ls(ls_lines(server, f"s3://{bucket}/dir")) == (["dir1/", "dir2/"], [])
    assert parse_ls(ls_lines(server, f"s3://{bucket}/dir2/")) == (
        [], [("d.txt", 1), ("with space+plus.txt", 2048)]
    )
    # --recursive prints full keys and no PRE lines, in key order.
    prefixes, objects = parse_ls(ls_lines(server, f"s3://{bucket}/", "--recursive"))
    assert prefixes == []
    assert objects == sorted((rel, size[rel]) for rel in files)


def test_rm_rm_recursive_rb(server, bucket, files, tmp_path):
    """`rm` removes one key, `rm --recursive` a prefix, `rb` refuses a non-empty bucket
    and then removes an empty one."""
    upload_tree(server, bucket, tmp_path / "src", files)

    out = server.aws("s3", "rm", f"s3://{bucket}/top.txt").stdout.decode()
    assert f"delete: s3://{bucket}/top.txt" in out
    _, objects = parse_ls(ls_lines(server, f"s3://{bucket}/", "--recursive"))
    assert "top.txt" not in [name for name, _ in objects]

    out = server.aws("s3", "rm", "--recursive", f"s3://{bucket}/dir1/").stdout.decode()
    assert out.count("delete: ") == 3, out
    _, objects = parse_ls(ls_lines(server, f"s3://{bucket}/", "--recursive"))
    assert [name for name, _ in objects] == ["dir2/d.txt", "dir2/with space+plus.txt"]

    failed = server.aws("s3", "rb", f"s3://{bucket}", check=False)
    assert failed.returncode != 0
    assert b"BucketNotEmpty" in failed.stderr, failed.stderr

    server.aws("s3", "rm", "--recursive", f"s3://{bucket}/")
    out = server.aws("s3", "rb", f"s3://{bucket}").stdout.decode()
    assert f"remove_bucket: {bucket}" in out
    gone = server.aws("s3api", "head-bucket", "--bucket", bucket, check=False)
    assert gone.returncode != 0 and b"404" in gone.stderr, gone.stderr


def test_s3api_head_range_copy_delete_objects(server, bucket, tmp_path):
    """s3api: head-object (length, ETag), get-object --range (bytes), copy-object,
    delete-objects (only the remaining keys are listed afterwards)."""
    data = os.urandom(256 * 1024 + 7)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    put = s3api(server, "put-object", "--bucket", bucket, "--key", "blob.bin", "--body", str(src),
                "--metadata", "origin=cli")
    assert put["ETag"] == quoted_md5(data)

    head = s3api(server, "head-object", "--bucket", bucket, "--key", "blob.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == f'"{md5_hex(data)}"'
    assert head["Metadata"] == {"origin": "cli"}

    part = tmp_path / "part.bin"
    got = s3api(server, "get-object", "--bucket", bucket, "--key", "blob.bin",
                "--range", "bytes=1000-5999", str(part))
    assert got["ContentRange"] == f"bytes 1000-5999/{len(data)}"
    assert got["ContentLength"] == 5000
    assert part.read_bytes() == data[1000:6000]

    copied = s3api(server, "copy-object", "--bucket", bucket, "--key", "copy/blob.bin",
                   "--copy-source", f"{bucket}/blob.bin")
    assert copied["CopyObjectResult"]["ETag"] == quoted_md5(data)
    whole = tmp_path / "copy.bin"
    s3api(server, "get-object", "--bucket", bucket, "--key", "copy/blob.bin", str(whole))
    assert whole.read_bytes() == data

    for k in ("d1", "d2", "d3", "keep me"):
        s3api(server, "put-object", "--bucket", bucket, "--key", k, "--body", str(src))
    spec = json.dumps({"Objects": [{"Key": "d1"}, {"Key": "d2"}, {"Key": "d3"}, {"Key": "blob.bin"}]})
    deleted = s3api(server, "delete-objects", "--bucket", bucket, "--delete", spec)
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["blob.bin", "d1", "d2", "d3"]
    assert not deleted.get("Errors")
    listing = s3api(server, "list-objects-v2", "--bucket", bucket)
    assert [o["Key"] for o in listing["Contents"]] == ["copy/blob.bin", "keep me"]


def test_s3api_errors(server, bucket):
    """s3api reports the S3 error codes: NoSuchKey, NoSuchBucket, BucketAlreadyOwnedByYou."""
    proc = s3api(server, "head-object", "--bucket", bucket, "--key", "missing", check=False)
    assert proc.returncode != 0 and b"404" in proc.stderr, proc.stderr
    proc = s3api(server, "get-object", "--bucket", bucket, "--key", "missing", "/dev/null", check=False)
    assert proc.returncode != 0 and b"NoSuchKey" in proc.stderr, proc.stderr
    proc = s3api(server, "list-objects-v2", "--bucket", bucket + "-nope", check=False)
    assert proc.returncode != 0 and b"NoSuchBucket" in proc.stderr, proc.stderr
    proc = s3api(server, "create-bucket", "--bucket", bucket,
                 "--create-bucket-configuration", "LocationConstraint=eu-west-1", check=False)
    assert proc.returncode != 0 and b"BucketAlreadyOwnedByYou" in proc.stderr, proc.stderr
