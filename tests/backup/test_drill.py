# SPDX-License-Identifier: MIT
"""Restore drills (phivault drill) against radosgw under Object Lock.

Each test makes a fresh repository in a fresh bucket (the rgw/tool/bucket
fixtures of conftest.py), backs up a sample tree, damages the repository
the way an attacker or a broken server would, with the test credentials
and GOVERNANCE bypass, and checks that the drill fails and that its
report names the cause.  One test uses a directory repository, the only
place a byte of a stored pack version can be changed in place.
"""
import json
import math
import os
import shutil
import signal
import subprocess
import time

import pytest

from backup_util import FAST_ARGON, PHIVAULT, Phv, make_tree
from conftest import clean_env


GOV_WARN = ("governance mode: credentials with s3:BypassGovernanceRetention "
            "can delete locked objects; use compliance mode for production")


def run_drill(phv, tmp, *args, **kw):
    """Run a drill writing its reports to tmp/reports; return (rc, json)."""
    rep = tmp / "reports"
    rep.mkdir(exist_ok=True)
    for p in rep.iterdir():
        p.unlink()
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    r = phv.run("drill", "--report-dir", rep, "--scratch", scratch,
                *args, **kw)
    files = sorted(rep.iterdir())
    assert [p.suffix for p in files] == [".html", ".json", ".txt"], \
        (r.out, r.err)
    report = json.loads(files[1].read_text())
    # the scratch directory is always removed
    assert list(scratch.iterdir()) == [], list(scratch.iterdir())
    r.report = report
    r.files = {p.suffix: p for p in files}
    return r


def stale_drill(phv, tmp, *args, **kw):
    """A drill with a 1 s RPO target, run when the backup is older."""
    time.sleep(2.5)
    return run_drill(phv, tmp, "--rpo-target", "1s", *args, **kw)


def check(report, name):
    return next(c for c in report["checks"] if c["name"] == name)


def causes(report):
    return "\n".join(report["causes"])


def problems(report, name):
    return "\n".join(check(report, name)["problems"])


def versions(tool, bucket, prefix):
    out = []
    for line in tool.ok("versions", bucket, "--prefix", prefix).out \
            .splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if f.get("delete_marker") != "1":
            out.append(f)
    return out


@pytest.fixture
def s3(tmp_path, rgw, bucket):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), big=2_000_000)
    pw = tmp_path / "pass"
    pw.write_text("drill passphrase\n")
    phv = Phv("s3://%s/repo" % bucket, pw, env=clean_env(rgw))
    phv.run("repo", "init", "--argon2", FAST_ARGON, "--lock-mode",
            "governance", "--retention", "1d", check=0)
    phv.run("backup", src, check=0)
    return phv, src, tmp_path, bucket


def pack_version(tool, bucket):
    packs = versions(tool, bucket, "repo/packs/")
    assert packs
    return packs[0]["key"], packs[0]["version"]


def test_healthy_repository_passes(s3, tool):
    phv, src, tmp, bucket = s3
    r = run_drill(phv, tmp)
    assert r.returncode == 0, (r.out, r.err)
    rep = r.report
    assert rep["result"] == "passed" and rep["causes"] == []
    # GOVERNANCE works but is not a plain pass (F22)
    assert {c["status"] for c in rep["checks"]} == {"passed", "warning"}
    assert check(rep, "locks")["status"] == "warning"
    assert GOV_WARN in check(rep, "locks")["summary"]
    assert rep["warnings"] == ["locks: " + check(rep, "locks")["summary"]]
    assert GOV_WARN in r.out and "passed with 1 warning" in r.out
    assert check(rep, "tampering")["status"] == "passed"
    assert rep["test_hooks"] == ""
    assert rep["files_restored"] == rep["files_total"] == 22
    assert rep["files_bad"] == 0
    assert rep["objects_checked"] >= 5 and rep["objects_bad"] == 0
    assert "refused" in check(rep, "delete-probe")["summary"]
    assert rep["delete_probe_key"].startswith("index/")
    assert 0 <= rep["rpo_seconds"] <= 120
    assert rep["rpo_target_seconds"] == 26 * 3600
    assert rep["rto_target_seconds"] == 4 * 3600
    assert "passed" in r.out and "signature: hmac-sha256:" in r.out
    # the probe target is still there, still locked
    key = "repo/" + rep["delete_probe_key"]
    assert versions(tool, bucket, key)
    # the evidence is kept in the repository, locked and sealed
    kept = versions(tool, bucket, "repo/drills/")
    assert len(kept) == 1
    h = tool.kv("head", bucket, kept[0]["key"], "--version",
                kept[0]["version"])
    assert h["mode"] == "GOVERNANCE"
    body = tool.ok("get", bucket, kept[0]["key"]).stdout
    assert b"phivault-drill-report" not in body and b"patients" not in body


