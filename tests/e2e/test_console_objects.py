"""The console API's object calls, checked the way a user would check them: listing by folder with
paging, search, counts, deleting many objects or a whole folder with its confirmed count, object details,
uploads and downloads through the API, forced bucket deletion, the public switch, share links,
browser uploads (single and multipart) through presigned URLs, usage totals, and that nobody but the
owner (or an admin) reaches any of it. Object bytes and ETags are compared with what boto3 sees.

The module's server is started with the console's origin in ``CLOUDVAULT_CORS_ORIGINS`` and its own
S3 endpoint as ``CLOUDVAULT_PUBLIC_S3_URL`` (where presigned URLs point), as a deployment sets them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.parse

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import (
    ConsoleSession,
    GeneratedBody,
    assert_api_error,
    assert_xml_error,
    console_login,
    multipart_etag,
    quoted_md5,
    running_server,
)

CONSOLE = "https://console.example.test"
MiB = 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def server(request, tmp_path_factory):
    """This module's CloudVault (per backend), configured with the console's origin and public S3 URL."""
    settings = lambda srv: {  # noqa: E731
        "CLOUDVAULT_CORS_ORIGINS": CONSOLE,
        "CLOUDVAULT_PUBLIC_S3_URL": srv.endpoint,
    }
    with running_server(request.param, tmp_path_factory, extra_env=settings) as srv:
        yield srv


@pytest.fixture
def root(server):
    """The root user's console session."""
    return console_login(server)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**9}"


