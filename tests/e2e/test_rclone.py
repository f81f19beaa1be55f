"""rclone against CloudVault, with both S3 provider profiles rclone users pick for self-hosted stores.

``other`` (provider Other) lists with ListObjects V1 and no URL encoding; ``minio`` (provider Minio)
lists with ListObjectsV2 and ``encoding-type=url``. Both page 50 keys at a time. rclone sends
Content-MD5 and ``X-Amz-Meta-Mtime`` on every PUT, HEADs after each upload, and sets a modification
time by copying an object onto itself with ``MetadataDirective=REPLACE``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

PROVIDERS = ["other", "minio"]

# Names that stress URL encoding, listing order and prefix handling. rclone's S3 encoding
# (Slash,InvalidUtf8,Dot) leaves all of these unchanged, so each key must equal its path.
SPECIAL_NAMES = [
    "with space.txt",
    " leading space",
    "trailing space ",
    "plus+sign.txt",
    "percent%41.txt",  # must not be decoded to "percentA.txt"
    "percent%.txt",
    "percent%2F.txt",  # must not become a slash
    "hash#tag.txt",
    "question?.txt",
    "amp&er=sand;semi.txt",
    "quote's \"double\".txt",
    "brackets[1]{2}(3)<4>.txt",
    "tilde~caret^back`tick!at@dollar$comma,.txt",
    "back\\slash.txt",
    "unicode-\u00e9\u00e8\u00ea-\u65e5\u672c\u8a9e-\U0001f980.txt",
    "\u00fcber/\u00e4rger.txt",
    "..weird",
    "a/..b",
    "a/.hidden",
    "x",
    "x.txt",
    "xy",
    "Upper.txt",
    "lower.txt",
    "dir with space/file+1.txt",
    "dir with space/sub dir/%2e%2e.txt",
    "deep/er/and/deeper/still/file.txt",
    "empty-file",
    "one-byte",
    "big/one-mebibyte.bin",
]


def build_tree(root: Path) -> dict[str, bytes]:
    """Create >= 200 files under ``root`` with deterministic contents and old, distinct mtimes."""
    tree: dict[str, bytes] = {}
    for i in range(12):
        for j in range(16):
            tree[f"dir{i:02d}/file {j:02d}.txt"] = f"regular {i} {j}\n".encode() * (j + 1)
    for n, name in enumerate(SPECIAL_NAMES):
        tree[name] = f"special {n} {name}\n".encode("utf-8")
    tree["empty-file"] = b""
    tree["one-byte"] = b"\x00"
    tree["big/one-mebibyte.bin"] = os.urandom(1024 * 1024)
    assert len(tree) >= 200
    for n, (rel, data) in enumerate(sorted(tree.items())):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        set_old_mtime(path, n)
    return tree


def set_old_mtime(path: Path, n: int) -> None:
    """Give a file an mtime in 2001-2002 with a sub-second part, distinct per ``n``."""
    seconds = 1_000_000_000 + n * 86_413
    ns = seconds * 1_000_000_000 + (n * 7_654_321) % 1_000_000_000
    os.utime(path, ns=(ns, ns))


def local_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }


def remote_keys(s3, bucket: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 100}):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


LSL_LINE = re.compile(r"^ *(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}) (.*)$")


def lsl(server, target: str) -> dict[str, tuple[int, str]]:
    """`rclone lsl` as {path: (size, mtime with nanoseconds)}."""
    out = server.rclone("lsl", target).stdout.decode("utf-8")
    entries = {}
    for line in out.splitlines():
        m = LSL_LINE.match(line)
        assert m, f"unexpected rclone lsl line {line!r}"
        entries[m.group(3)] = (int(m.group(1)), m.group(2))
    return entries


def check(server, local: Path, remote: str) -> None:
    """`rclone check` must exit 0 and report 0 differences."""
    proc = server.rclone("check", str(local), remote, check=False)
    err = proc.stderr.decode("utf-8", errors="replace")
    assert proc.returncode == 0 and "0 differences found" in err, f"rclone check failed:\n{err[-4000:]}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_copy_check_and_modtimes(server, s3, bucket_name, tmp_path, provider):
    """`rclone copy` of 200+ files with awkward names: keys equal the local paths, `rclone check`
    finds 0 differences, bytes match, sub-directory listings match, and mtimes survive."""
    local = tmp_path / "local"
    tree = build_tree(local)
    remote = f"{provider}:{bucket_name}"

    server.rclone("copy", str(local), remote)

    assert remote_keys(s3, bucket_name) == sorted(tree, key=lambda k: k.encode("utf-8"))
    check(server, local, remote)
    for name in SPECIAL_NAMES:
        got = s3.get_object(Bucket=bucket_name, Key=name)["Body"].read()
        assert got == tree[name], name

    # Listing a sub-directory (prefix + delimiter, with encoded names) matches the local one.
    for sub in ("dir with space", "a", "\u00fcber", "dir03"):
        want = sorted(p.name + ("/" if p.is_dir() else "") for p in (local / sub).iterdir())
        got = sorted(server.rclone("lsf", f"{remote}/{sub}").stdout.decode("utf-8").splitlines())
        assert got == want, sub

    # Modification times (X-Amz-Meta-Mtime) come back to the nanosecond.
    assert lsl(server, remote) == lsl(server, str(local))

    # Downloading everything back gives identical files.
    back = tmp_path / "back"
    server.rclone("copy", remote, str(back))
    assert local_tree(back) == tree


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sync_with_deletions_and_modtime_updates(server, s3, bucket_name, tmp_path, provider):
    """`rclone sync` after deleting, changing, adding and re-dating local files leaves the remote
    equal to the local tree (keys, bytes via `check`, and mtimes)."""
    local = tmp_path / "local"
    tree = build_tree(local)
    remote = f"{provider}:{bucket_name}"
    server.rclone("sync", str(local), remote)
    check(server, local, remote)

    # Delete a quarter of the regular files and several special ones.
    removed = [rel for n, rel in enumerate(sorted(tree)) if n % 4 == 0]
    removed += ["hash#tag.txt", "x.txt", "..weird", "percent%41.txt", "dir with space/file+1.txt"]
    for rel in set(removed):
        (local / rel).unlink()
    # Change the content (and size) of one file, add new ones.
    (local / "xy").write_bytes(b"changed content, longer than before")
    (local / "new dir").mkdir()
    (local / "new dir" / "added+1 %.txt").write_bytes(b"brand new")
    set_old_mtime(local / "new dir" / "added+1 %.txt", 5000)
    # Change only the mtime of an unchanged file: rclone updates it with a self-copy (REPLACE).
    set_old_mtime(local / "x", 9999)

    server.rclone("sync", str(local), remote)

    want = sorted(local_tree(local), key=lambda k: k.encode("utf-8"))
    assert remote_keys(s3, bucket_name) == want
    check(server, local, remote)
    assert s3.get_object(Bucket=bucket_name, Key="xy")["Body"].read() == b"changed content, longer than before"
    assert lsl(server, remote) == lsl(server, str(local))

    # A second sync has nothing left to do.
    proc = server.rclone("sync", "-v", str(local), remote)
    err = proc.stderr.decode("utf-8", errors="replace")
    assert "Copied" not in err and "Deleted" not in err, err[-3000:]
