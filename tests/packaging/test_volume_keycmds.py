# SPDX-License-Identifier: MIT
"""
`phivault -V NAME` for the commands that take more than the cipherdir:
`key retire`, `shred` and `retention set|list|remove|apply`.  Each runs
through a profile in a private configuration directory
(PHIVAULT_CONFIG_DIR), never typing the cipherdir or an unlock option,
and must act on the volume the profile names.

Files are written through a real mount, so these tests need root,
/dev/fuse and fusermount3; the commands under test run unmounted.

Run: /usr/bin/python3 -m pytest tests/packaging/test_volume_keycmds.py
"""
import os
import shutil
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("PHIVAULT", os.path.join(ROOT, "phivault"))
ARGON = "1:8192:1"


def ismounted(path):
    real = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == real for line in f)


@pytest.fixture(scope="module", autouse=True)
def need_root_and_fuse(tmp_path_factory):
    """Skip without FUSE; run a private copy of the binary, as other work
    in the tree may relink ./phivault meanwhile."""
    global BIN
    if not os.access(BIN, os.X_OK):
        pytest.fail("no phivault binary at %s (run make)" % BIN)
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse") or \
            not shutil.which("fusermount3"):
        pytest.skip("needs root, /dev/fuse and fusermount3")
    copy = tmp_path_factory.mktemp("bin") / "phivault"
    shutil.copy2(BIN, copy)
    BIN = str(copy)


class Profile:
    """A volume 'ward' whose profile names its cipherdir, mount point and
    key file; a second, untouched volume 'other' sits next to it."""

    def __init__(self, base):
        self.base = base
        self.confdir = base / "etc"
        self.dir = base / "ward.enc"
        self.mnt = base / "ward"
        self.key = base / "ward.key"
        for d in (self.confdir, self.dir, self.mnt):
            d.mkdir()
        os.chmod(self.confdir, 0o755)
        self.key.write_bytes(os.urandom(32))
        os.chmod(self.key, 0o600)
        conf = self.confdir / "ward.conf"
        conf.write_text("cipherdir = %s\nmountpoint = %s\nkeyfile = %s\n"
                        % (self.dir, self.mnt, self.key))
        os.chmod(conf, 0o600)

    def pv(self, *args, check=None, env=None, stdin=subprocess.DEVNULL):
        """Run `phivault -V ward ARGS` with a clean environment."""
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("PHIVAULT_", "AWS_", "POSIXLY_"))}
        e["PHIVAULT_CONFIG_DIR"] = str(self.confdir)
        e.update(env or {})
        p = subprocess.run([BIN, "-V", "ward", *args], env=e,
                           stdin=stdin, capture_output=True, text=True,
                           timeout=120, cwd=str(self.base))
        if check is not None:
            assert p.returncode == check, (args, p.returncode, p.stdout,
                                           p.stderr)
        return p

    def mount(self):
        self.pv("mount", check=0)
        assert ismounted(self.mnt)

    def umount(self):
        for _ in range(50):
            if not ismounted(self.mnt):
                return
            subprocess.run(["fusermount3", "-u", str(self.mnt)],
                           capture_output=True)
            time.sleep(0.1)
        subprocess.run(["fusermount3", "-uz", str(self.mnt)])

    def write(self, files, age_days=0):
        self.mount()
        try:
            for name in files:
                p = self.mnt / name
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("record %s\n" % name)
                if age_days:
                    t = time.time() - age_days * 86400
                    os.utime(p, (t, t))
        finally:
            self.umount()

    def listing(self):
        self.mount()
        try:
            return sorted(os.path.relpath(os.path.join(d, f), self.mnt)
                          for d, _, fs in os.walk(self.mnt) for f in fs)
        finally:
            self.umount()


@pytest.fixture
def ward(tmp_path):
    w = Profile(tmp_path)
    w.pv("init", "--argon2", ARGON, check=0)
    yield w
    w.umount()


def test_key_retire_through_profile(ward):
    ward.write(["a", "b"])
    # CIPHERDIR and the key file come from the profile, VERSION is typed
    p = ward.pv("key", "retire", "1", check=1)
    assert "current one" in p.stderr
    ward.pv("key", "rotate", check=0)
    p = ward.pv("key", "retire", "1", check=1)
    assert "2 file(s) still use KEK version 1" in p.stderr
    assert "phivault key rewrap %s" % ward.dir in p.stderr
    ward.pv("key", "rewrap", check=0)
    out = ward.pv("key", "retire", "1", check=0).stdout
    assert "KEK version 1 destroyed" in out and str(ward.dir) in out
    info = ward.pv("info", check=0).stdout
    assert "kek 1" not in info and "kek 2" in info
    assert ward.listing() == ["a", "b"]