def test_sample_restores_a_tenth(s3):
    phv, src, tmp, _ = s3
    r = run_drill(phv, tmp, "--sample", "10%")
    assert r.returncode == 0, (r.out, r.err)
    rep = r.report
    assert rep["sample"] == pytest.approx(0.1)
    assert rep["files_selected"] == math.ceil(0.1 * rep["files_total"])
    assert rep["files_restored"] == rep["files_selected"]
    assert rep["rto_seconds"] >= 0


def test_random_and_named_snapshot(s3):
    phv, src, tmp, _ = s3
    (src / "new.txt").write_text("second snapshot\n")
    phv.run("backup", src, check=0)
    snaps = phv.json("snapshots")
    first = (snaps[0] if isinstance(snaps, list) else
             snaps["snapshots"][0])["id"]
    r = run_drill(phv, tmp, "--snapshot", first[:8])
    assert r.returncode == 0, r.report["causes"]
    assert r.report["snapshot"] == first
    assert r.report["snapshots"] == 2
    r = run_drill(phv, tmp, "--random")
    assert r.returncode == 0, r.report["causes"]
    r = run_drill(phv, tmp, "--snapshot", "ffffffff")
    assert r.returncode == 1
    assert "snapshot" in causes(r.report)


def test_replaced_pack_with_flipped_byte_fails(s3, tool):
    """Delete the locked pack version (bypass) and put a corrupted copy."""
    phv, src, tmp, bucket = s3
    key, vid = pack_version(tool, bucket)
    data = bytearray(tool.ok("get", bucket, key, "--version", vid).stdout)
    data[len(data) // 2] ^= 0x01
    bad = tmp / "bad"
    bad.write_bytes(bytes(data))
    tool.ok("rm", bucket, key, "--version", vid, "--bypass")
    tool.ok("put", bucket, key, bad, "--mode", "GOVERNANCE",
            "--retain-days", "2")
    r = run_drill(phv, tmp)
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert rep["result"] == "failed"
    assert check(rep, "restore")["status"] == "failed"
    assert check(rep, "locks")["status"] == "failed"
    pack = key[len("repo/"):]
    assert pack in problems(rep, "restore")
    assert pack in problems(rep, "locks") and vid in problems(rep, "locks")
    assert "restore:" in causes(rep) and "locks:" in causes(rep)


def test_deleted_pack_version_fails(s3, tool):
    phv, src, tmp, bucket = s3
    key, vid = pack_version(tool, bucket)
    tool.ok("rm", bucket, key, "--version", vid, "--bypass")
    r = run_drill(phv, tmp, "--sample", "50%")
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert rep["files_bad"] > 0
    assert "missing" in problems(rep, "locks")
    assert key[len("repo/"):] in problems(rep, "locks")
    assert check(rep, "rto")["status"] in ("passed", "failed")


def test_retention_too_short_fails(s3, tool):
    phv, src, tmp, bucket = s3
    snap = versions(tool, bucket, "repo/snapshots/")[0]
    tool.ok("extend-retention", bucket, snap["key"], "--version",
            snap["version"], "--retain-seconds", "3600", "--mode",
            "GOVERNANCE", "--bypass")
    r = run_drill(phv, tmp)
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert check(rep, "locks")["status"] == "failed"
    assert check(rep, "restore")["status"] == "passed"
    assert "retained until" in problems(rep, "locks")
    assert snap["key"][len("repo/"):] in problems(rep, "locks")


def test_lock_missing_fails(s3, tool):
    """Replace the config's locked version with an unlocked copy."""
    phv, src, tmp, bucket = s3
    cfg = versions(tool, bucket, "repo/config")[0]
    body = tmp / "config"
    body.write_bytes(tool.ok("get", bucket, "repo/config").stdout)
    tool.ok("rm", bucket, "repo/config", "--version", cfg["version"],
            "--bypass")
    tool.ok("put", bucket, "repo/config", body)
    r = run_drill(phv, tmp)
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert "config version" in problems(rep, "locks")
    assert "not locked" in problems(rep, "locks")


def test_rpo_over_target_fails_and_alerts(s3):
    phv, src, tmp, _ = s3
    hook_out = tmp / "alert.json"
    hook = "cat > %s; echo $PHIVAULT_DRILL_RESULT >> %s.result" % (
        hook_out, hook_out)
    r = stale_drill(phv, tmp, "--alert-hook", hook)
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert check(rep, "rpo")["status"] == "failed"
    assert rep["rpo_target_seconds"] == 1
    assert "rpo:" in causes(rep) and "over the target" in causes(rep)
    sent = json.loads(hook_out.read_text())
    assert sent["drill_id"] == rep["drill_id"]
    assert sent["result"] == "failed"
    assert (tmp / "alert.json.result").read_text().strip() == "failed"
    # a passing drill runs no hook
    hook_out.unlink()
    r = run_drill(phv, tmp, "--alert-hook", hook)
    assert r.returncode == 0 and not hook_out.exists()


def test_rto_over_target_fails(s3):
    phv, src, tmp, _ = s3
    # zero time is impossible: a full restore takes at least a second
    r = run_drill(phv, tmp, "--rto-target", "1s", "--sample", "10%")
    rep = r.report
    if rep["rto_seconds"] > 1:
        assert r.returncode == 1
        assert "rto:" in causes(rep)
    else:
        assert r.returncode == 0


def ransomware(tool, bucket, tmp):
    """Overwrite and then delete every key with the backup's credentials
    (no bypass): the locked first versions stay underneath."""
    junk = tmp / "junk"
    junk.write_bytes(b"encrypted by ransomware")
    keys = {v["key"] for v in versions(tool, bucket, "repo/")}
    for k in sorted(keys):
        tool.run("put", bucket, k, junk)
        tool.run("rm", bucket, k)
    return {k for k in keys if not k.startswith("repo/locks/")}


def test_drill_after_ransomware_restores_but_alarms(s3, tool):
    """F11: the data survives, and the drill fails loudly about it."""
    phv, src, tmp, bucket = s3
    keys = ransomware(tool, bucket, tmp)
    hook_out = tmp / "alert.json"
    r = run_drill(phv, tmp, "--alert-hook", "cat > %s" % hook_out)
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert rep["files_restored"] == rep["files_total"]
    assert check(rep, "restore")["status"] == "passed"
    assert check(rep, "verify")["status"] == "passed"
    t = check(rep, "tampering")
    assert t["status"] == "failed"
    assert ("repository tampering: %d objects deleted or overwritten since "
            "their locked version; the locked versions are intact"
            % len(keys)) in t["summary"], t
    assert rep["tampered_objects"] == len(keys)
    assert "tampering:" in causes(rep)
    assert "repository tampering" in r.err
    listed = problems(rep, "tampering")
    assert "config: deleted" in listed
    assert json.loads(hook_out.read_text())["result"] == "failed"


def test_edited_report_fails_verify(s3):
    phv, src, tmp, _ = s3
    r = stale_drill(phv, tmp)
    assert r.returncode == 1
    paths = [r.files[s] for s in (".json", ".txt", ".html")]
    v = phv.run("drill", "verify", *paths)
    assert v.returncode == 0, (v.out, v.err)
    assert v.out.count("signature OK") == 3
    for p in paths:
        text = p.read_text()
        assert "failed" in text
        p.write_text(text.replace("failed", "passed", 1))
        v = phv.run("drill", "verify", p)
        assert v.returncode == 4, (p, v.out, v.err)
        assert "DOES NOT MATCH" in v.out
    # a report without a signature line is not a report
    plain = tmp / "plain.json"
    plain.write_text('{"result": "passed"}\n')
    assert phv.run("drill", "verify", plain).returncode == 4
    # another passphrase opens no key slot
    bad = tmp / "badpass"
    bad.write_text("not the passphrase\n")
    v = phv.run("drill", "verify", paths[0], env={
        "PHIVAULT_REPO_PASSPHRASE_FILE": str(bad)})
    assert v.returncode == 5


def test_history_lists_drills(s3):
    phv, src, tmp, _ = s3
    run_drill(phv, tmp)
    stale_drill(phv, tmp)
    h = phv.run("drill", "history", "--json", check=0)
    hist = json.loads(h.out)
    assert [e["result"] for e in hist] == ["passed", "failed"]
    assert all(e["verified"] for e in hist)
    assert "rpo" in hist[1]["cause"]
    h = phv.run("drill", "history", check=0)
    assert "passed" in h.out and "failed" in h.out
    # the HTML of the third drill draws all three
    r = run_drill(phv, tmp)
    html = r.files[".html"].read_text()
    assert html.count("<svg") == 3
    assert "Drill results: 2 of 3 passed" in html


def test_html_is_self_contained(s3):
    phv, src, tmp, _ = s3
    r = run_drill(phv, tmp)
    html = r.files[".html"].read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert " src=" not in html and " href=" not in html
    assert "@import" not in html and "url(" not in html
    # the only URL is the SVG namespace name, which is never fetched
    rest = html.replace("http://www.w3.org/2000/svg", "")
    assert "http://" not in rest and "https://" not in rest
    assert "<svg" in html and "<polyline" in html


def test_unopenable_repository_alerts(tmp_path, rgw):
    pw = tmp_path / "pass"
    pw.write_text("x\n")
    phv = Phv("s3://phv-no-such-bucket-drill/repo", pw,
              env=clean_env(rgw))
    out = tmp_path / "alert.json"
    r = phv.run("drill", "--report-dir", tmp_path, "--alert-hook",
                "cat > %s" % out)
    assert r.returncode == 1
    sent = json.loads(out.read_text())
    assert sent["result"] == "failed" and sent["error"]


def test_dir_repository_flipped_byte_fails_authentication(tmp_path):
    """Flip one byte of a stored pack in place (possible only here)."""
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), big=500_000)
    pw = tmp_path / "pass"
    pw.write_text("dir passphrase\n")
    repo = tmp_path / "repo"
    phv = Phv(str(repo), pw)
    phv.run("repo", "init", "--argon2", FAST_ARGON, check=0)
    phv.run("backup", src, check=0)
    r = run_drill(phv, tmp_path)
    assert r.returncode == 0, (r.out, r.err)
    assert check(r.report, "locks")["status"] == "skipped"
    pack = next((repo / "packs").rglob("*"))
    while pack.is_dir():
        pack = next(pack.rglob("*"))
    data = bytearray(pack.read_bytes())
    data[len(data) // 3] ^= 0x40
    os.chmod(pack, 0o600)
    pack.write_bytes(bytes(data))
    r = run_drill(phv, tmp_path)
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert check(rep, "restore")["status"] == "failed"
    assert rep["files_bad"] >= 1
    assert "restore:" in causes(rep)


def test_deletable_locked_version_is_critical(s3, tool):
    """A server that lets the probe delete a locked version (simulated
    with the test-only bypass knob) makes the drill CRITICAL, loudly."""
    phv, src, tmp, bucket = s3
    out = tmp / "alert.json"
    r = run_drill(phv, tmp, "--alert-hook",
                  "cat > %s; echo $PHIVAULT_DRILL_RESULT > %s.result"
                  % (out, out),
                  env={"PHIVAULT_TEST_DRILL_PROBE_BYPASS": "1",
                       "PHIVAULT_TEST_HOOKS": "1"})
    assert r.returncode == 1, (r.out, r.err)
    rep = r.report
    assert rep["result"] == "critical"
    # the hook is loud and the report says it was made with it (F26)
    assert "test hook PHIVAULT_TEST_DRILL_PROBE_BYPASS=1 is active" in r.err
    assert "PHIVAULT_TEST_DRILL_PROBE_BYPASS" in rep["test_hooks"]
    assert "TEST HOOKS WERE ACTIVE" in r.files[".txt"].read_text()
    assert "CRITICAL: CRITICAL" not in r.err
    assert check(rep, "delete-probe")["status"] == "critical"
    assert "CRITICAL" in r.err and "DELETED" in r.err
    assert "delete-probe: CRITICAL" in causes(rep)
    assert (tmp / "alert.json.result").read_text().strip() == "critical"
    assert json.loads(out.read_text())["result"] == "critical"
    assert "CRITICAL" in r.files[".html"].read_text()
    # only the regenerable index object was lost; a restore still works
    assert rep["delete_probe_key"].startswith("index/")
    r = run_drill(phv, tmp, "--no-delete-probe")
    assert check(r.report, "restore")["status"] == "passed"


@pytest.mark.skipif(not shutil.which("chromium"), reason="no chromium")
def test_html_renders_in_headless_chromium(s3, tmp_path):
    phv, src, tmp, _ = s3
    run_drill(phv, tmp)
    r = stale_drill(phv, tmp)
    png = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox",
                    "--disable-gpu", "--window-size=1100,1600",
                    "--screenshot=%s" % png,
                    r.files[".html"].as_uri()],
                   capture_output=True, timeout=120)
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20000


