# SPDX-License-Identifier: MIT
"""File data on a mounted volume: offsets, appends, truncation, holes,
fallocate, sizes, mmap, fsync and statfs."""
import ctypes
import errno
import mmap
import os
import random
import stat

import pytest

from fusehelp import check_errno, libc

BLOCK_EDGES = [0, 1, 4095, 4096, 4097, 8191, 8192, 65535, 65536, 65537,
               131072 - 3, 1 << 20, (1 << 20) + 4099]


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def test_write_read_any_offset(vol):
    """Unaligned writes across block boundaries read back exactly."""
    rng = random.Random(1)
    path = vol.p("offsets.bin")
    model = bytearray()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for off in BLOCK_EDGES + [rng.randrange(0, 3 << 20) for _ in range(40)]:
            data = rng.randbytes(rng.choice([1, 7, 100, 4096, 5000, 70000]))
            os.pwrite(fd, data, off)
            if len(model) < off + len(data):
                model.extend(bytes(off + len(data) - len(model)))
            model[off:off + len(data)] = data
        for _ in range(60):
            off = rng.randrange(0, len(model) + 100)
            n = rng.randrange(1, 200000)
            assert os.pread(fd, n, off) == bytes(model[off:off + n]), off
        assert os.fstat(fd).st_size == len(model)
    finally:
        os.close(fd)
    vol.remount()
    assert read_all(path) == bytes(model)


def test_o_append_concurrent(vol):
    """Several processes appending through their own descriptors lose
    nothing and never interleave inside one record."""
    path = vol.p("journal.log")
    open(path, "wb").close()
    nproc, nrec, reclen = 4, 400, 64
    pids = []
    for w in range(nproc):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                for i in range(nrec):
                    rec = ("w%d r%05d " % (w, i)).encode()
                    rec = rec + b"x" * (reclen - len(rec) - 1) + b"\n"
                    if os.write(fd, rec) != reclen:
                        code = 3
                os.close(fd)
            except BaseException:
                code = 2
            os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    data = read_all(path)
    assert len(data) == nproc * nrec * reclen
    recs = data.split(b"\n")[:-1]
    assert len(recs) == nproc * nrec
    seen = set()
    for r in recs:
        assert len(r) == reclen - 1 and r.endswith(b"x"), r[:30]
        seen.add(r[:10])
    assert len(seen) == nproc * nrec


def test_truncate_grow_shrink(vol):
    """Shrinking drops data; growing again reads zeros, not old bytes."""
    rng = random.Random(2)
    path = vol.p("trunc.bin")
    data = rng.randbytes(200000)
    with open(path, "wb") as f:
        f.write(data)
    os.truncate(path, 5000)
    assert os.stat(path).st_size == 5000
    assert read_all(path) == data[:5000]
    os.truncate(path, 150000)
    assert os.stat(path).st_size == 150000
    assert read_all(path) == data[:5000] + bytes(145000)
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, 4096)
        assert os.fstat(fd).st_size == 4096
        os.ftruncate(fd, 4097)
        assert os.pread(fd, 10, 4090) == data[4090:4096] + bytes(1)
        os.ftruncate(fd, 0)
        assert os.fstat(fd).st_size == 0
        assert os.pread(fd, 10, 0) == b""
        os.ftruncate(fd, 70001)
    finally:
        os.close(fd)
    vol.remount()
    assert read_all(path) == bytes(70001)


def test_sparse_far_past_eof(vol):
    """A write at 10 GiB leaves a hole that reads as zeros, the size is
    exact, and the backing store does not fill the hole."""
    path = vol.p("sparse.bin")
    far = 10 << 30
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"head", 0)
        os.pwrite(fd, b"tail-marker", far)
        assert os.fstat(fd).st_size == far + 11
        assert os.pread(fd, 4, 0) == b"head"
        assert os.pread(fd, 8192, 5 << 30) == bytes(8192)
        assert os.pread(fd, 4096, far - 4096) == bytes(4096)
        assert os.pread(fd, 100, far) == b"tail-marker"
        assert os.pread(fd, 100, far + 11) == b""
    finally:
        os.close(fd)
    vol.umount()
    used = 0
    for dirpath, _, files in os.walk(vol.cipher):
        for n in files:
            used += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
    assert used < 64 << 20, "backing store used %d bytes for a hole" % used
    vol.mount()
    st = os.stat(path)
    assert st.st_size == far + 11
    with open(path, "rb") as f:
        f.seek(far - 2)
        assert f.read() == bytes(2) + b"tail-marker"


