"""rclone multipart uploads and `rclone cleanup` against CloudVault.

rclone switches to multipart above ``upload_cutoff`` (default 200M) and sends 5 MiB parts (default
``chunk_size``), each with a Content-MD5, four at a time; it keeps the whole-file MD5 in
``X-Amz-Meta-Md5chksum`` so ``rclone check`` can compare a multipart object. ``rclone cleanup``
aborts unfinished multipart uploads older than 24 h, ``rclone backend cleanup -o max-age=...`` those
older than the given age; both list them with ListMultipartUploads.
"""

from __future__ import annotations

import pytest

from conftest import file_md5, write_generated_file

MiB = 1024 * 1024
DEFAULTS = ("--s3-upload-cutoff", "200M", "--s3-chunk-size", "5M")  # override the suite's 100M cutoff


def test_copy_300mib_multipart_and_check(server, s3, bucket, tmp_path):
    """rclone copy of a 300 MiB file (60 parts of 5 MiB with Content-MD5), rclone check finds 0
    differences, and the file copied back has the same bytes."""
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    want = write_generated_file(src_dir / "big.bin", 300 * MiB, seed=300)
    server.rclone("copy", *DEFAULTS, str(src_dir), f"other:{bucket}/backup", timeout=600)

    head = s3.head_object(Bucket=bucket, Key="backup/big.bin")
    assert head["ContentLength"] == 300 * MiB
    assert head["ETag"].endswith('-60"'), f"not a 60-part multipart upload: {head['ETag']}"
    assert head["Metadata"].get("md5chksum"), head["Metadata"]  # rclone's whole-file MD5 (base64)

    out = server.rclone("check", *DEFAULTS, str(src_dir), f"other:{bucket}/backup", timeout=600)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert "0 differences found" in text, text
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    dst_dir = tmp_path / "dst"
    server.rclone("copy", *DEFAULTS, f"other:{bucket}/backup", str(dst_dir), timeout=600)
    assert file_md5(dst_dir / "big.bin") == want


@pytest.mark.parametrize("provider", ["other", "minio"])
def test_cleanup_aborts_abandoned_uploads(server, s3, bucket, provider):
    """An upload abandoned with boto3 (two parts, never completed): `rclone cleanup` keeps it (it is
    younger than 24 h, so Initiated must be a real time), `rclone backend cleanup -o max-age=0s`
    aborts it, and ListMultipartUploads is empty afterwards; finished objects are untouched."""
    s3.put_object(Bucket=bucket, Key="dir/finished.txt", Body=b"done")
    uids = []
    for key in ("dir/abandoned.bin", "other-dir/abandoned-too.bin"):
        uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        for n in (1, 2):
            s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=b"p" * 1000)
        uids.append(uid)

    server.rclone("cleanup", f"{provider}:{bucket}", timeout=120)
    left = sorted(u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    assert left == sorted(uids), "rclone cleanup (24 h) removed a fresh upload: is Initiated wrong?"

    server.rclone("backend", "cleanup", f"{provider}:{bucket}", "-o", "max-age=0s", timeout=120)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    for key, uid in zip(("dir/abandoned.bin", "other-dir/abandoned-too.bin"), uids):
        with pytest.raises(Exception) as e:
            s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
        assert "NoSuchUpload" in str(e.value)
    assert s3.get_object(Bucket=bucket, Key="dir/finished.txt")["Body"].read() == b"done"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dir/finished.txt"]