def add_user(server, name: str, password: str) -> None:
    """A plain user made with the admin CLI (independent of the API under test)."""
    proc = subprocess.run([str(server.binary), "admin", "user", "add", name, "--password-stdin"],
                          env=server.server_env(), input=password + "\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def list_all(session, bucket: str, **params) -> list[dict]:
    """Every page of GET objects, following `next_after`; returns the pages' JSON bodies."""
    pages, after = [], None
    while True:
        query = dict(params)
        if after is not None:
            query["after"] = after
        r = session.get(f"/api/buckets/{bucket}/objects", params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        after = page["next_after"]
        if after is None:
            return pages
        assert len(pages) < 100, "paging does not end"


def keys_of(pages: list[dict]) -> list[str]:
    return [o["key"] for p in pages for o in p["objects"]]


def anon_get(url: str, **kw) -> requests.Response:
    """A request with no credentials at all, as curl or a browser sends it."""
    return requests.get(url, timeout=30, allow_redirects=False, **kw)


# ------------------------------------------------------------------------------------------------
# Browsing
# ------------------------------------------------------------------------------------------------


def test_listing_by_folder_with_paging(server, s3, bucket, root):
    files = [f"docs/file-{i:02d}.txt" for i in range(25)]
    others = ["docs/sub/a.txt", "docs/sub/b.txt", "other/x.txt", "top.txt"]
    bodies = {k: f"body of {k}\n".encode() * (1 + len(k) % 5) for k in files + others}
    for k, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=k, Body=body, ContentType="text/plain")

    # The folder docs/ with limit 10: 25 files and one sub-folder come in three pages, sorted, no duplicates.
    pages = list_all(root, bucket, prefix="docs/", delimiter="/", limit=10)
    assert len(pages) == 3, [len(p["objects"]) + len(p["prefixes"]) for p in pages]
    for p in pages:
        assert len(p["objects"]) + len(p["prefixes"]) <= 10
        assert [o["key"] for o in p["objects"]] == sorted(o["key"] for o in p["objects"])
    listed = keys_of(pages)
    assert listed == files, "each file exactly once, in key order, nothing from the sub-folder"
    assert [x for p in pages for x in p["prefixes"]] == ["docs/sub/"]
    assert pages[-1]["next_after"] is None
    now_ms = time.time() * 1000
    for o in (o for p in pages for o in p["objects"]):
        assert o["size"] == len(bodies[o["key"]])
        assert o["etag"] == quoted_md5(bodies[o["key"]]), "ETags as S3 gives them, quoted"
        assert abs(o["last_modified"] - now_ms) < 10 * 60 * 1000, "last_modified is unix milliseconds"
        assert o["content_type"] == "text/plain"

    # The bucket's top level: two folders and one file.
    top = list_all(root, bucket, delimiter="/")
    assert keys_of(top) == ["top.txt"]
    assert [x for p in top for x in p["prefixes"]] == ["docs/", "other/"]
    # Without a delimiter the whole subtree is listed; the default page holds it all.
    flat = root.get(f"/api/buckets/{bucket}/objects", params={"prefix": "docs/"}).json()
    assert [o["key"] for o in flat["objects"]] == sorted(files + ["docs/sub/a.txt", "docs/sub/b.txt"])
    assert flat["prefixes"] == [] and flat["next_after"] is None
    # Paging without a delimiter agrees with boto3.
    assert keys_of(list_all(root, bucket, limit=7)) == [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]

    for bad in ("0", "1001"):
        assert_api_error(root.get(f"/api/buckets/{bucket}/objects", params={"limit": bad}), 400, "bad_request")
    assert_api_error(root.get(f"/api/buckets/{unique('no-such-bucket')}/objects"), 404, "not_found")


def test_search_is_case_insensitive_and_within_the_prefix(server, s3, bucket, root):
    keys = [
        "reports/2025/annual-report.pdf",
        "reports/2026/Annual-Report.PDF",
        "reports/2026/summary.txt",
        "reports/REPORTS-index.txt",
        "archive/annual-report.pdf",
    ] + [f"reports/bulk/ANNUAL-{i:02d}.csv" for i in range(12)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())

    def search(**params) -> list[str]:
        return keys_of(list_all(root, bucket, **params))

    annual = sorted(k for k in keys if k.startswith("reports/") and "annual" in k.lower())
    assert search(prefix="reports/", search="annual") == annual
    assert search(prefix="reports/", search="ANNUAL") == annual
    assert "archive/annual-report.pdf" in search(search="Annual"), "no prefix: the whole bucket"
    # The search runs on the part of the key after the prefix: "reports/" itself does not match.
    assert search(prefix="reports/", search="reports") == ["reports/REPORTS-index.txt"]
    assert search(prefix="reports/", search="no-such-thing") == []
    # Search results page like a listing: 14 matches, 5 per page.
    pages = list_all(root, bucket, prefix="reports/", search="annual", limit=5)
    assert len(pages) == 3 and keys_of(pages) == annual


def test_count_and_delete_many(server, s3, bucket, root):
    sizes = {f"logs/2026-11-{d:02d}.log": 100 + d for d in range(1, 13)}
    for k, n in sizes.items():
        s3.put_object(Bucket=bucket, Key=k, Body=b"l" * n)
    for k in ("keep/a", "keep/b", "logs-not-a-folder"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"keep")

    r = root.get(f"/api/buckets/{bucket}/objects/count", params={"prefix": "logs/"})
    assert r.status_code == 200, r.text
    assert (r.json()["count"], r.json()["bytes"]) == (12, sum(sizes.values()))
    everything = root.get(f"/api/buckets/{bucket}/objects/count").json()
    assert (everything["count"], everything["bytes"]) == (15, sum(sizes.values()) + 12)

    # Delete two by key.
    r = root.post(f"/api/buckets/{bucket}/objects/delete", json={"keys": ["logs/2026-11-01.log", "logs/2026-11-02.log"]})
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == 2
    remaining = sorted(sizes)[2:]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="logs/")["Contents"]] == remaining

    # A folder delete with a stale count deletes nothing.
    r = root.post(f"/api/buckets/{bucket}/objects/delete", json={"prefix": "logs/", "confirm_count": 12})
    assert_api_error(r, 409, "count_mismatch")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="logs/")["KeyCount"] == 10
    # With the right count the folder goes, and only the folder.
    r = root.post(f"/api/buckets/{bucket}/objects/delete", json={"prefix": "logs/", "confirm_count": 10})
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == 10
    assert s3.list_objects_v2(Bucket=bucket, Prefix="logs/")["KeyCount"] == 0
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["keep/a", "keep/b", "logs-not-a-folder"]
    assert root.get(f"/api/buckets/{bucket}/objects/count", params={"prefix": "logs/"}).json()["count"] == 0


