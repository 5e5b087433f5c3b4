# SPDX-License-Identifier: MIT
"""The repository lock's two modes (docs/REPOSITORY.md, "The repository
lock") against radosgw under Object Lock.

backup, restore, drill and check take a shared lock; forget and prune an
exclusive one.  To hold a lock for as long as a test needs, a command is
run through a loopback TCP proxy that delays every request it forwards
(so the command is slow enough to be caught), and stopped with SIGSTOP
once its lock object is in the bucket; SIGCONT lets it finish.  Lock
objects of other hosts, of dead processes and of older versions (no
mode line) are written directly with s3tool.

Uses the rgw/tool/bucket fixtures of conftest.py; skipped without
radosgw.
"""
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from backup_util import FAST_ARGON, PHIVAULT, Phv, make_tree
from conftest import clean_env


class SlowProxy:
    """Forward TCP connections on 127.0.0.1 to target, holding back each
    chunk the client sends for delay seconds."""

    def __init__(self, target, delay):
        self.target = target
        self.delay = delay
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _pump(self, src, dst, delay):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(c, u, self.delay),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, 0),
                             daemon=True).start()

    def close(self):
        self.closed = True
        self.srv.close()


@pytest.fixture
def repo(tmp_path, rgw, bucket):
    """A repository with one snapshot of src; (phv, slow phv, src, tmp)."""
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), big=2_000_000)
    pw = tmp_path / "pass"
    pw.write_text("lock passphrase\n")
    pw.chmod(0o600)
    env = clean_env(dict(rgw, PHIVAULT_CACHE_DIR=str(tmp_path / "cache")))
    phv = Phv("s3://%s/repo" % bucket, pw, env=env)
    phv.run("repo", "init", "--argon2", FAST_ARGON, "--lock-mode",
            "governance", "--retention", "1d", check=0)
    phv.run("backup", src, check=0)
    u = urllib.parse.urlsplit(rgw["AWS_ENDPOINT_URL"])
    proxy = SlowProxy((u.hostname, u.port), 0.15)
    slow = Phv("s3://%s/repo" % bucket, pw, env=dict(
        env, AWS_ENDPOINT_URL="http://127.0.0.1:%d" % proxy.port))
    yield phv, slow, src, tmp_path
    proxy.close()


def lock_objects(tool, bucket):
    """{key: body} of the newest version of every lock object."""
    out = {}
    for line in tool.ok("versions", bucket, "--prefix",
                        "repo/locks/").out.splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if not f.get("key") or f.get("delete_marker") == "1" or \
                f.get("latest") == "0":
            continue
        r = tool.run("get", bucket, f["key"])
        if r.returncode == 0:
            out[f["key"]] = r.out
    return out


def hold(tool, bucket, phv, *args):
    """Start phivault ARGS and stop it once its lock object is stored."""
    p = phv.popen(*args)
    deadline = time.time() + 60
    while time.time() < deadline:
        for body in lock_objects(tool, bucket).values():
            if "\npid %d\n" % p.pid in body:
                p.send_signal(signal.SIGSTOP)
                return p, body
        assert p.poll() is None, p.communicate()
        time.sleep(0.02)
    p.kill()
    pytest.fail("no lock of %r appeared in 60 s" % (args,))


def release(p):
    p.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=300)
    return p.returncode, out.decode(), err.decode()


def put_lock(tool, bucket, tmp, name, body):
    f = tmp / ("lock-" + name)
    f.write_text(body)
    tool.ok("put", bucket, "repo/locks/" + name, f)


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def drill(tmp):
    """The arguments of a drill that keeps its files under tmp."""
    rep = tmp / "reports"
    rep.mkdir(exist_ok=True)
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    return ["drill", "--report-dir", rep, "--scratch", scratch]


# ---- shared with shared ---------------------------------------------------

def test_backups_of_two_sources_run_at_the_same_time(repo, tool, bucket):
    phv, slow, src, tmp = repo
    other = tmp / "other"
    other.mkdir()
    (other / "note.txt").write_text("another host's records\n")
    p, body = hold(tool, bucket, slow, "backup", src)
    assert "mode shared" in body and "what backup" in body, body
    try:
        r = phv.run("backup", other)
        held = lock_objects(tool, bucket)
    finally:
        rc, out, err = release(p)
    assert r.returncode == 0, r.err
    assert any("\npid %d\n" % p.pid in b for b in held.values())
    assert rc == 0, err
    snaps = phv.json("snapshots")
    assert {s["source"] for s in snaps} == {str(src), str(other)}
    assert lock_objects(tool, bucket) == {}


def test_second_backup_of_the_same_source_is_refused(repo, tool, bucket):
    phv, slow, src, tmp = repo
    p, _ = hold(tool, bucket, slow, "backup", src)
    try:
        r = phv.run("backup", src)
    finally:
        rc, _, err = release(p)
    assert rc == 0, err
    assert r.returncode == 1, (r.out, r.err)
    assert "locked by 'backup'" in r.err and "same source" in r.err, r.err


