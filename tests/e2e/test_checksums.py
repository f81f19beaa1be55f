"""Flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) on PutObject and multipart uploads.

boto3 sends a checksum as an ``x-amz-checksum-*`` header over plain HTTP and as an aws-chunked
*trailer* over HTTPS, so most tests here run against ``tls_server`` (a self-signed cert). Expected
values are computed independently: CRCs with ``awscrt.checksums``, SHAs with ``hashlib``. A
mismatch must be 400 BadDigest with nothing stored; the aws-chunked framing must never reach the
stored bytes or the stored Content-Encoding; a body cut short or overlong must store nothing.
"""

from __future__ import annotations

import base64
import hashlib
import random
import socket
import ssl
import time
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import (
    CHECKSUM_ALGORITHMS,
    assert_client_error,
    assert_xml_error,
    checksum_b64,
    client_error,
    composite_checksum_b64,
    quote_key,
    quoted_md5,
    run,
    tool_path,
    xml_error_code,
)

MiB = 1024 * 1024
FULL_OBJECT_DEFAULT = {"CRC64NVME"}  # every other algorithm defaults to COMPOSITE on multipart


def rand_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def field(algorithm: str) -> str:
    """The boto3 response/request field for an algorithm: ChecksumCRC32, ChecksumSHA256, ..."""
    return "Checksum" + algorithm


class SentHeaders:
    """Records the headers of every request a boto3 client sends (to prove which path was taken)."""

    def __init__(self, client):
        self.requests: list[tuple[str, dict]] = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request, **_):
        self.requests.append((request.url, {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }))

    def with_trailer(self) -> list[dict]:
        return [h for _, h in self.requests if "x-amz-trailer" in h]


def assert_no_aws_chunked(resp: dict) -> None:
    enc = resp.get("ContentEncoding")
    assert enc is None or "aws-chunked" not in enc.lower(), f"stored Content-Encoding leaks the framing: {enc!r}"


def assert_object(s3, bucket: str, key: str, data: bytes, algorithm: str, value: str) -> None:
    """HEAD and GET with ChecksumMode=ENABLED show ``value``; GET returns exactly ``data``."""
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head.get(field(algorithm)) == value, f"HEAD checksum: {head}"
    assert_no_aws_chunked(head)
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got.get(field(algorithm)) == value, f"GET checksum: {got}"
    body = got["Body"].read()
    assert len(body) == len(data) and body == data


# ------------------------------------------------------------------------------------------------
# boto3 over TLS: trailing checksums
# ------------------------------------------------------------------------------------------------


def test_put_object_default_checksum_trailer(tls_server, tls_bucket):
    """put_object with boto3's defaults over HTTPS: an aws-chunked body with a CRC32 trailer. The
    answer carries the CRC32, the bytes are stored without framing, and HEAD/GET return it."""
    s3 = tls_server.client()
    sent = SentHeaders(s3)
    data = rand_bytes(3 * MiB + 17, 1)
    r = s3.put_object(Bucket=tls_bucket, Key="default", Body=data)
    trailed = sent.with_trailer()
    assert trailed and trailed[-1]["x-amz-trailer"] == "x-amz-checksum-crc32", sent.requests
    assert "aws-chunked" in trailed[-1].get("content-encoding", "")
    expected = checksum_b64("CRC32", data)
    assert r["ChecksumCRC32"] == expected
    assert r["ETag"] == quoted_md5(data)
    assert_object(s3, tls_bucket, "default", data, "CRC32", expected)


