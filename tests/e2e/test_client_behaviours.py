"""Behaviours real clients trip on (issue 13's list), each with AWS's exact answer, on SQLite and
MariaDB: conditional writes with an ETag in If-None-Match and `*` in If-Match, a retried
CompleteMultipartUpload, re-creating one's own bucket in us-east-1, `max-keys=0`, an empty
Content-MD5, `x-amz-tagging-count`, an anonymous request to a missing bucket, `<RequestId>` in error
bodies, a chunked PUT without Content-Length (refused, as AWS refuses it), and SigV4 dated by
`Date` instead of `X-Amz-Date`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import assert_client_error, quote_key, xml_error_code


def test_if_none_match_with_an_etag_and_if_match_any_on_put(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["ETag"]
    # If-None-Match: <etag> refuses exactly the current ETag, and writes over any other.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="doc", Body=b"two", IfNoneMatch=first)
    assert_client_error(e, 412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"two", IfNoneMatch='"0123456789abcdef0123456789abcdef"')
    assert s3.get_object(Bucket=bucket, Key="doc")["ETag"] == second["ETag"]
    s3.put_object(Bucket=bucket, Key="fresh", Body=b"new", IfNoneMatch=first)
    assert s3.get_object(Bucket=bucket, Key="fresh")["Body"].read() == b"new"
    # If-Match: * writes only over an existing object.
    s3.put_object(Bucket=bucket, Key="doc", Body=b"three", IfMatch="*")
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"three"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"x", IfMatch="*")
    assert_client_error(e, 412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert_client_error(e, 404, "404")


def test_retried_complete_multipart_answers_the_same_object(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=1, Body=b"p" * 1000)
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload=parts)
    assert again["ETag"] == done["ETag"] and again["Key"] == "big", (done, again)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"p" * 1000
    # Once the object is replaced, the old upload id is unknown again.
    s3.put_object(Bucket=bucket, Key="big", Body=b"replaced")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload=parts)
    assert_client_error(e, 404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="other", UploadId=up, MultipartUpload=parts)
    assert_client_error(e, 404, "NoSuchUpload")


def test_recreating_ones_own_bucket_in_us_east_1_succeeds(s3, bucket):
    s3.put_object(Bucket=bucket, Key="kept", Body=b"still here")
    again = s3.create_bucket(Bucket=bucket)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"still here"


def test_max_keys_zero_is_not_truncated(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"1")
    for query in ("list-type=2&max-keys=0", "max-keys=0"):
        r = server.request("GET", f"/{bucket}", query=query)
        assert r.status_code == 200, r.text
        root = ET.fromstring(r.content)
        ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
        assert root.findtext(f"{ns}IsTruncated") == "false", (query, r.text)
        assert root.find(f"{ns}Contents") is None, (query, r.text)


def test_empty_content_md5_is_invalid_digest(server, bucket):
    r = server.request("PUT", f"/{bucket}/k", headers={"Content-MD5": ""}, body=b"data")
    assert (r.status_code, xml_error_code(r.content)) == (400, "InvalidDigest"), r.text
    r = server.request("PUT", f"/{bucket}/k", headers={"Content-MD5": "not base64!"}, body=b"data")
    assert (r.status_code, xml_error_code(r.content)) == (400, "InvalidDigest"), r.text
    assert server.request("HEAD", f"/{bucket}/k").status_code == 404


def test_tagging_count_on_get_and_head(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=2")
    assert s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    got = s3.get_object(Bucket=bucket, Key="t")
    assert got["TagCount"] == 2
    s3.put_object(Bucket=bucket, Key="u", Body=b"x")
    assert "x-amz-tagging-count" not in s3.head_object(Bucket=bucket, Key="u")["ResponseMetadata"]["HTTPHeaders"]


def test_anonymous_request_to_a_missing_bucket_is_no_such_bucket(server):
    r = requests.get(f"{server.endpoint}/no-such-bucket-{hashlib.md5(b'x').hexdigest()[:8]}/key", timeout=30,
                     verify=server.verify)
    assert (r.status_code, xml_error_code(r.content)) == (404, "NoSuchBucket"), r.text


def test_error_bodies_carry_a_request_id(server, bucket):
    r = server.request("GET", f"/{bucket}/{quote_key('missing')}")
    assert r.status_code == 404
    root = ET.fromstring(r.content)
    request_id = root.findtext("RequestId")
    assert request_id and request_id == r.headers.get("x-amz-request-id"), (r.text, dict(r.headers))


def test_chunked_put_without_content_length_is_refused_as_on_aws(server, bucket):
    """AWS requires Content-Length on PutObject (411 MissingContentLength); a chunked body without it
    is refused the same way, before anything is stored (aws-chunked uploads announce their decoded
    length and are accepted: test_checksums.py)."""
    body = b"streamed without a length " * 1000
    headers = {"Transfer-Encoding": "chunked", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}

    def chunks():
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]

    url = f"{server.endpoint}/{bucket}/chunked"
    signed = server.sign_headers("PUT", url, headers, payload_hash="UNSIGNED-PAYLOAD")
    signed.pop("Content-Length", None)
    r = requests.put(url, headers=signed, data=chunks(), timeout=60, verify=server.verify)
    assert (r.status_code, xml_error_code(r.content)) == (411, "MissingContentLength"), r.text
    assert server.request("HEAD", f"/{bucket}/chunked").status_code == 404


def test_presigned_urls_out_of_their_validity_are_403(server, s3, bucket):
    """SigV4 presigned URLs: over 7 days or negative is 403 AuthorizationQueryParametersError, expired is
    403 AccessDenied (SigV2 URLs carry an absolute Expires and no such limit, as on AWS)."""
    s3.put_object(Bucket=bucket, Key="shared", Body=b"for a while")
    s3 = server.client(signature_version="s3v4")
    ok = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=604800)
    assert requests.get(ok, timeout=30, verify=server.verify).content == b"for a while"
    too_long = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=604801)
    # botocore refuses to sign a negative expiry; a client that does not sends this.
    negative = ok.replace("X-Amz-Expires=604800", "X-Amz-Expires=-5")
    assert negative != ok
    for url in (too_long, negative):
        r = requests.get(url, timeout=30, verify=server.verify)
        assert (r.status_code, xml_error_code(r.content)) == (403, "AuthorizationQueryParametersError"), (url, r.text)
        assert b"for a while" not in r.content
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=1)
    time.sleep(2.2)
    r = requests.get(url, timeout=30, verify=server.verify)
    assert (r.status_code, xml_error_code(r.content)) == (403, "AccessDenied"), r.text
    assert "expired" in r.text


def test_options_without_origin_is_400(server, s3, bucket):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=600)
    r = requests.options(url, timeout=30, verify=server.verify)
    assert (r.status_code, xml_error_code(r.content)) == (400, "BadRequest"), r.text


def test_list_buckets_pages_with_max_buckets(server, s3, bucket_name):
    names = sorted(f"{bucket_name[:40]}-{i}" for i in range(5))
    for n in names:
        s3.create_bucket(Bucket=n)
    for size in (1, 2, 3):
        seen, token = [], None
        for _ in range(20):
            kw = {"MaxBuckets": size, "Prefix": bucket_name[:40]}
            if token:
                kw["ContinuationToken"] = token
            page = s3.list_buckets(**kw)
            assert len(page["Buckets"]) <= size, page
            seen += [b["Name"] for b in page["Buckets"]]
            token = page.get("ContinuationToken")
            if not token:
                break
        assert seen == names, (size, seen)
    for bad in ("0", "10001"):
        r = server.request("GET", "/", query=f"max-buckets={bad}")
        assert (r.status_code, xml_error_code(r.content)) == (400, "InvalidArgument"), r.text
    r = server.request("GET", "/", query="max-buckets=1&continuation-token=%21%21")
    assert (r.status_code, xml_error_code(r.content)) == (400, "InvalidArgument"), r.text
    for n in names:
        s3.delete_bucket(Bucket=n)


def test_policy_status_without_a_policy_and_a_wildcard_resource(server, s3, bucket):
    """GetBucketPolicyStatus of a bucket without a policy is IsPublic=false (the Ceph suite's answer);
    a policy whose resource is `arn:aws:s3:::*` is accepted and grants what it says."""
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    s3.put_object(Bucket=bucket, Key="open", Body=b"for everyone")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"}]}))
    r = requests.get(f"{server.endpoint}/{bucket}/open", timeout=30, verify=server.verify)
    assert (r.status_code, r.content) == (200, b"for everyone")
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}]}))
    assert_client_error(e, 400, "MalformedPolicy")


def _sign_v4_with_date_header(server, method: str, path: str, date_value: str, signed_at: dt.datetime) -> dict:
    """A SigV4 Authorization for ``path`` whose timestamp is carried by ``Date`` (no X-Amz-Date),
    as older clients sign: ``date`` is a signed header and the string to sign uses ``signed_at``."""
    host = urllib.parse.urlsplit(server.endpoint).netloc
    empty = hashlib.sha256(b"").hexdigest()
    headers = {"date": date_value, "host": host, "x-amz-content-sha256": empty}
    names = sorted(headers)
    canonical = "\n".join([method, path, "", *(f"{n}:{headers[n]}" for n in names), "", ";".join(names), empty])
    stamp, day = signed_at.strftime("%Y%m%dT%H%M%SZ"), signed_at.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + server.secret_key).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = (f"AWS4-HMAC-SHA256 Credential={server.access_key}/{scope}, SignedHeaders={';'.join(names)}, "
            f"Signature={signature}")
    return {"Date": date_value, "X-Amz-Content-SHA256": empty, "Authorization": auth}


def test_sigv4_dated_by_the_date_header(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="dated", Body=b"by Date")
    url = f"{server.endpoint}/{bucket}/dated"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    for date_value in (now.strftime("%Y%m%dT%H%M%SZ"), email.utils.format_datetime(now, usegmt=True)):
        headers = _sign_v4_with_date_header(server, "GET", f"/{bucket}/dated", date_value, now)
        r = requests.get(url, headers=headers, timeout=30, verify=server.verify)
        assert (r.status_code, r.content) == (200, b"by Date"), (date_value, r.text)
    # The date is bound to the signature: changing it afterwards breaks the signature...
    headers = _sign_v4_with_date_header(server, "GET", f"/{bucket}/dated", now.strftime("%Y%m%dT%H%M%SZ"), now)
    later = now + dt.timedelta(seconds=5)
    headers["Date"] = later.strftime("%Y%m%dT%H%M%SZ")
    r = requests.get(url, headers=headers, timeout=30, verify=server.verify)
    assert (r.status_code, xml_error_code(r.content)) == (403, "SignatureDoesNotMatch"), r.text
    # ...and an old Date is as skewed as an old X-Amz-Date.
    old = now - dt.timedelta(minutes=30)
    headers = _sign_v4_with_date_header(server, "GET", f"/{bucket}/dated", old.strftime("%Y%m%dT%H%M%SZ"), old)
    r = requests.get(url, headers=headers, timeout=30, verify=server.verify)
    assert (r.status_code, xml_error_code(r.content)) == (403, "RequestTimeTooSkewed"), r.text
