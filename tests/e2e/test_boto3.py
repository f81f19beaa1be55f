"""boto3 against CloudVault: keys, listing, metadata, conditionals, ranges, copy, delete, buckets.

boto3 sets ``EncodingType=url`` on every list call and decodes what comes back, so every listing
test here also proves that the server applies URL encoding to keys and prefixes.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import assert_client_error, assert_xml_error, md5_hex, quote_key, quoted_md5

# Fifty keys that share prefixes, mix cases, and carry characters URL encoding must survive.
LIST_KEYS = sorted(
    {
        "a", "a/b", "a/b/c", "a/b/d", "a/c", "a/c/", "a//double", "ab", "a b", "a+b", "a%b", "a%2Fb",
        "b/1", "b/2", "b/10", "b/sub/x", "b/sub/y", "b-dash", "b.dot", "b_under",
        "c", "c/", "c/d/e/f/g", "Zeta", "ZZ/top", "0", "00", "9/nine", "~tilde", "!bang",
        "\u00e9t\u00e9", "\u00fcber/alles", "\u65e5\u672c/\u8a9e", "\u65e5\u672c\u8a9e", "\U0001f980crab",
        "space in/dir name", "plus+in/dir+name", "pct%in/dir%name", "q?mark", "hash#tag",
        "amp&and", "eq=sign", "semi;colon", "comma,name", "quote'single", "paren(1)", "brack[2]",
        "tilde~in/x", "zz", "zz/last",
    },
    key=lambda k: k.encode("utf-8"),
)
assert len(LIST_KEYS) == 50, len(LIST_KEYS)


def byte_sorted(items):
    return sorted(items, key=lambda k: k.encode("utf-8"))


def expected_delimited(keys, prefix="", delimiter="/"):
    """(contents, common prefixes) S3 must return for a delimited listing, both in byte order."""
    contents, prefixes = [], set()
    for k in keys:
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix):]
        if delimiter in rest:
            prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
        else:
            contents.append(k)
    return byte_sorted(contents), byte_sorted(prefixes)


@pytest.fixture(scope="module")
def listing_bucket(server):
    """A bucket holding LIST_KEYS (created once per backend)."""
    name = f"listing-{os.urandom(4).hex()}"
    server.s3.create_bucket(Bucket=name)
    for k in LIST_KEYS:
        server.s3.put_object(Bucket=name, Key=k, Body=k.encode("utf-8"))
    return name


# ---------------------------------------------------------------------------------------------
# Listing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", range(1, 8))
def test_list_v2_pagination_without_delimiter(s3, listing_bucket, page_size):
    """Paging ListObjectsV2 with max-keys 1..7 returns every key once, in UTF-8 byte order."""
    keys, token, pages = [], None, 0
    while True:
        kwargs = dict(Bucket=listing_bucket, MaxKeys=page_size)
        if token:
            kwargs["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kwargs)
        page = [o["Key"] for o in resp.get("Contents", [])]
        assert len(page) <= page_size
        assert resp["KeyCount"] == len(page)
        keys += page
        pages += 1
        assert pages <= 60, "pagination does not terminate"
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        assert len(page) == page_size, "a truncated page must be full"
        token = resp["NextContinuationToken"]
    assert keys == LIST_KEYS


@pytest.mark.parametrize("prefix", ["", "a/", "b/", "\u65e5\u672c/"])
@pytest.mark.parametrize("page_size", range(1, 8))
def test_list_v2_pagination_with_delimiter(s3, listing_bucket, page_size, prefix):
    """Delimited ListObjectsV2 pages give each key and common prefix exactly once, byte-ordered."""
    want_keys, want_prefixes = expected_delimited(LIST_KEYS, prefix)
    keys, prefixes, token, pages = [], [], None, 0
    while True:
        kwargs = dict(Bucket=listing_bucket, MaxKeys=page_size, Delimiter="/", Prefix=prefix)
        if token:
            kwargs["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kwargs)
        page_keys = [o["Key"] for o in resp.get("Contents", [])]
        page_prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        assert len(page_keys) + len(page_prefixes) <= page_size
        assert resp["KeyCount"] == len(page_keys) + len(page_prefixes)
        assert resp.get("Prefix", "") == prefix
        assert resp["Delimiter"] == "/"
        keys += page_keys
        prefixes += page_prefixes
        pages += 1
        assert pages <= 60, "pagination does not terminate"
        if not resp["IsTruncated"]:
            break
        token = resp["NextContinuationToken"]
    assert keys == want_keys
    assert prefixes == want_prefixes


@pytest.mark.parametrize("delimiter", ["%", "+", " ", "b", "\u65e5", "/c"])
def test_list_v2_other_delimiters(s3, listing_bucket, delimiter):
    """Any string works as a delimiter, including ones URL encoding must protect ('%', '+', ' ')."""
    want_keys, want_prefixes = expected_delimited(LIST_KEYS, "", delimiter)
    resp = s3.list_objects_v2(Bucket=listing_bucket, Delimiter=delimiter, MaxKeys=1000)
    assert [o["Key"] for o in resp.get("Contents", [])] == want_keys
    assert [p["Prefix"] for p in resp.get("CommonPrefixes", [])] == want_prefixes
    assert resp["Delimiter"] == delimiter


@pytest.mark.parametrize("delimiter", [None, "/"])
@pytest.mark.parametrize("page_size", [1, 3, 7])
def test_list_v1_marker_paging(s3, listing_bucket, page_size, delimiter):
    """ListObjects V1 paged by Marker (NextMarker when delimited, else the last key) is complete."""
    if delimiter:
        want_keys, want_prefixes = expected_delimited(LIST_KEYS)
    else:
        want_keys, want_prefixes = LIST_KEYS, []
    keys, prefixes, marker, pages = [], [], "", 0
    while True:
        kwargs = dict(Bucket=listing_bucket, MaxKeys=page_size, Marker=marker)
        if delimiter:
            kwargs["Delimiter"] = delimiter
        resp = s3.list_objects(**kwargs)
        page_keys = [o["Key"] for o in resp.get("Contents", [])]
        page_prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        assert len(page_keys) + len(page_prefixes) <= page_size
        keys += page_keys
        prefixes += page_prefixes
        pages += 1
        assert pages <= 60, "pagination does not terminate"
        if not resp["IsTruncated"]:
            break
        if delimiter:
            assert "NextMarker" in resp, "V1 with a delimiter must return NextMarker when truncated"
            marker = resp["NextMarker"]
        else:
            marker = resp.get("NextMarker") or page_keys[-1]
    assert keys == want_keys
    assert prefixes == want_prefixes


@pytest.mark.parametrize("start_after", ["a", "a/c/", "b0", "\u00e9", "zz/last", ""])
def test_list_v2_start_after(s3, listing_bucket, start_after):
    """StartAfter returns exactly the keys that sort after it (it need not exist)."""
    resp = s3.list_objects_v2(Bucket=listing_bucket, StartAfter=start_after, MaxKeys=1000)
    got = [o["Key"] for o in resp.get("Contents", [])]
    want = [k for k in LIST_KEYS if k.encode() > start_after.encode()]
    assert got == want
    if start_after:
        assert resp.get("StartAfter") == start_after


def test_list_v2_fetch_owner(s3, listing_bucket):
    """FetchOwner=true gives each entry an Owner with an ID."""
    resp = s3.list_objects_v2(Bucket=listing_bucket, FetchOwner=True, MaxKeys=5)
    assert len(resp["Contents"]) == 5
    for obj in resp["Contents"]:
        assert obj.get("Owner", {}).get("ID"), obj


def test_list_entries_carry_size_etag_and_date(s3, listing_bucket):
    """Each listed object has the right Size, its quoted MD5 as ETag, and a LastModified."""
    resp = s3.list_objects_v2(Bucket=listing_bucket, MaxKeys=1000)
    assert [o["Key"] for o in resp["Contents"]] == LIST_KEYS
    for obj in resp["Contents"]:
        body = obj["Key"].encode("utf-8")
        assert obj["Size"] == len(body)
        assert obj["ETag"] == quoted_md5(body)
        assert isinstance(obj["LastModified"], dt.datetime)


def test_list_v2_raw_encoding_type_url(server, listing_bucket):
    """With encoding-type=url the raw XML carries encoded keys ('a b' -> 'a+b' or 'a%20b')."""
    resp = server.request(
        "GET", f"/{listing_bucket}",
        query=[("list-type", "2"), ("prefix", "a"), ("encoding-type", "url")],
    )
    assert resp.status_code == 200, resp.text
    text = resp.text
    assert "<EncodingType>url</EncodingType>" in text
    assert "<Key>a%2Bb</Key>" in text
    assert "<Key>a%25b</Key>" in text
    assert ("<Key>a+b</Key>" in text) or ("<Key>a%20b</Key>" in text)


def test_list_v2_raw_without_encoding(server, listing_bucket):
    """Without encoding-type the raw XML carries keys verbatim (XML-escaped only)."""
    resp = server.request("GET", f"/{listing_bucket}", query=[("list-type", "2"), ("prefix", "a")])
    assert resp.status_code == 200, resp.text
    assert "<Key>a+b</Key>" in resp.text
    assert "<Key>a%b</Key>" in resp.text
    assert "<Key>a b</Key>" in resp.text
    assert "EncodingType" not in resp.text


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------

SPECIAL_KEYS = [
    "plus+sign", "percent%41", "percent%", "space in name", " leading", "trailing ", "../x",
    "a/../b", "./dot", "a//b", "/leading-slash", "q?mark", "h#sh", "tab\there",
    "\u00e9t\u00e9/\u65e5\u672c\u8a9e.txt", "emoji-\U0001f980", "amp&eq=semi;", "back\\slash",
    # botocore percent-encodes NUL as %00 and sends it; S3 keys are any UTF-8, so it must round-trip.
    "a\x00b",
    "ascii-1024-" + "k" * (1024 - len("ascii-1024-")),
    "utf8-1024/" + "\u00e9" * 507,  # 10 + 2 * 507 = 1024 bytes, only 517 characters
]
assert [len(k.encode()) for k in SPECIAL_KEYS[-2:]] == [1024, 1024]


def test_special_keys_round_trip(s3, bucket):
    """Keys with +, %, spaces, dot segments, unicode, NUL and 1024 bytes come back exactly."""
    for i, key in enumerate(SPECIAL_KEYS):
        body = f"{i}:{key}".encode("utf-8")
        put = s3.put_object(Bucket=bucket, Key=key, Body=body)
        assert put["ETag"] == quoted_md5(body), key
    for i, key in enumerate(SPECIAL_KEYS):
        body = f"{i}:{key}".encode("utf-8")
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body, f"wrong bytes for {key!r}"
        assert got["ETag"] == quoted_md5(body)
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(body)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, MaxKeys=1000)["Contents"]]
    assert listed == byte_sorted(SPECIAL_KEYS)
    listed_v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket, MaxKeys=1000)["Contents"]]
    assert listed_v1 == byte_sorted(SPECIAL_KEYS)


def test_case_and_trailing_space_are_distinct_keys(s3, bucket):
    """'Foo' and 'foo', 'a' and 'a ' are four different objects."""
    objects = {"Foo": b"upper", "foo": b"lower", "a": b"no space", "a ": b"with space"}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == byte_sorted(objects)
    s3.delete_object(Bucket=bucket, Key="foo")
    assert s3.get_object(Bucket=bucket, Key="Foo")["Body"].read() == b"upper"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["Foo", "a", "a "]


def test_put_get_basic_and_empty_object(s3, bucket):
    """PUT returns the quoted MD5 ETag; GET returns the bytes; empty objects work too."""
    data = os.urandom(70_001)
    put = s3.put_object(Bucket=bucket, Key="dir/blob.bin", Body=data)
    assert put["ETag"] == quoted_md5(data)
    got = s3.get_object(Bucket=bucket, Key="dir/blob.bin")
    assert got["ContentLength"] == len(data)
    assert got["Body"].read() == data
    assert got["ETag"] == quoted_md5(data)

    put = s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
    assert put["ETag"] == quoted_md5(b"")
    got = s3.get_object(Bucket=bucket, Key="folder/")
    assert got["ContentLength"] == 0 and got["Body"].read() == b""

    # Overwrite replaces bytes and ETag.
    s3.put_object(Bucket=bucket, Key="dir/blob.bin", Body=b"v2")
    got = s3.get_object(Bucket=bucket, Key="dir/blob.bin")
    assert got["Body"].read() == b"v2" and got["ETag"] == quoted_md5(b"v2")


def test_upload_and_download_file_single_part(s3, bucket, tmp_path):
    """boto3's transfer manager (threshold above the size) uploads and downloads a 3 MiB file."""
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    cfg = TransferConfig(multipart_threshold=64 * 1024 * 1024)
    s3.upload_file(str(src), bucket, "files/src.bin", Config=cfg)
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "files/src.bin", str(dst), Config=cfg)
    assert dst.read_bytes() == src.read_bytes()
    assert s3.head_object(Bucket=bucket, Key="files/src.bin")["ETag"] == quoted_md5(src.read_bytes())