@pytest.mark.parametrize("algorithm", CHECKSUM_ALGORITHMS)
def test_put_object_each_algorithm_trailer(tls_server, tls_bucket, algorithm):
    """put_object with ChecksumAlgorithm=<alg> over HTTPS (trailer x-amz-checksum-<alg>): the stored
    checksum equals our own computation, on PUT, HEAD and GET."""
    s3 = tls_server.client()
    sent = SentHeaders(s3)
    data = rand_bytes(MiB + 333, 2)
    r = s3.put_object(Bucket=tls_bucket, Key=f"alg/{algorithm}", Body=data, ChecksumAlgorithm=algorithm)
    assert sent.with_trailer()[-1]["x-amz-trailer"] == f"x-amz-checksum-{algorithm.lower()}"
    expected = checksum_b64(algorithm, data)
    assert r.get(field(algorithm)) == expected, r
    assert_object(s3, tls_bucket, f"alg/{algorithm}", data, algorithm, expected)


def _upload_file(s3, path: Path, bucket: str, key: str, extra: dict | None = None) -> None:
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    s3.upload_file(str(path), bucket, key, Config=cfg, ExtraArgs=extra or {})


def _expected_multipart(algorithm: str, data: bytes, part_size: int = 5 * MiB) -> tuple[str, str]:
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    if algorithm in FULL_OBJECT_DEFAULT:
        return checksum_b64(algorithm, data), "FULL_OBJECT"
    return composite_checksum_b64(algorithm, parts), "COMPOSITE"


def test_upload_file_multipart_default_checksum(tls_server, tls_bucket, tmp_path):
    """upload_file of 17 MiB with 5 MiB parts and boto3's default checksums over HTTPS: four parts
    with CRC32 trailers; the object's checksum is the COMPOSITE CRC32 '...-4'."""
    s3 = tls_server.client(max_pool_connections=8)
    sent = SentHeaders(s3)
    data = rand_bytes(17 * MiB, 3)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    _upload_file(s3, src, tls_bucket, "mp/default")
    part_requests = [h for url, h in sent.requests if "partNumber=" in url]
    assert len(part_requests) == 4, [u for u, _ in sent.requests]
    assert all(h.get("x-amz-trailer") == "x-amz-checksum-crc32" for h in part_requests)
    head = s3.head_object(Bucket=tls_bucket, Key="mp/default", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-4"')
    value, kind = _expected_multipart("CRC32", data)
    assert head.get("ChecksumType") == kind, head
    assert head.get("ChecksumCRC32") == value, head
    assert_object(s3, tls_bucket, "mp/default", data, "CRC32", value)


@pytest.mark.parametrize("algorithm", CHECKSUM_ALGORITHMS)
def test_upload_file_multipart_each_algorithm(tls_server, tls_bucket, tmp_path, algorithm):
    """upload_file multipart (17 MiB, 5 MiB parts) with ChecksumAlgorithm=<alg>: COMPOSITE for
    CRC32/CRC32C/SHA1/SHA256, FULL_OBJECT for CRC64NVME, values equal to our own computation."""
    s3 = tls_server.client(max_pool_connections=8)
    data = rand_bytes(17 * MiB, 4)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    key = f"mp/{algorithm}"
    _upload_file(s3, src, tls_bucket, key, {"ChecksumAlgorithm": algorithm})
    value, kind = _expected_multipart(algorithm, data)
    head = s3.head_object(Bucket=tls_bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get("ChecksumType") == kind, head
    assert head.get(field(algorithm)) == value, head
    assert_object(s3, tls_bucket, key, data, algorithm, value)


# ------------------------------------------------------------------------------------------------
# Low-level multipart: FULL_OBJECT and COMPOSITE, invalid combinations
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm,kind",
    [("CRC64NVME", "FULL_OBJECT"), ("CRC32", "COMPOSITE"), ("CRC32C", "FULL_OBJECT"), ("SHA256", "COMPOSITE")],
)
def test_multipart_checksum_types(tls_server, tls_bucket, algorithm, kind):
    """CreateMultipartUpload with ChecksumAlgorithm + ChecksumType, three parts with per-part
    checksums: every UploadPart answers its part checksum, Complete answers the object checksum
    (COMPOSITE = base64(alg(concat(part checksums)))-N, FULL_OBJECT = CRC of the whole object)."""
    s3 = tls_server.client()
    key = f"low/{algorithm}-{kind}"
    parts = [rand_bytes(5 * MiB, 10), rand_bytes(5 * MiB + 1, 11), rand_bytes(4321, 12)]
    whole = b"".join(parts)
    uid = s3.create_multipart_upload(Bucket=tls_bucket, Key=key, ChecksumAlgorithm=algorithm,
                                     ChecksumType=kind)["UploadId"]
    done = []
    for n, part in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=tls_bucket, Key=key, UploadId=uid, PartNumber=n, Body=part,
                           ChecksumAlgorithm=algorithm)
        assert r.get(field(algorithm)) == checksum_b64(algorithm, part), r
        done.append({"PartNumber": n, "ETag": r["ETag"], field(algorithm): r[field(algorithm)]})

    expected = checksum_b64(algorithm, whole) if kind == "FULL_OBJECT" else composite_checksum_b64(algorithm, parts)
    r = s3.complete_multipart_upload(Bucket=tls_bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert r.get(field(algorithm)) == expected, r
    assert r.get("ChecksumType") == kind, r
    assert_object(s3, tls_bucket, key, whole, algorithm, expected)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC64NVME", "SHA256"])
def test_list_parts_returns_part_checksums(s3, bucket, algorithm):
    """ListParts of an upload created with a ChecksumAlgorithm shows each part's checksum (as AWS
    does; SDKs that resume uploads rebuild Complete's part list from it)."""
    uid = s3.create_multipart_upload(Bucket=bucket, Key="lp", ChecksumAlgorithm=algorithm)["UploadId"]
    parts = [b"first part" * 100, b"second part" * 100]
    for n, part in enumerate(parts, start=1):
        s3.upload_part(Bucket=bucket, Key="lp", UploadId=uid, PartNumber=n, Body=part, ChecksumAlgorithm=algorithm)
    listed = s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid)
    assert [p.get(field(algorithm)) for p in listed["Parts"]] == [checksum_b64(algorithm, p) for p in parts], listed
    assert listed.get("ChecksumAlgorithm") == algorithm, listed
    s3.abort_multipart_upload(Bucket=bucket, Key="lp", UploadId=uid)


