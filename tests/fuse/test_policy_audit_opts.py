# SPDX-License-Identifier: MIT
"""The mount's audit rotation and syslog settings, and the warning about a
backing directory other users can reach (docs/OPERATIONS.md).

Rotation and syslog are resolved like --audit-log: the option, then
PHIVAULT_AUDIT_ROTATE_SIZE / _AGE / PHIVAULT_AUDIT_SYSLOG, then the
volume's file (exported as those variables by --volume), then 64M, 1d
and no.  Syslog is observed through a datagram socket this test binds at
/dev/log, and only when nothing else owns that path (a sandbox without a
syslog daemon); otherwise that test is skipped and says why.
"""
import glob
import os
import socket
import threading

import pytest

from fusehelp import PHIVAULT, run, wait_mounted
from policyhelp import (as_user, build_tree, can_list, install_policy,  # noqa
                        ok, open_path_to, policy_text, records, users,
                        wait_for)


def mount(v, *extra, env=None):
    """phivault mount with extra options; the CompletedProcess."""
    r = run([PHIVAULT, "mount", "--passphrase-file", v.passfile, *extra,
             v.cipher, v.mnt], timeout=60, env=env)
    if r.returncode == 0:
        assert wait_mounted(v.mnt), r.stderr
    return r


def policy_mount(v, users, tmp_path, *extra):
    """Mount v with extra options, build the tree, install the policy and
    wait until the running mount enforces it."""
    v.audit = str(tmp_path / "audit.jsonl")
    v.sock = str(tmp_path / "ctl.sock")
    open_path_to(v.mnt)
    r = mount(v, "--audit-log", v.audit, "--control-socket", v.sock, *extra)
    assert r.returncode == 0, r.stderr
    build_tree(v)
    install_policy(v, policy_text(users), tmp_path)
    assert wait_for(lambda: not can_list(v.p("patients")), 5.0)
    return r


def verify(v):
    return run([PHIVAULT, "audit", "verify", "--volume", v.cipher,
                "--passphrase-file", v.passfile, v.audit])


# ---- rotation --------------------------------------------------------------

def test_small_rotate_size_makes_segments_that_verify(new_volume, users,
                                                      tmp_path):
    v = new_volume
    policy_mount(v, users, tmp_path, "--audit-rotate-size", "4K")
    rd = users["reader"]
    for _ in range(40):
        assert ok(as_user(rd, "cat", v.p("patients", "7", "chart")))
    segs = sorted(glob.glob(v.audit + ".[0-9]*"))
    assert len(segs) >= 3, segs
    for s in segs:
        # rotation happens after the record that reached the limit
        assert os.path.getsize(s) < 4096 + 4096, s
    heads = [records(s)[0] for s in segs + [v.audit]]
    assert all(h["type"] == "segment" for h in heads)
    assert [h["segment"] for h in heads] == sorted(h["segment"]
                                                   for h in heads)
    r = verify(v)
    assert r.returncode == 0, r.stdout + r.stderr
    opens = [x for s in segs + [v.audit] for x in records(s)
             if x["type"] == "open" and x.get("uid") == rd.pw_uid]
    assert len(opens) == 40
    v.umount()
    assert wait_for(lambda: verify(v).returncode == 0, 5.0)


def test_default_settings_do_not_rotate_a_small_log(new_volume, users,
                                                    tmp_path):
    v = new_volume
    policy_mount(v, users, tmp_path)
    for _ in range(10):
        assert ok(as_user(users["reader"], "cat",
                          v.p("patients", "7", "chart")))
    assert glob.glob(v.audit + ".[0-9]*") == []
    v.umount()
    assert wait_for(lambda: verify(v).returncode == 0, 5.0)
    assert glob.glob(v.audit + ".[0-9]*") == []


