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

from fusehelp import PHIVAULT, run
from policyhelp import (as_user, ok, pvol, records, users,  # noqa
                        wait_for)

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
