"""Multipart uploads: aws-cli transfers (plain HTTP and TLS), boto3's low-level API, every bad input
and the races a client population can produce.

AWS rules checked here: parts ascending but not necessarily contiguous, 5 MiB minimum except the
last part (EntityTooSmall), part numbers 1..10000 (InvalidArgument), InvalidPart, InvalidPartOrder,
NoSuchUpload after abort/complete, Content-MD5 on UploadPart (BadDigest), a re-sent part replaces
the earlier one, and the multipart ETag ``"hex(md5(concat(part md5s)))-N"``. After every failed
Complete the key must not exist (HEAD 404, not listed).
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import (
    assert_client_error,
    assert_xml_error,
    client_error,
    file_md5,
    md5_hex,
    multipart_etag,
    quote_key,
    quoted_md5,
    run,
    tool_path,
    write_generated_file,
)

MiB = 1024 * 1024


def rand_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def assert_absent(s3, bucket: str, key: str) -> None:
    """HEAD answers 404 and the key is not listed."""
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert client_error(e.value)[0] == 404, e.value.response
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert key not in listed, f"{key!r} listed but HEAD says 404: {listed}"


def upload_parts(s3, bucket: str, key: str, upload_id: str, parts: dict[int, bytes]) -> list[dict]:
    """UploadPart each (number -> bytes); return the Parts list for Complete, in ascending order."""
    done = []
    for number in sorted(parts):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=parts[number])
        assert r["ETag"] == quoted_md5(parts[number]), f"part {number}: ETag {r['ETag']}"
        done.append({"PartNumber": number, "ETag": r["ETag"]})
    return done


def default_threshold_env(server, tmp_path: Path) -> dict:
    """aws-cli env with a config that keeps the CLI's default 8 MiB multipart threshold/chunk size
    (the suite's shared config raises it to 64 MB)."""
    cfg = tmp_path / "aws-config-default-multipart"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = server.aws_env()
    env["AWS_CONFIG_FILE"] = str(cfg)
    return env


def awscli_round_trip(server, s3, bucket: str, tmp_path: Path, size: int, expected_parts: int,
                      timeout: float) -> None:
    """aws s3 cp a generated file up and down with the default 8 MiB multipart settings; compare
    the bytes and the multipart ETag's part count."""
    src = tmp_path / "upload.bin"
    want_md5 = write_generated_file(src, size, seed=size % 9973)
    env = default_threshold_env(server, tmp_path)
    aws = tool_path("aws")
    out = run([aws, "s3", "cp", "--no-progress", str(src), f"s3://{bucket}/big/object.bin",
               "--endpoint-url", server.endpoint], env=env, timeout=timeout).stdout.decode()
    assert f"s3://{bucket}/big/object.bin" in out, out
    head = s3.head_object(Bucket=bucket, Key="big/object.bin")
    assert head["ContentLength"] == size
    assert head["ETag"].endswith(f'-{expected_parts}"'), f"not a {expected_parts}-part upload: {head['ETag']}"
    src.unlink()  # keep at most one copy of the payload on disk
    dst = tmp_path / "download.bin"
    run([aws, "s3", "cp", "--no-progress", f"s3://{bucket}/big/object.bin", str(dst),
         "--endpoint-url", server.endpoint], env=env, timeout=timeout)
    assert dst.stat().st_size == size
    assert file_md5(dst) == want_md5, "downloaded bytes differ from the uploaded file"
    dst.unlink()


# ------------------------------------------------------------------------------------------------
# aws-cli
# ------------------------------------------------------------------------------------------------


def test_awscli_cp_100mib_multipart_http(server, s3, bucket, tmp_path):
    """aws s3 cp of 100 MiB over plain HTTP: 13 parts of 8 MiB up, ranged parallel GETs down."""
    awscli_round_trip(server, s3, bucket, tmp_path, 100 * MiB, 13, timeout=300)


def test_awscli_cp_100mib_multipart_tls(tls_server, tls_s3, tls_bucket, tmp_path):
    """The same over HTTPS, where aws-cli sends every part aws-chunked with a CRC32 trailer."""
    awscli_round_trip(tls_server, tls_s3, tls_bucket, tmp_path, 100 * MiB, 13, timeout=300)


@pytest.mark.slow
def test_awscli_cp_1gib_multipart(server, s3, bucket, tmp_path):
    """A 1 GiB aws-cli round trip (128 parts). SQLite only: the MySQL run adds minutes on a 2-core
    machine and exercises no other code path than the 100 MiB test."""
    if server.backend != "sqlite":
        pytest.skip("1 GiB round trip runs on the sqlite backend only (time budget)")
    awscli_round_trip(server, s3, bucket, tmp_path, 1024 * MiB, 128, timeout=900)


# ------------------------------------------------------------------------------------------------
# boto3 low-level multipart
# ------------------------------------------------------------------------------------------------


def test_non_contiguous_parts_get_range_and_part_number(s3, bucket):
    """Parts 1, 3, 7 (5 MiB, 5 MiB, 1000 bytes): Complete succeeds, GET returns the concatenation,
    a range across the part-1/part-3 boundary is right, GET/HEAD PartNumber returns one part with
    Content-Range and PartsCount, and the ETag follows the multipart formula."""
    key = "mp/non-contiguous"
    parts = {1: rand_bytes(5 * MiB, 1), 3: rand_bytes(5 * MiB, 3), 7: rand_bytes(1000, 7)}
    whole = parts[1] + parts[3] + parts[7]
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test")["UploadId"]
    done = upload_parts(s3, bucket, key, uid, parts)
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    etag = multipart_etag([parts[1], parts[3], parts[7]])
    assert r["ETag"] == etag

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["ETag"] == etag
    assert got["ContentLength"] == len(whole)
    assert got["ContentType"] == "application/x-test"
    data = got["Body"].read()
    assert len(data) == len(whole) and md5_hex(data) == md5_hex(whole)

    # A range across the boundary between the first and the second stored part.
    lo, hi = 5 * MiB - 100, 5 * MiB + 99
    rng = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={lo}-{hi}")
    assert rng["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert rng["ContentRange"] == f"bytes {lo}-{hi}/{len(whole)}"
    assert rng["Body"].read() == whole[lo : hi + 1]
    # ...and one across the second/third boundary to the end.
    lo = 10 * MiB - 10
    rng = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={lo}-")
    assert rng["Body"].read() == whole[lo:]

    # PartNumber=1 is unambiguous.
    p1 = s3.get_object(Bucket=bucket, Key=key, PartNumber=1)
    assert p1["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert p1["PartsCount"] == 3
    assert p1["ContentRange"] == f"bytes 0-{5 * MiB - 1}/{len(whole)}"
    assert p1["Body"].read() == parts[1]
    assert p1["ETag"] == etag

    # PartNumber=2: S3 is vague when the uploaded numbers were 1,3,7. Accept the ordinal reading
    # (the second stored part, uploaded as 3) or "no part 2" (416 InvalidPartNumber); never other bytes.
    try:
        p2 = s3.get_object(Bucket=bucket, Key=key, PartNumber=2)
    except ClientError as e:
        assert client_error(e)[0] == 416, e.response
    else:
        assert p2["PartsCount"] == 3
        assert p2["ContentRange"] == f"bytes {5 * MiB}-{10 * MiB - 1}/{len(whole)}"
        assert p2["Body"].read() == parts[3]

    head = s3.head_object(Bucket=bucket, Key=key, PartNumber=1)
    assert head["PartsCount"] == 3
    assert head["ContentLength"] == 5 * MiB
    assert head["ContentRange"] == f"bytes 0-{5 * MiB - 1}/{len(whole)}"


def test_part_number_get_contiguous(s3, bucket):
    """Parts 1,2,3: GET PartNumber=2 returns exactly part 2 with its Content-Range; PartNumber=4
    (beyond PartsCount) is 416 InvalidPartNumber."""
    key = "mp/contiguous"
    parts = {1: rand_bytes(5 * MiB, 11), 2: rand_bytes(5 * MiB + 3, 12), 3: rand_bytes(17, 13)}
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, parts)
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    total = sum(len(p) for p in parts.values())
    p2 = s3.get_object(Bucket=bucket, Key=key, PartNumber=2)
    assert p2["PartsCount"] == 3
    assert p2["ContentRange"] == f"bytes {5 * MiB}-{10 * MiB + 2}/{total}"
    assert p2["Body"].read() == parts[2]
    p3 = s3.head_object(Bucket=bucket, Key=key, PartNumber=3)
    assert p3["ContentLength"] == 17
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key=key, PartNumber=4)
    assert client_error(e.value)[0] == 416, e.value.response


def test_resent_part_replaces_earlier_bytes(s3, bucket):
    """Part 1 uploaded twice with different bytes: ListParts shows the second ETag, completing with
    the first ETag is InvalidPart, completing with the second stores the second bytes."""
    key = "mp/resent"
    first, second, last = rand_bytes(5 * MiB, 21), rand_bytes(5 * MiB, 22), b"tail" * 100
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    old = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=first)["ETag"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=last)
    new = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=second)["ETag"]
    assert new == quoted_md5(second) != old

    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [
        (1, new, len(second)), (2, quoted_md5(last), len(last))
    ]

    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": old}, {"PartNumber": 2, "ETag": quoted_md5(last)}]})
    assert_client_error(e, 400, "InvalidPart")
    assert_absent(s3, bucket, key)

    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": new}, {"PartNumber": 2, "ETag": quoted_md5(last)}]})
    assert r["ETag"] == multipart_etag([second, last])
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert data == second + last