def test_option_beats_variable_and_variable_beats_file(new_volume,
                                                       tmp_path):
    v = new_volume
    env = dict(os.environ, PHIVAULT_AUDIT_ROTATE_SIZE="lots")
    r = mount(v, "--audit-rotate-size", "8K", "--audit-rotate-age", "1h",
              "--audit-syslog=no", env=env)
    assert r.returncode == 0, r.stderr
    v.umount()

    confdir = tmp_path / "conf"
    confdir.mkdir(mode=0o700)
    conf = confdir / "w.conf"
    conf.write_text("cipherdir = %s\nmountpoint = %s\n"
                    "passphrase-file = %s\naudit-rotate-size = 8K\n"
                    % (v.cipher, v.mnt, v.passfile))
    os.chmod(conf, 0o600)
    env = dict(os.environ, PHIVAULT_CONFIG_DIR=str(confdir),
               PHIVAULT_AUDIT_ROTATE_SIZE="lots")
    r = run([PHIVAULT, "-V", "w", "mount"], env=env)
    assert r.returncode == 2
    assert "PHIVAULT_AUDIT_ROTATE_SIZE 'lots'" in r.stderr
    del env["PHIVAULT_AUDIT_ROTATE_SIZE"]
    r = run([PHIVAULT, "-V", "w", "mount"], env=env)
    assert r.returncode == 0, r.stderr
    assert wait_mounted(v.mnt)
    v.umount()


@pytest.mark.parametrize("args,env,words", [
    (["--audit-rotate-size", "1"], {}, "--audit-rotate-size '1'"),
    (["--audit-rotate-size", "64Q"], {}, "like 64M or 1G"),
    (["--audit-rotate-size", "-5M"], {}, "at least 4K"),
    (["--audit-rotate-age", "30s"], {}, "at least 1m"),
    (["--audit-rotate-age", "soon"], {}, "--audit-rotate-age 'soon'"),
    (["--audit-syslog=maybe"], {}, "must be yes or no"),
    ([], {"PHIVAULT_AUDIT_SYSLOG": "true"}, "PHIVAULT_AUDIT_SYSLOG 'true'"),
    ([], {"PHIVAULT_AUDIT_ROTATE_AGE": "0"}, "PHIVAULT_AUDIT_ROTATE_AGE"),
])
def test_bad_values_are_refused_before_unlocking(new_volume, args, env,
                                                 words):
    v = new_volume
    # no passphrase source: a refusal after unlocking would ask for one
    r = run([PHIVAULT, "mount", *args, v.cipher, v.mnt],
            env=dict(os.environ, **env))
    assert r.returncode == 2, r.stderr
    assert words in r.stderr
    assert not os.path.ismount(v.mnt)


@pytest.mark.parametrize("line,words", [
    ("audit-rotate-size = 100", "must be a size of at least 4K"),
    ("audit-rotate-age = 10s", "must be a duration of at least 1m"),
    ("audit-syslog = on", "must be yes or no"),
])
def test_bad_values_in_the_file_name_the_line(tmp_path, line, words):
    confdir = tmp_path / "conf"
    confdir.mkdir(mode=0o700)
    conf = confdir / "w.conf"
    conf.write_text("cipherdir = /nonexistent\n%s\n" % line)
    os.chmod(conf, 0o600)
    r = run([PHIVAULT, "-V", "w", "mount"],
            env=dict(os.environ, PHIVAULT_CONFIG_DIR=str(confdir)))
    assert r.returncode != 0
    assert "%s:2:" % conf in r.stderr and words in r.stderr


def test_off_switches_rotation_off(new_volume):
    v = new_volume
    r = mount(v, "--audit-rotate-size", "off", "--audit-rotate-age", "off")
    assert r.returncode == 0, r.stderr
    v.umount()


# ---- syslog ----------------------------------------------------------------

@pytest.fixture
def devlog():
    """Datagrams sent to /dev/log while the test runs."""
    if os.path.lexists("/dev/log"):
        pytest.skip("/dev/log belongs to this host's syslog; the test "
                    "only observes syslog where it can bind /dev/log")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind("/dev/log")
    except OSError as e:
        pytest.skip("cannot bind /dev/log: %s" % e)
    got = []
    stop = threading.Event()

    def reader():
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                got.append(s.recv(65536).decode(errors="replace"))
            except socket.timeout:
                continue
            except OSError:
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        yield got
    finally:
        stop.set()
        t.join(2)
        s.close()
        os.unlink("/dev/log")


def test_records_reach_syslog_as_authpriv(devlog, new_volume, users,
                                          tmp_path):
    v = new_volume
    policy_mount(v, users, tmp_path, "--audit-syslog")
    rd = users["reader"]
    assert ok(as_user(rd, "cat", v.p("patients", "7", "chart")))

    def seen():
        return [m for m in devlog if '"type":"open"' in m and
                '"uid":%d' % rd.pw_uid in m]
    assert wait_for(lambda: seen(), 5.0), devlog[-5:]
    # <PRI>: facility LOG_AUTHPRIV (10), severity info (6)
    assert seen()[0].startswith("<86>"), seen()[0][:80]
    # the copy is the line as written to the file, mac included
    line = seen()[0][seen()[0].index("{"):]
    assert any(line == l.rstrip("\n") for l in open(v.audit))


