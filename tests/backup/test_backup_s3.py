# SPDX-License-Identifier: MIT
"""Backup and restore against radosgw under S3 Object Lock.

Uses the rgw/tool/bucket fixtures of conftest.py (one radosgw per
session); skipped when radosgw is not installed.
"""
import pytest

from backup_util import FAST_ARGON, Phv, make_tree, tree_equal
from conftest import clean_env


@pytest.fixture
def s3(tmp_path, rgw, bucket):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), big=2_000_000)
    pw = tmp_path / "pass"
    pw.write_text("s3 passphrase\n")
    # the metadata cache in the test's directory, not /var/cache
    phv = Phv("s3://%s/repo" % bucket, pw, env=clean_env(dict(
        rgw, PHIVAULT_CACHE_DIR=str(tmp_path / "cache"))))
    phv.run("repo", "init", "--argon2", FAST_ARGON, "--lock-mode",
            "governance", "--retention", "1d", check=0)
    return phv, src, tmp_path, bucket


def all_versions(tool, bucket):
    out = []
    for line in tool.ok("versions", bucket, "--prefix", "repo/").out \
            .splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        out.append(f)
    return out


def test_s3_round_trip_incremental(s3):
    phv, src, tmp, _ = s3
    first = phv.json("backup", src)
    assert first["ok"] and first["packs_uploaded"] >= 1
    second = phv.json("backup", src)
    assert second["packs_uploaded"] == 0 and second["bytes_new"] == 0
    out = tmp / "out"
    phv.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))


def test_s3_objects_locked_and_undeletable(s3, tool):
    phv, src, _, bucket = s3
    phv.json("backup", src)
    vers = all_versions(tool, bucket)
    assert vers, "no versions listed"
    for v in vers:
        key, vid = v.get("key"), v.get("version")
        if not key or key.startswith("repo/locks/") or v.get("delete_marker") == "1":
            continue
        h = tool.kv("head", bucket, key, "--version", vid)
        assert h.get("mode") == "GOVERNANCE", (key, h)
        r = tool.run("rm", bucket, key, "--version", vid)
        assert r.returncode != 0, key


def test_s3_ransomware(s3, tool, tmp_path):
    phv, src, tmp, bucket = s3
    phv.json("backup", src)
    junk = tmp_path / "junk"
    junk.write_bytes(b"encrypted by ransomware")
    for v in all_versions(tool, bucket):
        key = v.get("key")
        if not key or v.get("delete_marker") == "1":
            continue
        tool.run("put", bucket, key, junk)
        tool.run("rm", bucket, key)
    out = tmp / "out"
    r = phv.run("restore", "latest", "--target", out)
    assert r.returncode == 0, (r.out, r.err)
    assert tree_equal(str(src), str(out))
