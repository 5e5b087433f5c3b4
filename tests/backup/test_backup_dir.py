# SPDX-License-Identifier: MIT
"""Backup and restore against a local-directory repository."""
import os
import shutil
import signal
import time

import pytest

from backup_util import FAST_ARGON, Phv, make_tree, tree_equal


@pytest.fixture
def env(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src))
    pw = tmp_path / "pass"
    pw.write_text("correct horse\n")
    phv = Phv(str(tmp_path / "repo"), pw)
    phv.run("repo", "init", "--argon2", FAST_ARGON, check=0)
    return phv, src, tmp_path


def test_round_trip_and_metadata(env):
    phv, src, tmp = env
    j = phv.json("backup", src)
    assert j["ok"] and j["files"] >= 22 and j["packs_uploaded"] >= 1
    out = tmp / "out"
    r = phv.run("restore", "latest", "--target", out, check=0)
    assert "0 failed" in r.out
    assert tree_equal(str(src), str(out))
    # the sparse file keeps its hole
    st = os.stat(out / "sparse.img")
    assert st.st_blocks * 512 < 1 << 20


def test_incremental_nothing_changed_uploads_nothing(env):
    phv, src, _ = env
    first = phv.json("backup", src)
    second = phv.json("backup", src)
    assert second["parent"] == first["snapshot"]
    assert second["packs_uploaded"] == 0
    assert second["bytes_new"] == 0 and second["bytes_read"] == 0
    assert second["files_unchanged"] == first["files"] - 1  # hard link


def test_dedup_after_change(env):
    phv, src, tmp = env
    phv.json("backup", src)
    with open(src / "patients" / "p005.txt", "a") as f:
        f.write("one more visit\n")
    j = phv.json("backup", src)
    assert j["bytes_read"] < 100_000 and j["chunks_new"] <= 2
    out = tmp / "out"
    phv.run("restore", j["snapshot"][:8], "--target", out, check=0)
    assert tree_equal(str(src), str(out))


def test_single_path_restore(env):
    phv, src, tmp = env
    phv.json("backup", src)
    j = phv.json("restore", "latest", "patients/p003.txt",
                 "--target", tmp / "one")
    assert j["restored"] == 1 and j["bytes_downloaded"] < 100_000
    assert (tmp / "one" / "patients" / "p003.txt").read_bytes() == \
        (src / "patients" / "p003.txt").read_bytes()
    assert not (tmp / "one" / "scan.bin").exists()


def test_wrong_passphrase_refused(env):
    phv, src, tmp = env
    bad = tmp / "bad"
    bad.write_text("wrong\n")
    r = phv.run("snapshots", env={"PHIVAULT_REPO_PASSPHRASE_FILE":
                                  str(bad)})
    assert r.returncode == 5
    assert "wrong repository passphrase" in r.err


def test_clock_skew_refused(env):
    phv, src, _ = env
    r = phv.run("backup", src, env={"PHIVAULT_TEST_CLOCK_OFFSET": "900",
                                     "PHIVAULT_TEST_HOOKS": "1"})
    assert r.returncode == 1
    assert "ahead of" in r.err


def test_pack_deleted_is_uploaded_again(env):
    phv, src, tmp = env
    phv.json("backup", src)
    packs = tmp / "repo" / "packs"
    victim = sorted(packs.iterdir())[0]
    victim.unlink()
    j = phv.json("backup", src)
    assert j["dropped_packs"] == 1 and j["packs_uploaded"] >= 1
    out = tmp / "out"
    r = phv.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))
    assert phv.run("check").returncode == 4   # the first one is damaged


def test_interrupted_backup_resumes(env):
    phv, src, tmp = env
    with open(src / "more.bin", "wb") as f:
        f.write(os.urandom(40 << 20))
    # slow the store so the kill lands mid-upload
    p = phv.popen("backup", src)
    phv.env["PHIVAULT_TEST_DIR_FAULTS"] = "delay-ms=0"
    deadline = time.time() + 30
    packs = tmp / "repo" / "packs"
    while time.time() < deadline:
        if packs.exists() and any(packs.iterdir()):
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (tmp / "repo" / "snapshots").exists() or \
        not any((tmp / "repo" / "snapshots").iterdir())
    before = len(list(packs.iterdir()))
    j = phv.json("backup", src)
    assert j["ok"]
    if before:
        assert j["bytes_new"] < (src / "more.bin").stat().st_size + 4e6
    out = tmp / "out"
    phv.run("restore", "latest", "--target", out, check=0)
    assert tree_equal(str(src), str(out))


def test_unreadable_file_partial(env, tmp_path):
    phv, src, _ = env
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    (src / "secret").write_text("x")
    os.chmod(src / "secret", 0)
    r = phv.run("backup", src)
    assert r.returncode == 3 and "secret" in r.err