def test_key_retire_typed_cipherdir_is_a_usage_error(ward):
    # with -V the cipherdir is never typed: typing it is one operand too
    # many, refused before anything is touched
    ward.pv("key", "rotate", check=0)
    p = ward.pv("key", "retire", str(ward.dir), "1", check=2)
    assert "usage: phivault key retire" in p.stderr


def test_key_retire_command_line_unlock_wins(ward, tmp_path):
    # a typed unlock source replaces the profile's key file entirely
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(os.urandom(32))
    os.chmod(wrong, 0o600)
    ward.pv("key", "rotate", check=0)
    ward.pv("key", "retire", "--keyfile", str(wrong), "1", check=5)


def test_shred_through_profile(ward):
    ward.write(["keep", "gone/one", "gone/two", "also"])
    p = ward.pv("shred", "gone", check=2)
    assert "--yes" in p.stderr
    out = ward.pv("shred", "--dry-run", "gone", "also", check=0).stdout
    assert "would shred /gone/one" in out and "would shred /also" in out
    assert ward.listing() == ["also", "gone/one", "gone/two", "keep"]
    out = ward.pv("shred", "--yes", "gone", "/also", check=0).stdout
    assert "3 file(s) destroyed" in out and "0 failed" in out
    assert ward.listing() == ["keep"]


def test_shred_with_mountpoint_through_profile(ward):
    ward.write(["x", "y"])
    ward.mount()
    try:
        out = ward.pv("shred", "--yes", "--mountpoint", str(ward.mnt),
                      str(ward.mnt / "x"), check=0).stdout
        assert "1 file(s) destroyed" in out
        assert not (ward.mnt / "x").exists()
    finally:
        ward.umount()
    assert ward.listing() == ["y"]


def test_retention_through_profile(ward):
    ward.write(["old/a", "old/b", "new/c"], age_days=40)
    ward.write(["old/fresh"])
    ward.pv("retention", "set", "/old", "30d", check=0)
    ward.pv("retention", "set", "new", "90d", check=0)
    assert ward.pv("retention", "list", check=0).stdout == \
        "30d old\n90d new\n"
    out = ward.pv("retention", "apply", "--dry-run", check=0).stdout
    assert "would shred /old/a" in out and "would shred /old/b" in out
    assert "2 file(s) would be shredded" in out
    out = ward.pv("retention", "apply", check=0).stdout
    assert "2 file(s) shredded, 0 failed" in out
    assert ward.listing() == ["new/c", "old/fresh"]
    ward.pv("retention", "remove", "old", check=0)
    assert ward.pv("retention", "list", check=0).stdout == "90d new\n"
    p = ward.pv("retention", "remove", "old", check=1)
    assert "no rule" in p.stderr
    # typing the cipherdir with -V is one operand too many
    ward.pv("retention", "set", str(ward.dir), "old", "1d", check=2)
    assert ward.pv("retention", "list", check=0).stdout == "90d new\n"


def test_profile_without_cipherdir_names_the_file(ward):
    conf = ward.confdir / "ward.conf"
    conf.write_text("keyfile = %s\n" % ward.key)
    for args in (["key", "retire", "1"], ["shred", "--yes", "a"],
                 ["retention", "list"], ["retention", "apply"],
                 ["retention", "set", "a", "1d"],
                 ["retention", "remove", "a"]):
        p = ward.pv(*args, check=2)
        assert str(conf) in p.stderr and "'cipherdir'" in p.stderr, args


def test_posixly_correct_is_refused_not_misread(ward):
    # getopt would stop at the inserted cipherdir and take "--dry-run" for
    # a path to shred: refuse instead
    ward.write(["x"])
    p = ward.pv("shred", "--dry-run", "x", env={"POSIXLY_CORRECT": "1"},
                check=2)
    assert "POSIXLY_CORRECT" in p.stderr
    assert ward.listing() == ["x"]
    # commands whose cipherdir goes last are not affected
    ward.pv("retention", "list", env={"POSIXLY_CORRECT": "1"}, check=0)