def test_list_parts_paging(s3, bucket):
    """Five parts 1,2,4,5,9; ListParts with MaxParts=2 pages through them with PartNumberMarker."""
    key = "mp/list-parts"
    parts = {n: rand_bytes(1000 + n, 100 + n) for n in (1, 2, 4, 5, 9)}
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    upload_parts(s3, bucket, key, uid, parts)

    seen, marker, pages = [], 0, 0
    while True:
        r = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, MaxParts=2, PartNumberMarker=marker)
        pages += 1
        assert r["MaxParts"] == 2
        assert r["UploadId"] == uid and r["Key"] == key
        got = r.get("Parts", [])
        assert len(got) <= 2
        seen += [(p["PartNumber"], p["ETag"], p["Size"]) for p in got]
        if not r["IsTruncated"]:
            break
        assert r["NextPartNumberMarker"] == got[-1]["PartNumber"]
        marker = r["NextPartNumberMarker"]
        assert pages < 10, "ListParts never stops"
    assert pages == 3
    assert seen == [(n, quoted_md5(parts[n]), len(parts[n])) for n in sorted(parts)]

    r = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, PartNumberMarker=4)
    assert [p["PartNumber"] for p in r["Parts"]] == [5, 9]
    assert r["IsTruncated"] is False
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


