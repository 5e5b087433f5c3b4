# SPDX-License-Identifier: MIT
"""The local metadata cache and the pack-by-pack restore, against radosgw.

Cache: entries are the bucket's own ciphertext, a tampered entry is
detected and downloaded again, another repository's entries are never
used, and deleting the cache changes nothing but speed.  Restore: runs
of blobs fetched with one ranged GET give back exactly the tree, also
when blobs are shared between files, files span packs and one pack is
damaged.  Uses the rgw/tool/bucket fixtures of conftest.py.
"""
import hashlib
import json
import os
import random
import shutil
import stat

import pytest

from backup_util import FAST_ARGON, Phv, make_tree, tree_equal
from conftest import clean_env


def repo_at(tmp_path, rgw, bucket, prefix="repo", cache=None, name="p"):
    pw = tmp_path / ("pass-" + name)
    pw.write_text("cache passphrase\n")
    env = clean_env(rgw)
    env["PHIVAULT_CACHE_DIR"] = str(cache or tmp_path / "cache")
    phv = Phv("s3://%s/%s" % (bucket, prefix), pw, env=env)
    phv.run("repo", "init", "--argon2", FAST_ARGON, "--lock-mode",
            "governance", "--retention", "1d", check=0)
    return phv


def cache_files(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = open(p, "rb").read()
    return out


def only_repo_dir(cache):
    dirs = [d for d in os.listdir(cache)]
    assert len(dirs) == 1, dirs
    return os.path.join(cache, dirs[0])


def versions(tool, bucket, prefix):
    out = []
    for line in tool.ok("versions", bucket, "--prefix", prefix).out \
            .splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if f.get("key"):
            out.append(f)
    return out


@pytest.fixture
def repo(tmp_path, rgw, bucket):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), big=1_500_000)
    phv = repo_at(tmp_path, rgw, bucket)
    return phv, src, tmp_path, bucket


def test_cache_holds_bucket_ciphertext_only(repo, tool):
    phv, src, tmp, bucket = repo
    phv.json("backup", src)
    phv.json("backup", src)
    cache = tmp / "cache"
    rdir = only_repo_dir(cache)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(rdir).st_mode) == 0o700
    files = cache_files(rdir)
    assert any(k.startswith("snapshots/") for k in files), files.keys()
    assert any(k.startswith("index/") for k in files), files.keys()
    for name, data in files.items():
        assert stat.S_IMODE(os.stat(os.path.join(rdir, name)).st_mode) \
            == 0o600
        # no names or contents of the source
        assert b"patient" not in data and b"scan.bin" not in data, name
        # the same bytes as the object in the bucket
        key = "repo/" + name.rsplit(".", 1)[0]
        vers = versions(tool, bucket, key)
        assert vers, key
        got = tool.ok("get", bucket, key, "--version",
                      vers[-1]["version"]).stdout
        assert hashlib.sha256(got).digest() == \
            hashlib.sha256(data).digest(), name


def test_tampered_cache_entry_is_fetched_again(repo):
    phv, src, tmp, _ = repo
    first = phv.json("backup", src)
    rdir = only_repo_dir(tmp / "cache")
    before = cache_files(rdir)
    for name, data in before.items():
        bad = bytearray(data)
        bad[len(bad) // 2] ^= 0x40
        with open(os.path.join(rdir, name), "wb") as f:
            f.write(bytes(bad))
    snaps = phv.json("snapshots")
    assert [s["ok"] for s in snaps] == [True]
    # the backup still sees its parent and all indexed data
    second = phv.json("backup", src)
    assert second["parent"] == first["snapshot"]
    assert second["packs_uploaded"] == 0 and second["bytes_new"] == 0
    after = cache_files(rdir)
    for name, data in before.items():
        assert after[name] == data, name
    out = tmp / "out"
    phv.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))


def test_cache_of_another_repository_not_used(tmp_path, rgw, bucket):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), big=500_000)
    cache = tmp_path / "cache"
    a = repo_at(tmp_path, rgw, bucket, "a", cache, "a")
    a.json("backup", src)
    adir = only_repo_dir(cache)
    b = repo_at(tmp_path, rgw, bucket, "b", cache, "b")
    b.json("backup", src)
    dirs = sorted(os.listdir(cache))
    assert len(dirs) == 2
    bdir = [os.path.join(cache, d) for d in dirs
            if os.path.join(cache, d) != adir][0]
    # plant a's entries under b's names
    a_snap = [v for k, v in cache_files(adir).items()
              if k.startswith("snapshots/")][0]
    b_files = cache_files(bdir)
    for name in b_files:
        if name.startswith("snapshots/"):
            with open(os.path.join(bdir, name), "wb") as f:
                f.write(a_snap)
    snaps = b.json("snapshots")
    assert [s["ok"] for s in snaps] == [True]
    assert snaps[0]["source"] == str(src)
    assert cache_files(bdir) == b_files
    out = tmp_path / "out"
    b.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))