# ---------------------------------------------------------------------------------------------
# Metadata and headers
# ---------------------------------------------------------------------------------------------

EXPIRES = dt.datetime(2037, 1, 1, 0, 0, 0, tzinfo=dt.timezone.utc)
EXPIRES_HTTP = "Thu, 01 Jan 2037 00:00:00 GMT"


def test_user_metadata_and_standard_headers_round_trip(s3, bucket):
    """x-amz-meta-*, Content-Type/-Encoding/-Disposition/-Language, Cache-Control and Expires
    come back identically on GET and on HEAD."""
    s3.put_object(
        Bucket=bucket,
        Key="meta.txt",
        Body=b"hello metadata",
        Metadata={"color": "blue", "multi-word": "two words", "empty": ""},
        ContentType="text/x-cloudvault; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="report.txt"',
        ContentLanguage="de-CH",
        CacheControl="max-age=3600, must-revalidate",
        Expires=EXPIRES,
    )
    for resp in (s3.get_object(Bucket=bucket, Key="meta.txt"), s3.head_object(Bucket=bucket, Key="meta.txt")):
        headers = resp["ResponseMetadata"]["HTTPHeaders"]
        assert resp["Metadata"] == {"color": "blue", "multi-word": "two words", "empty": ""}
        assert resp["ContentType"] == "text/x-cloudvault; charset=utf-8"
        assert resp["ContentEncoding"] == "identity"
        assert resp["ContentDisposition"] == 'attachment; filename="report.txt"'
        assert resp["ContentLanguage"] == "de-CH"
        assert resp["CacheControl"] == "max-age=3600, must-revalidate"
        assert headers.get("expires") == EXPIRES_HTTP
        assert resp["ContentLength"] == len(b"hello metadata")
        assert resp["ETag"] == quoted_md5(b"hello metadata")
        assert "last-modified" in headers


