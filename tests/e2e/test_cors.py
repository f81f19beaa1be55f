"""Bucket CORS: Put/Get/DeleteBucketCors, OPTIONS preflights answered in front of s3s, and CORS headers
on a browser-style PUT to a presigned URL."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import assert_client_error, assert_xml_error

CONSOLE = "https://console.example.test"


def rules():
    return {"CORSRules": [{
        "AllowedOrigins": [CONSOLE],
        "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 600,
    }]}


def preflight(server, bucket, origin, method="PUT", headers="content-type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(f"{server.endpoint}/{bucket}/upload.bin?x-id=PutObject", headers=h, timeout=10)


def test_cors_configuration_and_preflight(server, s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert_client_error(e, 404, "NoSuchCORSConfiguration")
    assert_xml_error(preflight(server, bucket, CONSOLE), 403, "AccessForbidden")

    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=rules())
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedOrigins"] == [CONSOLE]

    ok = preflight(server, bucket, CONSOLE)
    assert ok.status_code == 200, ok.text
    assert ok.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "PUT" in ok.headers["Access-Control-Allow-Methods"]
    assert ok.headers["Access-Control-Allow-Headers"] == "content-type"
    assert ok.headers["Access-Control-Max-Age"] == "600"
    assert_xml_error(preflight(server, bucket, "https://evil.example.test"), 403, "AccessForbidden")
    assert_xml_error(preflight(server, bucket, CONSOLE, method="DELETE"), 403, "AccessForbidden")
    missing = requests.options(f"{server.endpoint}/{bucket}/x", headers={"Origin": CONSOLE}, timeout=10)
    assert_xml_error(missing, 400, "BadRequest")

    s3.delete_bucket_cors(Bucket=bucket)
    assert_xml_error(preflight(server, bucket, CONSOLE), 403, "AccessForbidden")


def test_browser_put_to_presigned_url_gets_cors_headers(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=rules())
    signer = server.client(signature_version="s3v4")
    url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "from-browser.txt"}, ExpiresIn=300)
    put = requests.put(url, data=b"hello from a browser", headers={"Origin": CONSOLE}, timeout=10)
    assert put.status_code == 200, put.text
    assert put.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert put.headers["Access-Control-Expose-Headers"] == "ETag"
    assert "Origin" in put.headers.get("Vary", "")
    assert s3.get_object(Bucket=bucket, Key="from-browser.txt")["Body"].read() == b"hello from a browser"
    # A request from an origin the rules do not name gets no CORS headers (the browser blocks it).
    other = requests.put(url, data=b"x", headers={"Origin": "https://evil.example.test"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in other.headers


def test_invalid_cors_rules_are_refused(s3, bucket):
    bad = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=bad)
    assert_client_error(e, 400, "InvalidRequest")
