# SPDX-License-Identifier: MIT
"""The repository commands as a user meets them (red-team findings).

Which snapshot "latest" means when the repository holds several
sources, options a command does not take, names that only just fit,
damaged newest snapshots, targets inside a volume, a full disk, partial
restores, leftovers of interrupted restores, control characters in
names, bad option values and repository URLs, a server that stops
answering, and wrong S3 credentials.  Mostly on a local-directory
repository; the last two use radosgw (conftest.py) or a loopback socket.
"""
import os
import socket
import subprocess
import threading
import time

import pytest

from backup_util import FAST_ARGON, PHIVAULT, Phv, make_tree, tree_equal
from conftest import clean_env


@pytest.fixture
def env(tmp_path):
    pw = tmp_path / "pass"
    pw.write_text("correct horse battery\n")
    pw.chmod(0o600)
    phv = Phv(str(tmp_path / "repo"), pw)
    phv.run("repo", "init", "--argon2", FAST_ARGON, check=0)
    return phv, tmp_path


def tree(d, files):
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(data)
    return d


def new_volume(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    pw = tmp_path / (name + ".pass")
    pw.write_text("volume passphrase " + name + "\n")
    pw.chmod(0o600)
    r = subprocess.run([PHIVAULT, "init", "--passphrase-file", str(pw),
                        str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return d, pw


# ---- F10: "latest" is per source ------------------------------------------

def test_latest_refuses_when_several_sources(env):
    phv, tmp = env
    a = tree(tmp / "a", {"only-in-a.txt": "a\n"})
    b = tree(tmp / "b", {"only-in-b.txt": "b\n"})
    phv.json("backup", a)
    phv.json("backup", b)
    r = phv.run("restore", "latest", "--target", tmp / "r0")
    assert r.returncode == 2, r.err
    assert "--source" in r.err and str(a) in r.err and str(b) in r.err
    assert not (tmp / "r0").exists()
    # a time spec is scoped the same way
    r = phv.run("restore", "2100-01-01 00:00", "--target", tmp / "r0")
    assert r.returncode == 2 and "--source" in r.err
    # naming the source picks that source's newest snapshot
    phv.run("restore", "latest", "--source", a, "--target", tmp / "ra",
            check=0)
    assert os.listdir(tmp / "ra") == ["only-in-a.txt"]
    phv.run("restore", "latest", "--source", str(b) + "/", "--host",
            os.uname().nodename, "--target", tmp / "rb", check=0)
    assert os.listdir(tmp / "rb") == ["only-in-b.txt"]
    r = phv.run("restore", "latest", "--source", a, "--host", "elsewhere",
                "--target", tmp / "rc")
    assert r.returncode == 1 and "no snapshot" in r.err


def test_snapshots_show_and_filter_source(env):
    phv, tmp = env
    a = tree(tmp / "a", {"f": "1\n"})
    b = tree(tmp / "b", {"g": "2\n"})
    phv.json("backup", a)
    phv.json("backup", b)
    r = phv.run("snapshots", check=0)
    assert "source " + str(a) in r.out and "source " + str(b) in r.out
    assert "host " + os.uname().nodename in r.out
    only = phv.json("snapshots", "--source", b)
    assert [s["source"] for s in only] == [str(b)]
    assert phv.json("snapshots", "--host", "nobody") == []


def test_restore_into_volume_takes_that_volumes_snapshots(env):
    phv, tmp = env
    vol, vpw = new_volume(tmp, "ward1")
    other = tree(tmp / "other", {"other-ward.txt": "not yours\n"})
    phv.json("backup", vol, env={"PHIVAULT_PASSPHRASE_FILE": str(vpw)})
    phv.json("backup", other)          # newer, another source
    # into the backed-up volume: its own snapshot, though older
    r = phv.run("restore", "latest", "--into", vol, "--passphrase-file",
                vpw, "--json", check=0)
    assert '"restored":0' in r.out
    # into a new volume: nothing tells which source; refuse
    fresh, fpw = new_volume(tmp, "ward2")
    r = phv.run("restore", "latest", "--into", fresh, "--passphrase-file",
                fpw)
    assert r.returncode == 2, r.err
    assert str(vol) in r.err and str(other) in r.err


def test_backup_parent_is_the_same_source(env):
    phv, tmp = env
    a = tree(tmp / "a", {"f": "1\n"})
    b = tree(tmp / "b", {"g": "2\n"})
    first = phv.json("backup", a)
    phv.json("backup", b)
    again = phv.json("backup", a)
    assert again["parent"] == first["snapshot"]


# ---- F6, F8, F9: options ---------------------------------------------------

def test_options_a_command_does_not_take_are_refused(env):
    phv, tmp = env
    src = tree(tmp / "src", {"f": "x" * 100})
    phv.json("backup", src)
    before = sorted(os.listdir(tmp / "repo" / "snapshots"))
    r = phv.run("backup", "--dry-run", src)
    assert r.returncode == 2 and "dry-run" in r.err
    assert sorted(os.listdir(tmp / "repo" / "snapshots")) == before
    packs = sorted(os.listdir(tmp / "repo" / "packs"))
    r = phv.run("prune", "--dry-run")
    assert r.returncode == 2 and "dry-run" in r.err
    assert sorted(os.listdir(tmp / "repo" / "packs")) == packs
    for args in (("snapshots", "--target", tmp / "x"),
                 ("prune", "--keep-last", "1"),
                 ("check", "--overwrite", "always"),
                 ("restore", "latest", "--target", tmp / "r",
                  "--retention", "1y"),
                 ("forget", "--read-data")):
        r = phv.run(*args)
        assert r.returncode == 2, (args, r.err)
    # forget --dry-run is a real dry run
    phv.json("backup", src)
    r = phv.run("forget", "--keep-last", "1", "--dry-run", check=0)
    assert len(os.listdir(tmp / "repo" / "snapshots")) == 2


def test_bad_values_are_usage_errors_before_writing(env):
    phv, tmp = env
    src = tree(tmp / "src", {"f": "1\n"})
    for args, opt in ((("backup", "--workers", "-3", src), "--workers"),
                      (("backup", "--workers", "100000", src), "--workers"),
                      (("forget", "--keep-last", "x"), "--keep-last"),
                      (("restore", "latest", "--target", tmp / "r",
                        "--overwrite", "bogus"), "--overwrite")):
        r = phv.run(*args)
        assert r.returncode == 2 and opt in r.err, (args, r.err)
    for ret in ("0", "100y", "1000y", "-5d", "abc"):
        repo = tmp / ("repo-" + ret)
        r = phv.run("repo", "init", "--repo", repo, "--retention", ret)
        assert r.returncode == 2 and "--retention" in r.err, (ret, r.err)
        assert not repo.exists()
    r = phv.run("repo", "init", "--repo", tmp / "lm", "--lock-mode", "foo")
    assert r.returncode == 2 and "--lock-mode" in r.err


def test_repository_urls_are_checked(tmp_path):
    pw = tmp_path / "p"
    pw.write_text("x" * 20)
    phv = Phv("s3://unused", pw, env=clean_env({
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s"}))
    for url, what in (("s3://Bad_Bucket/x", "bucket name"),
                      ("s3://ab/x", "bucket name"),
                      ("s3://rt1/phi/../evil", "'..'"),
                      ("s3://rt1/phi//x", "empty"),
                      ("s3://rt1/./x", "'.'")):
        r = phv.run("repo", "init", "--repo", url, timeout=30)
        assert r.returncode == 1 and what in r.err, (url, r.err)


def test_missing_repository_passphrase_says_which(env):
    phv, tmp = env
    e = dict(phv.env)
    del e["PHIVAULT_REPO_PASSPHRASE_FILE"]
    r = subprocess.run([PHIVAULT, "snapshots"], env=e, capture_output=True,
                       text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "repository passphrase" in r.stderr
    assert "--repo-passphrase-file" in r.stderr
    assert "PHIVAULT_REPO_PASSPHRASE_FILE" in r.stderr


# ---- F5: messages that name what is wrong ----------------------------------

def test_restore_messages_name_the_problem(env):
    phv, tmp = env
    src = tree(tmp / "src", {"a/record.txt": "r\n"})
    phv.json("backup", src)
    for spec in ("2026-13-45 99:99", "2026-02-30 10:00", "now"):
        r = phv.run("restore", spec, "--target", tmp / "r")
        assert r.returncode == 2 and "valid time" in r.err, (spec, r.err)
    r = phv.run("restore", "latest", "--target", tmp / "missing" / "r")
    assert r.returncode == 1 and str(tmp / "missing") in r.err
    r = phv.run("restore", "latest", "nonexistent/path", "--target",
                tmp / "r3")
    assert r.returncode == 1 and "nonexistent/path" in r.err
    assert not (tmp / "r3").exists()
    r = phv.run("restore", "2000-01-01", "--target", tmp / "r4")
    assert r.returncode == 1 and "at or before 2000-01-01" in r.err


# ---- F1, F18: temporary names ----------------------------------------------

def test_names_up_to_255_bytes_restore(env):
    phv, tmp = env
    src = tmp / "src"
    src.mkdir()
    names = ["M" * 255, "\u00e9" * 127, "d" * 200]
    for n in names:
        (src / n).write_text("long name " + n[:3] + "\n")
    phv.json("backup", src)
    out = tmp / "out"
    r = phv.run("restore", "latest", "--target", out, check=0)
    assert "0 failed" in r.out
    assert tree_equal(str(src), str(out))
    assert not [n for n in os.listdir(out) if "phv-restore" in n]


def test_leftovers_of_an_interrupted_restore_are_removed(env):
    phv, tmp = env
    src = tree(tmp / "src", {"patients/p1.txt": "1\n"})
    phv.json("backup", src)
    out = tmp / "out"
    (out / "patients").mkdir(parents=True)
    dead = 4194303   # above the default pid_max: no such process
    stale = [out / "patients" / (".phv-restore.%d.3" % dead),
             out / (".p1.txt.phv-restore.%d.7" % dead)]
    for p in stale:
        p.write_text("plaintext left behind\n")
    mine = out / "patients" / ".phv-restore.1.0"    # pid 1 is alive
    mine.write_text("not ours to judge\n")
    r = phv.run("restore", "latest", "--target", out, check=0)
    assert "removed 2 temporary files" in r.err
    assert not any(p.exists() for p in stale) and mine.exists()


# ---- F15, F16 ----------------------------------------------------------------

def test_damaged_newest_snapshot_is_not_skipped(env):
    phv, tmp = env
    src = tree(tmp / "src", {"f": "v1\n"})
    first = phv.json("backup", src)
    (src / "f").write_text("v2\n")
    second = phv.json("backup", src)
    p = tmp / "repo" / "snapshots" / second["snapshot"]
    data = bytearray(p.read_bytes())
    data[50] ^= 0xff
    p.chmod(0o600)
    p.write_bytes(bytes(data))
    r = phv.run("restore", "latest", "--target", tmp / "r")
    assert r.returncode == 4, r.err
    assert second["snapshot"][:8] in r.err and first["snapshot"][:8] in r.err
    assert not (tmp / "r").exists()
    # by its ID the older one restores, however the ID was typed
    phv.run("restore", first["snapshot"][:8].upper(), "--target",
            tmp / "r", check=0)
    assert (tmp / "r" / "f").read_text() == "v1\n"


def test_target_inside_a_volume_is_refused(env):
    phv, tmp = env
    src = tree(tmp / "src", {"a/record.txt": "phi\n"})
    phv.json("backup", src)
    vol, _ = new_volume(tmp, "cipher")
    for target in (vol, vol / "plain", vol / "deep" / "er"):
        r = phv.run("restore", "latest", "--target", target)
        assert r.returncode == 1 and "--into" in r.err, r.err
    assert not (vol / "plain").exists()


# ---- F2, F23, F24: failures ------------------------------------------------

def test_partial_restore_lists_failures_escaped(env):
    phv, tmp = env
    evil = "evil\nsnapshot 00000000: all OK\r\x1b[2J"
    src = tree(tmp / "src", {"good.txt": "g\n", "bad.txt": "b\n",
                             evil: "e\n"})
    phv.json("backup", src)
    out = tmp / "out"
    (out / "bad.txt").mkdir(parents=True)
    (out / evil).mkdir()
    r = phv.run("restore", "latest", "--target", out, "--overwrite",
                "always")
    assert r.returncode == 3, (r.out, r.err)
    assert "failed: bad.txt: " in r.err
    assert "evil\\nsnapshot 00000000: all OK\\r\\x1b[2J" in r.err
    assert "\x1b" not in r.err and "\r" not in r.err
    assert (out / "good.txt").read_text() == "g\n"


def test_full_target_is_reported_as_such(env):
    phv, tmp = env
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    src = tmp / "src"
    src.mkdir()
    for i in range(6):
        (src / ("big%d" % i)).write_bytes(os.urandom(1 << 20))
    phv.json("backup", src)
    small = tmp / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                    str(small)], check=True)
    try:
        r = phv.run("restore", "latest", "--target", small / "r",
                    "--json")
        assert r.returncode in (1, 3), r.err
        assert "No space left on device" in r.err
        assert "restore target %s" % (small / "r") in r.err
        assert "chunk" not in r.out and "Input/output" not in r.out
    finally:
        subprocess.run(["umount", str(small)])


# ---- F21: a server that stops answering --------------------------------------

def frozen_server():
    """Accepts connections on loopback and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    held = []

    def run():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            held.append(c)
    threading.Thread(target=run, daemon=True).start()
    return s, held


def test_hung_server_fails_in_bounded_time_with_warnings(tmp_path):
    s, held = frozen_server()
    pw = tmp_path / "p"
    pw.write_text("x" * 20)
    port = s.getsockname()[1]
    phv = Phv("s3://frozen/repo", pw, env=clean_env({
        "AWS_ENDPOINT_URL": "http://127.0.0.1:%d" % port,
        "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
        "PHIVAULT_S3_TIMEOUT": "1"}))
    t0 = time.time()
    try:
        r = phv.run("snapshots", timeout=60)
    finally:
        s.close()
        for c in held:
            c.close()
    assert time.time() - t0 < 30
    assert r.returncode != 0
    assert "retrying" in r.err and "(attempt 2/5)" in r.err, r.err
    assert "no answer for 1s" in r.err


# ---- F3: credentials against radosgw -----------------------------------------

def test_wrong_s3_credentials_are_not_a_wrong_passphrase(tmp_path, rgw,
                                                         bucket):
    pw = tmp_path / "p"
    pw.write_text("repository passphrase\n")
    pw.chmod(0o600)
    phv = Phv("s3://%s/repo" % bucket, pw, env=clean_env(rgw))
    phv.run("repo", "init", "--argon2", FAST_ARGON, "--retention", "1d",
            check=0)
    for var, val, code in (("AWS_SECRET_ACCESS_KEY", "bad",
                            "SignatureDoesNotMatch"),
                           ("AWS_ACCESS_KEY_ID", "NOPE",
                            "InvalidAccessKeyId")):
        r = phv.run("snapshots", env={var: val})
        assert r.returncode == 6, r.err
        assert code in r.err and "AWS_SECRET_ACCESS_KEY" in r.err
        assert "passphrase" not in r.err.replace(
            "repository passphrase was not tried", "")
    wrong = tmp_path / "p2"
    wrong.write_text("not the passphrase\n")
    wrong.chmod(0o600)
    r = phv.run("snapshots", env={"PHIVAULT_REPO_PASSPHRASE_FILE":
                                  str(wrong)})
    assert r.returncode == 5 and "wrong repository passphrase" in r.err