def test_object_details(server, s3, bucket, root):
    body = b"\xff\xd8\xff" + os.urandom(3000)
    s3.put_object(Bucket=bucket, Key="trips/oslo.jpg", Body=body, ContentType="image/jpeg",
                  Metadata={"camera": "x100", "place": "Oslo"})
    s3.put_object_tagging(Bucket=bucket, Key="trips/oslo.jpg", Tagging={"TagSet": [
        {"Key": "trip", "Value": "norway"}, {"Key": "year", "Value": "2026"}]})
    head = s3.head_object(Bucket=bucket, Key="trips/oslo.jpg")

    r = root.get(f"/api/buckets/{bucket}/object", params={"key": "trips/oslo.jpg"})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["key"] == "trips/oslo.jpg"
    assert info["size"] == len(body)
    assert info["etag"] == quoted_md5(body) == head["ETag"]
    assert info["parts_count"] is None
    assert info["content_type"] == "image/jpeg"
    assert info["metadata"] == {"camera": "x100", "place": "Oslo"}
    assert info["tags"] == {"trip": "norway", "year": "2026"}
    assert abs(info["last_modified"] - head["LastModified"].timestamp() * 1000) < 1000

    assert_api_error(root.get(f"/api/buckets/{bucket}/object", params={"key": "trips/missing.jpg"}), 404, "not_found")
    r = root.delete(f"/api/buckets/{bucket}/object", params={"key": "trips/oslo.jpg"})
    assert r.status_code == 204, r.text
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="trips/oslo.jpg")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


AWKWARD_KEYS = [
    "plain.txt",
    "folder with spaces/report #1?.txt",
    "100% done & more+plus=eq.bin",
    "ünïcødé/日本語 ファイル.txt",
]


def test_upload_and_download_through_the_api(server, s3, bucket, root):
    for i, key in enumerate(AWKWARD_KEYS):
        body = os.urandom(1000 + 4099 * i)
        r = root.put(f"/api/buckets/{bucket}/object/content", params={"key": key}, data=body,
                     headers={"Content-Type": "application/x-cloudvault-test"})
        assert r.status_code == 201, r.text
        up = r.json()
        assert (up["key"], up["size"], up["etag"]) == (key, len(body), quoted_md5(body))

        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body, key
        assert got["ETag"] == quoted_md5(body)
        assert got["ContentType"] == "application/x-cloudvault-test"

        down = root.get(f"/api/buckets/{bucket}/object/content", params={"key": key})
        assert down.status_code == 200, down.text
        assert down.content == body, key
        assert down.headers["Content-Disposition"].startswith("attachment"), down.headers
    # The listing shows exactly these keys.
    assert sorted(keys_of(list_all(root, bucket))) == sorted(AWKWARD_KEYS)

    # A larger body streams through (8 MiB, generated on the fly) and replaces nothing else.
    big = GeneratedBody(8 * MiB, seed=7)
    r = root.put(f"/api/buckets/{bucket}/object/content", params={"key": "big/blob.bin"}, data=big,
                 headers={"Content-Type": "application/octet-stream"}, timeout=120)
    assert r.status_code == 201, r.text
    assert r.json()["etag"] == f'"{big.hexdigest()}"'
    down = root.get(f"/api/buckets/{bucket}/object/content", params={"key": "big/blob.bin"}, stream=True, timeout=120)
    h = hashlib.md5()
    n = 0
    for chunk in down.iter_content(MiB):
        h.update(chunk)
        n += len(chunk)
    assert (down.status_code, n, h.hexdigest()) == (200, 8 * MiB, big.hexdigest())

    assert_api_error(root.get(f"/api/buckets/{bucket}/object/content", params={"key": "missing"}), 404, "not_found")
    r = root.put(f"/api/buckets/{unique('no-such-bucket')}/object/content", params={"key": "k"}, data=b"x")
    assert_api_error(r, 404, "not_found")


