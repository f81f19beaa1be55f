"""Conditional writes: ``If-None-Match: *`` (create only) and ``If-Match: <etag>`` (compare and
swap) on PutObject and CompleteMultipartUpload. A failed condition is 412 PreconditionFailed and
changes nothing; the decision is atomic, so of N racing create-only writers exactly one wins.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import assert_client_error, assert_xml_error, client_error, multipart_etag, quoted_md5

MiB = 1024 * 1024


def test_concurrent_if_none_match_puts(server, bucket):
    """8 threads PUT different bodies to one new key with If-None-Match: * at the same moment, five
    rounds: exactly one 200 and seven 412 each time, and the stored body is the winner's."""
    clients = [server.client() for _ in range(8)]
    for round_ in range(5):
        key = f"lock/{round_}"
        bodies = [f"writer {i} round {round_} ".encode() * (1000 + 37 * i) for i in range(8)]
        barrier = threading.Barrier(8)

        def put(i):
            barrier.wait(timeout=30)
            try:
                r = clients[i].put_object(Bucket=bucket, Key=key, Body=bodies[i], IfNoneMatch="*")
                return i, "ok", r["ETag"]
            except ClientError as e:
                return i, "err", client_error(e)

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = [f.result(timeout=120) for f in [pool.submit(put, i) for i in range(8)]]
        winners = [(i, etag) for i, kind, etag in results if kind == "ok"]
        losers = [r for _, kind, r in results if kind == "err"]
        assert len(winners) == 1, f"round {round_}: {len(winners)} winners: {results}"
        assert losers == [(412, "PreconditionFailed")] * 7, f"round {round_}: {losers}"
        winner, etag = winners[0]
        got = clients[0].get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == bodies[winner], f"round {round_}: stored body is not the winner's"
        assert got["ETag"] == etag == quoted_md5(bodies[winner])


def test_if_none_match_on_existing_key(s3, bucket):
    """If-None-Match: * onto an existing key: 412 and the object is unchanged."""
    s3.put_object(Bucket=bucket, Key="exists", Body=b"first")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="exists", Body=b"second", IfNoneMatch="*")
    assert_client_error(e, 412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="exists")["Body"].read() == b"first"


def test_if_match_current_and_stale(s3, bucket):
    """If-Match with the current ETag replaces the object; with the (now) stale ETag it is 412 and
    nothing changes; If-Match on a missing key is 404 NoSuchKey (as on AWS) or 412, never a write."""
    v1 = s3.put_object(Bucket=bucket, Key="cas", Body=b"version 1")["ETag"]
    v2 = s3.put_object(Bucket=bucket, Key="cas", Body=b"version 2", IfMatch=v1)["ETag"]
    assert v2 == quoted_md5(b"version 2")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="cas", Body=b"version 3", IfMatch=v1)
    assert_client_error(e, 412, "PreconditionFailed")
    got = s3.get_object(Bucket=bucket, Key="cas")
    assert got["Body"].read() == b"version 2" and got["ETag"] == v2
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"x", IfMatch=v2)
    assert client_error(e.value) in [(404, "NoSuchKey"), (412, "PreconditionFailed")], e.value.response
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="missing")


def test_concurrent_if_match_compare_and_swap(server, bucket):
    """8 threads each try If-Match with the same current ETag: exactly one wins, seven get 412."""
    clients = [server.client() for _ in range(8)]
    base = clients[0].put_object(Bucket=bucket, Key="counter", Body=b"0")["ETag"]
    barrier = threading.Barrier(8)

    def swap(i):
        barrier.wait(timeout=30)
        try:
            clients[i].put_object(Bucket=bucket, Key="counter", Body=f"{i + 1}".encode(), IfMatch=base)
            return i
        except ClientError as e:
            assert client_error(e) == (412, "PreconditionFailed"), e.response
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(swap, i) for i in range(8)]]
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, results
    assert clients[0].get_object(Bucket=bucket, Key="counter")["Body"].read() == f"{winners[0] + 1}".encode()