def test_deleting_the_cache_changes_nothing_but_speed(repo):
    phv, src, tmp, _ = repo
    phv.json("backup", src)
    with open(src / "patients" / "p002.txt", "a") as f:
        f.write("another visit\n")
    second = phv.json("backup", src)
    with_cache = phv.json("snapshots")
    shutil.rmtree(tmp / "cache")
    assert phv.json("snapshots") == with_cache
    out = tmp / "out"
    phv.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))
    shutil.rmtree(tmp / "cache")
    third = phv.json("backup", src)
    assert third["parent"] == second["snapshot"]
    assert third["packs_uploaded"] == 0 and third["bytes_read"] == 0
    # and with the cache switched off
    off = phv.json("snapshots", env={"PHIVAULT_CACHE_DIR": "off"})
    assert [s["id"] for s in off] == [s["id"] for s in with_cache] + \
        [third["snapshot"]]


def test_unchanged_backup_writes_only_the_manifest(repo, tool):
    phv, src, tmp, bucket = repo
    phv.json("backup", src)
    before = {(v["key"], v["version"]) for v in versions(tool, bucket,
                                                         "repo/")}
    j = phv.json("backup", src)
    assert j["packs_uploaded"] == 0 and j["retention_extended"] == 0
    after = {(v["key"], v["version"]) for v in versions(tool, bucket,
                                                        "repo/")}
    new = sorted(k for k, _ in after - before)
    assert new == ["repo/snapshots/" + j["snapshot"]], new
    assert before <= after


def coalesce_tree(d):
    """Many small files, shared blobs, files across packs, holes."""
    rnd = random.Random(7)
    os.makedirs(d / "small")
    for i in range(120):
        (d / "small" / ("s%03d" % i)).write_bytes(
            rnd.randbytes(rnd.randint(1, 20_000)))
    blob = rnd.randbytes(700_000)
    (d / "copy1.bin").write_bytes(blob)
    (d / "copy2.bin").write_bytes(blob)          # the same chunk twice
    (d / "twice.bin").write_bytes(blob + blob)   # within one file too
    # big enough to span a pack boundary (packs close at 16 MiB)
    with open(d / "big.bin", "wb") as f:
        for _ in range(20):
            f.write(rnd.randbytes(1 << 20))
    with open(d / "holes.img", "wb") as f:
        f.truncate(12 << 20)
        f.seek(5 << 20)
        f.write(rnd.randbytes(100_000))
    (d / "empty").write_bytes(b"")


def test_coalesced_restore_round_trip(tmp_path, rgw, bucket, tool):
    src = tmp_path / "src"
    src.mkdir()
    coalesce_tree(src)
    phv = repo_at(tmp_path, rgw, bucket)
    phv.json("backup", src)
    for workers in ("1", "8"):
        out = tmp_path / ("out" + workers)
        j = phv.json("restore", "latest", "--target", out, "--workers",
                     workers)
        assert j["failed"] == 0, j
        assert tree_equal(str(src), str(out))
        # coalescing downloads about the packs, not a GET per blob
        assert j["bytes_downloaded"] < 1.2 * sum(
            os.path.getsize(os.path.join(dp, f))
            for dp, _, fs in os.walk(src) for f in fs)
    # a few paths: only their bytes
    one = tmp_path / "one"
    j = phv.json("restore", "latest", "small/s007", "copy2.bin",
                 "--target", one)
    assert j["restored"] == 2 and j["failed"] == 0
    assert (one / "small" / "s007").read_bytes() == \
        (src / "small" / "s007").read_bytes()
    assert (one / "copy2.bin").read_bytes() == blob_of(src / "copy2.bin")
    # their blobs, plus at most one read-through gap (256 KiB)
    assert j["bytes_downloaded"] < 730_000 + (256 << 10)
    assert not (one / "big.bin").exists()


def blob_of(p):
    return open(p, "rb").read()


def test_coalesced_restore_with_a_lost_pack(tmp_path, rgw, bucket, tool):
    src = tmp_path / "src"
    src.mkdir()
    coalesce_tree(src)
    phv = repo_at(tmp_path, rgw, bucket)
    phv.json("backup", src)
    packs = [v for v in versions(tool, bucket, "repo/packs/")]
    assert len(packs) >= 2
    lost = packs[0]
    tool.ok("rm", bucket, lost["key"], "--version", lost["version"],
            "--bypass")
    out = tmp_path / "out"
    r = phv.run("restore", "latest", "--target", out, "--json")
    assert r.returncode == 3, (r.out, r.err)    # partial, documented
    j = json.loads(r.out)
    failed = [f for f in j["files"] if f["status"] == "failed"]
    ok = [f for f in j["files"] if f["status"] == "ok"]
    assert failed and ok
    for f in failed:
        assert "chunk" in f["error"], f
        assert not (out / f["path"]).exists()
    for f in ok:
        assert (out / f["path"]).read_bytes() == \
            (src / f["path"]).read_bytes(), f["path"]
    # no temporary files left behind
    for dirpath, _, files in os.walk(out):
        assert not [x for x in files if ".phv-restore." in x], files