def test_force_delete_bucket_needs_the_exact_count(server, s3, bucket_name, root):
    assert root.post("/api/buckets", json={"name": bucket_name}).status_code == 201
    for i in range(7):
        s3.put_object(Bucket=bucket_name, Key=f"f/{i}", Body=b"x" * i)
    assert_api_error(root.delete(f"/api/buckets/{bucket_name}"), 409, "bucket_not_empty")
    assert_api_error(root.delete(f"/api/buckets/{bucket_name}", params={"force": "true", "confirm_count": 6}),
                     409, "count_mismatch")
    assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 7, "a refused force delete keeps everything"
    r = root.delete(f"/api/buckets/{bucket_name}", params={"force": "true", "confirm_count": 7})
    assert r.status_code == 204, r.text
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket_name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert bucket_name not in [b["name"] for b in root.get("/api/buckets").json()["buckets"]]
    # The name is free again, and the new bucket is empty.
    assert root.post("/api/buckets", json={"name": bucket_name}).status_code == 201
    assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0


# ------------------------------------------------------------------------------------------------
# Public buckets and share links
# ------------------------------------------------------------------------------------------------


def test_public_switch(server, s3, bucket, root):
    s3.put_object(Bucket=bucket, Key="pics/cat.jpg", Body=b"meow", ContentType="image/jpeg")
    obj_url = f"{server.endpoint}/{bucket}/pics/cat.jpg"
    list_url = f"{server.endpoint}/{bucket}?list-type=2"

    def state() -> dict:
        b = next(b for b in root.get("/api/buckets").json()["buckets"] if b["name"] == bucket)
        return {"public": b["public"], "public_listing": b["public_listing"]}

    assert state() == {"public": False, "public_listing": False}
    assert_xml_error(anon_get(obj_url), 403, "AccessDenied")

    r = root.put(f"/api/buckets/{bucket}/public", json={"public": True})
    assert r.status_code == 200, r.text
    assert (r.json()["public"], r.json()["public_listing"]) == (True, False)
    got = anon_get(obj_url)
    assert (got.status_code, got.content) == (200, b"meow")
    assert_xml_error(anon_get(list_url), 403, "AccessDenied")
    assert_xml_error(anon_get(f"{server.endpoint}/{bucket}"), 403, "AccessDenied")
    assert state() == {"public": True, "public_listing": False}
    # Public read is read only.
    assert_xml_error(requests.put(f"{server.endpoint}/{bucket}/evil", data=b"x", timeout=30), 403, "AccessDenied")

    r = root.put(f"/api/buckets/{bucket}/public", json={"public": True, "listing": True})
    assert (r.status_code, r.json()["public"], r.json()["public_listing"]) == (200, True, True)
    listing = anon_get(list_url)
    assert listing.status_code == 200 and b"<Key>pics/cat.jpg</Key>" in listing.content
    assert anon_get(obj_url).content == b"meow"
    assert state() == {"public": True, "public_listing": True}

    r = root.put(f"/api/buckets/{bucket}/public", json={"public": False})
    assert (r.status_code, r.json()["public"], r.json()["public_listing"]) == (200, False, False)
    assert_xml_error(anon_get(obj_url), 403, "AccessDenied")
    assert_xml_error(anon_get(list_url), 403, "AccessDenied")
    assert state() == {"public": False, "public_listing": False}


