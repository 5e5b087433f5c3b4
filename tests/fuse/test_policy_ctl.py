# SPDX-License-Identifier: MIT
"""The mount's control socket under slow, partial and idle clients
(policy/ctl.h), on a real policy mount with real users (policyhelp.py).

A local user may connect to the socket (it is 0666); none may hold it for
others, and nothing is carried out unless its request arrived whole and
in time.  Requests go through `phivault grant|break-glass -S SOCKET`, run
as the user asking, as in test_policy_grants.py.
"""
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from fusehelp import PHIVAULT, Volume, in_mount_table, run, wait_mounted
from policyhelp import (as_user, build_tree, can_list,  # noqa
                        install_policy, ok, open_path_to, policy_text,
                        pvol, records, users, wait_for)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd)"),
]

# Holds several connections open and dribbles one byte into each every
# DELAY seconds, reconnecting whenever the server drops one: the
# slow-loris of the review, as an unprivileged user.
LORIS = r"""
import socket, sys, time
path, n, delay, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    float(sys.argv[4])
conns = [None] * n
end = time.monotonic() + secs
print("up", flush=True)
while time.monotonic() < end:
    for i in range(n):
        try:
            if conns[i] is None:
                conns[i] = socket.socket(socket.AF_UNIX)
                conns[i].connect(path)
            conns[i].send(b"g")
        except OSError:
            if conns[i] is not None:
                conns[i].close()
            conns[i] = None
    time.sleep(delay)
"""


def cli(pw, vol, *args):
    return as_user(pw, PHIVAULT, args[0], "-S", vol.sock, *args[1:])