@pytest.mark.parametrize("algorithm,kind", [("SHA256", "FULL_OBJECT"), ("SHA1", "FULL_OBJECT"),
                                            ("CRC64NVME", "COMPOSITE")])
def test_invalid_checksum_type_combinations(tls_s3, tls_bucket, algorithm, kind):
    """FULL_OBJECT with a SHA, and COMPOSITE with CRC64NVME, are refused with 400 (InvalidRequest)
    and no upload is created."""
    with pytest.raises(ClientError) as e:
        tls_s3.create_multipart_upload(Bucket=tls_bucket, Key="bad-combo", ChecksumAlgorithm=algorithm,
                                       ChecksumType=kind)
    assert client_error(e.value)[0] == 400, e.value.response
    if kind == "FULL_OBJECT":
        assert_client_error(e, 400, "InvalidRequest")
    assert tls_s3.list_multipart_uploads(Bucket=tls_bucket).get("Uploads", []) == []


def test_upload_part_wrong_checksum_header(server, s3, bucket):
    """UploadPart with a wrong x-amz-checksum-crc32 header: 400 BadDigest, the part is not listed."""
    uid = s3.create_multipart_upload(Bucket=bucket, Key="part-bad", ChecksumAlgorithm="CRC32")["UploadId"]
    part = b"part bytes" * 1000
    wrong = checksum_b64("CRC32", part + b"!")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="part-bad", UploadId=uid, PartNumber=1, Body=part, ChecksumCRC32=wrong)
    assert_client_error(e, 400, "BadDigest")
    assert s3.list_parts(Bucket=bucket, Key="part-bad", UploadId=uid).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="part-bad", UploadId=uid)


