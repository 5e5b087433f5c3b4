# SPDX-License-Identifier: MIT
"""Names on a mounted volume: create/unlink, directories, big listings,
renames (plain, over a target, NOREPLACE, EXCHANGE), open descriptors
across rename and unlink, links, symlinks, attributes, xattrs, name
length limits and inode stability."""
import ctypes
import errno
import os
import stat
import subprocess
import time

import pytest

from fusehelp import check_errno, drop_caches, libc, run

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
UTIME_OMIT = (1 << 30) - 2


def renameat2(old, new, flags):
    f = libc().renameat2
    f.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                  ctypes.c_char_p, ctypes.c_uint]
    return check_errno(f(AT_FDCWD, os.fsencode(old), AT_FDCWD,
                         os.fsencode(new), flags))


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path, atime, mtime):
    """atime/mtime: (sec, nsec) or UTIME_OMIT."""
    ts = (Timespec * 2)()
    for i, t in enumerate((atime, mtime)):
        if t == UTIME_OMIT:
            ts[i].tv_sec, ts[i].tv_nsec = 0, UTIME_OMIT
        else:
            ts[i].tv_sec, ts[i].tv_nsec = t
    f = libc().utimensat
    f.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Timespec),
                  ctypes.c_int]
    return check_errno(f(AT_FDCWD, os.fsencode(path), ts, 0))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def errno_of(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def test_create_unlink_mkdir_rmdir(vol):
    write(vol.p("a.txt"), b"a")
    assert os.path.isfile(vol.p("a.txt"))
    assert errno_of(os.open, vol.p("a.txt"),
                    os.O_CREAT | os.O_EXCL | os.O_WRONLY) == errno.EEXIST
    os.unlink(vol.p("a.txt"))
    assert not os.path.exists(vol.p("a.txt"))
    assert errno_of(os.unlink, vol.p("a.txt")) == errno.ENOENT
    os.mkdir(vol.p("d"))
    assert os.path.isdir(vol.p("d"))
    assert errno_of(os.mkdir, vol.p("d")) == errno.EEXIST
    os.makedirs(vol.p("d", "e", "f"))
    write(vol.p("d", "e", "f", "g"), b"g")
    assert errno_of(os.rmdir, vol.p("d", "e", "f")) == errno.ENOTEMPTY
    assert errno_of(os.unlink, vol.p("d", "e")) in (errno.EISDIR, errno.EPERM)
    assert errno_of(os.rmdir, vol.p("d", "e", "f", "g")) == errno.ENOTDIR
    os.unlink(vol.p("d", "e", "f", "g"))
    os.rmdir(vol.p("d", "e", "f"))
    os.rmdir(vol.p("d", "e"))
    os.rmdir(vol.p("d"))
    assert sorted(os.listdir(vol.mnt)) == []
    vol.remount()
    assert sorted(os.listdir(vol.mnt)) == []


@pytest.mark.slow
def test_directory_of_100000_entries(vol, c_helper):
    """readdir returns all 100,000 entries exactly once; telldir/seekdir
    resume at the same entry; the listing survives a remount."""
    exe = c_helper("bigdir")
    n = 100000
    os.mkdir(vol.p("big"))
    r = run([exe, "create", vol.p("big"), str(n)], timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run([exe, "check", vol.p("big"), str(n)], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert len(os.listdir(vol.p("big"))) == n
    vol.remount()
    r = run([exe, "check", vol.p("big"), str(n)], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]


def test_rename_files_and_dirs_across_dirs(vol):
    os.makedirs(vol.p("src", "sub"))
    os.mkdir(vol.p("dst"))
    write(vol.p("src", "f"), b"file")
    write(vol.p("src", "sub", "inner"), b"inner")
    ino = os.stat(vol.p("src", "f")).st_ino
    os.rename(vol.p("src", "f"), vol.p("dst", "g"))
    assert not os.path.exists(vol.p("src", "f"))
    assert read(vol.p("dst", "g")) == b"file"
    assert os.stat(vol.p("dst", "g")).st_ino == ino
    os.rename(vol.p("src", "sub"), vol.p("dst", "moved"))
    assert read(vol.p("dst", "moved", "inner")) == b"inner"
    assert os.listdir(vol.p("src")) == []
    # a directory cannot move into itself
    assert errno_of(os.rename, vol.p("dst"),
                    vol.p("dst", "moved", "x")) == errno.EINVAL
    vol.remount()
    assert read(vol.p("dst", "g")) == b"file"
    assert read(vol.p("dst", "moved", "inner")) == b"inner"
    assert sorted(os.listdir(vol.p("dst"))) == ["g", "moved"]


def test_rename_over_existing_target(vol):
    write(vol.p("new"), b"new contents")
    write(vol.p("old"), b"old contents, longer")
    os.rename(vol.p("new"), vol.p("old"))
    assert read(vol.p("old")) == b"new contents"
    assert os.stat(vol.p("old")).st_size == len(b"new contents")
    assert sorted(os.listdir(vol.mnt)) == ["old"]
    os.mkdir(vol.p("d1"))
    os.mkdir(vol.p("d2"))
    write(vol.p("d1", "x"), b"x")
    os.rename(vol.p("d1"), vol.p("d2"))           # over an empty dir
    assert read(vol.p("d2", "x")) == b"x"
    os.mkdir(vol.p("d3"))
    assert errno_of(os.rename, vol.p("d3"), vol.p("d2")) in (
        errno.ENOTEMPTY, errno.EEXIST)
    assert errno_of(os.rename, vol.p("old"), vol.p("d3")) == errno.EISDIR
    assert errno_of(os.rename, vol.p("d3"), vol.p("old")) == errno.ENOTDIR
    vol.remount()
    assert read(vol.p("old")) == b"new contents"
    assert sorted(os.listdir(vol.mnt)) == ["d2", "d3", "old"]


def test_rename_noreplace(vol):
    write(vol.p("a"), b"A")
    write(vol.p("b"), b"B")
    with pytest.raises(OSError) as e:
        renameat2(vol.p("a"), vol.p("b"), RENAME_NOREPLACE)
    assert e.value.errno == errno.EEXIST
    assert read(vol.p("a")) == b"A" and read(vol.p("b")) == b"B"
    renameat2(vol.p("a"), vol.p("c"), RENAME_NOREPLACE)
    assert read(vol.p("c")) == b"A" and not os.path.exists(vol.p("a"))


def test_rename_exchange(vol):
    write(vol.p("a"), b"AAAA")
    os.mkdir(vol.p("d"))
    write(vol.p("d", "b"), b"B")
    ino_a = os.stat(vol.p("a")).st_ino
    ino_b = os.stat(vol.p("d", "b")).st_ino
    renameat2(vol.p("a"), vol.p("d", "b"), RENAME_EXCHANGE)
    assert read(vol.p("a")) == b"B"
    assert read(vol.p("d", "b")) == b"AAAA"
    assert os.stat(vol.p("a")).st_ino == ino_b
    assert os.stat(vol.p("d", "b")).st_ino == ino_a
    # a file and a directory trade places
    os.mkdir(vol.p("e"))
    write(vol.p("e", "inside"), b"i")
    renameat2(vol.p("a"), vol.p("e"), RENAME_EXCHANGE)
    assert os.path.isdir(vol.p("a")) and read(vol.p("a", "inside")) == b"i"
    assert read(vol.p("e")) == b"B"
    with pytest.raises(OSError) as e:
        renameat2(vol.p("a"), vol.p("missing"), RENAME_EXCHANGE)
    assert e.value.errno == errno.ENOENT
    vol.remount()
    assert read(vol.p("a", "inside")) == b"i"
    assert read(vol.p("e")) == b"B"
    assert read(vol.p("d", "b")) == b"AAAA"


def test_fd_survives_rename_and_unlink(vol):
    os.mkdir(vol.p("d"))
    fd = os.open(vol.p("f"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"before ")
        os.rename(vol.p("f"), vol.p("d", "g"))
        os.write(fd, b"after-rename ")
        assert read(vol.p("d", "g")) == b"before after-rename "
        os.unlink(vol.p("d", "g"))
        os.write(fd, b"after-unlink")
        assert os.fstat(fd).st_nlink == 0
        assert os.pread(fd, 100, 0) == b"before after-rename after-unlink"
        write(vol.p("d", "g"), b"a new file")
        assert os.pread(fd, 100, 0) == b"before after-rename after-unlink"
        assert read(vol.p("d", "g")) == b"a new file"
    finally:
        os.close(fd)
    assert os.listdir(vol.p("d")) == ["g"]


def test_hard_links(vol):
    os.mkdir(vol.p("other"))
    write(vol.p("orig"), b"shared")
    os.link(vol.p("orig"), vol.p("other", "alias"))
    a, b = os.stat(vol.p("orig")), os.stat(vol.p("other", "alias"))
    assert a.st_ino == b.st_ino
    assert a.st_nlink == 2 and b.st_nlink == 2
    with open(vol.p("other", "alias"), "ab") as f:
        f.write(b" and appended")
    assert read(vol.p("orig")) == b"shared and appended"
    assert os.stat(vol.p("orig")).st_size == len(b"shared and appended")
    vol.remount()
    a, b = os.stat(vol.p("orig")), os.stat(vol.p("other", "alias"))
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    os.unlink(vol.p("orig"))
    assert os.stat(vol.p("other", "alias")).st_nlink == 1
    assert read(vol.p("other", "alias")) == b"shared and appended"
    assert errno_of(os.link, vol.p("other"), vol.p("dirlink")) == errno.EPERM


def test_symlinks(vol):
    targets = {"rel": "../some/where", "abs": "/etc/hostname",
               "dangling": "does-not-exist", "long": "t/" * 1000 + "end",
               "spaces": "a name with spaces \u00e9"}
    for name, t in targets.items():
        os.symlink(t, vol.p(name))
    write(vol.p("real"), b"r")
    os.symlink("real", vol.p("to-real"))
    for name, t in targets.items():
        assert os.readlink(vol.p(name)) == t
        st = os.lstat(vol.p(name))
        assert stat.S_ISLNK(st.st_mode)
        assert st.st_size == len(os.fsencode(t))
    assert read(vol.p("to-real")) == b"r"
    assert errno_of(os.symlink, "x", vol.p("real")) == errno.EEXIST
    vol.remount()
    for name, t in targets.items():
        assert os.readlink(vol.p(name)) == t
    assert read(vol.p("to-real")) == b"r"


def test_chmod_chown(vol):
    write(vol.p("f"), b"f")
    os.mkdir(vol.p("d"))
    os.chmod(vol.p("f"), 0o640)
    os.chmod(vol.p("d"), 0o2750)
    assert stat.S_IMODE(os.stat(vol.p("f")).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(vol.p("d")).st_mode) == 0o2750
    ctime = os.stat(vol.p("f")).st_ctime_ns
    time.sleep(0.02)
    os.chown(vol.p("f"), 1234, 5678)
    st = os.stat(vol.p("f"))
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert st.st_ctime_ns > ctime
    os.chown(vol.p("d"), 42, -1)
    assert os.stat(vol.p("d")).st_uid == 42
    vol.remount()
    st = os.stat(vol.p("f"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
        1234, 5678, 0o640)
    assert stat.S_IMODE(os.stat(vol.p("d")).st_mode) == 0o2750


def test_utimens(vol):
    write(vol.p("f"), b"f")
    a, m = 1_000_000_123_456_789, 1_200_000_987_654_321
    os.utime(vol.p("f"), ns=(a, m))
    st = os.stat(vol.p("f"))
    assert st.st_atime_ns == a and st.st_mtime_ns == m
    vol.remount()
    st = os.stat(vol.p("f"))
    assert st.st_atime_ns == a and st.st_mtime_ns == m


def test_mtime_only_update(vol):
    """utimensat with UTIME_OMIT for atime (touch -m) changes only mtime."""
    write(vol.p("f"), b"f")
    a = 1_100_000_000_000_000_000
    os.utime(vol.p("f"), ns=(a, a))
    utimensat(vol.p("f"), UTIME_OMIT, (1_300_000_000, 5))
    st = os.stat(vol.p("f"))
    assert st.st_atime_ns == a
    assert st.st_mtime_ns == 1_300_000_000_000_000_005
    r = run(["touch", "-m", "-d", "@1400000000", vol.p("f")])
    assert r.returncode == 0, r.stderr
    st = os.stat(vol.p("f"))
    assert st.st_atime_ns == a and st.st_mtime == 1400000000
    vol.remount()
    st = os.stat(vol.p("f"))
    assert st.st_atime_ns == a and st.st_mtime == 1400000000


def test_write_updates_mtime(vol):
    write(vol.p("f"), b"f")
    os.utime(vol.p("f"), ns=(10**18, 10**18))
    with open(vol.p("f"), "ab") as f:
        f.write(b"more")
    assert os.stat(vol.p("f")).st_mtime_ns > 10**18


def test_xattrs(vol):
    write(vol.p("f"), b"f")
    os.mkdir(vol.p("d"))
    big = bytes(range(256)) * 15
    for p in (vol.p("f"), vol.p("d")):
        os.setxattr(p, "user.note", b"hello")
        os.setxattr(p, "user.big", big)
        assert os.getxattr(p, "user.note") == b"hello"
        assert os.getxattr(p, "user.big") == big
        assert {"user.note", "user.big"} <= set(os.listxattr(p))
        with pytest.raises(OSError) as e:
            os.setxattr(p, "user.note", b"x", os.XATTR_CREATE)
        assert e.value.errno == errno.EEXIST
        with pytest.raises(OSError) as e:
            os.setxattr(p, "user.none", b"x", os.XATTR_REPLACE)
        assert e.value.errno == errno.ENODATA
        os.setxattr(p, "user.note", b"replaced", os.XATTR_REPLACE)
        os.removexattr(p, "user.big")
        with pytest.raises(OSError) as e:
            os.getxattr(p, "user.big")
        assert e.value.errno == errno.ENODATA
    vol.remount()
    for p in (vol.p("f"), vol.p("d")):
        assert os.getxattr(p, "user.note") == b"replaced"
        assert "user.big" not in os.listxattr(p)


def test_name_length_limits(vol):
    """A 255-byte name works everywhere; 256 bytes gives ENAMETOOLONG and
    changes nothing, in the view or in the backing directory."""
    n255 = "\u00e9" * 127 + "x"             # 255 bytes of UTF-8
    assert len(os.fsencode(n255)) == 255
    write(vol.p(n255), b"long name")
    assert n255 in os.listdir(vol.mnt)
    os.mkdir(vol.p("d" * 255))
    os.symlink(n255, vol.p("s" * 255))
    os.rename(vol.p(n255), vol.p("d" * 255, n255))
    vol.remount()
    assert read(vol.p("d" * 255, n255)) == b"long name"
    assert os.readlink(vol.p("s" * 255)) == n255

    before_view = sorted(os.listdir(vol.mnt))
    before_back = vol.backing_files()
    n256 = "m" * 256
    for fn, args in ((os.open, (vol.p(n256), os.O_CREAT | os.O_WRONLY)),
                     (os.mkdir, (vol.p(n256),)),
                     (os.symlink, ("t", vol.p(n256))),
                     (os.rename, (vol.p("s" * 255), vol.p(n256))),
                     (os.link, (vol.p("d" * 255, n255), vol.p(n256)))):
        assert errno_of(fn, *args) == errno.ENAMETOOLONG, fn.__name__
    assert errno_of(os.stat, vol.p(n256)) == errno.ENAMETOOLONG
    assert sorted(os.listdir(vol.mnt)) == before_view
    assert vol.backing_files() == before_back


def test_inode_numbers_stable_after_drop_caches(vol):
    os.makedirs(vol.p("a", "b"))
    write(vol.p("a", "b", "f"), b"f")
    os.link(vol.p("a", "b", "f"), vol.p("a", "hl"))
    paths = [vol.p("a"), vol.p("a", "b"), vol.p("a", "b", "f"), vol.p("a", "hl")]
    before = [os.stat(p).st_ino for p in paths]
    assert before[2] == before[3]
    assert len(set(before)) == 3
    drop_caches()
    assert [os.stat(p).st_ino for p in paths] == before
    os.rename(vol.p("a", "b", "f"), vol.p("moved"))
    drop_caches()
    assert os.stat(vol.p("moved")).st_ino == before[2]
    assert os.stat(vol.p("a", "hl")).st_ino == before[2]


def test_readdir_types_and_dots(vol):
    os.mkdir(vol.p("d"))
    write(vol.p("f"), b"")
    os.symlink("f", vol.p("l"))
    kinds = {e.name: (e.is_dir(follow_symlinks=False),
                      e.is_file(follow_symlinks=False),
                      e.is_symlink()) for e in os.scandir(vol.mnt)}
    assert kinds == {"d": (True, False, False), "f": (False, True, False),
                     "l": (False, False, True)}
    r = subprocess.run(["ls", "-a", vol.mnt], capture_output=True, text=True)
    assert r.stdout.split() == [".", "..", "d", "f", "l"]
