"""The console API's half of versioning, object lock and lifecycle, on SQLite and MariaDB: a bucket's
settings shown and changed through the API agree with what S3 reports (and the reverse); versions are
listed and paged, downloaded, shared and restored by id; deleting a protected version answers
``object_locked`` to everybody, the admin included, and GOVERNANCE yields only to an explicit bypass;
lifecycle rules go through S3's validation; usage keeps current and noncurrent bytes apart.
"""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import assert_api_error, assert_client_error, console_login


def in_future(**delta) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(**delta)


@pytest.fixture
def root(server):
    return console_login(server)


@pytest.fixture
def versioned(s3, bucket_name) -> str:
    s3.create_bucket(Bucket=bucket_name)
    s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    return bucket_name


def all_versions(root, bucket: str, limit: int, **query) -> list[dict]:
    """Every entry of the versions listing, page by page (bounded)."""
    out, params = [], dict(query, limit=limit)
    for _ in range(200):
        r = root.get(f"/api/buckets/{bucket}/versions", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["versions"]) + len(page["prefixes"]) <= limit, page
        out += page["versions"]
        if page["next_key"] is None:
            assert page["next_version"] is None, page
            return out
        params = dict(query, limit=limit, after_key=page["next_key"], after_version=page["next_version"] or "")
    pytest.fail("the versions listing did not end")


