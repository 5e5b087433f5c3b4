# SPDX-License-Identifier: MIT
"""Records of the CLI's key actions on a volume with a policy
(tools/cliaudit.h, docs/AUDIT.md "Records of the CLI's offline
actions"): they go to the mount's own log, wherever it is, or nowhere,
and the CLI never starts a log of its own.

The mount (fixture pvol, policyhelp.py) keeps its log and socket in the
test's directory, not at the defaults; the CLI runs with a volume name
of its own, so that the defaults it would use (/var/log/phivault/
NAME.audit.jsonl, /run/phivault/NAME.sock) are fresh paths.
"""
import glob
import os
import uuid

import pytest

from fusehelp import PHIVAULT, run
from policyhelp import pvol, records, users, wait_for  # noqa

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd)"),
]

MOUNT_FILE = ".phivault.mount"


@pytest.fixture
def cli_env():
    """An environment with no PHIVAULT_* but a fresh volume name; the
    default log it implies is removed after the test if it appeared."""
    name = "phvcli" + uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PHIVAULT_")}
    env["PHIVAULT_VOLUME_NAME"] = name
    default_log = "/var/log/phivault/%s.audit.jsonl" % name
    yield env, default_log
    for p in glob.glob(default_log + "*"):
        os.unlink(p)


def key_add(vol, env):
    return run([PHIVAULT, "key", "add", "--passphrase-file", vol.passfile,
                "--new-passphrase-file", vol.passfile, "--label", "cli",
                vol.cipher], env=env)


def verify(vol):
    return run([PHIVAULT, "audit", "verify", "--volume", vol.cipher,
                "--passphrase-file", vol.passfile, vol.audit])


def test_mount_elsewhere_gets_the_record(pvol, users, cli_env):
    env, default_log = cli_env
    r = key_add(pvol, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    assert not os.path.exists(default_log), "the CLI started a second log"
    # written by the mount, into its log, through its socket
    assert wait_for(lambda: any(x["type"] == "key-add" and
                                x.get("via") != "cli"
                                for x in records(pvol.audit)), 5.0)
    # the mount said where it is, in a file only it and root can read
    st = os.stat(os.path.join(pvol.cipher, MOUNT_FILE))
    assert st.st_mode & 0o777 == 0o600
    pvol.umount()
    assert not os.path.exists(os.path.join(pvol.cipher, MOUNT_FILE))
    r = verify(pvol)
    assert r.returncode == 0, r.stdout + r.stderr


def test_unreachable_mount_gets_no_record_and_a_warning(pvol, users,
                                                        cli_env):
    env, default_log = cli_env
    # as a mount that published nothing (or whose file was removed)
    if os.path.exists(os.path.join(pvol.cipher, MOUNT_FILE)):
        os.unlink(os.path.join(pvol.cipher, MOUNT_FILE))
    before = len(records(pvol.audit))
    r = key_add(pvol, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "NOT written" in r.stderr and "PHIVAULT_SOCKET" in r.stderr, \
        r.stderr
    assert "keys matter more" in r.stderr, r.stderr
    assert not os.path.exists(default_log)
    # the key was added all the same
    r = run([PHIVAULT, "key", "list", pvol.cipher])
    assert r.returncode == 0 and "cli" in r.stdout, r.stdout + r.stderr
    assert not any(x["type"] == "key-add"
                   for x in records(pvol.audit)[before:])
    pvol.umount()
    r = verify(pvol)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_never_creates_a_log(pvol, users, cli_env, tmp_path):
    env, default_log = cli_env
    pvol.umount()
    # unmounted, with a policy, and no log where the CLI would write
    r = key_add(pvol, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not written" in r.stderr and default_log in r.stderr, r.stderr
    assert not os.path.exists(default_log)
    elsewhere = str(tmp_path / "nolog" / "x.jsonl")
    r = run([PHIVAULT, "key", "rotate", "--passphrase-file", pvol.passfile,
             pvol.cipher], env=dict(env, PHIVAULT_AUDIT_LOG=elsewhere))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not written" in r.stderr and elsewhere in r.stderr, r.stderr
    assert not os.path.exists(elsewhere)
    # the real log, named, still takes the record directly
    r = run([PHIVAULT, "key", "rotate", "--passphrase-file", pvol.passfile,
             pvol.cipher], env=dict(env, PHIVAULT_AUDIT_LOG=pvol.audit))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    rec = [x for x in records(pvol.audit) if x["type"] == "key-rotate"]
    assert len(rec) == 1 and rec[0].get("via") == "cli", rec
    r = verify(pvol)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stale_mount_file_is_ignored(pvol, users, cli_env):
    env, default_log = cli_env
    info = os.path.join(pvol.cipher, MOUNT_FILE)
    with open(info, "rb") as f:
        saved = f.read()
    pvol.umount()
    # left behind by a daemon that died: no lock, so not mounted
    with open(info, "wb") as f:
        f.write(saved)
    os.chmod(info, 0o600)
    r = run([PHIVAULT, "key", "rotate", "--passphrase-file", pvol.passfile,
             pvol.cipher], env=dict(env, PHIVAULT_AUDIT_LOG=pvol.audit))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    assert any(x["type"] == "key-rotate" and x.get("via") == "cli"
               for x in records(pvol.audit))
    assert verify(pvol).returncode == 0