def test_targets_and_sample_from_the_environment(tmp_path):
    """What `phivault --volume NAME drill` exports from the config file."""
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), big=100_000)
    pw = tmp_path / "pass"
    pw.write_text("env passphrase\n")
    phv = Phv(str(tmp_path / "repo"), pw)
    phv.run("repo", "init", "--argon2", FAST_ARGON, check=0)
    phv.run("backup", src, check=0)
    time.sleep(2.5)
    hook_out = tmp_path / "hook.json"
    env = {"PHIVAULT_RPO": "1s", "PHIVAULT_RTO": "9h",
           "PHIVAULT_DRILL_SAMPLE": "0.5",
           "PHIVAULT_ALERT_HOOK": "cat > %s" % hook_out}
    r = run_drill(phv, tmp_path, env=env)
    assert r.returncode == 1
    rep = r.report
    assert rep["rpo_target_seconds"] == 1
    assert rep["rto_target_seconds"] == 9 * 3600
    assert rep["sample"] == pytest.approx(0.5)
    assert json.loads(hook_out.read_text())["drill_id"] == rep["drill_id"]
    # options win over the environment
    r = run_drill(phv, tmp_path, "--rpo-target", "1d", "--sample", "100%",
                  env=env)
    assert r.returncode == 0, r.report["causes"]
    assert r.report["sample"] == 0


