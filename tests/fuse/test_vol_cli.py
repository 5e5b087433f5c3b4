# SPDX-License-Identifier: MIT
"""The volume commands' refusals and messages (red-team findings F17, F27,
F19, F4): mounts never stack, a dead mount says how to clear it, weak or
exposed passphrases get a warning, and a missing passphrase says which
one is missing and how to supply it."""
import os

from fusehelp import PASSPHRASE, PHIVAULT, Volume, in_mount_table, run, \
    unmount, wait_mounted


def mounts_at(path):
    """How many mounts the table has at path (stacked ones count)."""
    real = os.path.realpath(path)
    n = 0
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if line.split()[4].replace("\\040", " ") == real:
                n += 1
    return n


def mount(v, cipher, mnt, passfile=None):
    return run([PHIVAULT, "mount", "--passphrase-file",
                passfile or v.passfile, cipher, mnt], timeout=60)


def detached(args, env):
    """Run without a controlling terminal, so nothing can be prompted."""
    return run(args, env=env, start_new_session=True)


def test_mount_refuses_a_mount_point_already_mounted(vol, tmp_path):
    os.mkdir(str(tmp_path / "other"))
    other = Volume(str(tmp_path / "other"))
    try:
        other.init()
        for cipher, passfile in ((vol.cipher, vol.passfile),
                                 (other.cipher, other.passfile)):
            r = mount(vol, cipher, vol.mnt, passfile)
            assert r.returncode == 1, r.stderr
            assert "already a mount point" in r.stderr
            assert mounts_at(vol.mnt) == 1
        with open(vol.p("still-first"), "w") as f:
            f.write("x")
    finally:
        other.cleanup()


def test_mount_refuses_a_cipherdir_another_daemon_serves(vol, tmp_path):
    second = str(tmp_path / "second")
    os.mkdir(second)
    try:
        r = mount(vol, vol.cipher, second)
        assert r.returncode == 1, r.stderr
        assert "another phivault daemon serves it" in r.stderr
        assert not in_mount_table(second)
        # the lock goes with the daemon: after unmounting, it mounts
        vol.umount()
        r = mount(vol, vol.cipher, second)
        assert r.returncode == 0, r.stderr
        assert wait_mounted(second)
    finally:
        unmount(second)


def test_mount_on_a_dead_mount_names_fusermount(vol):
    with open(vol.p("kept"), "w") as f:
        f.write("before the kill")
    assert vol.kill_daemon() == 1
    for arg in (vol.mnt, vol.mnt + "/"):
        r = mount(vol, vol.cipher, arg)
        assert r.returncode == 1, r.stderr
        assert "dead phivault mount" in r.stderr
        assert "fusermount3 -u %s" % arg in r.stderr
    assert run(["fusermount3", "-u", vol.mnt]).returncode == 0
    vol.mount()
    with open(vol.p("kept")) as f:
        assert f.read() == "before the kill"


def test_fsck_of_a_mounted_volume_warns(vol):
    r = run([PHIVAULT, "fsck", "--passphrase-file", vol.passfile,
             vol.cipher])
    assert r.returncode == 0, r.stderr
    assert "is mounted" in r.stderr
    vol.umount()
    r = run([PHIVAULT, "fsck", "--passphrase-file", vol.passfile,
             vol.cipher])
    assert r.returncode == 0, r.stderr
    assert "is mounted" not in r.stderr


def test_passphrase_file_readable_by_others_warns(new_volume):
    v = new_volume
    r = run([PHIVAULT, "fsck", "--passphrase-file", v.passfile, v.cipher])
    assert r.returncode == 0 and "readable" not in r.stderr, r.stderr
    os.chmod(v.passfile, 0o644)
    r = run([PHIVAULT, "fsck", "--passphrase-file", v.passfile, v.cipher])
    assert r.returncode == 0, r.stderr
    assert "'%s' is readable by group or others" % v.passfile in r.stderr
    assert "chmod 600 %s" % v.passfile in r.stderr


def test_init_warns_about_a_short_passphrase_and_refuses_an_empty_one(bare):
    short = os.path.join(bare.base, "short")
    with open(short, "w") as f:
        f.write("abc\n")
    os.chmod(short, 0o600)
    r = run([PHIVAULT, "init", "--argon2", "1:8192:1", "--passphrase-file",
             short, bare.cipher])
    assert r.returncode == 0, r.stderr
    assert "only 3 characters" in r.stderr

    ok = os.path.join(bare.base, "c2")
    os.mkdir(ok)
    r = run([PHIVAULT, "init", "--argon2", "1:8192:1", "--passphrase-file",
             bare.passfile, ok])
    assert r.returncode == 0 and "characters" not in r.stderr, r.stderr
    assert len(PASSPHRASE) >= 12

    empty = os.path.join(bare.base, "empty")
    open(empty, "w").close()
    os.chmod(empty, 0o600)
    c3 = os.path.join(bare.base, "c3")
    os.mkdir(c3)
    r = run([PHIVAULT, "init", "--argon2", "1:8192:1", "--passphrase-file",
             empty, c3])
    assert r.returncode != 0
    assert "is empty" in r.stderr
    assert os.listdir(c3) == []


def test_missing_passphrase_names_the_secret_and_its_options(new_volume):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PHIVAULT_")}
    r = detached([PHIVAULT, "fsck", new_volume.cipher], env)
    assert r.returncode != 0
    assert "volume passphrase" in r.stderr
    assert "PHIVAULT_PASSPHRASE_FILE" in r.stderr

    env["PHIVAULT_REPOSITORY"] = os.path.join(new_volume.base, "repo")
    r = detached([PHIVAULT, "repo", "init"], env)
    assert r.returncode != 0
    assert "repository passphrase" in r.stderr, r.stderr
    assert "--repo-passphrase-file" in r.stderr
    assert "PHIVAULT_REPO_PASSPHRASE_FILE" in r.stderr
    assert "volume passphrase" not in r.stderr