def test_list_multipart_uploads_prefix_and_markers(s3, bucket):
    """Uploads for a/1, a/2 (twice), b/1: Prefix filters, KeyMarker skips, and MaxUploads=1 paging
    with KeyMarker/UploadIdMarker returns every upload once, keys ascending."""
    created = []
    for key in ("a/2", "b/1", "a/1", "a/2"):
        created.append((key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))

    def pairs(resp):
        return [(u["Key"], u["UploadId"]) for u in resp.get("Uploads", [])]

    everything = pairs(s3.list_multipart_uploads(Bucket=bucket))
    assert sorted(everything) == sorted(created)
    assert [k for k, _ in everything] == sorted(k for k, _ in created)

    a_only = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert a_only["Prefix"] == "a/"
    assert sorted(pairs(a_only)) == sorted(p for p in created if p[0].startswith("a/"))

    after_a1 = pairs(s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/1"))
    assert sorted(after_a1) == sorted(p for p in created if p[0] > "a/1")

    paged, kw = [], {}
    for _ in range(10):
        r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1, **kw)
        assert len(r.get("Uploads", [])) <= 1
        paged += pairs(r)
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"], "UploadIdMarker": r["NextUploadIdMarker"]}
    else:
        pytest.fail("ListMultipartUploads paging never stopped")
    assert paged == everything, "MaxUploads=1 paging differs from the one-page listing"

    for key, uid in created:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    assert pairs(s3.list_multipart_uploads(Bucket=bucket)) == []