def test_default_content_type(s3, bucket):
    """An object stored without Content-Type is served with S3's default, binary/octet-stream
    (clients read ``resp["ContentType"]`` unconditionally), on HEAD and on GET."""
    put = s3.put_object(Bucket=bucket, Key="noct", Body=b"x")
    assert put["ETag"] == quoted_md5(b"x")
    for resp in (s3.head_object(Bucket=bucket, Key="noct"), s3.get_object(Bucket=bucket, Key="noct")):
        ct = resp.get("ContentType")
        assert ct in ("binary/octet-stream", "application/octet-stream"), (
            f"Content-Type is {ct!r}; headers: {resp['ResponseMetadata']['HTTPHeaders']}"
        )


def test_response_header_overrides(s3, bucket):
    """response-content-* query parameters override the stored headers on GET."""
    s3.put_object(Bucket=bucket, Key="o.bin", Body=b"payload", ContentType="application/x-stored")
    resp = s3.get_object(
        Bucket=bucket,
        Key="o.bin",
        ResponseContentType="text/x-override",
        ResponseContentDisposition='attachment; filename="o.txt"',
        ResponseCacheControl="no-store",
        ResponseContentLanguage="fr",
    )
    assert resp["ContentType"] == "text/x-override"
    assert resp["ContentDisposition"] == 'attachment; filename="o.txt"'
    assert resp["CacheControl"] == "no-store"
    assert resp["ContentLanguage"] == "fr"
    assert resp["Body"].read() == b"payload"
    # The stored value is unchanged.
    assert s3.head_object(Bucket=bucket, Key="o.bin")["ContentType"] == "application/x-stored"


