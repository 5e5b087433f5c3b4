# SPDX-License-Identifier: MIT
"""Access policy on a real shared mount, exercised by real local users.

Skipped until the mount enforces the policy.  What these tests expect of
`phivault mount` (for the fs/ side):

  * `--policy` turns enforcement on (listed in `phivault mount --help`),
    or the environment variable PHIVAULT_POLICY_MOUNT=1 says it is on;
  * `--audit-log PATH` chooses the audit log, `--control-socket PATH` the
    grant socket (defaults /var/log/phivault/<volume>.audit.jsonl and
    /run/phivault/<volume>.sock);
  * as root the mount is allow_other, so other users reach it.

Users are created with useradd for the test and removed after it; every
operation runs as them through `setpriv --reuid/--regid --init-groups`.
"""
import os
import pwd
import subprocess
import uuid

import pytest

from fusehelp import PHIVAULT, run

POLICY = """
[role clinician]
max-grant = 4h
allow list,read /patients/**
allow write,create /patients/*/notes/**
deny read /patients/vip/**

[role admin]
allow all /**

[users]
{alice} = clinician
{admin} = admin

[break-glass]
role = admin
duration = 10m
users = {alice}
"""


def policy_supported():
    if os.environ.get("PHIVAULT_POLICY_MOUNT") == "1":
        return True
    r = run([PHIVAULT, "mount", "--help"])
    return "--policy" in (r.stdout + r.stderr)


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd)"),
    pytest.mark.skipif(not policy_supported(),
                       reason="phivault mount has no --policy yet"),
]


@pytest.fixture
def users():
    made = {}
    for role in ("alice", "bob", "admin"):
        name = "phv%s%s" % (role[:4], uuid.uuid4().hex[:6])
        subprocess.run(["useradd", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True)
        made[role] = pwd.getpwnam(name)
    yield made
    for pw in made.values():
        subprocess.run(["userdel", pw.pw_name], check=False)


def as_user(pw, *cmd):
    return subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid",
                           str(pw.pw_gid), "--init-groups", *cmd],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture
def pvol(new_volume, users, tmp_path):
    text = POLICY.format(alice=users["alice"].pw_name,
                         admin=users["admin"].pw_name)
    pfile = tmp_path / "policy.conf"
    pfile.write_text(text)
    r = run([PHIVAULT, "policy", "set", "--passphrase-file",
             new_volume.passfile, new_volume.cipher, str(pfile)])
    assert r.returncode == 0, r.stderr
    new_volume.audit = str(tmp_path / "audit.jsonl")
    new_volume.sock = str(tmp_path / "ctl.sock")
    new_volume.mount(("--policy", "--audit-log", new_volume.audit,
                      "--control-socket", new_volume.sock))
    os.makedirs(new_volume.p("patients", "7", "notes"))
    os.makedirs(new_volume.p("patients", "vip"))
    with open(new_volume.p("patients", "7", "chart"), "w") as f:
        f.write("chart\n")
    with open(new_volume.p("patients", "vip", "chart"), "w") as f:
        f.write("vip\n")
    yield new_volume
    new_volume.cleanup()


def test_clinician_reads_but_not_writes(pvol, users):
    a = users["alice"]
    assert as_user(a, "cat", pvol.p("patients", "7", "chart")).returncode == 0
    r = as_user(a, "sh", "-c", "echo x >> " + pvol.p("patients", "7", "chart"))
    assert r.returncode != 0 and "denied" in r.stderr.lower()
    assert as_user(a, "cat", pvol.p("patients", "vip", "chart")).returncode != 0
    assert as_user(a, "touch", pvol.p("patients", "7", "notes", "n1")).returncode == 0


def test_deny_by_default(pvol, users):
    assert as_user(users["bob"], "ls", pvol.p("patients")).returncode != 0


def test_root_denied_unless_named(pvol):
    # the fixture's own setup ran as root before enforcement was checked;
    # after mount, root has no rule
    r = subprocess.run(["cat", pvol.p("patients", "7", "chart")],
                       capture_output=True, text=True)
    assert r.returncode != 0


def test_grant_then_revoke(pvol, users):
    adm, bob = users["admin"], users["bob"]
    r = as_user(adm, PHIVAULT, "grant", "-S", pvol.sock, bob.pw_name,
                "clinician", "/patients/7", "--for", "1h", "--ticket",
                "T-1", "--reason", "consult")
    assert r.returncode == 0, r.stdout + r.stderr
    gid = r.stdout.split()[0]
    assert as_user(bob, "cat", pvol.p("patients", "7", "chart")).returncode == 0
    assert as_user(adm, PHIVAULT, "revoke", "-S", pvol.sock,
                   gid).returncode == 0
    assert as_user(bob, "cat", pvol.p("patients", "7", "chart")).returncode != 0


def test_break_glass_and_audit(pvol, users):
    a = users["alice"]
    assert as_user(users["bob"], PHIVAULT, "break-glass", "-S", pvol.sock,
                   "--reason", "x").returncode != 0
    r = as_user(a, PHIVAULT, "break-glass", "-S", pvol.sock, "--reason",
                "code blue")
    assert r.returncode == 0, r.stdout + r.stderr
    assert as_user(a, "cat", pvol.p("patients", "vip", "chart")).returncode == 0
    pvol.umount()
    r = run([PHIVAULT, "audit", "verify", "--volume", pvol.cipher,
             "--passphrase-file", pvol.passfile, pvol.audit])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([PHIVAULT, "audit", "report", "--break-glass", pvol.audit])
    assert "vip" in r.stdout
