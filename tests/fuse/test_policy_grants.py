# SPDX-License-Identifier: MIT
"""Grants, break-glass, policy tampering, the audit log and alerts on a
real shared mount with real users (fixtures: policyhelp.py).

Grants and break-glass go through `phivault grant|grants|revoke|
break-glass -S SOCKET`, run as the user asking: the mount learns who
asks from SO_PEERCRED, never from the request.
"""
import json
import os
import subprocess
import time

import pytest

from fusehelp import PHIVAULT, run
from policyhelp import (as_user, ok, open_path_to, pvol, records,  # noqa
                        users, wait_for)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd)"),
]


def cli(pw, vol, *args):
    return as_user(pw, PHIVAULT, args[0], "-S", vol.sock, *args[1:])


def test_grant_expires(pvol, users):
    adm, bob = users["admin"], users["nobody"]
    chart = pvol.p("patients", "7", "chart")
    assert not ok(as_user(bob, "cat", chart))
    r = cli(adm, pvol, "grant", bob.pw_name, "clinician", "/patients/7",
            "--for", "3s", "--ticket", "T-1", "--reason", "consult")
    assert ok(r), r.stdout + r.stderr
    gid = r.stdout.split()[0]
    t0 = time.monotonic()
    r = as_user(bob, "cat", chart)
    assert ok(r) and r.stdout == "chart 7\n", r.stderr
    # below the granted path only
    assert not ok(as_user(bob, "cat", pvol.p("patients", "8", "chart")))
    r = cli(bob, pvol, "grants")
    assert ok(r) and gid in r.stdout
    # gone after three seconds, by itself
    time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
    assert wait_for(lambda: not ok(as_user(bob, "cat", chart)), 2.0)
    assert wait_for(lambda: any(x["type"] == "grant-expired" and
                                x["grant"] == gid
                                for x in records(pvol.audit)), 2.0)
    recs = records(pvol.audit)
    opened = [x for x in recs if x["type"] == "open" and
              x.get("grant") == gid]
    assert opened and opened[0]["ticket"] == "T-1"


def test_grant_needs_admin_and_max(pvol, users):
    rd, bob, adm = users["reader"], users["nobody"], users["admin"]
    r = cli(rd, pvol, "grant", bob.pw_name, "clinician", "/patients/7",
            "--for", "1h", "--ticket", "T-2", "--reason", "x")
    assert not ok(r)
    # longer than the role's max-grant (4h)
    r = cli(adm, pvol, "grant", bob.pw_name, "clinician", "/patients/7",
            "--for", "5h", "--ticket", "T-3", "--reason", "x")
    assert not ok(r)
    assert not ok(as_user(bob, "cat", pvol.p("patients", "7", "chart")))


def test_revoke(pvol, users):
    adm, bob = users["admin"], users["nobody"]
    chart = pvol.p("patients", "7", "chart")
    r = cli(adm, pvol, "grant", bob.pw_name, "clinician", "/patients/7",
            "--for", "1h", "--ticket", "T-4", "--reason", "consult")
    assert ok(r), r.stdout + r.stderr
    gid = r.stdout.split()[0]
    assert ok(as_user(bob, "cat", chart))
    # someone else without admin cannot end it
    assert not ok(cli(users["reader"], pvol, "revoke", gid))
    assert ok(cli(adm, pvol, "revoke", gid))
    assert not ok(as_user(bob, "cat", chart))
    assert gid not in cli(adm, pvol, "grants").stdout
    assert any(x["type"] == "revoke" and x["grant"] == gid and
               x["result"] == "ok" for x in records(pvol.audit))