def test_settings_shown_and_changed_agree_with_s3(server, s3, root, bucket_name):
    r = root.post("/api/buckets", json={"name": bucket_name})
    assert r.status_code == 201 and r.json() == {"name": bucket_name, "object_lock": False}, r.text
    got = root.get(f"/api/buckets/{bucket_name}").json()
    assert (got["versioning"], got["object_lock"], got["lifecycle"]) == ("Unversioned", None, None), got
    # Object lock needs versioning first, as on AWS.
    assert_api_error(root.put(f"/api/buckets/{bucket_name}/object-lock", json={}), 409, "invalid_bucket_state")
    assert_api_error(root.put(f"/api/buckets/{bucket_name}/versioning", json={"status": "Off"}), 400, "bad_request")
    r = root.put(f"/api/buckets/{bucket_name}/versioning", json={"status": "Enabled"})
    assert r.status_code == 200 and r.json() == {"versioning": "Enabled"}, r.text
    assert s3.get_bucket_versioning(Bucket=bucket_name)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Suspended"})
    assert root.get(f"/api/buckets/{bucket_name}").json()["versioning"] == "Suspended"
    root.put(f"/api/buckets/{bucket_name}/versioning", json={"status": "Enabled"})

    bad = [
        {"default_retention": {"mode": "GOVERNANCE"}},
        {"default_retention": {"mode": "GOVERNANCE", "days": 1, "years": 1}},
        {"default_retention": {"mode": "GOVERNANCE", "days": 0}},
        {"default_retention": {"mode": "FOREVER", "days": 1}},
        {"default_retention": {"mode": "GOVERNANCE", "days": 1}, "mfa": True},
    ]
    for body in bad:
        assert_api_error(root.put(f"/api/buckets/{bucket_name}/object-lock", json=body), 400, "bad_request")
    assert s3.get_bucket_versioning(Bucket=bucket_name)["Status"] == "Enabled"
    r = root.put(f"/api/buckets/{bucket_name}/object-lock", json={"default_retention": {"mode": "GOVERNANCE", "days": 2}})
    assert r.status_code == 200, r.text
    assert r.json()["object_lock"] == {"enabled": True, "default_retention": {"mode": "GOVERNANCE", "days": 2}}
    conf = s3.get_object_lock_configuration(Bucket=bucket_name)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled"
    assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 2}
    # Locked for good: versioning can no longer be suspended, from either front.
    assert_api_error(root.put(f"/api/buckets/{bucket_name}/versioning", json={"status": "Suspended"}), 409,
                     "invalid_bucket_state")
    put = s3.put_object(Bucket=bucket_name, Key="new", Body=b"x")
    head = s3.head_object(Bucket=bucket_name, Key="new", VersionId=put["VersionId"])
    assert head["ObjectLockMode"] == "GOVERNANCE", "the default retention set in the console applies"

    rules = [
        {"id": "logs", "enabled": True, "prefix": "logs/", "expiration_days": 30},
        {"enabled": True, "noncurrent_days": 7, "newer_noncurrent_versions": 3},
        {"id": "uploads", "enabled": False, "abort_incomplete_days": 2},
    ]
    r = root.put(f"/api/buckets/{bucket_name}/lifecycle", json={"rules": rules})
    assert r.status_code == 200, r.text
    stored = r.json()["rules"]
    assert [x["id"] for x in stored] == ["logs", "rule-1", "uploads"]
    assert root.get(f"/api/buckets/{bucket_name}").json()["lifecycle"]["rules"] == stored
    s3_rules = {x["ID"]: x for x in s3.get_bucket_lifecycle_configuration(Bucket=bucket_name)["Rules"]}
    assert s3_rules["logs"]["Expiration"] == {"Days": 30} and s3_rules["logs"]["Filter"] == {"Prefix": "logs/"}
    assert s3_rules["rule-1"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3}
    assert s3_rules["uploads"]["Status"] == "Disabled"
    assert s3_rules["uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}

    refused = [
        [{"id": "a", "enabled": True}],  # no action
        [{"id": "a", "enabled": True, "expiration_days": 0}],
        [{"id": "a", "enabled": True, "expiration_days": 1}, {"id": "a", "enabled": True, "expiration_days": 2}],
        [{"id": "x" * 256, "enabled": True, "expiration_days": 1}],
        [{"id": "a", "enabled": True, "newer_noncurrent_versions": 2}],
        [{"id": "a", "enabled": True, "noncurrent_days": 1, "newer_noncurrent_versions": 101}],
        [{"id": "a", "enabled": True, "tags": {"k": "v"}, "abort_incomplete_days": 1}],
        [{"id": "a", "enabled": True, "expiration_date": 1_000}],  # not a midnight
        [{"id": "a", "enabled": True, "expiration_days": 30, "expired_object_delete_marker": True}],
        [{"id": "a", "enabled": True, "expiration_days": 3_000_000_000}],  # over S3's 32-bit days
        [{"id": "a", "enabled": True, "expiration_days": 1, "size_greater_than": -1}],
        [{"id": "a", "enabled": True, "expiration_days": 1, "transitions": [{"days": 1}]}],  # unknown setting
        [],
    ]
    for bad_rules in refused:
        assert_api_error(root.put(f"/api/buckets/{bucket_name}/lifecycle", json={"rules": bad_rules}), 400,
                         "bad_request")
    assert root.get(f"/api/buckets/{bucket_name}").json()["lifecycle"]["rules"] == stored, "refusals change nothing"
    # Unnamed rules get the lowest free rule-N: deleting rule-1 and adding one more never collides.
    r = root.put(f"/api/buckets/{bucket_name}/lifecycle", json={"rules": [
        {"id": "rule-1", "enabled": True, "expiration_days": 1}, {"enabled": True, "expiration_days": 2},
        {"enabled": True, "expiration_days": 3}]})
    assert [x["id"] for x in r.json()["rules"]] == ["rule-1", "rule-2", "rule-3"], r.text
    r = root.put(f"/api/buckets/{bucket_name}/lifecycle", json={"rules": [
        {"id": "rule-2", "enabled": True, "expiration_days": 2}, {"enabled": True, "expiration_days": 4}]})
    assert [x["id"] for x in r.json()["rules"]] == ["rule-2", "rule-1"], r.text
    root.put(f"/api/buckets/{bucket_name}/lifecycle", json={"rules": rules})
    # A rule set through S3 (a date, a tag filter) shows in the console and survives a round trip.
    s3.put_bucket_lifecycle_configuration(Bucket=bucket_name, LifecycleConfiguration={"Rules": [
        {"ID": "dated", "Status": "Enabled", "Filter": {"Tag": {"Key": "tier", "Value": "tmp"}},
         "Expiration": {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)}}]})
    shown = root.get(f"/api/buckets/{bucket_name}").json()["lifecycle"]["rules"]
    assert shown[0]["expiration_date"] == int(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    assert shown[0]["tags"] == {"tier": "tmp"}
    assert root.put(f"/api/buckets/{bucket_name}/lifecycle", json={"rules": shown}).status_code == 200
    again = s3.get_bucket_lifecycle_configuration(Bucket=bucket_name)["Rules"][0]
    assert again["Expiration"]["Date"] == dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert again["Filter"] == {"Tag": {"Key": "tier", "Value": "tmp"}}
    assert root.delete(f"/api/buckets/{bucket_name}/lifecycle").status_code == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket_name)
    assert_client_error(e, 404, "NoSuchLifecycleConfiguration")


