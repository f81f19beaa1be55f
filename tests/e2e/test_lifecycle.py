"""Lifecycle rules, driven by boto3 on SQLite and MariaDB, with the test-only shortened day
(``CLOUDVAULT_LIFECYCLE_DAY_SECS=2``) and a 1 s janitor: AWS's validation of the configuration;
current versions expiring (deleted unversioned, hidden by a marker versioned) with
``x-amz-expiration`` announced; noncurrent versions expiring while the newest N stay; lone delete
markers removed; incomplete uploads aborted; and a version object lock protects surviving every rule.

Every wait is a bounded poll (``WAIT_S``) for the state a user would check.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError

from conftest import assert_client_error, running_server

DAY_S = 2
WAIT_S = 30.0


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def server(request, tmp_path_factory):
    env = {"CLOUDVAULT_LIFECYCLE_DAY_SECS": str(DAY_S), "CLOUDVAULT_JANITOR_INTERVAL_SECS": "1"}
    with running_server(request.param, tmp_path_factory, extra_env=lambda _srv: env) as srv:
        yield srv


def rules(s3, bucket, *rules_):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules_)})


def until(what, check):
    deadline = time.monotonic() + WAIT_S
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_S}s: {what}")
        time.sleep(0.5)


def version_ids(s3, bucket, prefix=""):
    page = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return ([v["VersionId"] for v in page.get("Versions", [])],
            [m["VersionId"] for m in page.get("DeleteMarkers", [])])


def test_configuration_round_trip_and_validation(s3, bucket):
    rule = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}
    tagged = {"ID": "tmp", "Status": "Disabled", "Filter": {"And": {"Prefix": "tmp/", "Tags": [
        {"Key": "class", "Value": "scratch"}, {"Key": "team", "Value": "a"}]}}, "Expiration": {"Days": 1}}
    rules(s3, bucket, rule, tagged)
    got = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert got["logs"]["Expiration"] == {"Days": 30} and got["logs"]["Filter"] == {"Prefix": "logs/"}
    assert got["logs"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3}
    assert got["logs"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert got["tmp"]["Status"] == "Disabled"
    assert sorted(t["Key"] for t in got["tmp"]["Filter"]["And"]["Tags"]) == ["class", "team"]
    bad = [
        ([rule, dict(rule)], 400, "InvalidArgument"),  # duplicate ids
        ([{**rule, "ID": "x" * 256}], 400, "InvalidArgument"),
        ([{"ID": "t", "Status": "Enabled", "Filter": {"Prefix": ""},
           "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}], 501, "NotImplemented"),
        ([{"ID": "n", "Status": "Enabled", "Filter": {"Prefix": "a"}}], 400, "InvalidRequest"),
        ([{"ID": "z", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}], 400,
         "InvalidArgument"),
    ]
    for rules_, status, code in bad:
        with pytest.raises(ClientError) as e:
            rules(s3, bucket, *rules_)
        assert_client_error(e, status, code)
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 2, "refused changes change nothing"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert_client_error(e, 404, "NoSuchLifecycleConfiguration")


def test_current_versions_expire_and_are_announced(s3, bucket):
    rules(s3, bucket, {"ID": "tmp-1d", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}})
    put = s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"scratch")
    assert 'rule-id="tmp-1d"' in put["Expiration"]
    assert 'rule-id="tmp-1d"' in s3.head_object(Bucket=bucket, Key="tmp/a")["Expiration"]
    s3.put_object(Bucket=bucket, Key="keep/b", Body=b"kept")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="keep/b")
    until("tmp/a expires", lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tmp/")["KeyCount"] == 0)
    assert s3.get_object(Bucket=bucket, Key="keep/b")["Body"].read() == b"kept"


def test_versioned_expiry_markers_and_noncurrent_versions(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    m1 = s3.put_object(Bucket=bucket, Key="m/x", Body=b"x")["VersionId"]
    ids = [s3.put_object(Bucket=bucket, Key="n/k", Body=str(i).encode())["VersionId"] for i in range(4)]
    s3.put_object(Bucket=bucket, Key="d/y", Body=b"y")
    marker = s3.delete_object(Bucket=bucket, Key="d/y")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="d/y", VersionId=version_ids(s3, bucket, "d/")[0][0])
    rules(s3, bucket,
          {"ID": "current", "Status": "Enabled", "Filter": {"Prefix": "m/"}, "Expiration": {"Days": 1}},
          {"ID": "noncurrent", "Status": "Enabled", "Filter": {"Prefix": "n/"},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}},
          {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "d/"},
           "Expiration": {"ExpiredObjectDeleteMarker": True}})
    assert version_ids(s3, bucket, "d/") == ([], [marker])
    until("m/x gets a delete marker", lambda: version_ids(s3, bucket, "m/")[1])
    assert version_ids(s3, bucket, "m/")[0] == [m1], "the expired version is kept as noncurrent"
    until("old noncurrent versions expire", lambda: version_ids(s3, bucket, "n/")[0] == [ids[3], ids[2]])
    assert s3.get_object(Bucket=bucket, Key="n/k")["Body"].read() == b"3"
    until("the lone marker is removed", lambda: version_ids(s3, bucket, "d/") == ([], []))


def test_incomplete_uploads_are_aborted(s3, bucket):
    rules(s3, bucket, {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": "u/"},
                       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    gone = s3.create_multipart_upload(Bucket=bucket, Key="u/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="u/big", UploadId=gone, PartNumber=1, Body=b"p" * 1024)
    kept = s3.create_multipart_upload(Bucket=bucket, Key="other/big")["UploadId"]
    until("the upload is aborted",
          lambda: [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [kept])
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="u/big", UploadId=gone)
    assert_client_error(e, 404, "NoSuchUpload")


def test_locked_versions_survive_every_rule(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name, ObjectLockEnabledForBucket=True)
    until_date = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    ids = [s3.put_object(Bucket=bucket_name, Key="vault/k", Body=str(i).encode(), ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=until_date)["VersionId"] for i in range(2)]
    rules(s3, bucket_name,
          {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    until("the current version expires behind a marker", lambda: version_ids(s3, bucket_name)[1])
    time.sleep(3 * DAY_S)
    versions, markers = version_ids(s3, bucket_name)
    assert versions == ids[::-1] and len(markers) == 1, "both locked versions are still there"
    for vid, body in zip(ids, (b"0", b"1")):
        assert s3.get_object(Bucket=bucket_name, Key="vault/k", VersionId=vid)["Body"].read() == body
