# SPDX-License-Identifier: MIT
"""fusehelp - shared helpers of the FUSE integration tests (see conftest.py).

Volume wraps one phivault volume: its cipher (backing) directory, mount
point and passphrase file, with init/mount/umount/remount through the real
./phivault binary.  The rest are small utilities the tests share.
"""
import ctypes
import ctypes.util
import errno
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# PHIVAULT_BIN tests another build (an installed one, a sanitizer build)
PHIVAULT = os.environ.get("PHIVAULT_BIN") or os.path.join(ROOT, "phivault")
HELPERS = os.path.join(os.path.dirname(__file__), "helpers")
ARGON2 = "1:8192:1"
PASSPHRASE = "tests-only passphrase: 7 lemon kites"
MOUNT_WAIT = 20.0

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def libc():
    return _libc


def check_errno(ret):
    """Raise OSError for a -1 return from a libc call made with ctypes."""
    if ret == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


def drop_caches():
    """Make the kernel forget cached pages, dentries and inodes."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError as e:
        pytest.skip("cannot drop caches (%s): needs root outside a "
                    "read-only /proc/sys" % e)


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(args, **kw)


def wait_mounted(path, proc=None, timeout=MOUNT_WAIT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.ismount(path):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return os.path.ismount(path)


def in_mount_table(path):
    """True while path is mounted, even when its daemon has died (then
    os.path.ismount fails with ENOTCONN and says False)."""
    real = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 1 and fields[1].replace("\\040", " ") == real:
                return True
    return False


def unmount(path):
    """fusermount3 -u, retrying while busy, then lazily as a last resort."""
    if not in_mount_table(path):
        return True
    for _ in range(50):
        r = run(["fusermount3", "-u", path])
        if r.returncode == 0 or not in_mount_table(path):
            return True
        time.sleep(0.1)
    run(["fusermount3", "-u", "-z", path])
    return False


def daemon_pids(cipher):
    """PIDs of phivault processes serving this cipher directory."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if (argv and os.path.basename(argv[0]) in (
                b"phivault", os.fsencode(os.path.basename(PHIVAULT)))
                and b"mount" in argv and cipher.encode() in argv):
            pids.append(int(d))
    return pids


class Volume:
    """One phivault volume: its backing (cipher) directory and mount point."""

    def __init__(self, base):
        self.base = base
        self.cipher = os.path.join(base, "cipher")
        self.mnt = os.path.join(base, "mnt")
        self.passfile = os.path.join(base, "pass")
        self.fg = None          # foreground daemon (mount -f), if any
        self.fg_log = None
        os.mkdir(self.cipher)
        os.mkdir(self.mnt)
        with open(self.passfile, "w") as f:
            f.write(PASSPHRASE + "\n")
        os.chmod(self.passfile, 0o600)

    def p(self, *parts):
        """A path inside the mounted plaintext view."""
        return os.path.join(self.mnt, *parts)

    def init(self, extra=()):
        r = run([PHIVAULT, "init", "--passphrase-file", self.passfile,
                 "--argon2", ARGON2, *extra, self.cipher])
        if r.returncode != 0:
            out = r.stdout + r.stderr
            if ("--argon2" in out or "unrecognized option" in out
                    or "unknown option" in out) and r.returncode == 2:
                pytest.skip("phivault init does not take --argon2 yet: "
                            + out.strip()[:200])
            pytest.fail("phivault init failed (%d): %s"
                        % (r.returncode, out.strip()))
        return r

    def mount(self, extra=()):
        r = run([PHIVAULT, "mount", "--passphrase-file", self.passfile,
                 *extra, self.cipher, self.mnt], timeout=60)
        if r.returncode != 0:
            pytest.fail("phivault mount failed (%d): %s"
                        % (r.returncode, (r.stdout + r.stderr).strip()))
        if not wait_mounted(self.mnt):
            pytest.fail("phivault mount exited 0 but %s is not mounted: %s"
                        % (self.mnt, (r.stdout + r.stderr).strip()))

    def mount_foreground(self):
        """mount -f in a child process, its stderr kept in self.fg_log."""
        self.fg_log = os.path.join(self.base, "daemon.log")
        log = open(self.fg_log, "w")
        self.fg = subprocess.Popen(
            [PHIVAULT, "mount", "-f", "--passphrase-file", self.passfile,
             self.cipher, self.mnt],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_mounted(self.mnt, self.fg):
            pytest.fail("phivault mount -f did not mount: " + self.log())

    def log(self):
        if not self.fg_log:
            return ""
        with open(self.fg_log, errors="replace") as f:
            return f.read()

    def umount(self):
        ok = unmount(self.mnt)
        if self.fg is not None:
            try:
                self.fg.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.fg.kill()
                self.fg.wait()
            self.fg = None
        # the daemon must exit once unmounted
        end = time.monotonic() + 10
        while daemon_pids(self.cipher) and time.monotonic() < end:
            time.sleep(0.05)
        return ok

    def remount(self):
        self.umount()
        self.mount()

    def kill_daemon(self):
        """SIGKILL every daemon serving this volume; returns how many."""
        pids = daemon_pids(self.cipher)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def backing_files(self):
        """Relative paths of every entry under the cipher directory."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.cipher):
            for n in dirnames + filenames:
                out.append(os.path.relpath(os.path.join(dirpath, n),
                                           self.cipher))
        return sorted(out)

    def backing_regular(self):
        """{relative path: size} of regular files under the cipher dir."""
        out = {}
        for dirpath, _, filenames in os.walk(self.cipher):
            for n in filenames:
                full = os.path.join(dirpath, n)
                st = os.lstat(full)
                if stat.S_ISREG(st.st_mode):
                    out[os.path.relpath(full, self.cipher)] = st.st_size
        return out

    def cleanup(self):
        if in_mount_table(self.mnt):
            self.umount()
        self.kill_daemon()
        if in_mount_table(self.mnt):
            run(["fusermount3", "-u", "-z", self.mnt])



def eio_on_read(path):
    """True when reading the whole file fails with EIO."""
    try:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except OSError as e:
        if e.errno == errno.EIO:
            return True
        raise
    return False