def test_raw_if_none_match_header(server, bucket):
    """The plain header path (hand-signed): If-None-Match: * -> 200 then 412 with an S3 XML error."""
    r = server.request("PUT", f"/{bucket}/raw", headers={"If-None-Match": "*"}, body=b"one")
    assert r.status_code == 200, r.content
    r = server.request("PUT", f"/{bucket}/raw", headers={"If-None-Match": "*"}, body=b"two")
    assert_xml_error(r, 412, "PreconditionFailed")


def _upload(s3, bucket, key, data_parts):
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for n, part in enumerate(data_parts, start=1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=part)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    return uid, done


def test_complete_if_none_match_onto_existing_key(s3, bucket):
    """CompleteMultipartUpload with If-None-Match: * onto an existing key: 412, the old object stays,
    and the upload still exists (ListParts works, a plain Complete then succeeds)."""
    s3.put_object(Bucket=bucket, Key="mpu", Body=b"already here")
    parts = [random.Random(1).randbytes(5 * MiB), b"tail"]
    uid, done = _upload(s3, bucket, "mpu", parts)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=uid,
                                     MultipartUpload={"Parts": done}, IfNoneMatch="*")
    assert_client_error(e, 412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="mpu")["Body"].read() == b"already here"
    listed = s3.list_parts(Bucket=bucket, Key="mpu", UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [uid]
    r = s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=uid, MultipartUpload={"Parts": done})
    assert r["ETag"] == multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key="mpu")["Body"].read() == b"".join(parts)


def test_complete_if_none_match_new_key_and_if_match(s3, bucket):
    """Complete with If-None-Match: * onto a new key succeeds; Complete with If-Match: <stale etag>
    is 412 (upload kept), with the current ETag it succeeds."""
    uid, done = _upload(s3, bucket, "new", [b"small only part"])
    s3.complete_multipart_upload(Bucket=bucket, Key="new", UploadId=uid,
                                 MultipartUpload={"Parts": done}, IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"small only part"

    current = s3.put_object(Bucket=bucket, Key="cas-mpu", Body=b"v1")["ETag"]
    uid, done = _upload(s3, bucket, "cas-mpu", [b"v2 via multipart"])
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="cas-mpu", UploadId=uid,
                                     MultipartUpload={"Parts": done}, IfMatch=quoted_md5(b"stale"))
    assert_client_error(e, 412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="cas-mpu")["Body"].read() == b"v1"
    r = s3.complete_multipart_upload(Bucket=bucket, Key="cas-mpu", UploadId=uid,
                                     MultipartUpload={"Parts": done}, IfMatch=current)
    assert r["ETag"] == multipart_etag([b"v2 via multipart"])
    assert s3.get_object(Bucket=bucket, Key="cas-mpu")["Body"].read() == b"v2 via multipart"


def test_concurrent_completes_if_none_match_different_uploads(server, bucket):
    """Four uploads to one new key completed at once with If-None-Match: *: exactly one 200, three
    412, and the object is the winner's."""
    clients = [server.client() for _ in range(4)]
    uploads = []
    for i in range(4):
        body = f"upload {i} ".encode() * (100 + i)
        uid, done = _upload(clients[0], bucket, "one-winner", [body])
        uploads.append((uid, done, body))
    barrier = threading.Barrier(4)

    def complete(i):
        uid, done, _ = uploads[i]
        barrier.wait(timeout=30)
        try:
            clients[i].complete_multipart_upload(Bucket=bucket, Key="one-winner", UploadId=uid,
                                                 MultipartUpload={"Parts": done}, IfNoneMatch="*")
            return i, None
        except ClientError as e:
            return i, client_error(e)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(complete, i) for i in range(4)]]
    winners = [i for i, err in results if err is None]
    assert len(winners) == 1, results
    assert sorted(err for _, err in results if err is not None) == [(412, "PreconditionFailed")] * 3, results
    got = clients[0].get_object(Bucket=bucket, Key="one-winner")["Body"].read()
    assert got == uploads[winners[0]][2]