def test_abort_then_everything_is_no_such_upload(s3, bucket):
    """After AbortMultipartUpload, UploadPart, ListParts, Complete and a second Abort answer 404
    NoSuchUpload, and no object appears; an invented upload id is NoSuchUpload too."""
    key = "mp/aborted"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"x" * 100)["ETag"]
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)

    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=b"y")
    assert_client_error(e, 404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert_client_error(e, 404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert_client_error(e, 404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    assert_client_error(e, 404, "NoSuchUpload")
    assert_absent(s3, bucket, key)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key=key, UploadId="no-such-upload-id", PartNumber=1, Body=b"z")
    assert_client_error(e, 404, "NoSuchUpload")


def test_complete_after_complete_is_no_such_upload(s3, bucket):
    """A completed upload id is gone: a second Complete and an UploadPart answer NoSuchUpload, and
    the object keeps the first Complete's bytes."""
    key = "mp/completed"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, {1: b"only part"})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"late")
    assert_client_error(e, 404, "NoSuchUpload")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"only part"
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == multipart_etag([b"only part"])


# ------------------------------------------------------------------------------------------------
# Bad input: each failure leaves no object behind
# ------------------------------------------------------------------------------------------------


def test_upload_part_wrong_content_md5(s3, bucket):
    """UploadPart with a Content-MD5 of other bytes: 400 BadDigest, and the part is not listed."""
    key = "bad/md5"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"a" * 1000)
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=b"b" * 1000, ContentMD5=wrong)
    assert_client_error(e, 400, "BadDigest")
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid).get("Parts", [])
    assert [p["PartNumber"] for p in parts] == [1], f"a part that failed its MD5 is listed: {parts}"
    # A re-sent part with a wrong MD5 must not replace the good one either.
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"c" * 1000, ContentMD5=wrong)
    assert_client_error(e, 400, "BadDigest")
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, quoted_md5(b"a" * 1000))]
    assert_absent(s3, bucket, key)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


def test_too_small_middle_part(s3, bucket):
    """Parts of 1 MiB, 1 MiB, 1 MiB: Complete is 400 EntityTooSmall, nothing is visible, and the
    upload is still there (AWS lets the client fix it)."""
    key = "bad/too-small"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, {n: rand_bytes(MiB, 200 + n) for n in (1, 2, 3)})
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert_client_error(e, 400, "EntityTooSmall")
    assert_absent(s3, bucket, key)
    assert len(s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]) == 3
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


def test_five_mib_boundary(s3, bucket):
    """A first part of exactly 5 MiB is large enough; 5 MiB - 1 byte is EntityTooSmall."""
    key = "bad/boundary"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, {1: rand_bytes(5 * MiB - 1, 31), 2: b"end"})
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert_client_error(e, 400, "EntityTooSmall")
    assert_absent(s3, bucket, key)
    first = rand_bytes(5 * MiB, 32)
    done = upload_parts(s3, bucket, key, uid, {1: first})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        done[0], {"PartNumber": 2, "ETag": quoted_md5(b"end")}]})
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == first + b"end"


@pytest.mark.parametrize("case", ["wrong-etag", "unknown-part"])
def test_invalid_part(s3, bucket, case):
    """Complete naming a part with the wrong ETag, or a part never uploaded: 400 InvalidPart."""
    key = f"bad/invalid-part-{case}"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, {1: rand_bytes(5 * MiB, 41), 2: b"last"})
    if case == "wrong-etag":
        done[1]["ETag"] = quoted_md5(b"not the last part")
    else:
        done.append({"PartNumber": 3, "ETag": quoted_md5(b"never sent")})
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert_client_error(e, 400, "InvalidPart")
    assert_absent(s3, bucket, key)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


def test_invalid_part_order(s3, bucket):
    """Complete listing parts 2 then 1: 400 InvalidPartOrder, nothing stored."""
    key = "bad/order"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, {1: rand_bytes(5 * MiB, 51), 2: rand_bytes(5 * MiB, 52)})
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": list(reversed(done))})
    assert_client_error(e, 400, "InvalidPartOrder")
    assert_absent(s3, bucket, key)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


