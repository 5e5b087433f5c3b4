# SPDX-License-Identifier: MIT
"""What the backing directory reveals and how the volume reacts when it
is tampered with: no plaintext on disk; flipped bits, swapped or copied
blocks and headers, truncation, extension and damaged names all give EIO
(never wrong data or a wrong name); wrong or exposed secrets are refused;
fsck finds damage; a kill -9 loses nothing that was fsynced."""
import errno
import os
import random
import subprocess
import sys
import time

import pytest

from fusehelp import PHIVAULT, eio_on_read, run

BS = 4096                       # --block-size given to init below
MARK = b"PHVMARK7q2"            # unlikely in any ciphertext or metadata


@pytest.fixture
def bvol(new_volume):
    """A mounted volume whose block size is known (init --block-size)."""
    v = new_volume
    # recreate with an explicit block size so block offsets can be found
    for n in os.listdir(v.cipher):
        p = os.path.join(v.cipher, n)
        if os.path.isdir(p):
            import shutil
            shutil.rmtree(p)
        else:
            os.unlink(p)
    v.init(["--block-size", str(BS)])
    v.mount()
    yield v
    v.cleanup()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read(path):
    with open(path, "rb") as f:
        return f.read()


def backing_of(vol, make):
    """Run make() on the mounted volume; return the backing regular files
    it created (relative paths), the volume then unmounted."""
    before = vol.backing_regular()
    make()
    vol.umount()
    after = vol.backing_regular()
    return [p for p in after if p not in before]


def layout(vol):
    """Find the data layout of a file: (header_len, stride) where block i
    of a file starts at header_len + i * stride in its backing file, from
    the sizes of two files of 4 and 8 full blocks.  Mounted on entry,
    unmounted on return."""
    data4 = random.Random(4).randbytes(4 * BS)
    data8 = random.Random(8).randbytes(8 * BS)
    new = backing_of(vol, lambda: (write(vol.p("l4"), data4),
                                   write(vol.p("l8"), data8)))
    sizes = sorted(vol.backing_regular()[p] for p in new)
    big = [s for s in sizes if s >= 4 * BS]
    if len(big) != 2:
        pytest.skip("cannot tell the backing files of two plaintext files "
                    "apart (%s)" % sizes)
    c4, c8 = big
    stride, rem = divmod(c8 - c4, 4)
    header = c4 - 4 * stride
    if rem or stride < BS or header < 0:
        pytest.skip("backing layout is not header + fixed-size blocks "
                    "(sizes %d, %d); adapt to docs/FORMAT.md" % (c4, c8))
    vol.mount()
    return header, stride


def victim(vol, name="victim.dat", nblocks=6, seed=1):
    """Write a file of nblocks full blocks; return (data, backing path);
    the volume is left unmounted."""
    data = random.Random(seed).randbytes(nblocks * BS)
    new = backing_of(vol, lambda: write(vol.p(name), data))
    sizes = vol.backing_regular()
    cands = [p for p in new if sizes[p] >= len(data)]
    assert len(cands) == 1, "expected one new backing file, got %s" % new
    return data, os.path.join(vol.cipher, cands[0])


