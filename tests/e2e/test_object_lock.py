"""Object lock, driven by boto3 (and the console API) on SQLite and MariaDB: a bucket created with
object lock is locked and versioned for good; COMPLIANCE versions cannot be deleted or shortened by
anybody, the owner and the admin console included; GOVERNANCE versions only with
``x-amz-bypass-governance-retention``; a legal hold blocks deletion until it is removed; the default
retention applies to new versions; lock settings without Content-MD5 / a checksum are refused.

Every check is what a backup operator relies on: the locked version's bytes are still readable by id
after every refused attempt, and the refusal is S3's 403 AccessDenied.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, assert_client_error, assert_xml_error, console_login, quote_key, run, xml_error_code


def in_future(**delta) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(**delta)


@pytest.fixture
def locked(s3, bucket_name) -> str:
    s3.create_bucket(Bucket=bucket_name, ObjectLockEnabledForBucket=True)
    return bucket_name


def put_locked(s3, bucket, key, body, mode, **delta):
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ObjectLockMode=mode,
                         ObjectLockRetainUntilDate=in_future(**delta))["VersionId"]


def still_readable(s3, bucket, key, vid, body):
    got = s3.get_object(Bucket=bucket, Key=key, VersionId=vid)
    assert got["Body"].read() == body, "the protected version's bytes are intact"


def test_lock_enabled_bucket_is_locked_and_versioned_for_good(s3, locked):
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    conf = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled" and "Rule" not in conf
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Suspended"})
    assert_client_error(e, 409, "InvalidBucketState")
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"


def test_compliance_version_is_undeletable_by_owner_and_admin(server, s3, locked):
    vid = put_locked(s3, locked, "ledger", b"immutable", "COMPLIANCE", hours=1)
    head = s3.head_object(Bucket=locked, Key="ledger", VersionId=vid)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] > in_future(minutes=59)
    for bypass in (False, True):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=locked, Key="ledger", VersionId=vid, BypassGovernanceRetention=bypass)
        assert_client_error(e, 403, "AccessDenied")
    out = s3.delete_objects(Bucket=locked, BypassGovernanceRetention=True,
                            Delete={"Objects": [{"Key": "ledger", "VersionId": vid}]})
    assert [(x["Key"], x["Code"]) for x in out["Errors"]] == [("ledger", "AccessDenied")]
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=locked, Key="ledger", VersionId=vid, BypassGovernanceRetention=True,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": in_future(minutes=5)})
    assert_client_error(e, 403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=locked, Key="ledger", VersionId=vid,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": in_future(hours=2)})
    assert_client_error(e, 403, "AccessDenied")
    longer = in_future(hours=3)
    s3.put_object_retention(Bucket=locked, Key="ledger", VersionId=vid,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer})
    got = s3.get_object_retention(Bucket=locked, Key="ledger", VersionId=vid)["Retention"]
    assert (got["Mode"], got["RetainUntilDate"]) == ("COMPLIANCE", longer)
    # The admin console (root is an admin) deletes by adding a marker; the version stays.
    root = console_login(server)
    r = root.request("DELETE", f"/api/buckets/{locked}/object", params={"key": "ledger"})
    assert r.status_code == 204, r.text
    still_readable(s3, locked, "ledger", vid, b"immutable")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=locked)
    assert_client_error(e, 409, "BucketNotEmpty")


def test_governance_needs_bypass(s3, locked):
    vid = put_locked(s3, locked, "backup", b"restic pack", "GOVERNANCE", hours=1)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=locked, Key="backup", VersionId=vid)
    assert_client_error(e, 403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=locked, Key="backup", VersionId=vid,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": in_future(minutes=1)})
    assert_client_error(e, 403, "AccessDenied")
    still_readable(s3, locked, "backup", vid, b"restic pack")
    out = s3.delete_object(Bucket=locked, Key="backup", VersionId=vid, BypassGovernanceRetention=True)
    assert out["VersionId"] == vid
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=locked, Key="backup", VersionId=vid)
    assert_client_error(e, 404, "NoSuchVersion")


def test_legal_hold_blocks_until_removed(s3, locked):
    vid = s3.put_object(Bucket=locked, Key="evidence", Body=b"exhibit A", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=locked, Key="evidence", VersionId=vid)["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=locked, Key="evidence", VersionId=vid, BypassGovernanceRetention=True)
    assert_client_error(e, 403, "AccessDenied")
    still_readable(s3, locked, "evidence", vid, b"exhibit A")
    s3.put_object_legal_hold(Bucket=locked, Key="evidence", VersionId=vid, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=locked, Key="evidence", VersionId=vid)["LegalHold"]["Status"] == "OFF"
    s3.delete_object(Bucket=locked, Key="evidence", VersionId=vid)
    assert "Versions" not in s3.list_object_versions(Bucket=locked)


def test_default_retention_protects_new_versions(s3, locked):
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    })
    rule = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]["Rule"]
    assert rule["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    vid = s3.put_object(Bucket=locked, Key="nightly", Body=b"dump")["VersionId"]
    head = s3.head_object(Bucket=locked, Key="nightly", VersionId=vid)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert in_future(hours=23) < head["ObjectLockRetainUntilDate"] <= in_future(days=1, minutes=1)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=locked, Key="nightly", VersionId=vid)
    assert_client_error(e, 403, "AccessDenied")
    for bad in ({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, {"Mode": "GOVERNANCE", "Days": 0},
                {"Mode": "FOREVER", "Days": 1}):
        with pytest.raises(ClientError) as e:
            s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": bad}})
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, bad


def test_lock_on_an_existing_versioned_bucket(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert_client_error(e, 409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    vid = put_locked(s3, bucket, "k", b"now locked", "COMPLIANCE", minutes=30)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=vid)
    assert_client_error(e, 403, "AccessDenied")


def test_lock_headers_are_validated(server, s3, locked):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=locked, Key="x", Body=b"x", ObjectLockMode="COMPLIANCE")
    assert_client_error(e, 400, "InvalidArgument")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=locked, Key="x", Body=b"x", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    assert_client_error(e, 400, "InvalidArgument")
    # A signed PUT with lock headers but neither Content-MD5 nor a checksum.
    until = in_future(hours=1).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = server.request("PUT", f"/{locked}/{quote_key('raw')}", body=b"raw", headers={
        "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": until})
    assert_xml_error(r, 400, "InvalidRequest")
    assert "Versions" not in s3.list_object_versions(Bucket=locked), "nothing was stored"
    # Multipart and copy carry lock headers too.
    up = s3.create_multipart_upload(Bucket=locked, Key="mpu", ObjectLockMode="COMPLIANCE",
                                    ObjectLockRetainUntilDate=in_future(hours=1))["UploadId"]
    etag = s3.upload_part(Bucket=locked, Key="mpu", UploadId=up, PartNumber=1, Body=b"part")["ETag"]
    vid = s3.complete_multipart_upload(Bucket=locked, Key="mpu", UploadId=up,
                                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    assert s3.head_object(Bucket=locked, Key="mpu", VersionId=vid)["ObjectLockMode"] == "COMPLIANCE"
    copied = s3.copy_object(Bucket=locked, Key="copy", CopySource={"Bucket": locked, "Key": "mpu"},
                            ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=in_future(hours=1))
    assert s3.head_object(Bucket=locked, Key="copy", VersionId=copied["VersionId"])["ObjectLockMode"] == "GOVERNANCE"


def test_backup_tools_write_into_a_default_retention_bucket(server, s3, locked, tmp_path):
    """The README's immutable-backup recipe with real clients: into a bucket whose default retention
    protects every new version, restic, aws-cli and rclone write (each sends Content-MD5 or a checksum,
    as AWS requires there) and what they wrote is locked; a PUT with no digest at all (s3cmd's, a bare
    SDK call) is refused with AWS's InvalidRequest and stores nothing."""
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    })
    src = tmp_path / "src"
    src.mkdir()
    (src / "db.dump").write_bytes(os.urandom(200_000))
    (src / "notes.txt").write_text("nightly\n")

    restic = shutil.which("restic") or pytest.fail("restic missing; run scripts/setup-test-env")
    env = {**server.aws_env(), "RESTIC_REPOSITORY": f"s3:{server.endpoint}/{locked}/restic",
           "RESTIC_PASSWORD": "correct horse battery staple", "RESTIC_CACHE_DIR": str(tmp_path / "restic-cache")}
    for args in (["init"], ["backup", str(src)], ["check", "--read-data"]):
        run([restic, *args], env=env, timeout=300)
    out = tmp_path / "restored"
    run([restic, "restore", "latest", "--target", str(out)], env=env, timeout=300)
    assert (out / src.relative_to("/") / "db.dump").read_bytes() == (src / "db.dump").read_bytes()

    server.aws("s3", "cp", str(src / "notes.txt"), f"s3://{locked}/cli/notes.txt")
    (tmp_path / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))  # over aws-cli's 8 MiB: multipart
    server.aws("s3", "cp", str(tmp_path / "big.bin"), f"s3://{locked}/cli/big.bin")
    server.rclone("copyto", str(src / "notes.txt"), f"other:{locked}/rclone/notes.txt")
    # s3cmd sends no digest on a single PUT (s3tools/s3cmd#1177), so AWS refuses it here; so do we.
    s3cmd = shutil.which("s3cmd") or pytest.fail("s3cmd missing; run scripts/setup-test-env")
    host = server.endpoint.split("://", 1)[1]
    refused = run([s3cmd, "--no-ssl" if server.endpoint.startswith("http:") else "--ssl", "--host", host,
                   "--host-bucket", host, "--access_key", server.access_key, "--secret_key", server.secret_key,
                   "--region", REGION, "--config", "/dev/null", "put", str(src / "notes.txt"),
                   f"s3://{locked}/s3cmd/notes.txt"], env=server.rclone_env(), timeout=120, check=False)
    assert refused.returncode != 0 and b"InvalidRequest" in refused.stderr, refused.stderr

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=locked)["Contents"]]
    assert any(k.startswith("restic/data/") for k in keys), keys
    assert not any(k.startswith("s3cmd/") for k in keys), keys
    for key in [k for k in keys if k.startswith("restic/data/")][:1] + ["cli/notes.txt", "cli/big.bin", "rclone/notes.txt"]:
        head = s3.head_object(Bucket=locked, Key=key)
        assert head["ObjectLockMode"] == "GOVERNANCE", (key, head)
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=locked, Key=key, VersionId=head["VersionId"])
        assert_client_error(e, 403, "AccessDenied")

    bare = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
                        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
                        verify=server.verify)
    with pytest.raises(ClientError) as e:
        bare.put_object(Bucket=locked, Key="no-digest", Body=b"unverified")
    assert_client_error(e, 400, "InvalidRequest")
    # Naming an algorithm without sending its value verifies nothing, so it does not count.
    for names in ({"x-amz-sdk-checksum-algorithm": "CRC32"}, {"x-amz-checksum-type": "FULL_OBJECT"}):
        r = server.request("PUT", f"/{locked}/no-digest", headers=names, body=b"unverified")
        assert (r.status_code, xml_error_code(r.content)) == (400, "InvalidRequest"), (names, r.text)
    upload = bare.create_multipart_upload(Bucket=locked, Key="no-digest")["UploadId"]
    with pytest.raises(ClientError) as e:
        bare.upload_part(Bucket=locked, Key="no-digest", UploadId=upload, PartNumber=1, Body=b"unverified part")
    assert_client_error(e, 400, "InvalidRequest")
    assert "Parts" not in bare.list_parts(Bucket=locked, Key="no-digest", UploadId=upload)
    bare.abort_multipart_upload(Bucket=locked, Key="no-digest", UploadId=upload)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=locked, Key="no-digest")
    assert_client_error(e, 404, "404")