def test_bucket_created_with_object_lock_is_locked_and_versioned(s3, root, bucket_name):
    r = root.post("/api/buckets", json={"name": bucket_name, "object_lock": True})
    assert r.status_code == 201 and r.json()["object_lock"] is True, r.text
    assert s3.get_bucket_versioning(Bucket=bucket_name)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=bucket_name)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    row = [b for b in root.get("/api/buckets").json()["buckets"] if b["name"] == bucket_name][0]
    assert (row["versioning"], row["object_lock"]) == ("Enabled", True), row


def test_versions_listed_paged_downloaded_shared_and_restored(server, s3, root, versioned):
    bodies = [b"first version\n", b"second, longer version\n", b"third\n"]
    vids = [s3.put_object(Bucket=versioned, Key="doc.txt", Body=b)["VersionId"] for b in bodies]
    marker = s3.delete_object(Bucket=versioned, Key="doc.txt")["VersionId"]
    for i in range(3):
        s3.put_object(Bucket=versioned, Key=f"dir/f{i}", Body=b"d" * i)
    expected = [("dir/f0", None), ("dir/f1", None), ("dir/f2", None)] + \
               [("doc.txt", marker)] + [("doc.txt", v) for v in reversed(vids)]
    for limit in (1, 2, 3, 7, 100):
        got = all_versions(root, versioned, limit)
        assert [(v["key"], v["version_id"]) for v in got if v["key"] == "doc.txt"] == expected[3:], limit
        assert [v["key"] for v in got] == [k for k, _ in expected], limit
    top = all_versions(root, versioned, 100, prefix="doc")
    assert top[0]["is_delete_marker"] and top[0]["is_latest"] and top[0]["etag"] is None
    assert [v["size"] for v in top[1:]] == [len(b) for b in reversed(bodies)]
    assert not any(v["is_latest"] for v in top[1:])
    folders = root.get(f"/api/buckets/{versioned}/versions", params={"delimiter": "/"}).json()
    assert folders["prefixes"] == ["dir/"] and {v["key"] for v in folders["versions"]} == {"doc.txt"}
    assert_api_error(root.get(f"/api/buckets/{versioned}/versions", params={"after_version": vids[0]}), 400, "bad_request")
    assert_api_error(root.get(f"/api/buckets/{versioned}/versions",
                              params={"after_key": "doc.txt", "after_version": "nope"}), 400, "bad_request")

    # The current object is hidden by the marker; the old versions are still readable by id.
    assert_api_error(root.get(f"/api/buckets/{versioned}/object", params={"key": "doc.txt"}), 404, "not_found")
    assert_api_error(root.get(f"/api/buckets/{versioned}/object", params={"key": "doc.txt", "version_id": marker}),
                     404, "not_found")
    info = root.get(f"/api/buckets/{versioned}/object", params={"key": "doc.txt", "version_id": vids[1]}).json()
    assert (info["version_id"], info["size"], info["retention"], info["legal_hold"]) == \
           (vids[1], len(bodies[1]), None, False)
    dl = root.get(f"/api/buckets/{versioned}/object/content", params={"key": "doc.txt", "version_id": vids[0]})
    assert dl.status_code == 200 and dl.content == bodies[0]
    link = root.post(f"/api/buckets/{versioned}/share",
                     json={"key": "doc.txt", "version_id": vids[1], "expires_in_secs": 600}).json()
    assert requests.get(link["url"], timeout=30).content == bodies[1]
    assert_api_error(root.post(f"/api/buckets/{versioned}/share",
                               json={"key": "doc.txt", "version_id": marker, "expires_in_secs": 600}), 404, "not_found")

    # Restore: the first version's bytes and type become current again, as a new version.
    r = root.post(f"/api/buckets/{versioned}/object/restore", json={"key": "doc.txt", "version_id": vids[0]})
    assert r.status_code == 201, r.text
    restored = r.json()
    assert restored["version_id"] not in vids + [marker] and restored["size"] == len(bodies[0])
    got = s3.get_object(Bucket=versioned, Key="doc.txt")
    assert got["Body"].read() == bodies[0] and got["VersionId"] == restored["version_id"]
    assert got["ETag"] == restored["etag"]
    assert len(all_versions(root, versioned, 100, prefix="doc")) == 5, "restoring keeps every old version"
    assert_api_error(root.post(f"/api/buckets/{versioned}/object/restore",
                               json={"key": "doc.txt", "version_id": marker}), 404, "not_found")

    # Usage keeps current and noncurrent apart: current = restored doc + dir files; noncurrent = 3 old.
    detail = root.get(f"/api/buckets/{versioned}").json()
    assert (detail["object_count"], detail["bytes_used"]) == (4, len(bodies[0]) + 0 + 1 + 2), detail
    assert (detail["noncurrent_count"], detail["noncurrent_bytes"]) == (3, sum(map(len, bodies))), detail
    usage = [b for b in root.get("/api/usage").json()["buckets"] if b["name"] == versioned][0]
    assert (usage["noncurrent_count"], usage["noncurrent_bytes"]) == (3, sum(map(len, bodies))), usage

    # Deleting versions for good: the marker, then an old version; counters follow.
    assert root.delete(f"/api/buckets/{versioned}/object", params={"key": "doc.txt", "version_id": marker}).status_code == 204
    assert root.delete(f"/api/buckets/{versioned}/object", params={"key": "doc.txt", "version_id": vids[2]}).status_code == 204
    left = [v["version_id"] for v in all_versions(root, versioned, 100, prefix="doc")]
    assert left == [restored["version_id"], vids[1], vids[0]], left
    detail = root.get(f"/api/buckets/{versioned}").json()
    assert (detail["noncurrent_count"], detail["noncurrent_bytes"]) == (2, len(bodies[0]) + len(bodies[1])), detail


