"""Versioning, driven by boto3 and aws-cli on SQLite and MariaDB: the bucket's Enabled / Suspended
state, versions kept by overwrites and deletes, delete markers, reads / deletes / copies / tagging by
version id, the null version, ListObjectVersions paging, DeleteObjects with versions, and object-lock
headers refused on a bucket without object lock (never accepted and ignored; see test_object_lock.py).

Every assertion is what a backup tool would check: the bytes of each version, its id, its ETag, the
S3 error code and the x-amz-delete-marker header.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import assert_client_error, quoted_md5

MiB = 1024 * 1024


def enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def versions_of(s3, bucket, **kwargs):
    """(key, version id, is latest, is marker) of every entry of one ListObjectVersions page, in order
    within each type (S3 lists Version and DeleteMarker elements separately)."""
    page = s3.list_object_versions(Bucket=bucket, **kwargs)
    rows = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in page.get("Versions", [])]
    rows += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in page.get("DeleteMarkers", [])]
    return page, rows


def headers_of(exc: ClientError) -> dict:
    return exc.response["ResponseMetadata"]["HTTPHeaders"]


def test_versioning_status_is_a_one_way_switch(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket), "a new bucket is unversioned"
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}
        )
    assert_client_error(e, 501, "NotImplemented")
    with pytest.raises(ClientError) as e:
        enable(s3, bucket, "Off")
    assert_client_error(e, 400, "MalformedXML")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended", "a refused change changes nothing"


def test_overwrites_keep_every_version_readable_by_id(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    enable(s3, bucket)
    bodies = [f"version {i} ".encode() * (i + 1) for i in range(3)]
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=b)["VersionId"] for b in bodies]
    assert len(set(ids)) == 3 and "null" not in ids
    for vid, body in zip(ids, bodies):
        got = s3.get_object(Bucket=bucket, Key="k", VersionId=vid)
        assert (got["Body"].read(), got["VersionId"], got["ETag"]) == (body, vid, quoted_md5(body))
        assert s3.head_object(Bucket=bucket, Key="k", VersionId=vid)["ContentLength"] == len(body)
    null = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert (null["Body"].read(), null["VersionId"]) == (b"before versioning", "null")
    current = s3.get_object(Bucket=bucket, Key="k")
    assert (current["Body"].read(), current["VersionId"]) == (bodies[-1], ids[-1])
    _, rows = versions_of(s3, bucket)
    assert rows == [("k", ids[2], True, False), ("k", ids[1], False, False), ("k", ids[0], False, False),
                    ("k", "null", False, False)]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("k", len(bodies[-1]))], "ListObjects shows current only"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version-id")
    assert_client_error(e, 400, "InvalidArgument")
    unknown = ids[0][:16] + "0" * 16
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId=unknown)
    assert_client_error(e, 404, "NoSuchVersion")


def test_delete_marker_hides_then_removing_it_restores(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    out = s3.delete_object(Bucket=bucket, Key="doc")
    assert out["DeleteMarker"] is True and out["VersionId"] not in (v1, v2)
    marker = out["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="doc")
    assert_client_error(e, 404, "NoSuchKey")
    assert headers_of(e.value).get("x-amz-delete-marker") == "true"
    assert headers_of(e.value).get("x-amz-version-id") == marker
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="doc")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert headers_of(e.value).get("x-amz-delete-marker") == "true"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=marker)
    assert_client_error(e, 405, "MethodNotAllowed")
    assert headers_of(e.value).get("x-amz-delete-marker") == "true"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    _, rows = versions_of(s3, bucket)
    assert ("doc", marker, True, True) in rows and ("doc", v2, False, False) in rows
    # The old bytes are all still there.
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    gone = s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker)
    assert (gone["DeleteMarker"], gone["VersionId"]) == (True, marker)
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert (got["Body"].read(), got["VersionId"]) == (b"two", v2), "the previous version is current again"
    # Deleting the current version by id makes the one before it current.
    assert s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)["VersionId"] == v2
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert_client_error(e, 404, "NoSuchVersion")


def test_hundred_versions_page_identically_at_every_page_size(s3, bucket):
    enable(s3, bucket)
    ids = [s3.put_object(Bucket=bucket, Key="many", Body=str(i).encode())["VersionId"] for i in range(100)]
    for k in ("a", "z"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    expected = [("a", True)] + [("many", i == 0) for i in range(100)] + [("z", True)]
    for page_size in range(1, 8):
        seen, kwargs = [], {}
        while True:
            page, rows = versions_of(s3, bucket, MaxKeys=page_size, **kwargs)
            assert len(rows) <= page_size
            seen += rows
            if not page["IsTruncated"]:
                break
            kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
        assert [(k, latest) for k, _, latest, _ in seen] == expected, f"page size {page_size}"
        assert [vid for k, vid, _, _ in seen if k == "many"] == ids[::-1], "newest first, in commit order"
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=ids[0])
    assert_client_error(e, 400, "InvalidArgument")


def test_suspended_bucket_overwrites_the_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"null one")
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, bucket, "Suspended")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null two")["VersionId"] == "null"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null two"
    _, rows = versions_of(s3, bucket)
    assert rows == [("k", "null", True, False), ("k", v1, False, False)], "the first null version was replaced"
    out = s3.delete_object(Bucket=bucket, Key="k")
    assert (out["DeleteMarker"], out["VersionId"]) == (True, "null")
    _, rows = versions_of(s3, bucket)
    assert rows == [("k", v1, False, False), ("k", "null", True, True)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"versioned"


def test_delete_objects_mixes_versions_and_markers(s3, bucket):
    enable(s3, bucket)
    a1 = s3.put_object(Bucket=bucket, Key="a", Body=b"a1")["VersionId"]
    a2 = s3.put_object(Bucket=bucket, Key="a", Body=b"a2")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"b1")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": a1}, {"Key": "b"}, {"Key": "a", "VersionId": "bad id"},
    ]})
    deleted = {(d["Key"], d.get("VersionId")): d for d in out["Deleted"]}
    assert deleted[("a", a1)].get("DeleteMarker") is None
    b_marker = deleted[("b", None)]
    assert b_marker["DeleteMarker"] is True and b_marker["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("a", "InvalidArgument")]
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"a2"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a", VersionId=a1)
    assert_client_error(e, 404, "NoSuchVersion")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "b", "VersionId": b_marker["DeleteMarkerVersionId"]}, {"Key": "a", "VersionId": a2},
    ]})
    by_key = {d["Key"]: d for d in out["Deleted"]}
    assert by_key["b"]["DeleteMarker"] is True
    assert by_key["b"]["DeleteMarkerVersionId"] == b_marker["DeleteMarkerVersionId"]
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"b1", "b's marker removed"
    _, rows = versions_of(s3, bucket)
    assert [r[0] for r in rows] == ["b"], "a has no versions left"
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": True})
    assert not quiet.get("Deleted") and not quiet.get("Errors")


def test_copy_of_an_old_version_restores_it(s3, bucket):
    enable(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="cfg", Body=b"good config")["VersionId"]
    s3.put_object(Bucket=bucket, Key="cfg", Body=b"broken config")
    out = s3.copy_object(Bucket=bucket, Key="cfg", CopySource={"Bucket": bucket, "Key": "cfg", "VersionId": old})
    assert out["CopySourceVersionId"] == old and out["VersionId"] not in (old, None)
    got = s3.get_object(Bucket=bucket, Key="cfg")
    assert (got["Body"].read(), got["VersionId"]) == (b"good config", out["VersionId"])
    _, rows = versions_of(s3, bucket)
    assert len(rows) == 3, "the restore is a new version; both old ones stay"
    # The restored copy does not share bytes with its source: deleting the source keeps it readable.
    s3.delete_object(Bucket=bucket, Key="cfg", VersionId=old)
    assert s3.get_object(Bucket=bucket, Key="cfg")["Body"].read() == b"good config"


def test_multipart_and_conditional_writes_in_a_versioned_bucket(s3, bucket):
    enable(s3, bucket)
    ids = []
    for n in range(2):
        up = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
        parts = []
        for i, body in enumerate([bytes([65 + n]) * (5 * MiB), b"tail"], start=1):
            etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=i, Body=body)["ETag"]
            parts.append({"PartNumber": i, "ETag": etag})
        out = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload={"Parts": parts})
        ids.append(out["VersionId"])
    assert len(set(ids)) == 2
    first = s3.get_object(Bucket=bucket, Key="big", VersionId=ids[0], Range="bytes=0-3")["Body"].read()
    assert first == b"AAAA"
    s3.delete_object(Bucket=bucket, Key="big")
    # A key hidden by a delete marker counts as absent for If-None-Match: *.
    s3.put_object(Bucket=bucket, Key="big", Body=b"recreated", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="big", Body=b"again", IfNoneMatch="*")
    assert_client_error(e, 412, "PreconditionFailed")


def test_tagging_by_version_id(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="t", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="t", Body=b"2")
    out = s3.put_object_tagging(Bucket=bucket, Key="t", VersionId=v1,
                                Tagging={"TagSet": [{"Key": "keep", "Value": "yes"}]})
    assert out["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=bucket, Key="t", VersionId=v1)["TagSet"] == [{"Key": "keep", "Value": "yes"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [], "the current version is untouched"


def test_a_bucket_with_versions_is_not_empty(s3, bucket):
    enable(s3, bucket)
    vid = s3.put_object(Bucket=bucket, Key="x", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="x")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert_client_error(e, 409, "BucketNotEmpty")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x", "VersionId": v} for v in (vid, marker)]})
    s3.delete_bucket(Bucket=bucket)


def test_lock_headers_on_a_bucket_without_object_lock_are_refused(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="worm", Body=b"x", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate="2099-01-01T00:00:00Z", ObjectLockLegalHoldStatus="ON")
    assert_client_error(e, 400, "InvalidRequest")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="worm")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404, "nothing was stored"
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="worm", ObjectLockLegalHoldStatus="ON")
    assert_client_error(e, 400, "InvalidRequest")


def test_aws_cli_versioning_round_trip(server, bucket):
    server.aws("s3api", "put-bucket-versioning", "--bucket", bucket,
               "--versioning-configuration", "Status=Enabled")
    status = json.loads(server.aws("s3api", "get-bucket-versioning", "--bucket", bucket).stdout)
    assert status["Status"] == "Enabled"
    s3 = server.s3
    ids = [s3.put_object(Bucket=bucket, Key="f", Body=b)["VersionId"] for b in (b"1", b"22")]
    listed = json.loads(server.aws("s3api", "list-object-versions", "--bucket", bucket).stdout)
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in listed["Versions"]] == [
        (ids[1], True, 2), (ids[0], False, 1)
    ]
    server.aws("s3", "rm", f"s3://{bucket}/f")
    listed = json.loads(server.aws("s3api", "list-object-versions", "--bucket", bucket).stdout)
    assert len(listed["DeleteMarkers"]) == 1 and listed["DeleteMarkers"][0]["IsLatest"] is True
    server.aws("s3api", "get-object", "--bucket", bucket, "--key", "f", "--version-id", ids[0],
               str(server.workdir / "v0"))
    assert (server.workdir / "v0").read_bytes() == b"1"


def test_get_object_attributes_of_versions_and_parts(s3, bucket):
    enable(s3, bucket)
    small = s3.put_object(Bucket=bucket, Key="obj", Body=b"12345", ChecksumAlgorithm="CRC32")["VersionId"]
    up = s3.create_multipart_upload(Bucket=bucket, Key="obj")["UploadId"]
    sizes = [5 * MiB, 5 * MiB, 7]
    parts = []
    for n, size in enumerate(sizes, start=1):
        etag = s3.upload_part(Bucket=bucket, Key="obj", UploadId=up, PartNumber=n, Body=b"p" * size)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    big = s3.complete_multipart_upload(Bucket=bucket, Key="obj", UploadId=up,
                                       MultipartUpload={"Parts": parts})["VersionId"]
    every = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
    old = s3.get_object_attributes(Bucket=bucket, Key="obj", VersionId=small, ObjectAttributes=every)
    assert (old["ObjectSize"], old["ETag"].strip('"'), old["VersionId"]) == (5, quoted_md5(b"12345").strip('"'), small)
    assert old["Checksum"]["ChecksumCRC32"] and "ObjectParts" not in old
    assert old["StorageClass"] == "STANDARD"
    page = s3.get_object_attributes(Bucket=bucket, Key="obj", ObjectAttributes=["ObjectParts", "ObjectSize"],
                                    MaxParts=2)
    assert page["VersionId"] == big and page["ObjectSize"] == sum(sizes) and "ETag" not in page
    op = page["ObjectParts"]
    assert (op["TotalPartsCount"], op["IsTruncated"], op["NextPartNumberMarker"]) == (3, True, 2)
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(1, 5 * MiB), (2, 5 * MiB)]
    rest = s3.get_object_attributes(Bucket=bucket, Key="obj", ObjectAttributes=["ObjectParts"], MaxParts=2,
                                    PartNumberMarker=2)["ObjectParts"]
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 7)] and rest["IsTruncated"] is False
    s3.delete_object(Bucket=bucket, Key="obj")
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="obj", ObjectAttributes=["ETag"])
    assert_client_error(e, 404, "NoSuchKey")