# ---------------------------------------------------------------------------------------------
# Conditional requests
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def cond_object(s3, bucket):
    data = b"conditional body"
    s3.put_object(Bucket=bucket, Key="cond", Body=data)
    head = s3.head_object(Bucket=bucket, Key="cond")
    return bucket, data, head["ETag"], head["LastModified"]


def test_get_conditionals_that_fail(s3, cond_object):
    """If-Match wrong -> 412, If-None-Match equal -> 304, If-Modified-Since future -> 304,
    If-Unmodified-Since past -> 412."""
    bucket, _, etag, _ = cond_object
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"00000000000000000000000000000000"')
    assert_client_error(e, 412, "PreconditionFailed")

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=future)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=past)
    assert_client_error(e, 412, "PreconditionFailed")

    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cond", IfMatch='"00000000000000000000000000000000"')
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_get_conditionals_that_pass(s3, cond_object):
    """The same headers with matching values serve the object (200)."""
    bucket, data, etag, last_modified = cond_object
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
    for kwargs in (
        {"IfMatch": etag},
        {"IfMatch": "*"},
        {"IfNoneMatch": '"00000000000000000000000000000000"'},
        {"IfModifiedSince": past},
        {"IfUnmodifiedSince": future},
        {"IfUnmodifiedSince": last_modified},
    ):
        resp = s3.get_object(Bucket=bucket, Key="cond", **kwargs)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200, kwargs
        assert resp["Body"].read() == data, kwargs