# ---- shared against exclusive ---------------------------------------------

def test_prune_is_refused_while_a_drill_runs(repo, tool, bucket):
    phv, slow, src, tmp = repo
    host = socket.gethostname()
    p, _ = hold(tool, bucket, slow, *drill(tmp))
    try:
        r = phv.run("prune")
        f = phv.run("forget", "--keep-last", "1")
    finally:
        rc, out, err = release(p)
    assert r.returncode == 1, (r.out, r.err)
    assert "cannot take an exclusive lock for 'prune'" in r.err, r.err
    assert ("locked by 'drill' on %s (pid %d, shared lock" % (host, p.pid)
            in r.err), r.err
    assert "taken " in r.err and "Wait for it to end" in r.err, r.err
    assert f.returncode == 1 and "locked by 'drill'" in f.err, f.err
    assert rc == 0, (out, err)
    assert lock_objects(tool, bucket) == {}
    # and once the drill is done, prune runs
    assert phv.run("prune").returncode in (0, 3)


def test_prune_is_refused_while_a_restore_runs(repo, tool, bucket):
    phv, slow, src, tmp = repo
    p, _ = hold(tool, bucket, slow, "restore", "latest", "--target",
                tmp / "out")
    try:
        r = phv.run("prune")
    finally:
        rc, out, err = release(p)
    assert r.returncode == 1 and "locked by 'restore'" in r.err, r.err
    assert rc == 0, err
    assert (tmp / "out" / "scan.bin").read_bytes() == \
        (src / "scan.bin").read_bytes()


def test_drill_is_refused_while_a_prune_runs(repo, tool, bucket):
    phv, slow, src, tmp = repo
    p, body = hold(tool, bucket, slow, "prune")
    assert "mode exclusive" in body, body
    try:
        d = phv.run(*drill(tmp))
        b = phv.run("backup", src)
    finally:
        rc, out, err = release(p)
    assert d.returncode == 1, (d.out, d.err)
    assert "drill could not run" in d.err, d.err
    assert "locked by 'prune'" in d.err and "exclusive lock" in d.err, d.err
    assert b.returncode == 1 and "locked by 'prune'" in b.err, b.err
    assert rc in (0, 3), err
    assert phv.run(*drill(tmp)).returncode == 0


# ---- lock objects written by others --------------------------------------

OLD_LOCK = "phivault-lock 1\nhost old-host\npid 4242\ntime %d\nwhat prune\n"


@pytest.mark.parametrize("mode_line,refused", [
    ("", True),                     # an older version's lock: exclusive
    ("mode exclusive\n", True),
    ("mode shared\n", False),
])
def test_lock_without_mode_counts_as_exclusive(repo, tool, bucket,
                                               mode_line, refused):
    phv, slow, src, tmp = repo
    put_lock(tool, bucket, tmp, "00000000000000aa",
             OLD_LOCK % int(time.time()) + mode_line)
    r = phv.run("check")
    if refused:
        assert r.returncode == 1, (r.out, r.err)
        assert "locked by 'prune' on old-host (pid 4242, exclusive" \
            in r.err, r.err
        assert "locks/00000000000000aa" in r.err, r.err
    else:
        assert r.returncode == 0, r.err
    # the other host's live lock is left alone either way
    assert "repo/locks/00000000000000aa" in lock_objects(tool, bucket)


@pytest.mark.parametrize("how", ["dead-pid", "expired"])
def test_stale_shared_lock_is_removed(repo, tool, bucket, how):
    phv, slow, src, tmp = repo
    now = int(time.time())
    if how == "dead-pid":
        host, pid, t = socket.gethostname(), dead_pid(), now
    else:
        host, pid, t = "gone-host", 4242, now - 3600
    put_lock(tool, bucket, tmp, "00000000000000bb",
             "phivault-lock 1\nhost %s\npid %d\ntime %d\nsince %d\n"
             "what drill\nmode shared\n" % (host, pid, t, t))
    # prune needs the repository to itself: it must remove the lock first
    r = phv.run("prune")
    assert r.returncode in (0, 3), (r.out, r.err)
    assert lock_objects(tool, bucket) == {}


# ---- refresh --------------------------------------------------------------

def test_long_drill_refreshes_its_lock(repo, tool, bucket):
    phv, slow, src, tmp = repo
    slow.env["PHIVAULT_TEST_LOCK_REFRESH"] = "1"
    p = slow.popen(*drill(tmp))
    times, keys = set(), set()
    while p.poll() is None:
        for k, body in lock_objects(tool, bucket).items():
            if "\npid %d\n" % p.pid in body:
                keys.add(k)
                times.add(body.split("\ntime ")[1].split()[0])
                assert "what drill\nmode shared\n" in body, body
        time.sleep(0.2)
    out, err = p.communicate()
    assert p.returncode == 0, err
    assert len(keys) == 1 and len(times) >= 3, (keys, times)
    assert lock_objects(tool, bucket) == {}