def test_bypass_hook_needs_test_hooks_enabled(s3, tool):
    """F26: PHIVAULT_TEST_DRILL_PROBE_BYPASS alone changes nothing."""
    phv, src, tmp, bucket = s3
    r = run_drill(phv, tmp, "--sample", "10%",
                  env={"PHIVAULT_TEST_DRILL_PROBE_BYPASS": "1"})
    assert r.returncode == 0, (r.out, r.err)
    assert "refused" in check(r.report, "delete-probe")["summary"]
    assert "ignored" in r.err and "PHIVAULT_TEST_HOOKS=1" in r.err
    # the variable was set, so the report is still marked
    assert "PHIVAULT_TEST_DRILL_PROBE_BYPASS" in r.report["test_hooks"]
    assert versions(tool, bucket, "repo/" + r.report["delete_probe_key"])


def test_quiet_and_json_output(s3):
    """F7: --json prints the JSON report only; -q prints no text."""
    phv, src, tmp, _ = s3
    r = run_drill(phv, tmp, "-q", "--json", "--sample", "10%")
    assert r.returncode == 0, r.err
    assert json.loads(r.out)["drill_id"] == r.report["drill_id"]
    r = run_drill(phv, tmp, "-q", "--sample", "10%")
    assert r.returncode == 0 and r.out == "", r.out
    h = phv.run("help", "drill", check=0)
    for opt in ("--scratch", "--keep-scratch", "--no-lock-check",
                "--no-delete-probe", "--no-store", "--quiet"):
        assert opt in h.out + h.err, opt