def test_break_glass(pvol, users):
    rd, bob = users["reader"], users["nobody"]
    inv = pvol.p("billing", "invoice")
    assert not ok(cli(bob, pvol, "break-glass", "--reason", "curious"))
    assert not ok(as_user(rd, "cat", inv))
    r = cli(rd, pvol, "break-glass", "--reason", "code blue")
    assert ok(r), r.stdout + r.stderr
    r = as_user(rd, "cat", inv)
    assert ok(r) and r.stdout == "invoice\n", r.stderr
    assert ok(as_user(rd, "sh", "-c", "echo seen >> " +
                      pvol.p("patients", "8", "chart")))
    # break-glass lifts the deny rules of the user's own roles: the VIP
    # carve-out is what an emergency must get past (docs/POLICY.md)
    r = as_user(rd, "cat", pvol.p("patients", "vip", "chart"))
    assert ok(r), r.stderr
    # the hook ran with the alert on its standard input
    assert wait_for(lambda: os.path.exists(pvol.hook_out) and
                    "break-glass" in open(pvol.hook_out).read(), 5.0)
    recs = records(pvol.audit)
    assert any(x["type"] == "alert" and x["alert"] == "break-glass" and
               x["level"] == "alert" and x["user"] == rd.pw_name
               for x in recs)
    assert any(x["type"] == "break-glass" and x["result"] == "ok"
               for x in recs)
    # bob's refused attempt is on record too
    assert any(x["type"] == "break-glass" and x["result"] == "error" and
               x["user"] == bob.pw_name for x in recs)
    r = run([PHIVAULT, "audit", "report", "--break-glass", pvol.audit])
    assert r.returncode == 0, r.stderr
    assert "/billing/invoice" in r.stdout
    assert "/patients/8/chart" in r.stdout
    assert "/patients/vip/chart" in r.stdout
    # the open the deny rule would have refused names the break-glass
    assert any(x["type"] == "open" and x["path"] == "/patients/vip/chart"
               and x["result"] == "ok" and x.get("break_glass")
               for x in records(pvol.audit))


def test_edited_policy_is_refused(pvol, users, tmp_path):
    rd = users["reader"]
    vip = pvol.p("patients", "vip", "chart")
    pfile = os.path.join(pvol.cipher, ".phivault.policy")
    with open(pfile) as f:
        text = f.read()
    assert "deny read /patients/vip/**" in text
    with open(pfile, "w") as f:
        f.write(text.replace("deny read /patients/vip/**", "# gone"))
    # the running mount keeps the old policy and records the refusal
    assert wait_for(lambda: any(x["type"] == "policy-reload" and
                                x["result"] == "error"
                                for x in records(pvol.audit)), 5.0)
    assert not ok(as_user(rd, "cat", vip))
    assert ok(as_user(rd, "cat", pvol.p("patients", "7", "chart")))
    # and a new mount refuses to start
    pvol.umount()
    r = run([PHIVAULT, "mount", "--passphrase-file", pvol.passfile,
             "--audit-log", pvol.audit, "--control-socket", pvol.sock,
             pvol.cipher, pvol.mnt])
    assert r.returncode != 0
    assert "altered" in r.stderr, r.stderr
    assert not os.path.ismount(pvol.mnt)
    last = records(pvol.audit)[-2:]
    assert any(x["type"] == "policy-load" and x["result"] == "error" and
               x.get("action") == "mount refused" for x in last)


def test_audit_verify_and_tamper(pvol, users, tmp_path):
    rd = users["reader"]
    assert ok(as_user(rd, "cat", pvol.p("patients", "7", "chart")))
    assert not ok(as_user(rd, "cat", pvol.p("patients", "vip", "chart")))
    pvol.umount()
    assert oct(os.stat(pvol.audit).st_mode & 0o777) == "0o600"
    recs = records(pvol.audit)
    assert recs[0]["type"] == "segment"
    assert any(x["type"] == "mount" for x in recs)
    assert recs[-1]["type"] in ("unmount", "checkpoint")
    assert any(x["type"] == "unmount" for x in recs)
    verify = [PHIVAULT, "audit", "verify", "--volume", pvol.cipher,
              "--passphrase-file", pvol.passfile, pvol.audit]
    r = run(verify)
    assert r.returncode == 0, r.stdout + r.stderr
    # without the key: chain and signatures only
    r = run([PHIVAULT, "audit", "verify", pvol.audit])
    assert r.returncode == 0, r.stdout + r.stderr
    # hide the denial
    with open(pvol.audit) as f:
        lines = f.readlines()
    i = next(k for k, line in enumerate(lines)
             if json.loads(line)["type"] == "deny" and
             "/patients/vip/chart" in line)
    lines[i] = lines[i].replace("/patients/vip/chart", "/patients/7/chart")
    with open(pvol.audit, "w") as f:
        f.writelines(lines)
    r = run(verify)
    assert r.returncode == 4, r.stdout + r.stderr
    assert ":%d:" % (i + 1) in r.stdout
    assert run([PHIVAULT, "audit", "verify", pvol.audit]).returncode == 4


