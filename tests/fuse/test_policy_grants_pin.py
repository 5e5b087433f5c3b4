# SPDX-License-Identifier: MIT
"""The volume's config records the grants file's generation: an older,
genuinely sealed grants file put back does not bring a revoked grant
back (the mount starts without grants and audits a grants-rollback
alert), and a mount recording grants while `phivault key add` rewrites
the same config from another process loses neither change (the config
lock, .phivault.conf.lock).  Fixtures: policyhelp.py.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from fusehelp import PHIVAULT, run
from policyhelp import (as_user, ok, pvol, records, users,  # noqa
                        wait_for)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd)"),
]


def cli(pw, vol, *args):
    return as_user(pw, PHIVAULT, args[0], "-S", vol.sock, *args[1:])


def _mount(v):
    return run([PHIVAULT, "mount", "--passphrase-file", v.passfile,
                "--audit-log", v.audit, "--control-socket", v.sock,
                "--alert-hook", v.hook, v.cipher, v.mnt], timeout=60)


def _grants(v):
    return os.path.join(v.cipher, ".phivault.grants")


def conf_gen(v):
    """The grants generation the volume's config records (0: none)."""
    with open(os.path.join(v.cipher, ".phivault.conf")) as f:
        m = re.search(r"^grants-generation (\d+)$", f.read(), re.M)
    return int(m.group(1)) if m else 0


def file_gen(v):
    """The generation the sealed grants file declares on its first body
    line (the line after the seal's header)."""
    with open(_grants(v)) as f:
        f.readline()
        m = re.match(r"generation (\d+)$", f.readline().rstrip("\n"))
    return int(m.group(1)) if m else 0


def grant(adm, bob, v, ticket):
    r = cli(adm, v, "grant", bob.pw_name, "clinician", "/patients/7",
            "--for", "1h", "--ticket", ticket, "--reason", "consult")
    assert ok(r), r.stdout + r.stderr
    return r.stdout.split()[0]


def test_older_grants_file_put_back(pvol, users, tmp_path):
    adm, bob = users["admin"], users["nobody"]
    chart = pvol.p("patients", "7", "chart")
    gid = grant(adm, bob, pvol, "T-1")
    assert ok(as_user(bob, "cat", chart))
    assert file_gen(pvol) == conf_gen(pvol) >= 1
    old = str(tmp_path / "grants.old")
    shutil.copy2(_grants(pvol), old)
    assert ok(cli(adm, pvol, "revoke", gid))
    assert not ok(as_user(bob, "cat", chart))
    assert file_gen(pvol) == conf_gen(pvol) == file_gen_of(old) + 1

    # the older, genuinely sealed file put back, then a remount
    shutil.copy2(old, _grants(pvol))
    pvol.umount()
    r = _mount(pvol)
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_for(lambda: os.path.ismount(pvol.mnt), 10.0)
    assert "older" in r.stderr and "phivault grant" in r.stderr, r.stderr
    assert not ok(as_user(bob, "cat", chart)), "the revoked grant is live"
    assert gid not in cli(adm, pvol, "grants").stdout
    recs = records(pvol.audit)
    bad = [x for x in recs if x["type"] == "grants-rollback"]
    assert len(bad) == 1, bad
    assert bad[0]["path"] == _grants(pvol)
    assert bad[0]["generation"] == file_gen_of(old)
    assert bad[0]["expected"] == conf_gen(pvol)
    assert bad[0]["level"] == "alert"
    # tampering with the backing directory reaches the alert hook too
    assert wait_for(lambda: os.path.exists(pvol.hook_out) and
                    "grants-rollback" in open(pvol.hook_out).read(), 5.0)

    # granting again works, and survives a remount without any alarm
    gid2 = grant(adm, bob, pvol, "T-2")
    assert file_gen(pvol) == conf_gen(pvol)
    pvol.umount()
    r = _mount(pvol)
    assert r.returncode == 0 and "phivault grant" not in r.stderr, r.stderr
    assert ok(as_user(bob, "cat", chart))
    assert gid2 in cli(adm, pvol, "grants").stdout
    assert sum(x["type"] == "grants-rollback"
               for x in records(pvol.audit)) == 1


def file_gen_of(path):
    with open(path) as f:
        f.readline()
        return int(f.readline().split()[1])


def test_missing_grants_file(pvol, users):
    adm, bob = users["admin"], users["nobody"]
    grant(adm, bob, pvol, "T-3")
    pvol.umount()
    os.unlink(_grants(pvol))
    r = _mount(pvol)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "missing" in r.stderr, r.stderr
    assert not ok(as_user(bob, "cat", pvol.p("patients", "7", "chart")))
    assert any(x["type"] == "grants-missing" and
               x["path"] == _grants(pvol) for x in records(pvol.audit))


KEY_ADDS = 3


def test_key_add_while_granting_loses_nothing(pvol, users, tmp_path):
    """`key add` (an Argon2id seal of about a second between reading and
    rewriting the config) runs while the mount records grants in the same
    config: every slot and the last generation must be there."""
    adm, bob = users["admin"], users["nobody"]
    newpass = tmp_path / "newpass"
    newpass.write_text("another passphrase for the race\n")
    os.chmod(str(newpass), 0o600)
    before = _slots(pvol)
    loop = subprocess.Popen(
        ["sh", "-c", 'for i in $(seq %d); do "$0" key add '
         '--passphrase-file "$1" --new-passphrase-file "$2" "$3" || '
         'exit 1; done' % KEY_ADDS, PHIVAULT, pvol.passfile, str(newpass),
         pvol.cipher], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    saves = 0
    try:
        # grant and revoke while the adds run; stop before the last one
        # ends, so that an add that ignored the lock would write last
        end = time.monotonic() + 60
        while time.monotonic() < end and \
                len(_slots(pvol)) < len(before) + KEY_ADDS - 1:
            gid = grant(adm, bob, pvol, "T-%d" % saves)
            assert ok(cli(adm, pvol, "revoke", gid))
            saves += 2
    finally:
        out, err = loop.communicate(timeout=120)
    assert loop.returncode == 0, out + err
    assert saves >= 2
    slots = _slots(pvol)
    assert len(slots) == len(before) + KEY_ADDS, slots
    assert conf_gen(pvol) == file_gen(pvol), \
        "the config lost the mount's grants generation"
    pvol.umount()
    r = _mount(pvol)
    assert r.returncode == 0 and "phivault grant" not in r.stderr, r.stderr
    assert not any(x["type"] in ("grants-rollback", "grants-missing")
                   for x in records(pvol.audit))
    pvol.umount()
    r = run([PHIVAULT, "fsck", "--passphrase-file", pvol.passfile,
             pvol.cipher])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DAMAGED" not in r.stdout
    lock = os.path.join(pvol.cipher, ".phivault.conf.lock")
    assert oct(os.stat(lock).st_mode & 0o777) == "0o600"


def _slots(v):
    with open(os.path.join(v.cipher, ".phivault.conf")) as f:
        return [x for x in f.read().splitlines() if x.startswith("slot ")]