def test_history_json_exits_4_on_bad_report(s3, tool):
    """F20: a stored report that does not verify: exit 4 in both forms."""
    phv, src, tmp, bucket = s3
    run_drill(phv, tmp, "--sample", "10%")
    junk = tmp / "junk"
    junk.write_bytes(b"not a report")
    tool.ok("put", bucket,
            "repo/drills/20261204T192000Z-" + "de" * 16 + ".report", junk)
    h = phv.run("drill", "history", "--json")
    assert h.returncode == 4, (h.out, h.err)
    hist = json.loads(h.out)
    bad = [e for e in hist if not e["verified"]]
    assert len(bad) == 1 and bad[0]["signature"] == "BADSIG"
    assert bad[0]["result"] != "passed"
    assert [e["signature"] for e in hist if e["verified"]] == ["ok"]
    assert phv.run("drill", "history").returncode == 4


def test_alert_hook_gets_no_secrets(s3):
    """F12: the hook runs with a cleaned environment."""
    phv, src, tmp, _ = s3
    dump = tmp / "hook.env"
    env = {"PHIVAULT_ALERT_CHANNEL": "ops", "PHIVAULT_ALERT_API_TOKEN": "x",
           "SOME_PIN": "1234", "MY_PASSWORD": "pw", "LANG": "C.UTF-8",
           "TZ": "UTC"}
    r = stale_drill(phv, tmp, "--sample", "10%", "--alert-hook",
                    "env > %s" % dump, env=env)
    assert r.returncode == 1
    got = dict(line.split("=", 1) for line in
               dump.read_text().splitlines() if "=" in line)
    assert phv.env["AWS_SECRET_ACCESS_KEY"]
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                 "PHIVAULT_REPO_PASSPHRASE_FILE", "PHIVAULT_REPOSITORY",
                 "PHIVAULT_ALERT_API_TOKEN", "SOME_PIN", "MY_PASSWORD"):
        assert name not in got, name
    assert got["PHIVAULT_ALERT_CHANNEL"] == "ops"
    assert got["LANG"] == "C.UTF-8" and got["TZ"] == "UTC"
    assert got["PHIVAULT_DRILL_RESULT"] == "failed"
    assert got["PHIVAULT_DRILL_REPORT"].endswith(".json")
    assert "PATH" in got


