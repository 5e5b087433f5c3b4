# SPDX-License-Identifier: MIT
"""phivault check against radosgw: tampering raises an alarm (F11).

Ransomware holding the backup's own S3 keys (no governance bypass) puts
junk on top of every key and then deletes every key.  Object Lock keeps
the first versions, so restores still work, but `check` must say what
happened and exit 4.
"""
from backup_util import FAST_ARGON, Phv, make_tree
from conftest import clean_env
from test_drill import ransomware


def test_check_flags_ransomware_tampering(tmp_path, rgw, bucket, tool):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(str(src), nfiles=5, big=200_000)
    pw = tmp_path / "pass"
    pw.write_text("check passphrase\n")
    phv = Phv("s3://%s/repo" % bucket, pw, env=clean_env(rgw))
    phv.run("repo", "init", "--argon2", FAST_ARGON, "--lock-mode",
            "governance", "--retention", "1d", check=0)
    phv.run("backup", src, check=0)
    r = phv.run("check")
    assert r.returncode == 0, (r.out, r.err)
    assert "tamper" not in r.out

    keys = ransomware(tool, bucket, tmp_path)
    r = phv.run("check")
    assert r.returncode == 4, (r.out, r.err)
    assert ("repository tampering: %d objects deleted or overwritten since "
            "their locked version; the locked versions are intact"
            % len(keys)) in r.out
    assert "tampered: config (deleted since its locked version)" in r.out
    # the snapshots themselves are still whole
    assert "snapshot" in r.out and "DAMAGED" not in r.out
    out = tmp_path / "restored"
    assert phv.run("restore", "latest", "--target", out).returncode == 0