def test_locked_versions_answer_object_locked_to_everyone(server, s3, root, bucket_name):
    s3.create_bucket(Bucket=bucket_name, ObjectLockEnabledForBucket=True)
    comp = s3.put_object(Bucket=bucket_name, Key="ledger", Body=b"c", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=in_future(hours=1))["VersionId"]
    gov = s3.put_object(Bucket=bucket_name, Key="draft", Body=b"g", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=in_future(hours=1))["VersionId"]
    held = s3.put_object(Bucket=bucket_name, Key="evidence", Body=b"h", ObjectLockLegalHoldStatus="ON")["VersionId"]
    info = root.get(f"/api/buckets/{bucket_name}/object", params={"key": "ledger", "version_id": comp}).json()
    assert info["retention"]["mode"] == "COMPLIANCE"
    assert info["retention"]["retain_until"] > (in_future(minutes=59).timestamp() * 1000)
    assert root.get(f"/api/buckets/{bucket_name}/object", params={"key": "evidence"}).json()["legal_hold"] is True

    path = f"/api/buckets/{bucket_name}/object"
    for bypass in ("false", "true"):
        assert_api_error(root.delete(path, params={"key": "ledger", "version_id": comp, "bypass_governance": bypass}),
                         403, "object_locked")
        assert_api_error(root.delete(path, params={"key": "evidence", "version_id": held, "bypass_governance": bypass}),
                         403, "object_locked")
    assert_api_error(root.delete(path, params={"key": "draft", "version_id": gov}), 403, "object_locked")
    for key, vid, body in (("ledger", comp, b"c"), ("draft", gov, b"g"), ("evidence", held, b"h")):
        assert s3.get_object(Bucket=bucket_name, Key=key, VersionId=vid)["Body"].read() == body
    # The bucket can not go either: its versions are protected.
    assert root.delete(f"/api/buckets/{bucket_name}").status_code == 409
    # GOVERNANCE yields to the admin's explicit bypass; a legal hold only to its removal.
    assert root.delete(path, params={"key": "draft", "version_id": gov, "bypass_governance": "true"}).status_code == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket_name, Key="draft", VersionId=gov)
    assert_client_error(e, 404, "NoSuchVersion")
    s3.put_object_legal_hold(Bucket=bucket_name, Key="evidence", VersionId=held, LegalHold={"Status": "OFF"})
    assert root.delete(path, params={"key": "evidence", "version_id": held}).status_code == 204