def test_conditional_precedence(s3, cond_object):
    """RFC 7232 / S3 precedence: If-Match true wins over If-Unmodified-Since false (200);
    If-None-Match false wins over If-Modified-Since true (304); If-None-Match: * on an existing
    object is 304."""
    bucket, data, etag, _ = cond_object
    past = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
    resp = s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag, IfUnmodifiedSince=past)
    assert resp["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag, IfModifiedSince=past)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch="*")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_not_modified_carries_etag_and_no_body(server, cond_object):
    """A 304 has no body and repeats the ETag."""
    bucket, _, etag, _ = cond_object
    resp = server.request("GET", f"/{bucket}/cond", headers={"If-None-Match": etag})
    assert resp.status_code == 304
    assert resp.content == b""
    assert resp.headers.get("ETag") == etag


# ---------------------------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------------------------

RANGE_DATA = bytes(range(100))


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=-5", 95, 99),
        ("bytes=10-", 10, 99),
        ("bytes=95-200", 95, 99),
        ("bytes=42-42", 42, 42),
    ],
)
def test_range_get(s3, bucket, header, start, end):
    """A single range answers 206 with the right bytes and Content-Range."""
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    resp = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert resp["ContentRange"] == f"bytes {start}-{end}/100"
    assert resp["ContentLength"] == end - start + 1
    assert resp["Body"].read() == RANGE_DATA[start : end + 1]
    assert resp["ETag"] == quoted_md5(RANGE_DATA)


def test_range_not_satisfiable(s3, server, bucket):
    """A range starting past the end answers 416 InvalidRange."""
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=100-200")
    assert_client_error(e, 416, "InvalidRange")
    resp = server.request("GET", f"/{bucket}/r", headers={"Range": "bytes=500-"})
    assert_xml_error(resp, 416, "InvalidRange")


# ---------------------------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------------------------


def test_delete_missing_key_is_204(s3, bucket):
    """Deleting a key that does not exist succeeds with 204."""
    resp = s3.delete_object(Bucket=bucket, Key="never-existed")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_object_removes_it(s3, bucket):
    """After DeleteObject the key is gone from GET and from listings."""
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    s3.put_object(Bucket=bucket, Key="stays", Body=b"y")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="gone")
    assert_client_error(e, 404, "NoSuchKey")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["stays"]


