"""Durability across a restart: what CloudVault acknowledged is still there after SIGTERM + start.

The server is stopped with SIGTERM and started again on the same data dir, database, port and root
key; every object must read back identically (bytes, ETag, metadata, headers, listing, dates), and
deletes and overwrites made before the restart must stay made.
"""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from conftest import quoted_md5

OBJECTS = {
    "empty": b"",
    "one": b"1",
    "small.txt": b"hello persistence\n" * 50,
    "dir/sub/binary.bin": os.urandom(1024 * 1024 + 3),
    "big/five-mib.bin": os.urandom(5 * 1024 * 1024),
    "unicode/\u00e9t\u00e9 \u65e5\u672c\U0001f980.txt": "caf\u00e9".encode(),
    "special/a+b %41 #?.txt": b"special",
    "Case": b"upper",
    "case": b"lower",
    "trailing/": b"",
    "long/" + "k" * 1019: b"1024-byte key",
}


def snapshot(s3, bucket: str) -> dict:
    """Everything a client can observe about a bucket's objects."""
    listing = s3.list_objects_v2(Bucket=bucket, MaxKeys=1000, FetchOwner=True)
    state = {
        "listing": [
            (o["Key"], o["Size"], o["ETag"], o["LastModified"]) for o in listing.get("Contents", [])
        ],
        "objects": {},
    }
    for o in listing.get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=o["Key"])
        state["objects"][o["Key"]] = {
            "md5": quoted_md5(got["Body"].read()),
            "etag": got["ETag"],
            "length": got["ContentLength"],
            "metadata": got["Metadata"],
            "content_type": got.get("ContentType"),
            "content_disposition": got.get("ContentDisposition"),
            "cache_control": got.get("CacheControl"),
            "last_modified": got["LastModified"],
        }
    return state


def test_objects_survive_restart(server, bucket_name):
    """Objects of varied sizes and keys, with metadata, read back identically after a restart;
    a deleted object stays deleted, an overwritten one keeps its new content, buckets remain."""
    s3 = server.s3
    s3.create_bucket(Bucket=bucket_name)
    empty_bucket = bucket_name + "-empty"
    s3.create_bucket(Bucket=empty_bucket)
    for n, (key, data) in enumerate(OBJECTS.items()):
        s3.put_object(
            Bucket=bucket_name, Key=key, Body=data,
            Metadata={"index": str(n), "note": "persist me"},
            ContentType=f"application/x-test-{n}",
            ContentDisposition=f'attachment; filename="f{n}"',
            CacheControl="max-age=60",
        )
    s3.put_object(Bucket=bucket_name, Key="to-delete", Body=b"doomed")
    s3.delete_object(Bucket=bucket_name, Key="to-delete")
    s3.put_object(Bucket=bucket_name, Key="overwritten", Body=b"version 1")
    s3.put_object(Bucket=bucket_name, Key="overwritten", Body=b"version 2", Metadata={"v": "2"})
    s3.copy_object(Bucket=bucket_name, Key="copied", CopySource={"Bucket": bucket_name, "Key": "small.txt"})

    before = snapshot(s3, bucket_name)
    buckets_before = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert before["objects"]["overwritten"]["md5"] == quoted_md5(b"version 2")
    for key, data in OBJECTS.items():
        assert before["objects"][key]["md5"] == quoted_md5(data), key
        assert before["objects"][key]["etag"] == quoted_md5(data), key

    server.restart()
    s3 = server.s3

    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == buckets_before
    after = snapshot(s3, bucket_name)
    assert after["listing"] == before["listing"]
    assert after["objects"] == before["objects"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket_name, Key="to-delete")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert s3.get_object(Bucket=bucket_name, Key="overwritten")["Metadata"] == {"v": "2"}
    assert "Contents" not in s3.list_objects_v2(Bucket=empty_bucket)

    # The restarted server still accepts writes next to the old data.
    s3.put_object(Bucket=bucket_name, Key="after-restart", Body=b"new")
    assert s3.get_object(Bucket=bucket_name, Key="after-restart")["Body"].read() == b"new"


def test_restart_twice_and_delete_after_restart(server, bucket_name):
    """Deleting objects and a bucket after a restart works, and the result survives another one."""
    s3 = server.s3
    s3.create_bucket(Bucket=bucket_name)
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=bucket_name, Key=k, Body=k.encode())
    server.restart()
    s3 = server.s3
    s3.delete_objects(Bucket=bucket_name, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    server.restart()
    s3 = server.s3
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]] == ["c"]
    s3.delete_object(Bucket=bucket_name, Key="c")
    s3.delete_bucket(Bucket=bucket_name)
    server.restart()
    assert bucket_name not in [b["Name"] for b in server.s3.list_buckets()["Buckets"]]


def test_acknowledged_writes_survive_sigkill(server, bucket_name):
    """A crash (SIGKILL, no shutdown hook) right after a burst of acknowledged writes, deletes and
    an overwrite loses none of them."""
    s3 = server.s3
    s3.create_bucket(Bucket=bucket_name)
    bodies = {f"crash/{i:03d}": os.urandom(1 + i * 997) for i in range(60)}
    for key, data in bodies.items():
        s3.put_object(Bucket=bucket_name, Key=key, Body=data, Metadata={"n": key[-3:]})
    for i in range(0, 60, 3):
        s3.delete_object(Bucket=bucket_name, Key=f"crash/{i:03d}")
        del bodies[f"crash/{i:03d}"]
    bodies["crash/001"] = b"overwritten just before the crash"
    s3.put_object(Bucket=bucket_name, Key="crash/001", Body=bodies["crash/001"], Metadata={"n": "001"})

    server.kill()
    server.start()
    s3 = server.s3

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name, MaxKeys=1000)["Contents"]]
    assert keys == sorted(bodies)
    for key, data in bodies.items():
        got = s3.get_object(Bucket=bucket_name, Key=key)
        assert got["Body"].read() == data, key
        assert got["ETag"] == quoted_md5(data), key
        assert got["Metadata"] == {"n": key[-3:]}, key
