"""Requests CloudVault must refuse, and how: status code, S3 error code, XML body, no side effects.

Most of these are sent with the hand-signing helper (``server.request``) because boto3 validates
bucket names and cannot be made to send a wrong signature, a skewed date or a bad Content-MD5.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest

from conftest import assert_xml_error, quote_key, quoted_md5, xml_error_code


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def bucket_names(server) -> list[str]:
    return [b["Name"] for b in server.s3.list_buckets()["Buckets"]]


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "ABC",  # uppercase
        "Mixed-Case-Bucket",
        "192.168.1.1",  # formatted as an IP address
        "xn--abc",  # reserved prefix
        "a..b",  # adjacent periods
        "-leading-dash",
        "trailing-dash-",
        "under_score",
        "bad!char",
    ],
)
def test_invalid_bucket_name(server, name):
    """CreateBucket with a name S3 forbids is 400 InvalidBucketName and creates nothing."""
    resp = server.request("PUT", "/" + quote_key(name))
    assert_xml_error(resp, 400, "InvalidBucketName")
    assert name not in bucket_names(server)


def test_valid_edge_bucket_names(server):
    """Names at the limits of the rules are accepted: 3 and 63 characters, dots, digits."""
    for name in ("abc", "a" * 63, "a.b.c", "0-9-bucket", "my.bucket-1"):
        resp = server.request("PUT", "/" + name)
        assert resp.status_code == 200, (name, resp.status_code, resp.text)
        assert name in bucket_names(server)


def test_key_too_long(server, bucket):
    """A 1025-byte key is 400 KeyTooLongError; 1024 bytes is accepted and readable."""
    long_key = "k" * 1025
    resp = server.request("PUT", f"/{bucket}/{quote_key(long_key)}", body=b"x")
    assert_xml_error(resp, 400, "KeyTooLongError")

    multibyte = "\u00e9" * 512 + "z"  # 1025 bytes, 513 characters: the limit is in bytes
    resp = server.request("PUT", f"/{bucket}/{quote_key(multibyte)}", body=b"x")
    assert_xml_error(resp, 400, "KeyTooLongError")

    ok_key = "k" * 1024
    resp = server.request("PUT", f"/{bucket}/{quote_key(ok_key)}", body=b"fits")
    assert resp.status_code == 200, resp.text
    got = server.s3.get_object(Bucket=bucket, Key=ok_key)
    assert got["Body"].read() == b"fits"
    listed = [o["Key"] for o in server.s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == [ok_key]


# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------


def test_anonymous_requests_are_denied(server, bucket):
    """Unsigned ListBuckets, GetObject, PutObject and ListObjects are 403 AccessDenied;
    the anonymous PUT stores nothing."""
    server.s3.put_object(Bucket=bucket, Key="secret", Body=b"s3cr3t")
    for method, path, body in (
        ("GET", "/", b""),
        ("GET", f"/{bucket}/secret", b""),
        ("GET", f"/{bucket}", b""),
        ("PUT", f"/{bucket}/anon", b"anonymous write"),
        ("DELETE", f"/{bucket}/secret", b""),
        ("PUT", "/anon-bucket-should-not-exist", b""),
    ):
        resp = server.request(method, path, body=body, sign=False)
        assert_xml_error(resp, 403, "AccessDenied")
        assert b"s3cr3t" not in resp.content
    head = server.request("HEAD", f"/{bucket}/secret", sign=False)
    assert head.status_code == 403 and head.content == b""
    keys = [o["Key"] for o in server.s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["secret"]
    assert "anon-bucket-should-not-exist" not in bucket_names(server)


def test_tampered_signature(server, bucket):
    """A request whose signature was altered after signing is 403 SignatureDoesNotMatch."""
    resp = server.request("GET", f"/{bucket}", tamper_signature=True)
    assert_xml_error(resp, 403, "SignatureDoesNotMatch")
    resp = server.request("PUT", f"/{bucket}/k", body=b"data", tamper_signature=True)
    assert_xml_error(resp, 403, "SignatureDoesNotMatch")
    assert "Contents" not in server.s3.list_objects_v2(Bucket=bucket)


def test_wrong_secret_key(server, bucket):
    """The right access key signed with the wrong secret is 403 SignatureDoesNotMatch (boto3 too)."""
    resp = server.request("GET", "/", secret_key="not-the-secret")
    assert_xml_error(resp, 403, "SignatureDoesNotMatch")
    from botocore.exceptions import ClientError

    bad = server.client(secret_key="not-the-secret")
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unknown_access_key(server):
    """An access key the server does not know is 403 InvalidAccessKeyId."""
    resp = server.request("GET", "/", access_key="AKIAUNKNOWNUNKNOWN00", secret_key="whatever")
    assert_xml_error(resp, 403, "InvalidAccessKeyId")


@pytest.mark.parametrize("minutes", [16, -16])
def test_request_time_too_skewed(server, bucket, minutes):
    """A correctly signed request dated 16 minutes off is 403 RequestTimeTooSkewed."""
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    resp = server.request("GET", f"/{bucket}", when=when)
    assert_xml_error(resp, 403, "RequestTimeTooSkewed")


def test_small_clock_skew_is_accepted(server, bucket):
    """A request dated 10 minutes off is within the 15-minute window and succeeds."""
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    resp = server.request("GET", f"/{bucket}", query="list-type=2", when=when)
    assert resp.status_code == 200, resp.text


def test_signed_request_helper_works(server, bucket):
    """Control for the failure tests above: the same helper, untampered, succeeds."""
    resp = server.request("PUT", f"/{bucket}/{quote_key('ctl key+%')}", body=b"control")
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] == quoted_md5(b"control")
    resp = server.request("GET", f"/{bucket}/{quote_key('ctl key+%')}")
    assert resp.status_code == 200 and resp.content == b"control"
    resp = server.request("PUT", f"/{bucket}/unsigned-payload", body=b"u", payload_hash="UNSIGNED-PAYLOAD")
    assert resp.status_code == 200, resp.text


def test_payload_hash_mismatch(server, bucket):
    """A body that does not match its signed x-amz-content-sha256 is rejected with 400 and not stored."""
    resp = server.request(
        "PUT", f"/{bucket}/sha", body=b"actual body",
        payload_hash=hashlib.sha256(b"another body").hexdigest(),
    )
    assert resp.status_code == 400, resp.text
    assert xml_error_code(resp.content) in ("XAmzContentSHA256Mismatch", "BadDigest"), resp.text
    assert server.request("HEAD", f"/{bucket}/sha").status_code == 404


# ---------------------------------------------------------------------------------------------
# Content-MD5
# ---------------------------------------------------------------------------------------------


def test_content_md5_good(server, bucket):
    """A PUT with the right Content-MD5 is stored."""
    data = b"verified body"
    resp = server.request("PUT", f"/{bucket}/md5", body=data, headers={"Content-MD5": b64md5(data)})
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] == quoted_md5(data)


def test_content_md5_mismatch_keeps_previous_object(server, bucket):
    """A PUT whose Content-MD5 does not match the body is 400 BadDigest; the old object is untouched."""
    old = b"the original object"
    server.s3.put_object(Bucket=bucket, Key="obj", Body=old, Metadata={"v": "1"})
    new = b"a replacement that arrives corrupted"
    resp = server.request("PUT", f"/{bucket}/obj", body=new, headers={"Content-MD5": b64md5(b"something else")})
    assert_xml_error(resp, 400, "BadDigest")
    got = server.s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == old
    assert got["ETag"] == quoted_md5(old)
    assert got["Metadata"] == {"v": "1"}

    resp = server.request("PUT", f"/{bucket}/fresh", body=new, headers={"Content-MD5": b64md5(b"x")})
    assert_xml_error(resp, 400, "BadDigest")
    assert server.request("HEAD", f"/{bucket}/fresh").status_code == 404


@pytest.mark.parametrize(
    "value",
    [
        "not base64!!",
        base64.b64encode(b"12345").decode(),  # valid base64 of 5 bytes, not 16
        hashlib.md5(b"x").hexdigest(),  # hex instead of base64
    ],
)
def test_content_md5_invalid(server, bucket, value):
    """A Content-MD5 that is not base64 of 16 bytes is 400 InvalidDigest and stores nothing."""
    resp = server.request("PUT", f"/{bucket}/inv", body=b"body", headers={"Content-MD5": value})
    assert_xml_error(resp, 400, "InvalidDigest")
    assert server.request("HEAD", f"/{bucket}/inv").status_code == 404


# ---------------------------------------------------------------------------------------------
# Unimplemented operations and malformed requests
# ---------------------------------------------------------------------------------------------

WEBSITE_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
    b"</WebsiteConfiguration>"
)


def test_put_bucket_website_not_implemented(server, bucket):
    """PutBucketWebsite (out of scope) is 501 NotImplemented with an S3 XML body."""
    resp = server.request(
        "PUT", f"/{bucket}", query="website", body=WEBSITE_XML,
        headers={"Content-MD5": b64md5(WEBSITE_XML), "Content-Type": "application/xml"},
    )
    assert_xml_error(resp, 501, "NotImplemented")


def test_put_bucket_website_via_boto3_not_implemented(s3, bucket):
    """The same through boto3 surfaces as a NotImplemented ClientError."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert e.value.response["Error"]["Code"] == "NotImplemented"