def test_sparse_holes_inside_file(vol):
    path = vol.p("holes.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"A" * 10, 1 << 20)
        os.pwrite(fd, b"B" * 10, 3 << 20)
    finally:
        os.close(fd)
    data = read_all(path)
    assert len(data) == (3 << 20) + 10
    assert data[:1 << 20] == bytes(1 << 20)
    assert data[(1 << 20):(1 << 20) + 10] == b"A" * 10
    assert data[(1 << 20) + 10:3 << 20] == bytes((2 << 20) - 10)


def _fallocate(fd, mode, off, length):
    f = libc().fallocate
    f.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    return check_errno(f(fd, mode, off, length))


def test_fallocate(vol):
    """fallocate(2) mode 0 extends with zeros; KEEP_SIZE does not change
    the size; existing data is untouched."""
    path = vol.p("falloc.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"keep me")
        _fallocate(fd, 0, 0, 1 << 20)
        assert os.fstat(fd).st_size == 1 << 20
        assert os.pread(fd, 7, 0) == b"keep me"
        assert os.pread(fd, 4096, 500000) == bytes(4096)
        _fallocate(fd, 1, 0, 4 << 20)           # FALLOC_FL_KEEP_SIZE
        assert os.fstat(fd).st_size == 1 << 20
        os.posix_fallocate(fd, 0, 2 << 20)
        assert os.fstat(fd).st_size == 2 << 20
    finally:
        os.close(fd)
    vol.remount()
    data = read_all(path)
    assert len(data) == 2 << 20 and data[:7] == b"keep me"
    assert data[7:] == bytes(len(data) - 7)


def test_plaintext_size_in_stat(vol):
    """stat shows the plaintext size at once: after create, after each
    unflushed write, through a hard link and in a directory listing."""
    path = vol.p("size.txt")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        assert os.stat(path).st_size == 0
        os.write(fd, b"x" * 12345)
        assert os.fstat(fd).st_size == 12345
        assert os.stat(path).st_size == 12345
        os.link(path, vol.p("size-link.txt"))
        assert os.stat(vol.p("size-link.txt")).st_size == 12345
        os.pwrite(fd, b"y", 99999)
        assert os.stat(vol.p("size-link.txt")).st_size == 100000
    finally:
        os.close(fd)
    sizes = {e.name: e.stat().st_size for e in os.scandir(vol.mnt)}
    assert sizes["size.txt"] == 100000
    assert sizes["size-link.txt"] == 100000
    open(vol.p("empty"), "w").close()
    assert os.stat(vol.p("empty")).st_size == 0
    vol.remount()
    assert os.stat(path).st_size == 100000
    assert os.stat(vol.p("empty")).st_size == 0


def test_shared_writable_mmap(vol):
    """Stores through a MAP_SHARED mapping reach the file and survive a
    remount; a second mapping sees them."""
    path = vol.p("mapped.bin")
    with open(path, "wb") as f:
        f.write(bytes(3 * 4096 + 100))
    fd = os.open(path, os.O_RDWR)
    try:
        m = mmap.mmap(fd, 3 * 4096 + 100, mmap.MAP_SHARED,
                      mmap.PROT_READ | mmap.PROT_WRITE)
        m[4090:4110] = b"crosses-a-page-edge!"
        m[-5:] = b"END!!"
        m.flush()
        m2 = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
        assert m2[4090:4110] == b"crosses-a-page-edge!"
        m2.close()
        m.close()
        assert os.pread(fd, 20, 4090) == b"crosses-a-page-edge!"
    finally:
        os.close(fd)
    vol.remount()
    data = read_all(path)
    assert data[4090:4110] == b"crosses-a-page-edge!"
    assert data.endswith(b"END!!")


def test_fsync_fdatasync_files_and_dirs(vol):
    os.mkdir(vol.p("d"))
    path = vol.p("d", "f")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"durable")
        os.fsync(fd)
        os.write(fd, b" data")
        os.fdatasync(fd)
    finally:
        os.close(fd)
    for d in (vol.p("d"), vol.mnt):
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
            os.fdatasync(dfd)
        finally:
            os.close(dfd)
    assert read_all(path) == b"durable data"


def test_statfs(vol):
    """statfs reports sane numbers, allows 255-byte names and tracks the
    backing file system's free space."""
    st = os.statvfs(vol.mnt)
    back = os.statvfs(vol.cipher)
    assert st.f_bsize > 0 and st.f_frsize > 0
    assert st.f_blocks > 0
    assert 0 < st.f_bfree <= st.f_blocks
    assert st.f_bavail <= st.f_bfree
    assert st.f_namemax >= 255
    free = st.f_bavail * st.f_frsize
    bfree = back.f_bavail * back.f_frsize
    assert abs(free - bfree) <= max(bfree // 10, 64 << 20)


def test_large_file_round_trip(vol):
    rng = random.Random(3)
    data = rng.randbytes((8 << 20) + 12345)
    path = vol.p("big.bin")
    with open(path, "wb") as f:
        f.write(data)
    assert os.stat(path).st_size == len(data)
    vol.remount()
    assert read_all(path) == data
    assert stat.S_ISREG(os.stat(path).st_mode)


def test_read_past_eof_and_empty_reads(vol):
    path = vol.p("short")
    with open(path, "wb") as f:
        f.write(b"abc")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, 10, 3) == b""
        assert os.pread(fd, 10, 1 << 40) == b""
        assert os.pread(fd, 10, 1) == b"bc"
        with pytest.raises(OSError) as e:
            os.write(fd, b"x")
        assert e.value.errno == errno.EBADF
    finally:
        os.close(fd)