# ------------------------------------------------------------------------------------------------
# Header checksum mismatch (plain HTTP)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", CHECKSUM_ALGORITHMS)
def test_wrong_checksum_header_keeps_old_object(server, s3, bucket, algorithm):
    """PutObject with a wrong x-amz-checksum-<alg> header (boto3 sends a given value as a header):
    400 BadDigest and the previous object is untouched (bytes, ETag, checksum)."""
    key = f"wrong/{algorithm}"
    old = b"old version " * 100
    s3.put_object(Bucket=bucket, Key=key, Body=old, ChecksumAlgorithm=algorithm)
    new = b"new version " * 100
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key=key, Body=new, **{field(algorithm): checksum_b64(algorithm, new + b"x")})
    assert_client_error(e, 400, "BadDigest")
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == old
    assert got["ETag"] == quoted_md5(old)
    assert got.get(field(algorithm)) == checksum_b64(algorithm, old)


def test_wrong_crc32_header_raw_and_right_one(server, s3, bucket):
    """Hand-signed PUT with x-amz-checksum-crc32: wrong value -> BadDigest and no object; right value
    -> 200 echoing it."""
    data = b"raw header checksum"
    path = f"/{bucket}/raw-crc"
    resp = server.request("PUT", path, headers={"x-amz-checksum-crc32": checksum_b64("CRC32", b"other")}, body=data)
    assert_xml_error(resp, 400, "BadDigest")
    assert server.request("HEAD", path).status_code == 404
    resp = server.request("PUT", path, headers={"x-amz-checksum-crc32": checksum_b64("CRC32", data)}, body=data)
    assert resp.status_code == 200, resp.content
    assert resp.headers.get("x-amz-checksum-crc32") == checksum_b64("CRC32", data)
    assert s3.get_object(Bucket=bucket, Key="raw-crc")["Body"].read() == data


# ------------------------------------------------------------------------------------------------
# Hand-built aws-chunked bodies with trailers (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
# ------------------------------------------------------------------------------------------------


def aws_chunked(data: bytes, trailer_name: str, trailer_value: str, chunk: int = 64 * 1024) -> bytes:
    """``hex(len)\\r\\n<data>\\r\\n`` per chunk, then ``0\\r\\n<trailer>:<value>\\r\\n\\r\\n``."""
    out = bytearray()
    for i in range(0, len(data), chunk):
        piece = data[i : i + chunk]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    out += f"0\r\n{trailer_name}:{trailer_value}\r\n\r\n".encode()
    return bytes(out)


def trailer_headers(data: bytes, content_encoding: str = "aws-chunked", algorithm: str = "crc32") -> dict:
    return {
        "Content-Encoding": content_encoding,
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": f"x-amz-checksum-{algorithm}",
    }


def put_trailer(server, bucket: str, key: str, data: bytes, value: str, algorithm: str = "crc32",
                content_encoding: str = "aws-chunked", extra_query=None):
    body = aws_chunked(data, f"x-amz-checksum-{algorithm}", value)
    return server.request(
        "PUT", f"/{bucket}/{quote_key(key)}", query=extra_query, body=body,
        headers=trailer_headers(data, content_encoding, algorithm),
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )


def test_trailer_wrong_crc32_is_bad_digest(server, s3, bucket):
    """An aws-chunked PUT whose trailing x-amz-checksum-crc32 is wrong: 400 BadDigest, nothing
    stored, and an existing object under the key is untouched."""
    data = rand_bytes(200 * 1024 + 7, 20)
    resp = put_trailer(server, bucket, "fresh", data, checksum_b64("CRC32", data + b"?"))
    assert_xml_error(resp, 400, "BadDigest")
    assert server.request("HEAD", f"/{bucket}/fresh").status_code == 404

    s3.put_object(Bucket=bucket, Key="existing", Body=b"keep me")
    resp = put_trailer(server, bucket, "existing", data, checksum_b64("CRC32", b"nope"))
    assert_xml_error(resp, 400, "BadDigest")
    assert s3.get_object(Bucket=bucket, Key="existing")["Body"].read() == b"keep me"