def test_bulk_read_alert(pvol, users):
    adm, rd = users["admin"], users["reader"]
    bulk = pvol.p("patients", "bulk")
    r = as_user(adm, "sh", "-c", "mkdir %s && cd %s && for i in $(seq 500);"
                " do echo record $i > f$i; done" % (bulk, bulk))
    assert ok(r), r.stderr
    r = as_user(rd, "sh", "-c", "cat %s/* | wc -l" % bulk)
    assert ok(r) and r.stdout.strip() == "500", r.stderr

    def hook_saw():
        if not os.path.exists(pvol.hook_out):
            return []
        with open(pvol.hook_out) as f:
            return [json.loads(x) for x in f if "bulk-opens" in x]
    # the admin who created the files tripped it too; look for the reader
    assert wait_for(lambda: any(a["user"] == rd.pw_name
                                for a in hook_saw()), 5.0), hook_saw()
    assert any(x["type"] == "alert" and x["alert"] == "bulk-opens" and
               x["user"] == rd.pw_name for x in records(pvol.audit))


def test_policy_set_reaches_mount(pvol, users, tmp_path):
    """policy set over the socket: the new policy applies at once."""
    bob = users["nobody"]
    text = open(os.path.join(pvol.cipher, ".phivault.policy")).read()
    body = text.split("\n", 1)[1]
    body = body.replace("[users]\n", "[users]\n%s = lister\n" % bob.pw_name)
    pfile = tmp_path / "p2.conf"
    pfile.write_text(body)
    r = run([PHIVAULT, "policy", "set", "--passphrase-file", pvol.passfile,
             "-S", pvol.sock, pvol.cipher, str(pfile)])
    assert r.returncode == 0 and "reloaded" in r.stdout, r.stdout + r.stderr
    assert ok(as_user(bob, "ls", pvol.p("patients")))
    assert any(x["type"] == "policy-reload" and x["result"] == "ok"
               for x in records(pvol.audit))


def test_break_glass_report_keeps_late_closes(tmp_path):
    """A file opened during break-glass and closed after the window:
    its close record (with the bytes written) is in the review."""
    log = tmp_path / "a.jsonl"
    lines = [
        {"seq": 1, "ts": "2026-12-04T10:00:00.000Z", "type": "break-glass",
         "uid": 1001, "user": "alice", "result": "ok",
         "expires": 1796380200, "break_glass": True},
        {"seq": 2, "ts": "2026-12-04T10:01:00.000Z", "type": "open",
         "uid": 1001, "user": "alice", "path": "/patients/vip/chart",
         "mode": "rw", "result": "ok", "break_glass": True},
        {"seq": 3, "ts": "2026-12-04T11:30:00.000Z", "type": "close",
         "uid": 1001, "user": "alice", "path": "/patients/vip/chart",
         "bytes_written": 25, "break_glass": True},
        {"seq": 4, "ts": "2026-12-04T11:31:00.000Z", "type": "open",
         "uid": 1001, "user": "alice", "path": "/patients/7/chart",
         "mode": "r", "result": "ok"},
    ]
    log.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n"
                           for x in lines))
    r = run([PHIVAULT, "audit", "report", "--break-glass", str(log)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("/patients/vip/chart") == 2, r.stdout
    assert "/patients/7/chart" not in r.stdout


def test_audit_verify_young_log_and_removed_state(pvol, users):
    """Before the first checkpoint there is no trusted state: verify
    says so and passes.  Once checkpoints exist, a state file that was
    removed is reported, since it hides whether the tail was cut."""
    verify = [PHIVAULT, "audit", "verify", "--volume", pvol.cipher,
              "--passphrase-file", pvol.passfile, pvol.audit]
    state = os.path.join(pvol.cipher, ".phivault.audit.state")
    pvol.umount()      # a clean stop writes a checkpoint and the state
    assert os.path.exists(state)
    assert run(verify).returncode == 0
    os.unlink(state)
    r = run(verify)
    assert r.returncode == 4 and "state file is missing" in r.stdout, \
        r.stdout + r.stderr
    # a log that has not reached a checkpoint yet
    young = os.path.join(os.path.dirname(pvol.audit), "young.jsonl")
    with open(pvol.audit) as f:
        first = f.readline()
    with open(young, "w") as f:
        f.write(first)
    r = run([PHIVAULT, "audit", "verify", "--volume", pvol.cipher,
             "--passphrase-file", pvol.passfile, young])
    assert r.returncode == 0 and "no trusted state yet" in r.stdout, \
        r.stdout + r.stderr


def test_reload_requests_do_not_flood_the_log(pvol, users):
    """Anyone may ask the mount to reload its policy, but only a changed
    file is read and recorded."""
    import socket

    def reloads():
        return sum(x["type"] == "policy-reload"
                   for x in records(pvol.audit))
    before = reloads()
    for _ in range(50):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(pvol.sock)
        s.sendall(b"reload\n")
        while s.recv(4096):
            pass
        s.close()
    assert reloads() == before