def with_query(url: str, **changes: str) -> str:
    """`url` with some query parameters replaced (the rest, and their encoding, kept)."""
    parts = urllib.parse.urlsplit(url)
    pairs = []
    for item in parts.query.split("&"):
        name = urllib.parse.unquote(item.split("=", 1)[0])
        if name in changes:
            item = f"{item.split('=', 1)[0]}={urllib.parse.quote(changes[name], safe='')}"
        pairs.append(item)
    return urllib.parse.urlunsplit(parts._replace(query="&".join(pairs)))


def query_param(url: str, name: str) -> str:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))[name]


def test_share_links(server, s3, bucket, root):
    body = os.urandom(20_000)
    key = "shared/Quarterly report #3?.pdf"
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/pdf")
    s3.put_object(Bucket=bucket, Key="shared/secret.pdf", Body=b"not shared")

    before = time.time()
    r = root.post(f"/api/buckets/{bucket}/share", json={"key": key, "expires_in_secs": 300})
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["url"].startswith(server.endpoint + "/"), "minted on CLOUDVAULT_PUBLIC_S3_URL"
    assert before + 300 - 5 <= link["expires_at"] <= time.time() + 300 + 5, "expires_at is unix seconds"
    got = anon_get(link["url"])
    assert got.status_code == 200, got.content
    assert got.content == body
    assert got.headers["ETag"] == quoted_md5(body)
    assert got.headers["Content-Disposition"].startswith("attachment"), got.headers

    inline = root.post(f"/api/buckets/{bucket}/share", json={"key": key, "expires_in_secs": 60, "disposition": "inline"})
    assert inline.status_code == 200, inline.text
    got = anon_get(inline.json()["url"])
    assert got.status_code == 200 and got.content == body
    # Inline: no attachment disposition (a missing header is shown inline too).
    assert got.headers.get("Content-Disposition", "inline").startswith("inline"), got.headers

    # Any edit of the URL is refused: the signature, the lifetime, the key.
    url = link["url"]
    sig = query_param(url, "X-Amz-Signature")
    forged = with_query(url, **{"X-Amz-Signature": sig[:-1] + ("0" if sig[-1] != "0" else "1")})
    assert anon_get(forged).status_code == 403
    longer = with_query(url, **{"X-Amz-Expires": str(int(query_param(url, "X-Amz-Expires")) + 1)})
    assert anon_get(longer).status_code == 403
    path = urllib.parse.urlsplit(url).path
    other = url.replace(path, f"/{bucket}/shared/secret.pdf", 1)
    assert other != url
    refused = anon_get(other)
    assert refused.status_code == 403 and b"not shared" not in refused.content

    # A short link stops working once it expires.
    short = root.post(f"/api/buckets/{bucket}/share", json={"key": key, "expires_in_secs": 2})
    assert short.status_code == 200, short.text
    assert anon_get(short.json()["url"]).status_code == 200
    time.sleep(3.2)
    assert anon_get(short.json()["url"]).status_code == 403

    # Lifetimes outside 1 s .. 7 days, and missing objects, are refused.
    for secs in (604801, 0):
        assert_api_error(root.post(f"/api/buckets/{bucket}/share", json={"key": key, "expires_in_secs": secs}),
                         400, "invalid_expiry")
    week = root.post(f"/api/buckets/{bucket}/share", json={"key": key, "expires_in_secs": 604800})
    assert week.status_code == 200, week.text
    assert anon_get(week.json()["url"]).content == body
    assert_api_error(root.post(f"/api/buckets/{bucket}/share", json={"key": "shared/missing.pdf", "expires_in_secs": 60}),
                     404, "not_found")


# ------------------------------------------------------------------------------------------------
# Browser uploads through presigned URLs
# ------------------------------------------------------------------------------------------------