def test_syslog_is_off_by_default(devlog, new_volume, users, tmp_path):
    v = new_volume
    policy_mount(v, users, tmp_path)
    assert ok(as_user(users["reader"], "cat", v.p("patients", "7", "chart")))
    assert not [m for m in devlog if '"type":' in m]


# ---- the backing directory -------------------------------------------------

EXPOSED = "backing directory without going through the access policy"


def own_paths(v, tmp_path):
    """Give v its own audit log and socket (not the shared defaults)."""
    v.audit = str(tmp_path / "audit.jsonl")
    v.sock = str(tmp_path / "ctl.sock")
    return ("--audit-log", v.audit, "--control-socket", v.sock)


def test_policy_mount_warns_when_others_can_reach_the_cipherdir(
        new_volume, users, tmp_path):
    v = new_volume
    args = own_paths(v, tmp_path)
    install_policy(v, policy_text(users), tmp_path)
    # pytest's directories are 0700: nobody else gets in
    r = mount(v, *args)
    assert r.returncode == 0, r.stderr
    assert EXPOSED not in r.stderr
    v.umount()

    open_path_to(v.cipher)          # every directory above now o+x
    os.chmod(v.cipher, 0o755)
    r = mount(v, *args)
    assert r.returncode == 0, r.stderr
    assert EXPOSED in r.stderr and "closed to group and others" in r.stderr
    assert "mkdir -m 700" in r.stderr
    # and a user really can get at the ciphertext: what the warning means
    pw = users["nobody"]
    assert ok(as_user(pw, "ls", v.cipher))
    v.umount()

    # closing the directory the cipherdir sits in is enough
    os.chmod(os.path.dirname(v.cipher), 0o700)
    r = mount(v, *args)
    assert r.returncode == 0 and EXPOSED not in r.stderr, r.stderr
    assert not ok(as_user(pw, "ls", v.cipher))
    v.umount()


def test_no_warning_without_a_policy(new_volume):
    v = new_volume
    open_path_to(v.cipher)
    r = mount(v)
    assert r.returncode == 0 and EXPOSED not in r.stderr, r.stderr
    v.umount()


def test_a_directory_owned_by_another_user_is_exposure(new_volume, users,
                                                       tmp_path):
    v = new_volume
    args = own_paths(v, tmp_path)
    install_policy(v, policy_text(users), tmp_path)
    base = os.path.dirname(v.cipher)
    pw = users["nobody"]
    os.chown(base, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o755)
    open_path_to(base)
    r = mount(v, *args)
    assert r.returncode == 0, r.stderr
    assert EXPOSED in r.stderr and "belongs to uid %d" % pw.pw_uid \
        in r.stderr
    v.umount()
    os.chown(base, 0, 0)


def doctor_lines(confdir, name):
    r = run([PHIVAULT, "doctor", name],
            env=dict(os.environ, PHIVAULT_CONFIG_DIR=str(confdir)))
    return r, {ln.split()[1]: ln.split()[0] for ln in r.stdout.splitlines()
               if ln[:4] in ("PASS", "FAIL", "SKIP", "WARN")}


def test_doctor_fails_the_backing_check_when_exposed(new_volume, users,
                                                     tmp_path):
    v = new_volume
    own_paths(v, tmp_path)
    confdir = tmp_path / "conf"
    confdir.mkdir(mode=0o700)
    conf = confdir / "w.conf"
    conf.write_text("cipherdir = %s\nmountpoint = %s\n"
                    "passphrase-file = %s\naudit-log = %s/a.jsonl\n"
                    % (v.cipher, v.mnt, v.passfile, tmp_path))
    os.chmod(conf, 0o600)
    r, got = doctor_lines(confdir, "w")
    assert got["backing"] == "SKIP", r.stdout
    install_policy(v, policy_text(users), tmp_path)
    r, got = doctor_lines(confdir, "w")
    assert got["backing"] == "PASS", r.stdout
    open_path_to(v.cipher)
    os.chmod(v.cipher, 0o755)
    r, got = doctor_lines(confdir, "w")
    assert got["backing"] == "FAIL", r.stdout
    assert "fix: mkdir -m 700" in r.stdout and r.returncode == 1
