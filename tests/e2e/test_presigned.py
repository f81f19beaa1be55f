"""Presigned URLs: SigV4 query signing works for GET, PUT, HEAD and UploadPart (plain HTTP and
TLS); SigV2 (presigned and header) works by default and is refused with 403 AccessDenied when
CLOUDVAULT_SIGV2=false; an expired or tampered URL is 403.
"""

from __future__ import annotations

import time

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import (
    REGION,
    assert_client_error,
    multipart_etag,
    quoted_md5,
    running_server,
    xml_error_code,
)

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


def test_sigv2_presigned_urls_and_headers_work_by_default(server, s3, bucket):
    """SigV2 is accepted by default (CLOUDVAULT_SIGV2), as MinIO does: boto3's default presigned URL on a
    custom endpoint (AWSAccessKeyId/Signature/Expires), SigV2 presigned PUT and GET, and SigV2 header
    auth on object requests; an edited V2 URL is 403 SignatureDoesNotMatch."""
    s3.put_object(Bucket=bucket, Key="v2", Body=b"shared the old way")
    default = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION, verify=server.verify,
                           aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key)
    url = default.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2"}, ExpiresIn=300)
    assert "Signature=" in url and "X-Amz-Signature" not in url, "boto3 presigns with SigV2 here: " + url
    assert fetch(server, "GET", url).content == b"shared the old way"
    tampered = fetch(server, "GET", url.replace("/v2?", "/v2x?"))
    assert (tampered.status_code, xml_error_code(tampered.content)) == (403, "SignatureDoesNotMatch"), tampered.content
    v2 = presigner(server, "s3")
    # SigV2 itself has no limit; CloudVault holds V2 links to SigV4's 7 days.
    year = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2"}, ExpiresIn=365 * 86400)
    r = fetch(server, "GET", year)
    assert (r.status_code, xml_error_code(r.content)) == (403, "AuthorizationQueryParametersError"), r.content
    assert b"shared the old way" not in r.content
    put = v2.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "v2-put"}, ExpiresIn=300)
    assert fetch(server, "PUT", put, data=b"put with V2").status_code == 200
    assert s3.get_object(Bucket=bucket, Key="v2-put")["Body"].read() == b"put with V2"
    # Header auth (AWS's "s3" signer is SigV2) on object requests.
    v2.put_object(Bucket=bucket, Key="v2-header", Body=b"header")
    assert v2.get_object(Bucket=bucket, Key="v2-header")["Body"].read() == b"header"
    assert v2.head_object(Bucket=bucket, Key="v2-header")["ContentLength"] == 6


def test_sigv2_refused_when_switched_off(tmp_path_factory):
    """CLOUDVAULT_SIGV2=false: every SigV2 request is 403 AccessDenied and reads nothing; SigV4 works."""
    with running_server("sqlite", tmp_path_factory, extra_env=lambda _: {"CLOUDVAULT_SIGV2": "false"}) as srv:
        s3 = srv.s3
        s3.create_bucket(Bucket="v2-off")
        s3.put_object(Bucket="v2-off", Key="k", Body=b"secret")
        url = presigner(srv, "s3").generate_presigned_url("get_object", Params={"Bucket": "v2-off", "Key": "k"},
                                                          ExpiresIn=300)
        r = fetch(srv, "GET", url)
        assert (r.status_code, xml_error_code(r.content)) == (403, "AccessDenied"), r.content
        assert b"secret" not in r.content
        with pytest.raises(ClientError) as e:
            presigner(srv, "s3").get_object(Bucket="v2-off", Key="k")
        assert_client_error(e, 403, "AccessDenied")
        v4 = presigner(srv).generate_presigned_url("get_object", Params={"Bucket": "v2-off", "Key": "k"}, ExpiresIn=300)
        assert fetch(srv, "GET", v4).content == b"secret"


def test_expired_presigned_url(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp", Body=b"x")
    url = presigner(server).generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp"}, ExpiresIn=1)
    time.sleep(2.5)
    r = fetch(server, "GET", url)
    assert r.status_code == 403, r.content
    assert xml_error_code(r.content) in ("AccessDenied", "ExpiredToken", "RequestExpired"), r.content
