# SPDX-License-Identifier: MIT
"""Helpers shared by the backup tests: run phivault, make sample trees."""
import json
import os
import random
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PHIVAULT = os.path.join(ROOT, "phivault")
FAST_ARGON = "1:8192:1"


def make_tree(d, seed=1, nfiles=20, big=3_000_000):
    """Records-like files, one big random file, a sparse file, links."""
    rnd = random.Random(seed)
    os.makedirs(os.path.join(d, "patients", "empty"), exist_ok=True)
    for i in range(nfiles):
        with open(os.path.join(d, "patients", "p%03d.txt" % i), "w") as f:
            for _ in range(rnd.randint(10, 400)):
                f.write("patient %d visit %d code %06d\n"
                        % (i, rnd.randint(1, 99), rnd.randint(0, 999999)))
    with open(os.path.join(d, "scan.bin"), "wb") as f:
        f.write(rnd.randbytes(big))
    with open(os.path.join(d, "sparse.img"), "wb") as f:
        f.truncate(16 << 20)
        f.seek(8 << 20)
        f.write(b"data in the middle")
    os.symlink("scan.bin", os.path.join(d, "link"))
    os.link(os.path.join(d, "patients", "p000.txt"),
            os.path.join(d, "hard.txt"))
    os.chmod(os.path.join(d, "patients", "p001.txt"), 0o640)
    os.utime(os.path.join(d, "patients"), (1_600_000_000, 1_600_000_000))


class Phv:
    def __init__(self, repo, passfile, env=None):
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env["PHIVAULT_REPOSITORY"] = repo
        self.env["PHIVAULT_REPO_PASSPHRASE_FILE"] = str(passfile)

    def run(self, *args, env=None, check=None, timeout=300):
        e = dict(self.env)
        e.update(env or {})
        r = subprocess.run([PHIVAULT] + [str(a) for a in args],
                           capture_output=True, env=e, timeout=timeout)
        r.out = r.stdout.decode("utf-8", "replace")
        r.err = r.stderr.decode("utf-8", "replace")
        if check is not None:
            assert r.returncode == check, (args, r.returncode, r.out, r.err)
        return r

    def json(self, *args, **kw):
        return json.loads(self.run(*args, "--json", check=0, **kw).out)

    def popen(self, *args):
        return subprocess.Popen([PHIVAULT] + [str(a) for a in args],
                                env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)


def tree_equal(a, b):
    """Compare contents, modes, symlinks, hard links and mtimes."""
    for dirpath, dirs, files in os.walk(a):
        rel = os.path.relpath(dirpath, a)
        for name in dirs + files:
            pa = os.path.join(dirpath, name)
            pb = os.path.join(b, rel, name)
            sa, sb = os.lstat(pa), os.lstat(pb)
            assert sa.st_mode == sb.st_mode, pb
            if os.path.islink(pa):
                assert os.readlink(pa) == os.readlink(pb)
                continue
            assert sa.st_mtime_ns == sb.st_mtime_ns, pb
            if os.path.isfile(pa):
                assert sa.st_size == sb.st_size, pb
                with open(pa, "rb") as fa, open(pb, "rb") as fb:
                    assert fa.read() == fb.read(), pb
                assert (sa.st_nlink > 1) == (sb.st_nlink > 1), pb
    return True