def loris(pw, vol, n, delay, secs):
    p = subprocess.Popen(["setpriv", "--reuid", str(pw.pw_uid), "--regid",
                          str(pw.pw_gid), "--init-groups", sys.executable,
                          "-c", LORIS, vol.sock, str(n), str(delay),
                          str(secs)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "up\n", p.stderr.read()
    time.sleep(1.0)		# its connections are open and dribbling
    return p


def stop(p):
    p.kill()
    p.wait()


def grants_of(vol, pw):
    r = cli(pw, vol, "grants")
    assert ok(r), r.stdout + r.stderr
    return r.stdout


def test_slow_loris_does_not_hold_others(pvol, users):
    rd, adm, bob = users["reader"], users["admin"], users["nobody"]
    # more connections than one uid may hold, one byte every 4 s each
    slow = loris(bob, pvol, 8, 4.0, 60)
    try:
        t0 = time.monotonic()
        r = cli(rd, pvol, "break-glass", "--reason", "code blue")
        took = time.monotonic() - t0
        assert ok(r), r.stdout + r.stderr
        assert took < 3.0, "break-glass took %.1f s" % took
        t0 = time.monotonic()
        r = cli(adm, pvol, "grant", bob.pw_name, "clinician", "/patients/7",
                "--for", "1h", "--ticket", "T-ctl", "--reason", "consult")
        took = time.monotonic() - t0
        assert ok(r), r.stdout + r.stderr
        assert took < 3.0, "grant took %.1f s" % took
    finally:
        stop(slow)
    # exactly one break-glass, and nothing the slow client sent ran
    recs = records(pvol.audit)
    bg = [x for x in recs if x["type"] == "break-glass"]
    assert len(bg) == 1 and bg[0]["result"] == "ok", bg
    assert not any(x.get("user") == bob.pw_name and
                   x["type"] in ("grant", "revoke", "break-glass")
                   for x in recs)


def _connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    return s


def _answer(s):
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            return out.decode()
        out += b


def test_half_request_is_never_carried_out(pvol, users):
    adm, bob = users["admin"], users["nobody"]
    chart = pvol.p("patients", "7", "chart")
    req = "\t".join(["grant", bob.pw_name, "clinician", "/patients/7",
                     "1h", "T-half", "x"]) + "\n"
    half = req[:len(req) // 2].encode()
    # cut short: connect, half the request, close
    r = as_user(adm, sys.executable, "-c",
                "import socket, sys\n"
                "s = socket.socket(socket.AF_UNIX)\n"
                "s.connect(sys.argv[1])\n"
                "s.send(sys.argv[2].encode())\n"
                "s.close()\n", pvol.sock, half.decode())
    assert ok(r), r.stderr
    # too slow: half now, the rest after the request deadline
    r = as_user(adm, sys.executable, "-c",
                "import socket, sys, time\n"
                "s = socket.socket(socket.AF_UNIX)\n"
                "s.settimeout(10)\n"
                "s.connect(sys.argv[1])\n"
                "s.send(sys.argv[2].encode())\n"
                "time.sleep(3)\n"
                "try:\n"
                "    s.send(sys.argv[3].encode())\n"
                "except OSError:\n"
                "    pass\n"
                "out = b''\n"
                "while True:\n"
                "    b = s.recv(4096)\n"
                "    if not b: break\n"
                "    out += b\n"
                "print(out.decode(), end='')\n", pvol.sock, half.decode(),
                req[len(half):])
    assert ok(r), r.stderr
    assert r.stdout.startswith("2\n") and "nothing was done" in r.stdout, \
        r.stdout
    time.sleep(0.5)
    assert "T-half" not in grants_of(pvol, adm)
    assert not ok(as_user(bob, "cat", chart))
    assert not any(x["type"] == "grant" and x.get("ticket") == "T-half"
                   for x in records(pvol.audit))
    # the socket still serves a whole request at once
    r = cli(adm, pvol, "grant", bob.pw_name, "clinician", "/patients/7",
            "--for", "1h", "--ticket", "T-whole", "--reason", "x")
    assert ok(r), r.stdout + r.stderr
    assert ok(as_user(bob, "cat", chart))


def test_per_uid_cap(pvol, users):
    adm = users["admin"]
    held = []
    try:
        # root's idle connections fill its own share only
        for _ in range(4):
            held.append(_connect(pvol.sock))
        time.sleep(0.3)
        extra = _connect(pvol.sock)
        ans = _answer(extra)
        extra.close()
        assert ans.startswith("16\n") and "busy" in ans, ans
        r = cli(adm, pvol, "grants")
        assert ok(r), r.stdout + r.stderr
    finally:
        for s in held:
            s.close()
    # and the idle ones were dropped with a reason after the deadline
    s = _connect(pvol.sock)
    t0 = time.monotonic()
    ans = _answer(s)
    s.close()
    assert ans.startswith("2\n"), ans
    assert 1.0 < time.monotonic() - t0 < 5.0


def test_client_timeout_is_reported(tmp_path):
    """A server that takes the request and never answers: the client
    says it timed out, names the socket and how to check."""
    path = str(tmp_path / "mute.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(4)
    held = []

    def serve():
        try:
            while True:
                c, _ = srv.accept()
                held.append(c)
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        r = run([PHIVAULT, "break-glass", "-S", path, "--reason", "x"],
                timeout=60)
        took = time.monotonic() - t0
    finally:
        srv.close()
        for c in held:
            c.close()
    assert r.returncode != 0
    assert "timed out" in r.stderr and path in r.stderr, r.stderr
    assert "phivault grants" in r.stderr, r.stderr
    assert "not permitted" not in r.stderr, r.stderr
    assert took < 30, took


def test_socket_is_up_when_mount_returns(pvol, users):
    """`phivault mount` returns once the control socket answers, so the
    next command of a script can use it."""
    adm = users["admin"]
    for _ in range(5):
        pvol.umount()
        assert not os.path.exists(pvol.sock)
        r = run([PHIVAULT, "mount", "--passphrase-file", pvol.passfile,
                 "--audit-log", pvol.audit, "--control-socket", pvol.sock,
                 pvol.cipher, pvol.mnt], timeout=60)
        assert r.returncode == 0, r.stderr
        # at once, not after a wait
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(pvol.sock)
        finally:
            s.close()
        r = cli(adm, pvol, "grants")
        assert ok(r), r.stdout + r.stderr


def _mount(vol, sock):
    """phivault mount of vol with its audit log and sock; the result."""
    return run([PHIVAULT, "mount", "--passphrase-file", vol.passfile,
                "--audit-log", vol.audit, "--control-socket", sock,
                vol.cipher, vol.mnt], timeout=60)


def _policy_volume(tmp_path, users, name):
    """A second volume with POLICY installed, unmounted."""
    base = tmp_path / name
    base.mkdir()
    v = Volume(str(base))
    v.init()
    v.audit = str(base / "audit.jsonl")
    v.sock = str(base / "ctl.sock")
    open_path_to(v.mnt)
    v.mount(("--audit-log", v.audit, "--control-socket", v.sock))
    build_tree(v)
    install_policy(v, policy_text(users), base)
    assert wait_for(lambda: not can_list(v.p("patients")), 5.0)
    v.umount()
    return v


def test_second_mount_does_not_take_the_socket(pvol, users, tmp_path):
    """A second mount given a live mount's --control-socket refuses to
    start; the first keeps its socket.  A dead mount's stale socket is
    replaced."""
    adm, bob = users["admin"], users["nobody"]
    other = _policy_volume(tmp_path, users, "other")
    stale = str(tmp_path / "stale.sock")
    try:
        ino = os.lstat(pvol.sock).st_ino
        r = _mount(other, pvol.sock)
        assert r.returncode != 0, r.stdout + r.stderr
        assert pvol.sock in r.stderr and "another mount" in r.stderr, \
            r.stderr
        assert not in_mount_table(other.mnt)
        assert os.lstat(pvol.sock).st_ino == ino
        # the first mount still gets its own requests
        r = cli(adm, pvol, "grant", bob.pw_name, "clinician",
                "/patients/7", "--for", "1h", "--ticket", "T-mine",
                "--reason", "x")
        assert ok(r), r.stdout + r.stderr
        assert any(x["type"] == "grant" and x.get("ticket") == "T-mine"
                   for x in records(pvol.audit))
        assert not os.path.exists(other.audit) or not any(
            x.get("ticket") == "T-mine" for x in records(other.audit))
        # a socket nobody listens on (its mount died) is replaced
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()
        r = _mount(other, stale)
        assert r.returncode == 0, r.stderr
        assert wait_mounted(other.mnt)
        r = as_user(adm, PHIVAULT, "grants", "-S", stale)
        assert ok(r), r.stdout + r.stderr
    finally:
        other.cleanup()
    assert not os.path.exists(stale)


def test_socket_path_not_ours_is_never_removed(pvol, users, tmp_path):
    """A file that is not a socket is not removed at mount; at unmount
    only the socket the mount bound is removed, not one put in its
    place."""
    pvol.umount()
    wrong = str(tmp_path / "notes.txt")
    with open(wrong, "w") as f:
        f.write("not a socket\n")
    r = _mount(pvol, wrong)
    assert r.returncode != 0, r.stdout + r.stderr
    assert wrong in r.stderr and "not a socket" in r.stderr, r.stderr
    assert not in_mount_table(pvol.mnt)
    with open(wrong) as f:
        assert f.read() == "not a socket\n"
    # mounted, then its socket is replaced by someone else's
    r = _mount(pvol, pvol.sock)
    assert r.returncode == 0, r.stderr
    assert wait_mounted(pvol.mnt)
    os.unlink(pvol.sock)
    theirs = socket.socket(socket.AF_UNIX)
    try:
        theirs.bind(pvol.sock)
        theirs.listen(4)
        ino = os.lstat(pvol.sock).st_ino
        pvol.umount()
        assert os.path.exists(pvol.sock)
        assert os.lstat(pvol.sock).st_ino == ino
    finally:
        theirs.close()
    os.unlink(pvol.sock)


# Holds n connections open without a byte of request, opening a new one
# at once whenever the server drops one: a crowd of local users.
HOLDER = r"""
import select, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
conns = []
print("up", flush=True)
while True:
    while len(conns) < n:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
        except OSError:
            s.close()
            break
        conns.append(s)
    r, _, _ = select.select(conns, [], [], 0.01)
    for s in r:
        conns.remove(s)
        s.close()
"""


def test_crowd_of_users_does_not_lock_root_out(pvol, users):
    """16 users holding 4 connections each cannot fill the slots kept
    for root."""
    crowd = []
    try:
        for uid in range(61000, 61016):
            p = subprocess.Popen(["setpriv", "--reuid", str(uid), "--regid",
                                  str(uid), "--clear-groups",
                                  sys.executable, "-c", HOLDER, pvol.sock,
                                  "4"],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            crowd.append(p)
            assert p.stdout.readline() == "up\n", p.stderr.read()
        time.sleep(1.0)
        # the crowd is there: one more user is told the mount is busy
        r = subprocess.run(["setpriv", "--reuid", "61016", "--regid",
                            "61016", "--clear-groups", PHIVAULT, "grants",
                            "-S", pvol.sock], capture_output=True,
                           text=True, timeout=60)
        assert not ok(r) and "busy" in r.stdout + r.stderr, \
            r.stdout + r.stderr
        for _ in range(5):
            r = run([PHIVAULT, "grants", "-S", pvol.sock], timeout=60)
            out = r.stdout + r.stderr
            assert ok(r) and "busy" not in out, out
            time.sleep(0.2)
    finally:
        for p in crowd:
            stop(p)


def test_request_then_shutdown_is_answered(pvol, users):
    """A whole request followed by shutdown(SHUT_WR) (socat, nc -N) is
    carried out and answered; half a request followed by it is not."""
    adm, bob = users["admin"], users["nobody"]
    chart = pvol.p("patients", "7", "chart")
    prog = ("import socket, sys\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "s.settimeout(10)\n"
            "s.connect(sys.argv[1])\n"
            "s.sendall(sys.argv[2].encode())\n"
            "s.shutdown(socket.SHUT_WR)\n"
            "out = b''\n"
            "while True:\n"
            "    b = s.recv(4096)\n"
            "    if not b: break\n"
            "    out += b\n"
            "print(out.decode(), end='')\n")

    def req(ticket):
        return "\t".join(["grant", bob.pw_name, "clinician", "/patients/7",
                          "1h", ticket, "x"]) + "\n"

    half = req("T-halfshut")
    r = as_user(adm, sys.executable, "-c", prog, pvol.sock,
                half[:len(half) // 2])
    assert ok(r), r.stderr
    assert r.stdout == "", r.stdout
    assert "T-halfshut" not in grants_of(pvol, adm)
    assert not ok(as_user(bob, "cat", chart))
    r = as_user(adm, sys.executable, "-c", prog, pvol.sock, req("T-shut"))
    assert ok(r), r.stderr
    assert r.stdout.startswith("0\n"), r.stdout
    assert "T-shut" in grants_of(pvol, adm)
    assert ok(as_user(bob, "cat", chart))
