# SPDX-License-Identifier: MIT
"""The volume's config pins the installed policy: deleting the policy
file, or putting an older sealed one back, makes the next mount refuse;
`phivault policy remove` lifts the requirement on purpose, audited."""
import os
import shutil

import pytest

from fusehelp import PHIVAULT, run
from policyhelp import (as_user, can_list, install_policy, ok,  # noqa
                        policy_text, pvol, records, users, wait_for)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd)"),
]


def _mount(v):
    return run([PHIVAULT, "mount", "--passphrase-file", v.passfile,
                "--audit-log", v.audit, "--control-socket", v.sock,
                v.cipher, v.mnt], timeout=60)


def _policy(v):
    return os.path.join(v.cipher, ".phivault.policy")


def test_deleted_policy_refuses_mount(pvol, users):
    rd = users["reader"]
    chart = pvol.p("patients", "7", "chart")
    os.unlink(_policy(pvol))
    # the running mount keeps its policy and says so in the audit log
    assert wait_for(lambda: any(x["type"] == "policy-missing"
                                for x in records(pvol.audit)), 5.0)
    assert ok(as_user(rd, "cat", chart))
    assert not can_list(pvol.p("patients"))
    pvol.umount()
    r = _mount(pvol)
    assert r.returncode != 0
    assert not os.path.ismount(pvol.mnt)
    assert ".phivault.policy" in r.stderr and "missing" in r.stderr, \
        r.stderr
    assert "policy remove" in r.stderr, r.stderr
    last = records(pvol.audit)[-2:]
    assert any(x["type"] == "policy-load" and x["result"] == "error" and
               x.get("action") == "mount refused" for x in last)


def test_older_policy_put_back_is_refused(pvol, users, tmp_path):
    rd = users["reader"]
    vip = pvol.p("patients", "vip", "chart")
    old = str(tmp_path / "old.policy")
    shutil.copy2(_policy(pvol), old)
    assert not ok(as_user(rd, "cat", vip))
    # a newer policy lets the clinician read the VIP chart
    text = policy_text(users).replace("deny read /patients/vip/**", "")
    install_policy(pvol, text, tmp_path)
    assert wait_for(lambda: ok(as_user(rd, "cat", vip)), 5.0)
    # the older, genuinely sealed file put back in place
    shutil.copy2(old, _policy(pvol))
    assert wait_for(lambda: any(x["type"] == "policy-reload" and
                                x["result"] == "error"
                                for x in records(pvol.audit)[-3:]), 5.0)
    assert ok(as_user(rd, "cat", vip)), "the running mount rolled back"
    pvol.umount()
    r = _mount(pvol)
    assert r.returncode != 0, r.stdout
    assert "older" in r.stderr, r.stderr
    assert not os.path.ismount(pvol.mnt)


def test_policy_remove(pvol, users):
    pvol.umount()
    env = dict(os.environ, PHIVAULT_AUDIT_LOG=pvol.audit,
               PHIVAULT_SOCKET=pvol.sock)
    r = run([PHIVAULT, "policy", "remove", "--passphrase-file",
             pvol.passfile, pvol.cipher], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists(_policy(pvol))
    rec = records(pvol.audit)
    assert any(x["type"] == "policy-remove" for x in rec)
    r = run([PHIVAULT, "audit", "verify", "--volume", pvol.cipher,
             "--passphrase-file", pvol.passfile, pvol.audit])
    assert r.returncode == 0, r.stdout + r.stderr
    r = _mount(pvol)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: os.path.ismount(pvol.mnt), 5.0)
    assert can_list(pvol.p("patients")), "still enforcing a policy"


def test_policy_remove_then_stray_file_refused(pvol, users, tmp_path):
    saved = str(tmp_path / "saved.policy")
    shutil.copy2(_policy(pvol), saved)
    pvol.umount()
    r = run([PHIVAULT, "policy", "remove", "--passphrase-file",
             pvol.passfile, pvol.cipher],
            env=dict(os.environ, PHIVAULT_AUDIT_LOG=pvol.audit,
                     PHIVAULT_SOCKET=pvol.sock))
    assert r.returncode == 0, r.stderr
    shutil.copy2(saved, _policy(pvol))
    r = _mount(pvol)
    assert r.returncode != 0
    assert "policy remove" in r.stderr, r.stderr


def test_key_actions_are_audited(pvol, users):
    env = dict(os.environ, PHIVAULT_AUDIT_LOG=pvol.audit,
               PHIVAULT_SOCKET=pvol.sock)
    # mounted: the record goes through the mount's control socket
    r = run([PHIVAULT, "key", "rotate", "--passphrase-file", pvol.passfile,
             pvol.cipher], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    assert wait_for(lambda: any(x["type"] == "key-rotate"
                                for x in records(pvol.audit)), 5.0)
    # unmounted: appended to the log directly, chain intact
    pvol.umount()
    r = run([PHIVAULT, "key", "rotate", "--passphrase-file", pvol.passfile,
             pvol.cipher], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    rec = [x for x in records(pvol.audit) if x["type"] == "key-rotate"]
    assert len(rec) == 2 and rec[1].get("via") == "cli", rec
    r = run([PHIVAULT, "audit", "verify", "--volume", pvol.cipher,
             "--passphrase-file", pvol.passfile, pvol.audit])
    assert r.returncode == 0, r.stdout + r.stderr