def test_errors_carry_request_id(server, bucket):
    """Error responses carry an x-amz-request-id header and a <RequestId> or <Code> body."""
    resp = server.request("GET", f"/{bucket}/nope")
    assert_xml_error(resp, 404, "NoSuchKey")
    assert resp.headers.get("x-amz-request-id"), dict(resp.headers)
    assert resp.headers.get("Content-Type", "").startswith(("application/xml", "text/xml")), dict(resp.headers)


def test_error_before_body_closes_the_connection(server, s3, bucket):
    """A client that sends `Expect: 100-continue` and gets an error before sending its body (here an
    UploadPart to an unknown upload) must not have the next request on that connection misread: the
    server answers the error with `Connection: close`. (Regression: the next request's first byte was
    taken as the unsent body and it failed with SignatureDoesNotMatch.)"""
    import socket

    path = f"/{bucket}/key?partNumber=1&uploadId=no-such-upload"
    url = f"{server.endpoint}{path}"
    headers = server.sign_headers("PUT", url, {"Content-Length": "1", "Expect": "100-continue"},
                                  payload_hash="UNSIGNED-PAYLOAD")
    headers["Host"] = f"127.0.0.1:{server.port}"
    raw = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw.encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            assert chunk, "connection closed before a response"
            reply += chunk
        head = reply.split(b"\r\n\r\n", 1)[0].decode().lower()
        assert head.startswith("http/1.1 404"), head
        assert "connection: close" in head, head
    # A fresh request works as usual.
    s3.put_object(Bucket=bucket, Key="after", Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"ok"