def test_delete_objects_verbose_and_quiet(s3, bucket):
    """DeleteObjects reports each key (even missing ones) unless Quiet, which reports none."""
    for k in ("k1", "k2", "k3", "k4", "keep"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    resp = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "k1"}, {"Key": "k2"}, {"Key": "missing"}]}
    )
    assert sorted(d["Key"] for d in resp.get("Deleted", [])) == ["k1", "k2", "missing"]
    assert resp.get("Errors", []) == []

    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k3"}, {"Key": "k4"}], "Quiet": True})
    assert resp.get("Deleted", []) == []
    assert resp.get("Errors", []) == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]


# ---------------------------------------------------------------------------------------------
# Copy
# ---------------------------------------------------------------------------------------------


def test_copy_object_copy_and_replace(s3, bucket):
    """COPY keeps the source metadata and type; REPLACE stores the new ones; bytes and ETag follow."""
    src_key = "src dir/a b+c%.txt"
    data = os.urandom(10_000)
    s3.put_object(Bucket=bucket, Key=src_key, Body=data, Metadata={"k": "v"}, ContentType="text/x-src")

    resp = s3.copy_object(Bucket=bucket, Key="copy1", CopySource={"Bucket": bucket, "Key": src_key})
    assert resp["CopyObjectResult"]["ETag"] == quoted_md5(data)
    head = s3.head_object(Bucket=bucket, Key="copy1")
    assert head["Metadata"] == {"k": "v"}
    assert head["ContentType"] == "text/x-src"
    assert s3.get_object(Bucket=bucket, Key="copy1")["Body"].read() == data

    s3.copy_object(
        Bucket=bucket, Key="copy2", CopySource={"Bucket": bucket, "Key": src_key},
        MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="text/x-new",
    )
    head = s3.head_object(Bucket=bucket, Key="copy2")
    assert head["Metadata"] == {"new": "yes"}
    assert head["ContentType"] == "text/x-new"
    assert head["ETag"] == quoted_md5(data)
    assert s3.get_object(Bucket=bucket, Key="copy2")["Body"].read() == data
    # The source is untouched.
    assert s3.head_object(Bucket=bucket, Key=src_key)["Metadata"] == {"k": "v"}


def test_copy_across_buckets(s3, bucket, bucket_name):
    """CopyObject works between two buckets."""
    other = bucket_name + "-dst"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="x", Body=b"cross")
    s3.copy_object(Bucket=other, Key="y/z", CopySource=f"{bucket}/x")
    assert s3.get_object(Bucket=other, Key="y/z")["Body"].read() == b"cross"


def test_self_copy_with_replace_changes_metadata_only(s3, bucket):
    """Copying an object onto itself with REPLACE updates metadata and keeps bytes and ETag
    (rclone's way of setting a modification time)."""
    data = b"self copy body"
    s3.put_object(Bucket=bucket, Key="self", Body=data, Metadata={"mtime": "1"})
    s3.copy_object(
        Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE", Metadata={"mtime": "2", "extra": "e"},
    )
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"mtime": "2", "extra": "e"}
    assert got["Body"].read() == data
    assert got["ETag"] == quoted_md5(data)


def test_self_copy_without_replace_is_invalid(s3, bucket):
    """Copying an object onto itself without changing anything is 400 InvalidRequest."""
    s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"a": "1"})
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert_client_error(e, 400, "InvalidRequest")
    assert s3.head_object(Bucket=bucket, Key="self")["Metadata"] == {"a": "1"}


