"""Presigned URLs: SigV4 query signing works for GET, PUT, HEAD and UploadPart (plain HTTP and
TLS); SigV2 presigned URLs are refused with 403 AccessDenied on purpose; an expired or tampered
SigV4 URL is 403.
"""

from __future__ import annotations

import time

import requests

from conftest import multipart_etag, quoted_md5, xml_error_code

MiB = 1024 * 1024


def presigner(srv, version: str = "s3v4"):
    return srv.client(signature_version=version)


def fetch(srv, method: str, url: str, **kw) -> requests.Response:
    return requests.request(method, url, timeout=60, verify=srv.verify, allow_redirects=False, **kw)


def test_sigv4_presigned_get_put_head_http(server, bucket):
    """SigV4 presigned PUT, GET and HEAD over plain HTTP; a URL edited after signing is refused."""
    presigned_get_put_head(server, bucket)


def test_sigv4_presigned_get_put_head_tls(tls_server, tls_bucket):
    """The same over HTTPS."""
    presigned_get_put_head(tls_server, tls_bucket)


def presigned_get_put_head(srv, bucket_name: str) -> None:
    p = presigner(srv)
    body = b"uploaded through a presigned PUT\n" * 50
    put_url = p.generate_presigned_url("put_object", Params={"Bucket": bucket_name, "Key": "pre/obj"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in put_url
    r = fetch(srv, "PUT", put_url, data=body)
    assert r.status_code == 200, r.content
    assert r.headers["ETag"] == quoted_md5(body)

    get_url = p.generate_presigned_url("get_object", Params={"Bucket": bucket_name, "Key": "pre/obj"}, ExpiresIn=300)
    r = fetch(srv, "GET", get_url)
    assert r.status_code == 200 and r.content == body
    head_url = p.generate_presigned_url("head_object", Params={"Bucket": bucket_name, "Key": "pre/obj"}, ExpiresIn=300)
    r = fetch(srv, "HEAD", head_url)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(body)

    # Tampering with the signature or the key is refused.
    r = fetch(srv, "GET", get_url.replace("pre/obj", "pre/other"))
    assert r.status_code == 403 and xml_error_code(r.content) == "SignatureDoesNotMatch", r.content


def test_presigned_upload_part(server, s3, bucket):
    """A multipart upload whose parts go through presigned UploadPart URLs (the browser flow)."""
    p = presigner(server)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pre/mp")["UploadId"]
    parts = [b"a" * (5 * MiB), b"tail"]
    done = []
    for n, part in enumerate(parts, start=1):
        url = p.generate_presigned_url("upload_part", Params={
            "Bucket": bucket, "Key": "pre/mp", "UploadId": uid, "PartNumber": n}, ExpiresIn=300)
        r = fetch(server, "PUT", url, data=part)
        assert r.status_code == 200, r.content
        done.append({"PartNumber": n, "ETag": r.headers["ETag"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="pre/mp", UploadId=uid, MultipartUpload={"Parts": done})
    assert r["ETag"] == multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key="pre/mp")["Body"].read() == b"".join(parts)


def test_sigv2_presigned_is_access_denied(server, s3, bucket):
    """A SigV2 presigned URL (AWSAccessKeyId/Signature/Expires) is refused: 403 AccessDenied."""
    s3.put_object(Bucket=bucket, Key="v2", Body=b"secret")
    url = presigner(server, "s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "v2"}, ExpiresIn=300)
    assert "Signature=" in url and "X-Amz-Signature" not in url, url
    r = fetch(server, "GET", url)
    assert r.status_code == 403, r.content
    assert xml_error_code(r.content) == "AccessDenied", r.content
    assert r.content.find(b"secret") == -1


def test_expired_presigned_url(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp", Body=b"x")
    url = presigner(server).generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp"}, ExpiresIn=1)
    time.sleep(2.5)
    r = fetch(server, "GET", url)
    assert r.status_code == 403, r.content
    assert xml_error_code(r.content) in ("AccessDenied", "ExpiredToken", "RequestExpired"), r.content
