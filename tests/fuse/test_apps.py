# SPDX-License-Identifier: MIT
"""Real programs on a mounted volume: git, SQLite with concurrent
writers, tar with symlinks."""
import os
import sqlite3
import subprocess
import sys
import tarfile

import pytest

from fusehelp import drop_caches, run

GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x.invalid",
               GIT_CONFIG_NOSYSTEM="1", HOME="/nonexistent")


def git(*args, cwd):
    r = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "git %s: %s" % (" ".join(args), r.stderr)
    return r.stdout


@pytest.mark.slow
def test_git_init_add_commit_clone(vol):
    repo = vol.p("repo")
    os.mkdir(repo)
    git("init", "-q", "-b", "main", cwd=repo)
    for i in range(50):
        os.makedirs(os.path.join(repo, "notes", str(i % 5)), exist_ok=True)
        with open(os.path.join(repo, "notes", str(i % 5), "n%d.txt" % i),
                  "w") as f:
            f.write("note %d\n" % i * (i + 1))
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    with open(os.path.join(repo, "notes", "0", "n0.txt"), "a") as f:
        f.write("changed\n")
    git("commit", "-q", "-am", "second", cwd=repo)
    git("gc", "-q", cwd=repo)
    git("fsck", "--strict", cwd=repo)
    assert git("rev-list", "--count", "HEAD", cwd=repo).strip() == "2"
    git("clone", "-q", repo, vol.p("clone"), cwd=vol.mnt)
    git("fsck", "--strict", cwd=vol.p("clone"))
    with open(vol.p("clone", "notes", "0", "n0.txt")) as f:
        assert f.read().endswith("changed\n")
    vol.remount()
    git("fsck", "--strict", cwd=repo)
    assert git("status", "--porcelain", cwd=vol.p("clone")) == ""


WRITER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
db.execute("PRAGMA journal_mode=" + sys.argv[2])
db.execute("PRAGMA busy_timeout=60000")
for i in range(int(sys.argv[4])):
    for attempt in range(100):
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t(w, i, pad) VALUES (?, ?, ?)",
                       (sys.argv[3], i, "p" * 300))
            db.execute("COMMIT")
            break
        except sqlite3.OperationalError:
            try:
                db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass
    else:
        sys.exit(3)
db.close()
"""


@pytest.mark.slow
@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_sqlite_concurrent_writers(vol, journal):
    path = vol.p("clinic.db")
    db = sqlite3.connect(path, isolation_level=None)
    mode = db.execute("PRAGMA journal_mode=%s" % journal).fetchone()[0]
    assert mode == journal
    db.execute("CREATE TABLE t(w TEXT, i INTEGER, pad TEXT)")
    db.close()
    n = 300
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, journal,
                               "w%d" % k, str(n)]) for k in range(2)]
    for p in procs:
        assert p.wait(timeout=600) == 0
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 2 * n
    assert db.execute("SELECT count(DISTINCT w || i) FROM t").fetchone()[0] \
        == 2 * n
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    vol.remount()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 2 * n
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def _make_tar(path):
    """A tarball with files, a directory and several kinds of symlink."""
    src = path + ".src"
    os.makedirs(os.path.join(src, "pkg", "lib"))
    with open(os.path.join(src, "pkg", "lib", "libx.so.1.2"), "wb") as f:
        f.write(b"\x7fELF fake library" * 100)
    os.symlink("libx.so.1.2", os.path.join(src, "pkg", "lib", "libx.so.1"))
    os.symlink("libx.so.1", os.path.join(src, "pkg", "lib", "libx.so"))
    os.symlink("../lib", os.path.join(src, "pkg", "lib-up"))
    os.symlink("/usr/share/doc", os.path.join(src, "pkg", "abs"))
    os.symlink("nowhere/at/all", os.path.join(src, "pkg", "dangling"))
    with tarfile.open(path, "w") as t:
        t.add(os.path.join(src, "pkg"), arcname="pkg")
    return {"pkg/lib/libx.so.1": "libx.so.1.2", "pkg/lib/libx.so": "libx.so.1",
            "pkg/lib-up": "../lib", "pkg/abs": "/usr/share/doc",
            "pkg/dangling": "nowhere/at/all"}


def test_tar_symlinks_after_drop_caches(vol, tmp_path):
    tarball = str(tmp_path / "pkg.tar")
    links = _make_tar(tarball)
    drop_caches()
    r = run(["tar", "-xf", tarball, "-C", vol.mnt])
    assert r.returncode == 0, r.stderr
    drop_caches()
    for rel, target in links.items():
        assert os.readlink(vol.p(rel)) == target
    with open(vol.p("pkg", "lib", "libx.so"), "rb") as f:
        assert f.read() == b"\x7fELF fake library" * 100
    # extracting again replaces the existing links and files
    r = run(["tar", "-xf", tarball, "-C", vol.mnt])
    assert r.returncode == 0, r.stderr
    drop_caches()
    for rel, target in links.items():
        assert os.readlink(vol.p(rel)) == target
    r = run(["tar", "-df", tarball, "-C", vol.mnt])
    assert r.returncode == 0, r.stdout + r.stderr