def test_copy_source_if_match(s3, bucket):
    """x-amz-copy-source-if-match: a mismatch is 412 and copies nothing; a match copies."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"abc")
    with pytest.raises(ClientError) as e:
        s3.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceIfMatch='"00000000000000000000000000000000"',
        )
    assert_client_error(e, 412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dst")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceIfMatch=quoted_md5(b"abc"),
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"abc"


def test_copy_missing_source(s3, bucket):
    """Copying from a missing key is 404 NoSuchKey."""
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})
    assert_client_error(e, 404, "NoSuchKey")


# ---------------------------------------------------------------------------------------------
# Missing things
# ---------------------------------------------------------------------------------------------


def test_missing_key_and_bucket_errors(s3, server, bucket, bucket_name):
    """GET of a missing key is NoSuchKey; anything on a missing bucket is NoSuchBucket;
    HEAD of a missing key is 404 with no body."""
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert_client_error(e, 404, "NoSuchKey")

    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    raw = server.request("HEAD", f"/{bucket}/missing")
    assert raw.status_code == 404 and raw.content == b""

    ghost = bucket_name + "-ghost"
    for call in (
        lambda: s3.get_object(Bucket=ghost, Key="k"),
        lambda: s3.put_object(Bucket=ghost, Key="k", Body=b"x"),
        lambda: s3.list_objects_v2(Bucket=ghost),
        lambda: s3.list_objects(Bucket=ghost),
        lambda: s3.delete_bucket(Bucket=ghost),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert_client_error(e, 404, "NoSuchBucket")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=ghost)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    raw = server.request("GET", f"/{ghost}/k")
    assert_xml_error(raw, 404, "NoSuchBucket")


# ---------------------------------------------------------------------------------------------
# Buckets
# ---------------------------------------------------------------------------------------------


def test_bucket_lifecycle(s3, bucket_name):
    """Create, head, list, delete a bucket; ListBuckets reflects each step."""
    s3.create_bucket(Bucket=bucket_name)
    assert s3.head_bucket(Bucket=bucket_name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket_name in names
    assert s3.delete_bucket(Bucket=bucket_name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_get_bucket_location(s3, bucket):
    """GetBucketLocation answers for the server's region (us-east-1 is reported empty by AWS)."""
    loc = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    assert loc in (None, "", "us-east-1")


def test_create_bucket_with_location_constraint(s3, bucket_name):
    """CreateBucket with a LocationConstraint (as aws-cli sends outside us-east-1) works."""
    resp = s3.create_bucket(
        Bucket=bucket_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert bucket_name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket_name, Key="k")["Body"].read() == b"v"


def test_create_existing_own_bucket(s3, bucket):
    """Creating a bucket you already own is 409 BucketAlreadyOwnedByYou, except in us-east-1, where AWS
    (and so CloudVault) answers 200 for legacy reasons (test_client_behaviours.py)."""
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert_client_error(e, 409, "BucketAlreadyOwnedByYou")


def test_delete_non_empty_bucket(s3, bucket):
    """DeleteBucket on a bucket with objects is 409 BucketNotEmpty and leaves it intact."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert_client_error(e, 409, "BucketNotEmpty")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_md5_helper_matches_etag_semantics():
    """Sanity check of the helper used throughout: quoted lowercase hex MD5."""
    assert quoted_md5(b"") == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert md5_hex(b"abc") == "900150983cd24fb0d6963f7d28e17f72"
    assert quote_key("a b+c/%") == "a%20b%2Bc/%25"


def test_list_buckets_tolerates_paging_parameters(s3, server, bucket):
    """ListBuckets accepts max-buckets and prefix (aws-cli v2 paginates it) and still lists."""
    resp = s3.list_buckets(MaxBuckets=1000)
    assert bucket in [b["Name"] for b in resp["Buckets"]]
    assert all("CreationDate" in b for b in resp["Buckets"])
    raw = server.request("GET", "/", query=[("max-buckets", "1000"), ("prefix", bucket)])
    assert raw.status_code == 200, raw.text
    assert f"<Name>{bucket}</Name>" in raw.text


def test_canned_private_acl_is_accepted(s3, bucket_name):
    """x-amz-acl: private (sent by rclone and many tools) is accepted on CreateBucket and PutObject."""
    s3.create_bucket(Bucket=bucket_name, ACL="private")
    s3.put_object(Bucket=bucket_name, Key="k", Body=b"v", ACL="private")
    assert s3.get_object(Bucket=bucket_name, Key="k")["Body"].read() == b"v"


def test_x_id_query_parameter_is_tolerated(server, bucket):
    """SDKs (JS v3, Rust) append ?x-id=<Operation>; the operation must still be routed normally."""
    resp = server.request("PUT", f"/{bucket}/xid", query=[("x-id", "PutObject")], body=b"xid body")
    assert resp.status_code == 200, resp.text
    resp = server.request("GET", f"/{bucket}/xid", query=[("x-id", "GetObject")])
    assert resp.status_code == 200 and resp.content == b"xid body"
