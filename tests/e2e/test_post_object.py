"""Browser-form uploads (POST object, issue 13) through the real binary, on SQLite and MariaDB:
SigV4 forms from boto3's `generate_presigned_post` and hand-made SigV2 forms, with the policy
conditions AWS checks (`content-length-range`, `starts-with`, `eq`, `x-amz-meta-*`, `${filename}`,
`success_action_status` / `success_action_redirect`, expiry), tagging and a checksum field; a form
signed by another user is authorized as `s3:PutObject` on the form's key through the bucket policy.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import xml_error_code


def post_form(server, bucket: str, fields: dict, data: bytes, filename: str = "photo.jpg") -> requests.Response:
    return requests.post(f"{server.endpoint}/{bucket}", data=fields, files={"file": (filename, data)},
                         verify=server.verify, timeout=60, allow_redirects=False)


def sigv4_form(s3, bucket: str, key: str, conditions: list, fields: dict | None = None, expires: int = 300) -> dict:
    form = s3.generate_presigned_post(bucket, key, Fields=fields or {}, Conditions=conditions, ExpiresIn=expires)
    assert form["fields"].get("x-amz-algorithm") == "AWS4-HMAC-SHA256", form["fields"]
    return form


@pytest.fixture
def v4(server):
    """boto3 signing with SigV4 (on a custom endpoint its default is SigV2, also for POST forms)."""
    return server.client(signature_version="s3v4")


def test_sigv4_form_with_conditions(server, s3, v4, bucket):
    form = sigv4_form(v4, bucket, "uploads/${filename}", [
        ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1000], {"x-amz-meta-color": "blue"},
        {"success_action_status": "201"}, {"Content-Type": "image/jpeg"},
    ], fields={"x-amz-meta-color": "blue", "success_action_status": "201", "Content-Type": "image/jpeg"})
    r = post_form(server, bucket, form["fields"], b"jpeg bytes", filename="cat.jpg")
    assert r.status_code == 201, r.text
    doc = ET.fromstring(r.content)
    found = {el.tag.split("}")[-1]: el.text for el in doc}
    assert found["Key"] == "uploads/cat.jpg" and found["Bucket"] == bucket, found
    head = s3.head_object(Bucket=bucket, Key="uploads/cat.jpg")
    assert head["Metadata"] == {"color": "blue"} and head["ContentType"] == "image/jpeg"
    assert head["ETag"].strip('"') == found["ETag"].strip('"') == hashlib.md5(b"jpeg bytes").hexdigest()
    assert s3.get_object(Bucket=bucket, Key="uploads/cat.jpg")["Body"].read() == b"jpeg bytes"


# A failed condition: 403 AccessDenied "Invalid according to Policy", as AWS answers (s3s, which
# checks the form, says 400 InvalidPolicyDocument; the server rewrites it).
@pytest.mark.parametrize("change,data,status,code", [
    ({"key": "elsewhere/x"}, b"ok", 403, "AccessDenied"),     # starts-with $key
    ({"x-amz-meta-color": "red"}, b"ok", 403, "AccessDenied"),  # eq on a field
    ({}, b"x" * 2000, 400, "EntityTooLarge"),                           # content-length-range max
    ({}, b"", 400, "EntityTooSmall"),                                   # content-length-range min
])
def test_form_policy_conditions_refuse_and_store_nothing(server, s3, v4, bucket, change, data, status, code):
    form = sigv4_form(v4, bucket, "uploads/file", [
        ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1000], {"x-amz-meta-color": "blue"},
    ], fields={"x-amz-meta-color": "blue"})
    r = post_form(server, bucket, {**form["fields"], **change}, data)
    assert (r.status_code, xml_error_code(r.content)) == (status, code), r.text
    if status == 403:
        assert "Invalid according to Policy" in r.text, r.text
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_expired_or_tampered_forms_are_refused(server, s3, v4, bucket):
    form = sigv4_form(v4, bucket, "k", [], expires=1)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["expiration"] = "2001-01-01T00:00:00.000Z"
    tampered = dict(form["fields"], policy=base64.b64encode(json.dumps(policy).encode()).decode())
    r = post_form(server, bucket, tampered, b"x")
    assert r.status_code == 403 and xml_error_code(r.content) == "SignatureDoesNotMatch", r.text
    old = {**form["fields"]}
    r = post_form(server, bucket, {**old, "x-amz-signature": "0" * 64}, b"x")
    assert r.status_code == 403 and xml_error_code(r.content) == "SignatureDoesNotMatch", r.text


def test_redirect_tagging_and_checksum_fields(server, s3, v4, bucket):
    redirect = "https://app.example/done"
    # s3s's own field: `x-amz-tagging`, URL-encoded as the header.
    form = sigv4_form(v4, bucket, "docs/a.txt", [{"success_action_redirect": redirect},
                                                 ["starts-with", "$x-amz-tagging", ""]],
                      fields={"success_action_redirect": redirect})
    r = post_form(server, bucket, {**form["fields"], "x-amz-tagging": "team=blue"}, b"redirected")
    assert r.status_code == 303, r.text
    location = urllib.parse.urlparse(r.headers["Location"])
    query = urllib.parse.parse_qs(location.query)
    assert location.netloc == "app.example" and query["key"] == ["docs/a.txt"] and query["bucket"] == [bucket], query
    assert s3.get_object(Bucket=bucket, Key="docs/a.txt")["Body"].read() == b"redirected"
    assert s3.get_object_tagging(Bucket=bucket, Key="docs/a.txt")["TagSet"] == [{"Key": "team", "Value": "blue"}]

    good = base64.b64encode(hashlib.sha256(b"checked").digest()).decode()
    form = sigv4_form(v4, bucket, "docs/sum.txt", [["starts-with", "$x-amz-checksum-sha256", ""]])
    r = post_form(server, bucket, {**form["fields"], "x-amz-checksum-sha256": good}, b"checked")
    assert r.status_code == 204, r.text
    got = s3.head_object(Bucket=bucket, Key="docs/sum.txt", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == good
    form = sigv4_form(v4, bucket, "docs/bad.txt", [["starts-with", "$x-amz-checksum-sha256", ""]])
    r = post_form(server, bucket, {**form["fields"], "x-amz-checksum-sha256": good}, b"other bytes")
    assert r.status_code == 400 and xml_error_code(r.content) == "BadDigest", r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="docs/bad.txt")


def sigv2_form(access_key: str, secret_key: str, bucket: str, key: str, conditions: list) -> dict:
    expiration = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [{"bucket": bucket}, *conditions]})
                              .encode()).decode()
    signature = base64.b64encode(hmac.new(secret_key.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    return {"key": key, "AWSAccessKeyId": access_key, "policy": policy, "signature": signature}


def test_boto3_default_presigned_post_is_sigv2_and_works(server, s3, bucket):
    form = s3.generate_presigned_post(bucket, "default/${filename}", Conditions=[["starts-with", "$key", "default/"]])
    assert "AWSAccessKeyId" in form["fields"] and "signature" in form["fields"], form["fields"]
    r = post_form(server, bucket, form["fields"], b"boto3 default", filename="d.txt")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="default/d.txt")["Body"].read() == b"boto3 default"


def test_sigv2_form(server, s3, bucket):
    fields = sigv2_form(server.access_key, server.secret_key, bucket, "v2/file.txt",
                        [["starts-with", "$key", "v2/"], ["content-length-range", 1, 100]])
    r = post_form(server, bucket, fields, b"signed with v2")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="v2/file.txt")["Body"].read() == b"signed with v2"
    bad = dict(fields, signature=base64.b64encode(b"x" * 20).decode())
    r = post_form(server, bucket, bad, b"nope")
    assert r.status_code == 403 and xml_error_code(r.content) == "SignatureDoesNotMatch", r.text


def test_a_form_signed_by_another_user_needs_put_on_its_key(server, s3, bucket):
    key_id, secret = server.new_user(f"poster-{bucket[-8:]}")
    bob = server.client(access_key=key_id, secret_key=secret, signature_version="s3v4")
    form = sigv4_form(bob, bucket, "inbox/${filename}", [["starts-with", "$key", ""]])
    r = post_form(server, bucket, form["fields"], b"from bob", filename="b.txt")
    assert r.status_code == 403 and xml_error_code(r.content) == "AccessDenied", r.text
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::cloudvault:user/poster-{bucket[-8:]}"},
                             "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/inbox/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    r = post_form(server, bucket, form["fields"], b"from bob", filename="b.txt")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="inbox/b.txt")["Body"].read() == b"from bob"
    other = sigv4_form(bob, bucket, "private/x", [])
    r = post_form(server, bucket, other["fields"], b"not here")
    assert r.status_code == 403 and xml_error_code(r.content) == "AccessDenied", r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="private/x")


def test_form_fields_not_headers_are_the_condition_keys_and_lock_fields_need_their_permission(server, s3, bucket):
    """A form's object settings are its fields: a header claiming `x-amz-acl` does not satisfy a
    policy that requires it, and a legal-hold field needs s3:PutObjectLegalHold besides s3:PutObject."""
    name = f"former-{bucket[-8:]}"
    key_id, secret = server.new_user(name)
    bob = server.client(access_key=key_id, secret_key=secret, signature_version="s3v4")
    arn = f"arn:aws:iam::cloudvault:user/{name}"
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:PutObject",
                             "Resource": f"arn:aws:s3:::{bucket}/*",
                             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    form = sigv4_form(bob, bucket, "in/a", [["starts-with", "$x-amz-acl", ""]])
    r = requests.post(f"{server.endpoint}/{bucket}", data=form["fields"], files={"file": ("a", b"x")},
                      headers={"x-amz-acl": "bucket-owner-full-control"}, verify=server.verify, timeout=60)
    assert r.status_code == 403 and xml_error_code(r.content) == "AccessDenied", r.text
    with_field = dict(form["fields"], **{"x-amz-acl": "bucket-owner-full-control"})
    r = post_form(server, bucket, with_field, b"x")
    assert r.status_code == 204, r.text

    locked = f"{bucket[:40]}-lock"
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    s3.put_bucket_policy(Bucket=locked, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{locked}/*"}]}))
    form = sigv4_form(bob, locked, "held", [["starts-with", "$x-amz-object-lock-legal-hold", ""]])
    r = post_form(server, locked, dict(form["fields"], **{"x-amz-object-lock-legal-hold": "ON"}), b"x")
    assert r.status_code == 403 and xml_error_code(r.content) == "AccessDenied", r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=locked, Key="held")


TAGGING = ("<Tagging><TagSet><Tag><Key>team</Key><Value>blue sky</Value></Tag>"
           "<Tag><Key>n</Key><Value>1&amp;2=3</Value></Tag></TagSet></Tagging>")


def anonymous_get(server, bucket: str, key: str) -> requests.Response:
    return requests.get(f"{server.endpoint}/{bucket}/{key}", verify=server.verify, timeout=30)


def test_acl_and_tagging_fields_as_aws_names_them(server, s3, v4, bucket):
    """AWS's form fields `acl` (a canned ACL) and `tagging` (a Tagging document) set the object's ACL
    and tags, as `x-amz-acl` / `x-amz-tagging` do."""
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    form = sigv4_form(v4, bucket, "pub/a.txt", [{"acl": "public-read"}, ["starts-with", "$tagging", ""]],
                      fields={"acl": "public-read"})
    r = post_form(server, bucket, {**form["fields"], "tagging": TAGGING}, b"public bytes")
    assert r.status_code == 204, r.text
    got = anonymous_get(server, bucket, "pub/a.txt")
    assert got.status_code == 200 and got.content == b"public bytes", got.text
    grants = [(g["Grantee"].get("URI"), g["Permission"]) for g in s3.get_object_acl(Bucket=bucket, Key="pub/a.txt")["Grants"]]
    assert ("http://acs.amazonaws.com/groups/global/AllUsers", "READ") in grants, grants
    tags = s3.get_object_tagging(Bucket=bucket, Key="pub/a.txt")["TagSet"]
    assert sorted(tags, key=lambda t: t["Key"]) == [{"Key": "n", "Value": "1&2=3"}, {"Key": "team", "Value": "blue sky"}]
    assert s3.head_object(Bucket=bucket, Key="pub/a.txt")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"

    form = sigv4_form(v4, bucket, "priv/b.txt", [{"acl": "private"}], fields={"acl": "private"})
    assert post_form(server, bucket, form["fields"], b"private bytes").status_code == 204
    assert anonymous_get(server, bucket, "priv/b.txt").status_code == 403
    assert s3.get_object(Bucket=bucket, Key="priv/b.txt")["Body"].read() == b"private bytes"


def test_the_acl_field_obeys_ownership_block_public_access_and_policy_conditions(server, s3, v4, bucket):
    form = sigv4_form(v4, bucket, "a", [{"acl": "public-read"}], fields={"acl": "public-read"})
    # BucketOwnerEnforced (a new bucket's default) takes no ACL but bucket-owner-full-control.
    r = post_form(server, bucket, form["fields"], b"x")
    assert r.status_code == 400 and xml_error_code(r.content) == "AccessControlListNotSupported", r.text
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    r = post_form(server, bucket, form["fields"], b"x")
    assert r.status_code == 403 and xml_error_code(r.content) == "AccessDenied", r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="a")
    s3.delete_public_access_block(Bucket=bucket)

    # The form's policy checks the field: a form signed for public-read cannot post private.
    r = post_form(server, bucket, dict(form["fields"], acl="private"), b"x")
    assert r.status_code == 403 and xml_error_code(r.content) == "AccessDenied", r.text
    assert "Invalid according to Policy" in r.text

    # A bucket policy's s3:x-amz-acl condition sees the `acl` field.
    name = f"acl-field-{bucket[-8:]}"
    key_id, secret = server.new_user(name)
    bob = server.client(access_key=key_id, secret_key=secret, signature_version="s3v4")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::cloudvault:user/{name}"}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}))
    for acl, status in (("private", 403), ("bucket-owner-full-control", 204)):
        form = sigv4_form(bob, bucket, f"bob/{acl}", [{"acl": acl}], fields={"acl": acl})
        r = post_form(server, bucket, form["fields"], b"from bob")
        assert r.status_code == status, (acl, r.text)
    assert s3.get_object(Bucket=bucket, Key="bob/bucket-owner-full-control")["Body"].read() == b"from bob"


@pytest.mark.parametrize("extra,code", [
    ({"acl": "public-read", "x-amz-acl": "private"}, "InvalidArgument"),
    ({"tagging": TAGGING, "x-amz-tagging": "a=b"}, "InvalidArgument"),
    ({"tagging": "<Tagging><TagSet><Tag><Key>a</Key>"}, "MalformedXML"),
    ({"tagging": "<Tagging><TagSet>" + "".join(f"<Tag><Key>k{i}</Key><Value>v</Value></Tag>" for i in range(11))
      + "</TagSet></Tagging>"}, "InvalidTag"),
])
def test_bad_acl_or_tagging_fields_are_refused_and_store_nothing(server, s3, v4, bucket, extra, code):
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    form = sigv4_form(v4, bucket, "refused", [["starts-with", f"${name}", ""] for name in extra])
    r = post_form(server, bucket, {**form["fields"], **extra}, b"never stored")
    assert r.status_code == 400 and xml_error_code(r.content) == code, r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="refused")


@pytest.mark.parametrize("pad,status,code", [
    (10_000, 204, None),
    # Over AWS's 20 KB of fields before the file: refused by CloudVault's check, and by s3s's own
    # field limit (which answers MalformedPOSTRequest; the listener answers AWS's code).
    (19_500, 400, "MaxPostPreDataLengthExceededError"),
    (64_000, 400, "MaxPostPreDataLengthExceededError"),
])
def test_fields_before_the_file_are_bounded(server, s3, v4, bucket, pad, status, code):
    form = sigv4_form(v4, bucket, "padded", [])
    r = post_form(server, bucket, {**form["fields"], "x-ignore-pad": "p" * pad}, b"after the fields")
    assert r.status_code == status, r.text
    if code:
        assert xml_error_code(r.content) == code, r.text
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key="padded")
    else:
        assert s3.get_object(Bucket=bucket, Key="padded")["Body"].read() == b"after the fields"