def patch(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def chunk(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def assert_block_eio(vol, name, data, bad_block):
    """Reading the damaged block gives EIO; the other blocks still read."""
    fd = os.open(vol.p(name), os.O_RDONLY)
    try:
        with pytest.raises(OSError) as e:
            os.pread(fd, BS, bad_block * BS)
        assert e.value.errno == errno.EIO
        good = 0 if bad_block else 1
        assert os.pread(fd, BS, good * BS) == data[good * BS:(good + 1) * BS]
    finally:
        os.close(fd)
    assert eio_on_read(vol.p(name))


def test_backing_holds_no_plaintext(vol):
    """Names, contents, symlink targets and xattrs never reach the
    backing directory in the clear."""
    m = MARK.decode()
    os.mkdir(vol.p(m + "-dir"))
    write(vol.p(m + "-dir", m + "-name.txt"), (MARK + b" content ") * 5000)
    write(vol.p("small"), MARK)
    os.symlink(m + "-target", vol.p("link"))
    os.setxattr(vol.p("small"), "user." + m + "-xname", MARK + b"-xvalue")
    os.setxattr(vol.p(m + "-dir"), "user.plain", MARK + b"-dirxattr")
    vol.umount()
    leaks = []
    for dirpath, dirnames, filenames in os.walk(vol.cipher):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            if m in n:
                leaks.append("name " + full)
            for x in os.listxattr(full, follow_symlinks=False):
                v = os.getxattr(full, x, follow_symlinks=False)
                if m in x or MARK in v:
                    leaks.append("xattr %s on %s" % (x, full))
            if os.path.islink(full):
                if m in os.readlink(full):
                    leaks.append("symlink " + full)
            elif os.path.isfile(full):
                if MARK in read(full):
                    leaks.append("content " + full)
    assert not leaks, leaks
    vol.mount()
    assert read(vol.p("small")) == MARK


def test_flipped_bit_gives_eio(bvol):
    header, stride = layout(bvol)
    data, back = victim(bvol)
    off = header + 2 * stride + stride // 2
    patch(back, off, bytes([chunk(back, off, 1)[0] ^ 0x04]))
    bvol.mount()
    assert_block_eio(bvol, "victim.dat", data, 2)


def test_flipped_bit_is_logged(bvol):
    """The daemon says what happened when it refuses a damaged block."""
    header, stride = layout(bvol)
    data, back = victim(bvol)
    off = header + 1 * stride + 100
    patch(back, off, bytes([chunk(back, off, 1)[0] ^ 0x80]))
    bvol.mount_foreground()
    before = bvol.log()
    assert eio_on_read(bvol.p("victim.dat"))
    time.sleep(0.2)
    new = bvol.log()[len(before):].lower()
    assert any(w in new for w in ("auth", "tamper", "damage", "integrity",
                                  "corrupt")), new


def test_swapped_blocks_give_eio(bvol):
    header, stride = layout(bvol)
    data, back = victim(bvol)
    b1 = chunk(back, header + 1 * stride, stride)
    b3 = chunk(back, header + 3 * stride, stride)
    patch(back, header + 1 * stride, b3)
    patch(back, header + 3 * stride, b1)
    bvol.mount()
    assert_block_eio(bvol, "victim.dat", data, 1)
    fd = os.open(bvol.p("victim.dat"), os.O_RDONLY)
    try:
        with pytest.raises(OSError) as e:
            os.pread(fd, BS, 3 * BS)
        assert e.value.errno == errno.EIO
    finally:
        os.close(fd)


def test_block_copied_from_other_file_gives_eio(bvol):
    header, stride = layout(bvol)
    data, back = victim(bvol)
    bvol.mount()
    _, other = victim(bvol, "other.dat", seed=2)
    patch(back, header + 2 * stride, chunk(other, header + 2 * stride, stride))
    bvol.mount()
    assert_block_eio(bvol, "victim.dat", data, 2)
    assert read(bvol.p("other.dat")) == random.Random(2).randbytes(6 * BS)


def test_header_copied_from_other_file_gives_eio(bvol):
    header, stride = layout(bvol)
    if header == 0:
        pytest.skip("files have no header in this format")
    data, back = victim(bvol)
    bvol.mount()
    _, other = victim(bvol, "other.dat", seed=2)
    patch(back, 0, chunk(other, 0, header))
    bvol.mount()
    assert eio_on_read(bvol.p("victim.dat"))


@pytest.mark.parametrize("delta", [-3, -1, 1, 5])
def test_truncated_or_extended_ciphertext_gives_eio(bvol, delta):
    """Cutting bytes off the end or appending a few is detected."""
    data, back = victim(bvol, nblocks=3)
    size = os.path.getsize(back)
    if delta < 0:
        os.truncate(back, size + delta)
    else:
        with open(back, "ab") as f:
            f.write(b"\0" * delta)
    bvol.mount()
    try:
        got = read(bvol.p("victim.dat"))
    except OSError as e:
        assert e.errno == errno.EIO
    else:
        pytest.fail("read %d bytes (wanted EIO) after %+d bytes"
                    % (len(got), delta))


def test_truncated_to_block_boundary_gives_eio(bvol):
    """Dropping a whole last block must not silently shorten the file."""
    header, stride = layout(bvol)
    data, back = victim(bvol, nblocks=4)
    os.truncate(back, header + 3 * stride)
    bvol.mount()
    try:
        got = read(bvol.p("victim.dat"))
    except OSError as e:
        assert e.errno == errno.EIO
    else:
        assert got == data, "a truncated file read back as %d bytes" % len(got)


def test_damaged_name_never_gives_wrong_name(vol):
    """An altered encrypted name makes the entry vanish or fail with EIO;
    it never decrypts to some other name."""
    for n in ("alpha.txt", "beta.txt"):
        write(vol.p(n), n.encode())
    before = set(vol.backing_files())
    write(vol.p("victim.txt"), b"victim.txt")
    vol.umount()
    entry = [p for p in vol.backing_files() if p not in before]
    assert len(entry) == 1, "cannot find the backing name of victim.txt"
    old = os.path.join(vol.cipher, entry[0])
    base = os.path.basename(old)
    i = len(base) // 2
    c = base[i]
    repl = "A" if c != "A" else "B"
    os.rename(old, os.path.join(os.path.dirname(old),
                                base[:i] + repl + base[i + 1:]))
    vol.mount()
    try:
        names = set(os.listdir(vol.mnt))
    except OSError as e:
        assert e.errno == errno.EIO
        return
    assert names <= {"alpha.txt", "beta.txt", "victim.txt"}, names
    assert {"alpha.txt", "beta.txt"} <= names
    assert read(vol.p("alpha.txt")) == b"alpha.txt"
    if "victim.txt" in names:
        with pytest.raises(OSError) as e:
            read(vol.p("victim.txt"))
        assert e.value.errno == errno.EIO


def test_wrong_passphrase_refused(new_volume):
    v = new_volume
    bad = os.path.join(v.base, "bad")
    with open(bad, "w") as f:
        f.write("not the passphrase\n")
    os.chmod(bad, 0o600)
    r = run([PHIVAULT, "mount", "--passphrase-file", bad, v.cipher, v.mnt])
    assert r.returncode != 0
    assert r.returncode == 5, "exit status for a wrong key is 5"
    msg = (r.stdout + r.stderr).lower()
    assert "passphrase" in msg or "key" in msg, msg
    time.sleep(0.5)
    assert not os.path.ismount(v.mnt)
    r = run([PHIVAULT, "fsck", "--passphrase-file", bad, v.cipher])
    assert r.returncode == 5


def test_exposed_keyfile_refused(bare):
    v = bare
    key = os.path.join(v.base, "vol.key")
    with open(key, "wb") as f:
        f.write(os.urandom(64))
    os.chmod(key, 0o644)
    r = run([PHIVAULT, "init", "--keyfile", key, "--argon2", "1:8192:1",
             v.cipher])
    assert r.returncode != 0, "init accepted a world-readable key file"
    assert "key" in (r.stdout + r.stderr).lower()
    os.chmod(key, 0o600)
    r = run([PHIVAULT, "init", "--keyfile", key, "--argon2", "1:8192:1",
             v.cipher])
    assert r.returncode == 0, r.stdout + r.stderr
    os.chmod(key, 0o604)
    r = run([PHIVAULT, "mount", "--keyfile", key, v.cipher, v.mnt])
    assert r.returncode != 0, "mount accepted a key file others can read"
    time.sleep(0.5)
    assert not os.path.ismount(v.mnt)
    os.chmod(key, 0o600)
    r = run([PHIVAULT, "mount", "--keyfile", key, v.cipher, v.mnt])
    assert r.returncode == 0, r.stdout + r.stderr


def test_fsck_clean_then_damaged(bvol):
    os.mkdir(bvol.p("records"))
    write(bvol.p("records", "a.json"), b"{}" * 10000)
    write(bvol.p("records", "b.json"), b"[]" * 10000)
    header, stride = layout(bvol)
    data, back = victim(bvol)
    fsck = [PHIVAULT, "fsck", "--passphrase-file", bvol.passfile, bvol.cipher]
    r = run(fsck)
    assert r.returncode == 0, r.stdout + r.stderr
    off = header + stride + 17
    patch(back, off, bytes([chunk(back, off, 1)[0] ^ 1]))
    r = run(fsck)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "victim.dat" in r.stdout + r.stderr
    assert "a.json" not in r.stdout + r.stderr


WRITER = r"""
import os, sys
mnt, record, n = sys.argv[1], sys.argv[2], 0
rec = open(record, "a")
while True:
    name = "w%05d" % n
    data = (name.encode() + b":") * (1000 + 37 * (n % 50))
    fd = os.open(os.path.join(mnt, name), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, data)
    if n % 3 == 0:
        os.fsync(fd)
        os.close(fd)
        rec.write(name + "\n")
        rec.flush()
        os.fsync(rec.fileno())
    else:
        os.close(fd)
    n += 1
"""


@pytest.mark.slow
def test_kill_9_keeps_fsynced_files(vol, tmp_path):
    """kill -9 of the daemon mid-write: after a remount every file that
    was fsynced reads back exactly and files from before are intact."""
    keep = {}
    for i in range(20):
        keep["pre%02d" % i] = os.urandom(1000 + 5000 * i)
        write(vol.p("pre%02d" % i), keep["pre%02d" % i])
    record = str(tmp_path / "fsynced")
    w = subprocess.Popen([sys.executable, "-c", WRITER, vol.mnt, record],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    assert vol.kill_daemon() > 0, "no phivault daemon found for the volume"
    w.kill()
    w.wait()
    vol.umount()
    vol.mount()
    with open(record) as f:
        done = [line.strip() for line in f if line.strip()]
    assert len(done) > 5, "the writer fsynced too few files to judge"
    for name in done:
        n = int(name[1:])
        want = (name.encode() + b":") * (1000 + 37 * (n % 50))
        assert read(vol.p(name)) == want, name
    for name, want in keep.items():
        assert read(vol.p(name)) == want, name
    os.listdir(vol.mnt)