# ---- the scratch directory (F14) ------------------------------------------

@pytest.fixture
def slow(tmp_path):
    """A directory repository slowed down by the dir-store fault hook, so
    a drill is still restoring when it is killed."""
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), nfiles=40, big=300_000)
    pw = tmp_path / "pass"
    pw.write_text("slow passphrase\n")
    phv = Phv(str(tmp_path / "repo"), pw)
    phv.run("repo", "init", "--argon2", FAST_ARGON, check=0)
    phv.run("backup", src, check=0)
    phv.env["PHIVAULT_TEST_DIR_FAULTS"] = "delay-ms=150"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return phv, scratch, tmp_path


def start_drill_and_wait(phv, scratch, tmp):
    """Start a drill; return it once it has restored some plaintext."""
    p = subprocess.Popen(
        [PHIVAULT, "drill", "--report-dir", str(tmp), "--scratch",
         str(scratch), "--no-store"], env=phv.env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        files = [f for f in scratch.rglob("*") if f.is_file()
                 and f.name != "owner"]
        if files:
            return p
        assert p.poll() is None, p.communicate()
        time.sleep(0.05)
    p.kill()
    pytest.fail("the drill restored nothing in 60 s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT,
                                 signal.SIGHUP])
def test_signal_removes_scratch(slow, sig):
    phv, scratch, tmp = slow
    p = start_drill_and_wait(phv, scratch, tmp)
    p.send_signal(sig)
    p.communicate(timeout=60)
    assert p.returncode == -sig
    assert list(scratch.iterdir()) == []