def test_other_users_see_no_versions_or_settings(server, s3, root, versioned):
    name, password = f"vers-user-{secrets.token_hex(3)}", "a-long-password-9"
    proc = subprocess.run([str(server.binary), "admin", "user", "add", name, "--password-stdin"],
                          env=server.server_env(), input=password + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    vid = s3.put_object(Bucket=versioned, Key="secret", Body=b"mine")["VersionId"]
    other = console_login(server, name, password)
    for method, path, kw in [
        ("GET", f"/api/buckets/{versioned}", {}),
        ("GET", f"/api/buckets/{versioned}/versions", {}),
        ("GET", f"/api/buckets/{versioned}/object/content", {"params": {"key": "secret", "version_id": vid}}),
        ("GET", f"/api/buckets/{versioned}/object", {"params": {"key": "secret", "version_id": vid}}),
        ("POST", f"/api/buckets/{versioned}/share", {"json": {"key": "secret", "version_id": vid, "expires_in_secs": 60}}),
        ("DELETE", f"/api/buckets/{versioned}/object", {"params": {"key": "secret", "version_id": vid}}),
        ("POST", f"/api/buckets/{versioned}/object/restore", {"json": {"key": "secret", "version_id": vid}}),
        ("PUT", f"/api/buckets/{versioned}/versioning", {"json": {"status": "Suspended"}}),
        ("PUT", f"/api/buckets/{versioned}/lifecycle", {"json": {"rules": [{"enabled": True, "expiration_days": 1}]}}),
        ("DELETE", f"/api/buckets/{versioned}/lifecycle", {}),
        ("PUT", f"/api/buckets/{versioned}/object-lock", {"json": {}}),
    ]:
        assert_api_error(other.request(method, path, **kw), 403, "forbidden")
    assert s3.get_bucket_versioning(Bucket=versioned)["Status"] == "Enabled"
    assert s3.get_object(Bucket=versioned, Key="secret", VersionId=vid)["Body"].read() == b"mine"


def test_console_upload_carries_and_checks_content_md5(s3, root, bucket_name):
    """The console API's own upload: a Content-MD5 is always verified (a mismatch stores nothing), and
    in a bucket with a default retention it is required, as S3 requires there."""
    import base64
    import hashlib

    s3.create_bucket(Bucket=bucket_name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket_name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    path = f"/api/buckets/{bucket_name}/object/content"
    body = b"a backup written from the console"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert_api_error(root.put(path, params={"key": "none"}, data=body), 400, "bad_request")
    assert_api_error(root.put(path, params={"key": "wrong"}, data=body, headers={"Content-MD5": wrong}), 400,
                     "bad_request")
    assert_api_error(root.put(path, params={"key": "junk"}, data=body, headers={"Content-MD5": "nope"}), 400,
                     "bad_request")
    for key in ("none", "wrong", "junk"):
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket_name, Key=key)
        assert_client_error(e, 404, "404")
    r = root.put(path, params={"key": "ok"}, data=body, headers={"Content-MD5": good})
    assert r.status_code == 201, r.text
    head = s3.head_object(Bucket=bucket_name, Key="ok", VersionId=r.json()["version_id"])
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ContentLength"] == len(body)