def test_browser_upload_through_presigned_put(server, s3, bucket, root):
    key = "from the browser/notes #1.txt"
    body = b"typed in a browser\n" * 1000
    before = time.time()
    r = root.post(f"/api/buckets/{bucket}/upload-url", json={"key": key, "content_type": "text/plain"})
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["method"] == "PUT"
    assert up["url"].startswith(server.endpoint + "/")
    assert before + 900 - 5 <= up["expires_at"] <= time.time() + 900 + 5, "15 minutes, unix seconds"
    put = requests.put(up["url"], data=body, headers={**up["headers"], "Origin": CONSOLE}, timeout=60)
    assert put.status_code == 200, put.content
    assert put.headers["ETag"] == quoted_md5(body)
    assert put.headers["Access-Control-Allow-Origin"] == CONSOLE, put.headers
    assert "etag" in put.headers.get("Access-Control-Expose-Headers", "").lower(), put.headers

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert got["ETag"] == quoted_md5(body)
    assert got["ContentType"] == "text/plain"

    # The URL is for that key only.
    other = up["url"].replace(urllib.parse.urlsplit(up["url"]).path, f"/{bucket}/somewhere-else.txt", 1)
    assert requests.put(other, data=b"x", headers=up["headers"], timeout=30).status_code == 403
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="somewhere-else.txt")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_browser_multipart_upload_through_presigned_parts(server, s3, bucket, root):
    key = "videos/holiday 2026.mp4"
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    r = root.post(f"/api/buckets/{bucket}/multipart", json={"key": key, "content_type": "video/mp4"})
    assert r.status_code == 201, r.text
    upload_id = r.json()["upload_id"]
    assert upload_id in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

    r = root.post(f"/api/buckets/{bucket}/multipart/{upload_id}/parts", json={"key": key, "part_numbers": [1, 2, 3]})
    assert r.status_code == 200, r.text
    urls = {u["part_number"]: u["url"] for u in r.json()["urls"]}
    assert sorted(urls) == [1, 2, 3]
    assert r.json()["expires_at"] > time.time()
    done = []
    for n, part in enumerate(parts, start=1):
        put = requests.put(urls[n], data=part, headers={"Origin": CONSOLE}, timeout=120)
        assert put.status_code == 200, put.content
        assert put.headers["ETag"] == quoted_md5(part)
        assert put.headers["Access-Control-Allow-Origin"] == CONSOLE
        done.append({"part_number": n, "etag": put.headers["ETag"]})

    r = root.post(f"/api/buckets/{bucket}/multipart/{upload_id}/complete", json={"key": key, "parts": done})
    assert r.status_code == 200, r.text
    assert r.json()["key"] == key
    assert r.json()["etag"] == multipart_etag(parts)
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == multipart_etag(parts)
    assert got["ContentType"] == "video/mp4"

    # An aborted upload is gone: no parts can complete it.
    r = root.post(f"/api/buckets/{bucket}/multipart", json={"key": "videos/abandoned.mp4"})
    abandoned = r.json()["upload_id"]
    r = root.delete(f"/api/buckets/{bucket}/multipart/{abandoned}", params={"key": "videos/abandoned.mp4"})
    assert r.status_code == 204, r.text
    assert abandoned not in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    r = root.post(f"/api/buckets/{bucket}/multipart/{abandoned}/complete",
                  json={"key": "videos/abandoned.mp4", "parts": [{"part_number": 1, "etag": quoted_md5(b"x")}]})
    assert_api_error(r, 404, "not_found")

    # Part numbers: 1..10000, at most 1000 per call.
    r = root.post(f"/api/buckets/{bucket}/multipart", json={"key": "videos/limits.mp4"})
    uid = r.json()["upload_id"]
    for numbers in ([0], [10001], list(range(1, 1002))):
        assert_api_error(root.post(f"/api/buckets/{bucket}/multipart/{uid}/parts",
                                   json={"key": "videos/limits.mp4", "part_numbers": numbers}), 400, "bad_request")
    r = root.post(f"/api/buckets/{bucket}/multipart/{uid}/parts",
                  json={"key": "videos/limits.mp4", "part_numbers": list(range(1, 1001))})
    assert r.status_code == 200 and len(r.json()["urls"]) == 1000


