# SPDX-License-Identifier: MIT
"""policyhelp - shared fixtures of the access policy tests.

A policy volume is built in three steps, all through ./phivault:
mounted as root without a policy (allow_other, default_permissions), the
tree is created with open modes so that mode bits never decide, then
`phivault policy set` installs the policy and the running mount attaches
it within a second or two.  From then on root is an ordinary caller:
the policy names no rule for it.

Users are created with useradd for the test and removed after it; their
commands run through `setpriv --reuid --regid --init-groups`.
"""
import hashlib
import json
import os
import pwd
import subprocess
import time
import uuid

import pytest

from fusehelp import PHIVAULT, run

ROLES = ("reader", "lister", "writer", "creator", "deleter", "admin",
         "nobody")

POLICY = """
[role clinician]
max-grant = 4h
allow list,read /patients/**
allow write,create /patients/*/notes/**
deny read /patients/vip/**

[role lister]
allow list /patients/**

[role writer]
allow list,read,write /patients/**

[role creator]
allow list,create /patients/**

[role deleter]
allow list,delete /patients/**

[role owner]
allow list,create,admin /patients/7/notes/**

[role admin]
allow all /**

[users]
{reader} = clinician
{lister} = lister
{writer} = writer
{creator} = creator, owner
{deleter} = deleter
{admin} = admin

[break-glass]
role = admin
duration = 10m
users = {reader}

[alerts]
opens-per-minute = 200
hook-interval = 1s
"""


def policy_text(users):
    return POLICY.format(**{k: v.pw_name for k, v in users.items()})


def make_users():
    made = {}
    try:
        for role in ROLES:
            name = "phv%s%s" % (role[:4], uuid.uuid4().hex[:6])
            subprocess.run(["useradd", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", name], check=True,
                           capture_output=True)
            made[role] = pwd.getpwnam(name)
    except BaseException:
        drop_users(made)
        raise
    return made


def drop_users(made):
    for pw in made.values():
        subprocess.run(["userdel", pw.pw_name], check=False,
                       capture_output=True)


def as_user(pw, *cmd, env=None):
    return subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid",
                           str(pw.pw_gid), "--init-groups", *cmd],
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=env)


def ok(r):
    return r.returncode == 0


def records(path):
    """Every record of the audit log at path, parsed."""
    out = []
    with open(path) as f:
        for line in f:
            out.append(json.loads(line))
    return out


def wait_for(pred, timeout=5.0, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def backing_state(cipher):
    """Names, modes, sizes and content hashes of the backing tree, minus
    the audit state and grants files the guard itself rewrites."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(cipher):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, cipher)
            if rel in (".phivault.audit.state", ".phivault.grants"):
                continue
            st = os.lstat(full)
            h = None
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
            out[rel] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns,
                        h)
    return out


def install_policy(vol, text, tmp_path):
    pfile = tmp_path / "policy.conf"
    pfile.write_text(text)
    r = run([PHIVAULT, "policy", "set", "--passphrase-file", vol.passfile,
             "-S", vol.sock, vol.cipher, str(pfile)])
    assert r.returncode == 0, r.stdout + r.stderr


def build_tree(vol):
    """The tree every policy test starts from, modes wide open."""
    for d in (("patients",), ("patients", "7"), ("patients", "7", "notes"),
              ("patients", "8"), ("patients", "vip"), ("billing",)):
        os.mkdir(vol.p(*d))
        os.chmod(vol.p(*d), 0o777)
    for f, text in ((("patients", "7", "chart"), "chart 7\n"),
                    (("patients", "8", "chart"), "chart 8\n"),
                    (("patients", "vip", "chart"), "vip\n"),
                    (("billing", "invoice"), "invoice\n")):
        with open(vol.p(*f), "w") as fp:
            fp.write(text)
        os.chmod(vol.p(*f), 0o666)


def open_path_to(path):
    """Let other users walk to path: pytest's directories are 0700."""
    d = os.path.dirname(os.path.abspath(path))
    while d not in ("/", ""):
        st = os.stat(d)
        if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
            os.chmod(d, (st.st_mode & 0o7777) | 0o011)
        d = os.path.dirname(d)


@pytest.fixture
def users():
    made = make_users()
    yield made
    drop_users(made)


@pytest.fixture
def pvol(new_volume, users, tmp_path):
    """A mounted volume with the tree and POLICY enforced."""
    v = new_volume
    v.audit = str(tmp_path / "audit.jsonl")
    v.sock = str(tmp_path / "ctl.sock")
    v.hook_out = str(tmp_path / "hook.out")
    v.hook = "cat >> %s; echo >> %s" % (v.hook_out, v.hook_out)
    open_path_to(v.mnt)
    v.mount(("--audit-log", v.audit, "--control-socket", v.sock,
             "--alert-hook", v.hook))
    build_tree(v)
    install_policy(v, policy_text(users), tmp_path)
    # attached when root itself is refused
    assert wait_for(lambda: not can_list(v.p("patients")), 5.0), \
        "the mount did not pick up the installed policy"
    yield v
    v.cleanup()


def can_list(path):
    """Whether this process may list path (root is refused under a
    policy that does not name it)."""
    try:
        os.listdir(path)
        return True
    except OSError:
        return False