@pytest.mark.parametrize("content_encoding,stored", [("aws-chunked", None), ("aws-chunked,gzip", "gzip")])
def test_trailer_right_crc32_stores_decoded_bytes(server, s3, bucket, content_encoding, stored):
    """The same request with the right trailer: 200, the object is exactly the data (no chunk
    framing), its size is the decoded length, and aws-chunked is not in the stored Content-Encoding
    (other codings are kept)."""
    data = rand_bytes(200 * 1024 + 7, 21)
    value = checksum_b64("CRC32", data)
    resp = put_trailer(server, bucket, "good", data, value, content_encoding=content_encoding)
    assert resp.status_code == 200, resp.content
    assert resp.headers.get("ETag") == quoted_md5(data)
    assert resp.headers.get("x-amz-checksum-crc32") == value
    head = server.request("HEAD", f"/{bucket}/good")
    assert int(head.headers["Content-Length"]) == len(data)
    assert head.headers.get("Content-Encoding") == stored, dict(head.headers)
    got = s3.get_object(Bucket=bucket, Key="good", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == value
    assert got["Body"].read() == data


@pytest.mark.parametrize("algorithm", ["crc32c", "crc64nvme", "sha1", "sha256"])
def test_trailer_other_algorithms(server, s3, bucket, algorithm):
    """Trailers for the other algorithms: right value stored and returned, wrong value BadDigest."""
    data = rand_bytes(70 * 1024, 22)
    alg = algorithm.upper()
    bad = put_trailer(server, bucket, f"t/{algorithm}", data, checksum_b64(alg, b"x"), algorithm=algorithm)
    assert_xml_error(bad, 400, "BadDigest")
    good = put_trailer(server, bucket, f"t/{algorithm}", data, checksum_b64(alg, data), algorithm=algorithm)
    assert good.status_code == 200, good.content
    assert_object(s3, bucket, f"t/{algorithm}", data, alg, checksum_b64(alg, data))


def test_trailer_on_upload_part(server, s3, bucket):
    """UploadPart with an aws-chunked body and CRC32 trailer: a wrong value is BadDigest and the part
    is absent; the right value stores the decoded bytes (ListParts size, part ETag = MD5 of data)."""
    uid = s3.create_multipart_upload(Bucket=bucket, Key="tp", ChecksumAlgorithm="CRC32")["UploadId"]
    data = rand_bytes(100 * 1024 + 1, 23)
    q = [("partNumber", "1"), ("uploadId", uid)]
    bad = put_trailer(server, bucket, "tp", data, checksum_b64("CRC32", b"x"), extra_query=q)
    assert_xml_error(bad, 400, "BadDigest")
    assert s3.list_parts(Bucket=bucket, Key="tp", UploadId=uid).get("Parts", []) == []
    good = put_trailer(server, bucket, "tp", data, checksum_b64("CRC32", data), extra_query=q)
    assert good.status_code == 200, good.content
    assert good.headers["ETag"] == quoted_md5(data)
    assert good.headers.get("x-amz-checksum-crc32") == checksum_b64("CRC32", data)
    part = s3.list_parts(Bucket=bucket, Key="tp", UploadId=uid)["Parts"][0]
    assert (part["Size"], part["ETag"]) == (len(data), quoted_md5(data))
    r = s3.complete_multipart_upload(Bucket=bucket, Key="tp", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": checksum_b64("CRC32", data)}]})
    assert s3.get_object(Bucket=bucket, Key="tp")["Body"].read() == data
    assert r["ChecksumCRC32"] == composite_checksum_b64("CRC32", [data])


# ------------------------------------------------------------------------------------------------
# Bodies that do not match their framing, and clients that hang up
# ------------------------------------------------------------------------------------------------


def raw_exchange(srv, head: bytes, body: bytes, *, half_close: bool = False, hang_up: bool = False,
                 timeout: float = 15) -> bytes:
    """Send ``head`` + ``body`` on a fresh socket (TLS when the server is), then either hang up at
    once, or half-close and read what comes back until the server closes or ``timeout``."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    if srv.tls is not None:
        ctx = ssl.create_default_context(cafile=str(srv.tls.cert))
        sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    try:
        sock.sendall(head + body)
        if hang_up:
            return b""
        if half_close and srv.tls is None:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ssl.SSLError, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and not half_close:
                # One response is enough; read its (small) body if Content-Length says so.
                hdr, _, rest = out.partition(b"\r\n\r\n")
                for line in hdr.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:") and len(rest) >= int(line.split(b":")[1]):
                        return out
        return out
    finally:
        try:
            sock.close()
        except OSError:
            pass


def request_head(srv, method: str, path: str, headers: dict) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{srv.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def first_response_body(raw: bytes) -> bytes:
    """The body of the first HTTP response in ``raw`` (by its Content-Length)."""
    hdr, _, rest = raw.partition(b"\r\n\r\n")
    for line in hdr.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return rest[: int(line.split(b":")[1])]
    return rest


def status_of(raw: bytes) -> int | None:
    if not raw.startswith(b"HTTP/1.1 "):
        return None
    return int(raw.split(b" ", 2)[1])


def wait_unchanged(s3, bucket: str, key: str, old: bytes | None) -> None:
    """Give the server a moment to notice a broken request, then check the key is as before."""
    time.sleep(0.5)
    if old is None:
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key=key)
        assert client_error(e.value)[0] == 404, f"{key} exists after a broken upload"
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert key not in listed
    else:
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == old, f"{key} was changed by a broken upload"
        assert got["ETag"] == quoted_md5(old)


@pytest.mark.parametrize("integrity", ["sha256", "crc32", "md5"])
def test_content_length_shorter_than_body(server, s3, bucket, integrity):
    """Content-Length 1000 bytes short of the body, which carries a payload SHA-256 / CRC32 /
    Content-MD5 of the whole body: the server reads Content-Length bytes, sees the mismatch, answers
    400 and stores nothing; the previous version stays."""
    body = rand_bytes(256 * 1024, 30)
    path = f"/{bucket}/short-{integrity}"
    s3.put_object(Bucket=bucket, Key=f"short-{integrity}", Body=b"previous")
    hdrs = {"Content-Length": str(len(body) - 1000)}
    payload_hash = "UNSIGNED-PAYLOAD"
    if integrity == "sha256":
        payload_hash = hashlib.sha256(body).hexdigest()
    elif integrity == "crc32":
        hdrs["x-amz-checksum-crc32"] = checksum_b64("CRC32", body)
    else:
        hdrs["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    signed = server.sign_headers("PUT", server.endpoint + path, hdrs, payload_hash=payload_hash)
    raw = raw_exchange(server, request_head(server, "PUT", path, signed), body)
    assert status_of(raw) == 400, raw[:600]
    assert xml_error_code(first_response_body(raw)) in ("XAmzContentSHA256Mismatch", "BadDigest"), raw[:600]
    wait_unchanged(s3, bucket, f"short-{integrity}", b"previous")


@pytest.mark.parametrize("kind", ["plain", "aws-chunked"])
def test_content_length_longer_than_body(server, s3, bucket, kind):
    """Content-Length 1000 bytes more than what is sent before the client half-closes: no object,
    the previous version untouched (the server may answer 400 or just close)."""
    data = rand_bytes(128 * 1024, 31)
    key = f"long-{kind}"
    path = f"/{bucket}/{key}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"previous")
    if kind == "plain":
        body, hdrs, ph = data, {}, "UNSIGNED-PAYLOAD"
    else:
        body = aws_chunked(data, "x-amz-checksum-crc32", checksum_b64("CRC32", data))
        hdrs, ph = trailer_headers(data), "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    hdrs["Content-Length"] = str(len(body) + 1000)
    signed = server.sign_headers("PUT", server.endpoint + path, hdrs, payload_hash=ph)
    raw = raw_exchange(server, request_head(server, "PUT", path, signed), body, half_close=True, timeout=10)
    status = status_of(raw)
    assert status is None or status >= 400, raw[:600]
    assert status is None or status < 500, f"5xx for a truncated body: {raw[:600]!r}"
    wait_unchanged(s3, bucket, key, b"previous")
    s3.put_object(Bucket=bucket, Key="healthy", Body=b"ok")  # the server still serves


@pytest.mark.parametrize("target", ["put-fresh", "put-existing", "upload-part"])
def test_disconnect_mid_aws_chunked_body(tls_server, tls_s3, tls_bucket, target):
    """Over TLS, an aws-chunked PUT (or UploadPart) with a trailer, cut off after half of its body:
    no object (or the previous version untouched; no part listed)."""
    s3, bucket = tls_s3, tls_bucket
    data = rand_bytes(2 * MiB, 32)
    key = "cut"
    query = ""
    uid = None
    old = None
    if target == "put-existing":
        old = b"the previous version"
        s3.put_object(Bucket=bucket, Key=key, Body=old)
    if target == "upload-part":
        uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        query = f"?partNumber=1&uploadId={uid}"
    body = aws_chunked(data, "x-amz-checksum-crc32", checksum_b64("CRC32", data))
    hdrs = trailer_headers(data)
    hdrs["Content-Length"] = str(len(body))
    path = f"/{bucket}/{key}"
    signed = tls_server.sign_headers("PUT", tls_server.endpoint + path + query, hdrs,
                                     payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    raw_exchange(tls_server, request_head(tls_server, "PUT", path + query, signed), body[: len(body) // 2],
                 hang_up=True)
    wait_unchanged(s3, bucket, key, old)
    if uid is not None:
        assert s3.list_parts(Bucket=bucket, Key=key, UploadId=uid).get("Parts", []) == []
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


# ------------------------------------------------------------------------------------------------
# aws-cli over TLS with an explicit algorithm (aws-cli v2's default is CRC64NVME)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["CRC64NVME", "CRC32C"])
def test_awscli_cp_multipart_checksum_algorithm(tls_server, tls_s3, tls_bucket, tmp_path, algorithm):
    """aws s3 cp --checksum-algorithm <alg> of 20 MiB over HTTPS with the CLI's default 8 MiB parts
    (trailers on every part; the multipart + CRC64NVME case broke other servers): the object's
    checksum is FULL_OBJECT for CRC64NVME and COMPOSITE for CRC32C, and the bytes round-trip."""
    data = rand_bytes(20 * MiB, 40)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    cfg = tmp_path / "aws-config-default-multipart"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = tls_server.aws_env()
    env["AWS_CONFIG_FILE"] = str(cfg)
    aws = tool_path("aws")
    run([aws, "s3", "cp", "--no-progress", "--checksum-algorithm", algorithm, str(src),
         f"s3://{tls_bucket}/cli/{algorithm}", "--endpoint-url", tls_server.endpoint], env=env, timeout=180)
    value, kind = _expected_multipart(algorithm, data, part_size=8 * MiB)
    head = tls_s3.head_object(Bucket=tls_bucket, Key=f"cli/{algorithm}", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert head.get("ChecksumType") == kind, head
    assert head.get(field(algorithm)) == value, head
    dst = tmp_path / "dst.bin"
    run([aws, "s3", "cp", "--no-progress", f"s3://{tls_bucket}/cli/{algorithm}", str(dst),
         "--endpoint-url", tls_server.endpoint], env=env, timeout=180)
    assert dst.read_bytes() == data
