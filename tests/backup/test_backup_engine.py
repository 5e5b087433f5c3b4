# SPDX-License-Identifier: MIT
"""Backup engine against radosgw under Object Lock: volumes as a source
and as a restore target, sample records round trip, lost packs, killed
and failed runs, forget/prune, the repository lock and retention.

Uses the rgw/tool/bucket fixtures of conftest.py; skipped without
radosgw.  Volume tests also need /dev/fuse and fusermount3 (they mount
the volume to write the sample records and to read restored ones).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from backup_util import FAST_ARGON, PHIVAULT, ROOT, Phv, tree_equal
from conftest import RGW_START, RGW_STOP, clean_env, parse_env

SAMPLE = os.path.join(ROOT, "tools", "sample-records")


def sample_records(d, patients=20, seed=1):
    subprocess.run([SAMPLE, "--patients", str(patients), "--seed",
                    str(seed), str(d)], check=True, capture_output=True)


def verify_records(d):
    r = subprocess.run([SAMPLE, "--verify", str(d)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def s3_repo(tmp_path, rgw, bucket, retention="1d", prefix="repo"):
    pw = tmp_path / "repo-pass"
    pw.write_text("s3 passphrase\n")
    # the metadata cache in the test's directory, not /var/cache
    phv = Phv("s3://%s/%s" % (bucket, prefix), pw, env=clean_env(dict(
        rgw, PHIVAULT_CACHE_DIR=str(tmp_path / "cache"))))
    phv.run("repo", "init", "--argon2", FAST_ARGON, "--lock-mode",
            "governance", "--retention", retention, check=0)
    return phv


def versions(tool, bucket, prefix):
    out = []
    for line in tool.ok("versions", bucket, "--prefix", prefix).out \
            .splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if f.get("key") and f.get("delete_marker") != "1":
            out.append(f)
    return out


def pack_bytes(tool, bucket):
    return sum(int(v["size"]) for v in versions(tool, bucket, "repo/packs/"))


def packs(tool, bucket):
    return sorted({v["key"] for v in versions(tool, bucket, "repo/packs/")})


def random_tree(d, mb, seed=7):
    import random
    rnd = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    for i in range(mb):
        with open(os.path.join(d, "blob%03d.bin" % i), "wb") as f:
            f.write(rnd.randbytes(1 << 20))


# ---- volumes ------------------------------------------------------------

def need_fuse():
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        pytest.skip("needs /dev/fuse and fusermount3")


class Volume:
    def __init__(self, base, name):
        self.dir = base / name
        self.mnt = base / (name + "-mnt")
        self.pw = base / (name + "-pass")
        self.dir.mkdir()
        self.mnt.mkdir()
        self.pw.write_text("volume %s passphrase\n" % name)
        subprocess.run([PHIVAULT, "init", "--passphrase-file", self.pw,
                        "--argon2", FAST_ARGON, self.dir], check=True,
                       capture_output=True)
        self.mounted = False

    def mount(self):
        subprocess.run([PHIVAULT, "mount", "--passphrase-file", self.pw,
                        self.dir, self.mnt], check=True,
                       capture_output=True)
        self.mounted = True

    def umount(self):
        if self.mounted:
            subprocess.run(["fusermount3", "-u", self.mnt], check=True)
            self.mounted = False


@pytest.fixture
def volumes(tmp_path):
    need_fuse()
    made = []

    def make(name):
        v = Volume(tmp_path, name)
        made.append(v)
        return v
    yield make
    for v in made:
        if v.mounted:
            subprocess.run(["fusermount3", "-u", "-z", v.mnt])


def test_volume_sample_records_round_trip(tmp_path, rgw, bucket, volumes):
    phv = s3_repo(tmp_path, rgw, bucket)
    vol = volumes("clinic")
    vol.mount()
    sample_records(vol.mnt / "records")
    # mounted: read through the library alongside the daemon
    live = phv.json("backup", vol.dir, "--passphrase-file", vol.pw)
    assert live["ok"] and live["files"] >= 100 and not live["unreadable"]
    vol.umount()
    cold = phv.json("backup", vol.dir, env={"PHIVAULT_PASSPHRASE_FILE":
                                            str(vol.pw)})
    assert cold["ok"] and cold["bytes_new"] == 0
    assert cold["parent"] == live["snapshot"]

    for snap in (live["snapshot"], cold["snapshot"]):
        out = tmp_path / ("out-" + snap[:8])
        phv.run("restore", snap, "--target", out, check=0)
        verify_records(out / "records")       # plaintext, not ciphertext
    # a wrong volume passphrase is refused before anything is written
    bad = tmp_path / "bad"
    bad.write_text("not it\n")
    r = phv.run("backup", vol.dir, "--passphrase-file", bad)
    assert r.returncode == 5, r.err

    # re-encrypted into another volume under that volume's keys
    other = volumes("restored")
    phv.run("restore", "latest", "--into", other.dir, "--passphrase-file",
            other.pw, check=0)
    for dirpath, _, files in os.walk(other.dir):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                assert b"SYNTHETIC TEST DATA" not in f.read(), name
    other.mount()
    verify_records(other.mnt / "records")
    other.umount()
    # a second --into keeps what is there; --overwrite always replaces
    j = phv.json("restore", "latest", "--into", other.dir,
                 "--passphrase-file", other.pw)
    assert j["restored"] == 0 and j["skipped"] == j["failed"] + j["skipped"]
    j = phv.json("restore", "latest", "records/README.txt", "--into",
                 other.dir, "--passphrase-file", other.pw, "--overwrite",
                 "always")
    assert j["restored"] == 1
    other.mount()
    verify_records(other.mnt / "records")


def test_plain_sample_records_round_trip(tmp_path, rgw, bucket):
    phv = s3_repo(tmp_path, rgw, bucket)
    sample_records(tmp_path / "src" / "records", patients=30, seed=4)
    j = phv.json("backup", tmp_path / "src")
    assert j["ok"] and j["packs_uploaded"] >= 1
    phv.run("restore", "latest", "--target", tmp_path / "out", check=0)
    verify_records(tmp_path / "out" / "records")
    assert tree_equal(str(tmp_path / "src"), str(tmp_path / "out"))


# ---- lost and partial data ----------------------------------------------

def test_pack_deleted_by_governance_bypass_uploaded_again(tmp_path, rgw,
                                                          bucket, tool):
    phv = s3_repo(tmp_path, rgw, bucket)
    src = tmp_path / "src"
    sample_records(src / "records")
    first = phv.json("backup", src)
    victim = packs(tool, bucket)[0]
    for v in versions(tool, bucket, victim):
        tool.ok("rm", bucket, victim, "--version", v["version"], "--bypass")
    second = phv.json("backup", src)
    assert second["dropped_packs"] == 1
    assert second["packs_uploaded"] >= 1 and second["bytes_new"] > 0
    out = tmp_path / "out"
    phv.run("restore", "latest", "--target", out, check=0)
    verify_records(out / "records")
    # the first snapshot still names the lost pack: check says damaged
    r = phv.run("check")
    assert r.returncode == 4 and first["snapshot"][:8] in r.out, r.out


def test_killed_backup_resumes_uploading_only_what_is_missing(
        tmp_path, rgw, bucket, tool):
    phv = s3_repo(tmp_path, rgw, bucket)
    src = tmp_path / "src"
    random_tree(src, 96)
    total = sum(f.stat().st_size for f in src.iterdir())
    p = phv.popen("backup", src, "--workers", "1")
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None:
        if len(packs(tool, bucket)) >= 2:
            break
        time.sleep(0.05)
    assert p.poll() is None, "backup finished before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not versions(tool, bucket, "repo/snapshots/")
    present = pack_bytes(tool, bucket)
    assert 0 < present < total
    j = phv.json("backup", src)
    assert j["ok"] and j["chunks_dedup"] > 0
    # only what was missing went up (random data: packs ~ plaintext)
    assert j["bytes_uploaded"] <= total - present + (2 << 20), \
        (j["bytes_uploaded"], total, present)
    assert j["bytes_uploaded"] >= total - present - (20 << 20)
    out = tmp_path / "out"
    phv.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))
    assert phv.run("check").returncode == 0


# ---- forget and prune ---------------------------------------------------

def test_forget_prune_policy(tmp_path, rgw, bucket, tool):
    phv = s3_repo(tmp_path, rgw, bucket, retention="15s")
    src = tmp_path / "src"
    sample_records(src / "records", patients=5)
    # sorted first and over a pack's worth: one pack holds only it
    (src / "gone.bin").write_bytes(os.urandom(18 << 20))
    old = phv.json("backup", src, "--retention-step", "0")
    (src / "gone.bin").unlink()
    (src / "keep.bin").write_bytes(os.urandom(3 << 20))
    mid = phv.json("backup", src, "--retention-step", "0")
    only_old = set(packs(tool, bucket))
    time.sleep(17)                      # old and mid are now unlocked
    new = phv.json("backup", src, "--retention-step", "0")
    newest = phv.json("backup", src, "--retention-step", "0")
    assert new["retention_extended"] > 0   # reused packs locked again

    # keep-last 1: old and mid go; new is outside the policy but locked
    r = phv.run("forget", "--keep-last", "1")
    assert r.returncode == 3, (r.out, r.err)
    assert "forget %s" % old["snapshot"][:8] in r.out
    assert "forget %s" % new["snapshot"][:8] in r.out
    assert "still locked: snapshots/%s until 20" % new["snapshot"] in r.out
    assert "keep   %s" % newest["snapshot"][:8] in r.out
    ids = {s["id"] for s in phv.json("snapshots")}
    assert ids == {new["snapshot"], newest["snapshot"]}
    # keep-daily 1 keeps one per day: newest only
    r = phv.run("forget", "--keep-daily", "1", "--dry-run", check=0)
    assert "keep   %s" % newest["snapshot"][:8] in r.out

    r = phv.run("prune")
    assert r.returncode in (0, 3), (r.out, r.err)
    deleted = [l.split()[1] for l in r.out.splitlines()
               if l.startswith("deleted ")]
    # the pack of gone.bin (only in old) is deleted; nothing newest needs
    assert deleted and all("repo/" + k in only_old for k in deleted)
    assert phv.run("check", "--read-data").returncode == 0
    out = tmp_path / "out"
    phv.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))
    assert mid["ok"]


# ---- the repository lock ------------------------------------------------

def test_repository_lock_blocks_second_run(tmp_path, rgw, bucket, tool):
    phv = s3_repo(tmp_path, rgw, bucket)
    src = tmp_path / "src"
    random_tree(src, 64)
    p = phv.popen("backup", src, "--workers", "1")
    deadline = time.time() + 30
    while time.time() < deadline and not versions(tool, bucket,
                                                   "repo/locks/"):
        time.sleep(0.05)
    r = phv.run("backup", src)
    f = phv.run("prune")
    assert p.wait(timeout=300) == 0
    assert r.returncode == 1 and "locked by 'backup'" in r.err, r.err
    assert f.returncode == 1 and "locked by 'backup'" in f.err, f.err
    # released afterwards
    assert phv.run("backup", src).returncode == 0


# ---- retention ----------------------------------------------------------

def test_retention_extended_to_each_snapshot(tmp_path, rgw, bucket, tool):
    phv = s3_repo(tmp_path, rgw, bucket)
    src = tmp_path / "src"
    sample_records(src / "records")
    first = phv.json("backup", src, "--retention-step", "0")
    time.sleep(2)
    second = phv.json("backup", src, "--retention-step", "0")
    assert second["retain_until"] > first["retain_until"]
    reused = packs(tool, bucket)
    # every reused pack and its index, plus config and the key slot
    assert second["retention_extended"] == 2 * len(reused) + 2, second
    for key in reused + [k.replace("/packs/", "/index/") for k in reused]:
        for v in versions(tool, bucket, key):
            h = tool.kv("head", bucket, key, "--version", v["version"])
            assert int(h["retain_until_epoch"]) >= second["retain_until"]

    # with the default step the next unchanged runs extend nothing
    time.sleep(1.1)
    third = phv.json("backup", src)
    assert third["retention_extended"] == 2 * len(reused) + 2, third
    fourth = phv.json("backup", src)
    assert fourth["retention_extended"] == 0, fourth
    assert fourth["retention_known"] == 2 * len(reused)
    for key in reused:
        v = versions(tool, bucket, key)[0]
        h = tool.kv("head", bucket, key, "--version", v["version"])
        assert int(h["retain_until_epoch"]) >= third["retain_until"]


# ---- the server goes away mid-run ---------------------------------------

@pytest.fixture
def own_rgw():
    """A private radosgw whose gateway this test may kill and restart."""
    if not shutil.which("radosgw"):
        pytest.skip("radosgw not installed")
    d = tempfile.mkdtemp(prefix="phv-rgw-own-")
    r = subprocess.run([RGW_START, d], capture_output=True, text=True,
                       timeout=240)
    if r.returncode:
        pytest.fail("rgw-start failed:\n" + r.stderr[-4000:])
    try:
        yield d, parse_env(r.stdout)
    finally:
        subprocess.run([RGW_STOP, d], timeout=60)
        shutil.rmtree(d, ignore_errors=True)


def test_server_stopped_mid_backup_keeps_earlier_snapshots(
        tmp_path, own_rgw, s3tool):
    from conftest import Tool
    d, env = own_rgw
    tool = Tool(s3tool, env)
    tool.ok("mb-lock", "phv-fail")
    phv = s3_repo(tmp_path, env, "phv-fail")
    src = tmp_path / "src"
    sample_records(src / "records")
    good = phv.json("backup", src)
    random_tree(src / "more", 80)
    pidfile = os.path.join(d, "run", "client.rgw.phv.pid")
    with open(pidfile) as f:
        pid = int(f.read())
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    p = phv.popen("backup", src, "--workers", "1")
    deadline = time.time() + 60
    while time.time() < deadline and len(packs(tool, "phv-fail")) < 2:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)        # the gateway dies mid-upload
    out, err = p.communicate(timeout=600)
    assert p.returncode == 1, (out, err)
    assert b"no snapshot written" in err
    subprocess.run(argv, check=True)    # same cluster, data kept
    deadline = time.time() + 90
    while time.time() < deadline:
        if tool.run("date").returncode == 0:
            break
        time.sleep(0.5)
    snaps = phv.json("snapshots")
    assert [s["id"] for s in snaps] == [good["snapshot"]]
    shutil.rmtree(src / "more")
    out = tmp_path / "out"
    phv.run("restore", good["snapshot"], "--target", out, check=0)
    verify_records(out / "records")
    assert phv.run("check", "--read-data").returncode == 0