def test_malformed_requests_get_json_errors(server, s3, bucket, root):
    """Input the handlers never see (unparsable query, body or path values) still gets the contract's
    error document, `{"code", "message"}`, with 400 `bad_request`, never a bare framework answer."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    b = f"/api/buckets/{bucket}"
    json_ct = {"Content-Type": "application/json"}
    cases = {
        "limit not a number": root.get(f"{b}/objects", params={"limit": "ten"}),
        "object without key": root.get(f"{b}/object"),
        "download without key": root.get(f"{b}/object/content"),
        "upload without key": root.put(f"{b}/object/content", data=b"x"),
        "delete without key": root.delete(f"{b}/object"),
        "force not a boolean": root.delete(b, params={"force": "maybe", "confirm_count": 1}),
        "body not JSON": root.post(f"{b}/share", data=b"{not json", headers=json_ct),
        "body without Content-Type": root.post(f"{b}/share", data=b'{"key": "k", "expires_in_secs": 60}'),
        "missing field": root.post(f"{b}/share", json={"key": "k"}),
        "wrong type": root.put(f"{b}/public", json={"public": "yes"}),
        "negative expiry": root.post(f"{b}/share", json={"key": "k", "expires_in_secs": -5}),
        "unknown disposition": root.post(f"{b}/share", json={"key": "k", "expires_in_secs": 60, "disposition": "x"}),
        "neither keys nor prefix": root.post(f"{b}/objects/delete", json={"everything": True}),
        "bucket name not a string": root.post("/api/buckets", json={"name": 7}),
    }
    wrong = {}
    for name, r in cases.items():
        try:
            code = r.json().get("code")
        except ValueError:
            code = None
        ok = r.status_code == 400 and (code == "bad_request" or (name == "negative expiry" and code == "invalid_expiry"))
        if not ok:
            wrong[name] = f"{r.status_code} {r.headers.get('Content-Type')} {r.text[:120]!r}"
    assert not wrong, "expected 400 {\"code\": \"bad_request\", ...} for: " + json.dumps(wrong, indent=1)


# ------------------------------------------------------------------------------------------------
# Usage and authorization
# ------------------------------------------------------------------------------------------------


def test_usage_totals_equal_the_buckets(server, root):
    user, password = unique("uma"), "uma-password-1"
    add_user(server, user, password)
    uma = console_login(server, user, password)
    names = [unique("uma-a"), unique("uma-b"), unique("uma-empty")]
    for name in names:
        assert uma.post("/api/buckets", json={"name": name}).status_code == 201
    k = uma.post("/api/keys", json={}).json()
    s3 = server.client(access_key=k["access_key_id"], secret_key=k["secret_access_key"])
    content = {names[0]: [b"a" * 10, b"b" * 2000, b"c"], names[1]: [b"z" * 12345]}
    for name, bodies in content.items():
        for i, body in enumerate(bodies):
            s3.put_object(Bucket=name, Key=f"k{i}", Body=body)

    r = uma.get("/api/usage")
    assert r.status_code == 200, r.text
    usage = r.json()
    per_bucket = {b["name"]: (b["object_count"], b["bytes_used"]) for b in usage["buckets"]}
    assert per_bucket == {
        names[0]: (3, 2011),
        names[1]: (1, 12345),
        names[2]: (0, 0),
    }
    total = usage["total"]
    assert (total["buckets"], total["object_count"], total["bytes_used"]) == (3, 4, 14356)
    # The bucket list's counters agree.
    listed = {b["name"]: (b["object_count"], b["bytes_used"]) for b in uma.get("/api/buckets").json()["buckets"]}
    assert listed == per_bucket

    # For the admin too, the totals are the sum of the buckets listed.
    admin_usage = root.get("/api/usage").json()
    assert admin_usage["total"]["buckets"] == len(admin_usage["buckets"])
    assert admin_usage["total"]["object_count"] == sum(b["object_count"] for b in admin_usage["buckets"])
    assert admin_usage["total"]["bytes_used"] == sum(b["bytes_used"] for b in admin_usage["buckets"])


def test_only_the_owner_reaches_a_bucket(server, s3, bucket, root):
    s3.put_object(Bucket=bucket, Key="private/doc.txt", Body=b"owner's data")
    upload_id = root.post(f"/api/buckets/{bucket}/multipart", json={"key": "private/mp.bin"}).json()["upload_id"]
    user, password = unique("mallory"), "mallory-password-1"
    add_user(server, user, password)
    mallory = console_login(server, user, password)
    b = f"/api/buckets/{bucket}"
    calls = {
        "list": lambda s: s.get(f"{b}/objects"),
        "search": lambda s: s.get(f"{b}/objects", params={"search": "doc"}),
        "count": lambda s: s.get(f"{b}/objects/count", params={"prefix": "private/"}),
        "delete keys": lambda s: s.post(f"{b}/objects/delete", json={"keys": ["private/doc.txt"]}),
        "delete prefix": lambda s: s.post(f"{b}/objects/delete", json={"prefix": "private/", "confirm_count": 1}),
        "details": lambda s: s.get(f"{b}/object", params={"key": "private/doc.txt"}),
        "delete object": lambda s: s.delete(f"{b}/object", params={"key": "private/doc.txt"}),
        "download": lambda s: s.get(f"{b}/object/content", params={"key": "private/doc.txt"}),
        "upload": lambda s: s.put(f"{b}/object/content", params={"key": "private/doc.txt"}, data=b"overwritten"),
        "share": lambda s: s.post(f"{b}/share", json={"key": "private/doc.txt", "expires_in_secs": 60}),
        "upload url": lambda s: s.post(f"{b}/upload-url", json={"key": "private/new.txt"}),
        "multipart": lambda s: s.post(f"{b}/multipart", json={"key": "private/new.bin"}),
        "part urls": lambda s: s.post(f"{b}/multipart/{upload_id}/parts", json={"key": "private/mp.bin", "part_numbers": [1]}),
        "complete": lambda s: s.post(f"{b}/multipart/{upload_id}/complete",
                                     json={"key": "private/mp.bin", "parts": [{"part_number": 1, "etag": quoted_md5(b"x")}]}),
        "abort": lambda s: s.delete(f"{b}/multipart/{upload_id}", params={"key": "private/mp.bin"}),
        "public": lambda s: s.put(f"{b}/public", json={"public": True, "listing": True}),
        "force delete": lambda s: s.delete(b, params={"force": "true", "confirm_count": 1}),
    }
    for name, call in calls.items():
        assert_api_error(call(mallory), 403, "forbidden")
    # Without a token: 401 everywhere.
    anonymous = ConsoleSession(server, None)
    for name, call in calls.items():
        r = call(anonymous)
        assert (r.status_code, r.json().get("code")) == (401, "unauthorized"), name
    # Nothing changed.
    assert s3.get_object(Bucket=bucket, Key="private/doc.txt")["Body"].read() == b"owner's data"
    assert upload_id in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert_xml_error(anon_get(f"{server.endpoint}/{bucket}/private/doc.txt"), 403, "AccessDenied")
    assert bucket not in [x["name"] for x in mallory.get("/api/buckets").json()["buckets"]]
    assert bucket not in [x["name"] for x in mallory.get("/api/usage").json()["buckets"]]
    # The owner (here the admin) still can.
    assert root.get(f"{b}/objects").status_code == 200
