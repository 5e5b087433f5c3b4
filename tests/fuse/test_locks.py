# SPDX-License-Identifier: MIT
"""Advisory locks on a mounted volume block a second process."""
import fcntl
import os
import time

TRY_LOCK = """
import errno, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
if len(sys.argv) > 3:
    if sys.argv[2] == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX)
    else:
        fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
    sys.exit(0)
try:
    if sys.argv[2] == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
except OSError as e:
    sys.exit(10 if e.errno in (errno.EAGAIN, errno.EACCES,
                               errno.EWOULDBLOCK) else 11)
sys.exit(0)
"""


def try_lock(path, kind, blocking=False):
    import subprocess
    import sys
    args = [sys.executable, "-c", TRY_LOCK, path, kind]
    if blocking:
        args.append("wait")
        return subprocess.Popen(args)
    return subprocess.run(args, timeout=30).returncode


def _check(vol, kind, lock, unlock):
    path = vol.p("locked")
    with open(path, "wb") as f:
        f.write(b"0123456789")
    fd = os.open(path, os.O_RDWR)
    try:
        lock(fd)
        assert try_lock(path, kind) == 10, "second process got the lock"
        waiter = try_lock(path, kind, blocking=True)
        time.sleep(0.5)
        assert waiter.poll() is None, "blocking lock did not wait"
        unlock(fd)
        assert waiter.wait(timeout=20) == 0
    finally:
        os.close(fd)
    assert try_lock(path, kind) == 0


def test_flock_blocks_second_process(vol):
    _check(vol, "flock", lambda fd: fcntl.flock(fd, fcntl.LOCK_EX),
           lambda fd: fcntl.flock(fd, fcntl.LOCK_UN))


def test_fcntl_lock_blocks_second_process(vol):
    _check(vol, "fcntl", lambda fd: fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0),
           lambda fd: fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0))


def test_fcntl_lock_ranges(vol):
    """Non-overlapping byte ranges do not conflict."""
    path = vol.p("ranges")
    with open(path, "wb") as f:
        f.write(bytes(100))
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX, 10, 50)
        assert try_lock(path, "fcntl") == 0     # bytes 0-9 are free
    finally:
        os.close(fd)