def test_next_drill_removes_scratch_of_killed_drill(slow):
    phv, scratch, tmp = slow
    p = start_drill_and_wait(phv, scratch, tmp)
    p.kill()
    p.communicate(timeout=60)
    left = list(scratch.iterdir())
    assert len(left) == 1 and (left[0] / "owner").is_file()
    # a live drill's directory, a symlink and an unrecorded one stay
    live = scratch / "phivault-drill.live00"
    live.mkdir()
    with open("/proc/self/stat") as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    (live / "owner").write_text("pid %d start %s\n" % (os.getpid(), start))
    (live / "f").write_text("in use")
    target = tmp / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("not ours")
    (target / "owner").write_text("pid 999999 start 1\n")
    (scratch / "phivault-drill.link00").symlink_to(target)
    old = scratch / "phivault-drill.old000"
    old.mkdir()
    (old / "f").write_text("no record")
    del phv.env["PHIVAULT_TEST_DIR_FAULTS"]
    r = phv.run("drill", "--report-dir", tmp, "--scratch", scratch,
                "--no-store", "--sample", "10%", check=0)
    assert r.returncode == 0, (r.out, r.err)
    assert not left[0].exists()
    assert "removing" in r.err and str(left[0]) in r.err
    assert (live / "f").exists()
    assert (target / "keep.txt").exists()
    assert (scratch / "phivault-drill.link00").is_symlink()
    assert (old / "f").exists() and "no owner record" in r.err


def test_keep_scratch_warns_and_default_scratch_is_private(slow):
    phv, scratch, tmp = slow
    del phv.env["PHIVAULT_TEST_DIR_FAULTS"]
    base = tmp / "tmpdir"
    base.mkdir()
    r = phv.run("drill", "--report-dir", tmp, "--no-store", "--sample",
                "10%", "--keep-scratch", env={"TMPDIR": str(base)},
                check=0)
    assert r.returncode == 0, (r.out, r.err)
    priv = base / ("phivault-drill-%d" % os.geteuid())
    assert priv.is_dir() and (priv.stat().st_mode & 0o777) == 0o700
    kept = [d for d in priv.iterdir()]
    assert len(kept) == 1
    assert "plaintext PHI is left at %s/tree" % kept[0] in r.err
    assert any(f.is_file() for f in kept[0].rglob("*"))
    # without --keep-scratch nothing new stays; the kept one is named
    r = phv.run("drill", "--report-dir", tmp, "--no-store", "--sample",
                "10%", env={"TMPDIR": str(base)}, check=0)
    assert r.returncode == 0
    assert list(priv.iterdir()) == kept
    assert "no owner record" in r.err