@pytest.mark.parametrize("number", ["0", "10001"])
def test_upload_part_number_out_of_range(server, s3, bucket, number):
    """UploadPart with partNumber outside 1..10000 (hand-signed, so no SDK validation interferes):
    400 InvalidArgument, and no part is recorded."""
    key = "bad/part-number"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    resp = server.request("PUT", f"/{bucket}/{quote_key(key)}",
                          query=[("partNumber", number), ("uploadId", uid)], body=b"data")
    assert_xml_error(resp, 400, "InvalidArgument")
    assert s3.list_parts(Bucket=bucket, Key=key, UploadId=uid).get("Parts", []) == []
    # The edges of the range are fine.
    for ok in (1, 10000):
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=ok, Body=b"edge")
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]] == [1, 10000]
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    assert_absent(s3, bucket, key)


def test_complete_after_abort(s3, bucket):
    """Complete of an aborted upload with valid-looking parts: 404 NoSuchUpload, no object."""
    key = "bad/complete-after-abort"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, {1: rand_bytes(5 * MiB, 61), 2: b"end"})
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert_client_error(e, 404, "NoSuchUpload")
    assert_absent(s3, bucket, key)


def test_failed_complete_keeps_previous_object(s3, bucket):
    """A Complete that fails (InvalidPart) onto an existing key leaves the old object untouched."""
    key = "bad/keeps-old"
    s3.put_object(Bucket=bucket, Key=key, Body=b"previous version")
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = upload_parts(s3, bucket, key, uid, {1: b"new"})
    done[0]["ETag"] = quoted_md5(b"wrong")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert_client_error(e, 400, "InvalidPart")
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"previous version"
    assert got["ETag"] == quoted_md5(b"previous version")
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


# ------------------------------------------------------------------------------------------------
# UploadPartCopy
# ------------------------------------------------------------------------------------------------


def test_upload_part_copy_with_range(s3, bucket):
    """UploadPartCopy with x-amz-copy-source-range: the part holds exactly that slice, and a range
    beyond the source is 416 InvalidRange. (If the server answers 501 NotImplemented, this fails
    on purpose: the operation is part of the contract.)"""
    src = rand_bytes(6 * MiB + 500, 71)
    s3.put_object(Bucket=bucket, Key="copy/source", Body=src)
    key = "copy/target"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        r1 = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "copy/source"},
                                 CopySourceRange=f"bytes=0-{5 * MiB - 1}")
        assert r1["CopyPartResult"]["ETag"] == quoted_md5(src[: 5 * MiB])
        r2 = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "copy/source"},
                                 CopySourceRange=f"bytes={5 * MiB}-{len(src) - 1}")
        assert r2["CopyPartResult"]["ETag"] == quoted_md5(src[5 * MiB :])
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=3,
                                CopySource={"Bucket": bucket, "Key": "copy/source"},
                                CopySourceRange=f"bytes={len(src)}-{len(src) + 10}")
        assert_client_error(e, 416, "InvalidRange")
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == src
        assert got["ETag"] == multipart_etag([src[: 5 * MiB], src[5 * MiB :]])
    finally:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
        except ClientError:
            pass


# ------------------------------------------------------------------------------------------------
# Races
# ------------------------------------------------------------------------------------------------


ROUNDS = 20  # the losing side's answer is wrong in only some rounds; 20 catch it almost always


def _outcome(fn):
    """('ok', response) or ('err', (status, code)); anything but a ClientError propagates."""
    try:
        return "ok", fn()
    except ClientError as e:
        return "err", client_error(e)


def test_concurrent_completes_of_one_upload(server, bucket):
    """Two Completes of the same upload at once, twenty times: one object, one 200, the other a 200 with
    the same ETag or 404 NoSuchUpload, never a 5xx."""
    clients = [server.client(), server.client()]
    s3 = clients[0]
    for i in range(ROUNDS):
        key = f"race/complete-{i}"
        first, last = rand_bytes(5 * MiB, 80 + i), f"last part {i}".encode()
        uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        done = upload_parts(s3, bucket, key, uid, {1: first, 2: last})
        barrier = threading.Barrier(2)

        def complete(c):
            barrier.wait(timeout=30)
            return _outcome(lambda: c.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done}))

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = [f.result(timeout=120) for f in [pool.submit(complete, c) for c in clients]]
        etag = multipart_etag([first, last])
        oks = [r for kind, r in results if kind == "ok"]
        errs = [r for kind, r in results if kind == "err"]
        assert oks, f"round {i}: no Complete succeeded: {errs}"
        assert all(r["ETag"] == etag for r in oks), f"round {i}: {[r['ETag'] for r in oks]} != {etag}"
        assert all(e == (404, "NoSuchUpload") for e in errs), f"round {i}: loser got {errs}"
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ETag"] == etag
        assert got["Body"].read() == first + last
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="race/")["Contents"]]
    assert keys == sorted(f"race/complete-{i}" for i in range(ROUNDS)), keys
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_complete_racing_abort(server, bucket):
    """Complete and Abort of one upload at once, twenty times: either the Complete won (200, object
    readable, Abort says NoSuchUpload) or the Abort won (Complete says NoSuchUpload, HEAD 404, not
    listed). Never a 5xx, never a listed key that cannot be read."""
    clients = [server.client(), server.client()]
    s3 = clients[0]
    outcomes, wrong_codes = [], []
    for i in range(ROUNDS):
        key = f"race/abort-{i}"
        first, last = rand_bytes(5 * MiB, 90 + i), f"last part {i}".encode()
        uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        done = upload_parts(s3, bucket, key, uid, {1: first, 2: last})
        barrier = threading.Barrier(2)

        def complete():
            barrier.wait(timeout=30)
            return _outcome(lambda: clients[0].complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done}))

        def abort():
            barrier.wait(timeout=30)
            return _outcome(lambda: clients[1].abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid))

        with ThreadPoolExecutor(max_workers=2) as pool:
            fc, fa = pool.submit(complete), pool.submit(abort)
            (ck, cr), (ak, ar) = fc.result(timeout=120), fa.result(timeout=120)
        for kind, r in ((ck, cr), (ak, ar)):
            if kind == "err":
                assert r[0] < 500, f"round {i}: 5xx {r}"
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])]
        if ck == "ok":
            outcomes.append("complete")
            assert cr["ETag"] == multipart_etag([first, last])
            got = s3.get_object(Bucket=bucket, Key=key)
            assert got["Body"].read() == first + last
            assert listed == [key]
            if not (ak == "err" and ar == (404, "NoSuchUpload")):
                wrong_codes.append(f"round {i}: Complete won but Abort answered {ak} {ar}")
        else:
            outcomes.append("abort")
            assert ak == "ok", f"round {i}: both failed: complete {cr}, abort {ar}"
            assert listed == [], f"round {i}: Abort won but {key} is listed"
            with pytest.raises(ClientError) as e:
                s3.head_object(Bucket=bucket, Key=key)
            assert client_error(e.value)[0] == 404
            if cr != (404, "NoSuchUpload"):
                # The upload was aborted; the client's part list was right: S3 says NoSuchUpload.
                wrong_codes.append(f"round {i}: Abort won but Complete answered {cr}, not (404, 'NoSuchUpload')")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert not wrong_codes, "state was consistent, but error codes were not: " + "; ".join(wrong_codes)
    print("complete-vs-abort winners:", outcomes)


def test_list_multipart_uploads_rolls_up_at_the_delimiter(s3, bucket):
    """ListMultipartUploads with Delimiter: keys under a common prefix come back once as a
    CommonPrefix, paging with MaxUploads walks prefixes and uploads in order without repeats."""
    keys = ["a/1", "a/2", "a/b/3", "b", "c/1"]
    ids = {k: s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in keys}
    whole = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in whole["CommonPrefixes"]] == ["a/", "c/"]
    assert [u["Key"] for u in whole["Uploads"]] == ["b"]
    nested = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", Prefix="a/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["a/b/"]
    assert [u["Key"] for u in nested["Uploads"]] == ["a/1", "a/2"]
    seen, kwargs = [], {}
    for _ in range(10):
        page = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", MaxUploads=1, **kwargs)
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])] + [u["Key"] for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == ["a/", "b", "c/"]
    for k, uid in ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=uid)
