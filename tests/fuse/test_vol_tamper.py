# SPDX-License-Identifier: MIT
"""Tamper detection of the encrypted volume: every change to the backing
files is EIO plus a log line, never wrong bytes; fsck lists the damage and
exits 4.  Each test tampers while the volume is unmounted, so no page
cache hides the change."""
import errno
import os
import subprocess

import pytest

from fusehelp import PHIVAULT, run

HDR = 88


def block_size(v):
    with open(os.path.join(v.cipher, ".phivault.conf")) as f:
        for line in f:
            if line.startswith("block-size "):
                return int(line.split()[1])
    raise AssertionError("no block-size line")


def backing_of(v, names):
    """Backing paths of regular files, in creation order of `names`."""
    out = []
    for dirpath, _, files in os.walk(v.cipher):
        for n in files:
            if n.startswith(".") or n.endswith(".name"):
                continue
            out.append(os.path.join(dirpath, n))
    assert len(out) == len(names), out
    return out


def write_files(v, specs):
    for name, data in specs.items():
        with open(v.p(name), "wb") as f:
            f.write(data)
            os.fsync(f.fileno())


def one_file(v, data, name="f"):
    write_files(v, {name: data})
    v.umount()
    (path,) = backing_of(v, [name])
    return path


def read_block(v, name, bs, idx):
    with open(v.p(name), "rb") as f:
        f.seek(idx * bs)
        return f.read(bs)


def expect_eio(fn):
    with pytest.raises(OSError) as ei:
        fn()
    assert ei.value.errno == errno.EIO


def fsck(v):
    return run([PHIVAULT, "fsck", "--passphrase-file", v.passfile, v.cipher])


def test_flipped_bit(vol):
    bs = block_size(vol)
    data = os.urandom(3 * bs + 100)
    path = one_file(vol, data)
    with open(path, "r+b") as f:
        f.seek(HDR + (bs + 28) + 40)        # block 1
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 1]))
    r = fsck(vol)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "block 1" in r.stdout and "/f" in r.stdout
    vol.mount()
    assert read_block(vol, "f", bs, 0) == data[:bs]
    expect_eio(lambda: read_block(vol, "f", bs, 1))
    assert read_block(vol, "f", bs, 2) == data[2 * bs:3 * bs]


def test_blocks_swapped(vol):
    bs = block_size(vol)
    data = os.urandom(2 * bs)
    path = one_file(vol, data)
    with open(path, "r+b") as f:
        f.seek(HDR)
        b0 = f.read(bs + 28)
        b1 = f.read(bs + 28)
        f.seek(HDR)
        f.write(b1 + b0)
    vol.mount()
    expect_eio(lambda: read_block(vol, "f", bs, 0))
    expect_eio(lambda: read_block(vol, "f", bs, 1))


def test_block_and_header_from_other_file(vol):
    bs = block_size(vol)
    write_files(vol, {"a": os.urandom(bs * 2), "b": os.urandom(bs * 2)})
    vol.umount()
    pa, pb = backing_of(vol, ["a", "b"])
    with open(pa, "rb") as f:
        hdr_a = f.read(HDR)
        blk_a = f.read(bs + 28)
    with open(pb, "r+b") as f:
        f.seek(HDR)
        f.write(blk_a)          # block 0 of a into b
    vol.mount()
    datas = {}
    for n in ("a", "b"):
        try:
            datas[n] = read_block(vol, n, bs, 0)
        except OSError as e:
            assert e.errno == errno.EIO
            datas[n] = None
    assert [datas["a"], datas["b"]].count(None) == 1
    vol.umount()
    with open(pb, "r+b") as f:
        f.write(hdr_a)          # header of a onto b
    vol.mount()
    bad = [n for n in ("a", "b") if datas[n] is None][0]
    expect_eio(lambda: read_block(vol, bad, bs, 1))


@pytest.mark.parametrize("delta", [-5, +7, -(28 + 1)])
def test_truncated_or_extended(vol, delta):
    bs = block_size(vol)
    data = os.urandom(bs + 1000)
    path = one_file(vol, data)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        if delta < 0:
            f.truncate(size + delta)
        else:
            f.seek(size)
            f.write(os.urandom(delta))
    r = fsck(vol)
    assert r.returncode == 4, r.stdout
    vol.mount()
    assert read_block(vol, "f", bs, 0) == data[:bs]
    expect_eio(lambda: read_block(vol, "f", bs, 1))


def test_damaged_name_hidden_and_reported(vol):
    write_files(vol, {"keep": b"1", "victim": b"2"})
    vol.umount()
    names = [n for n in os.listdir(vol.cipher) if not n.startswith(".")]
    assert len(names) == 2
    victim = names[0]
    bad = victim[:5] + ("A" if victim[5] != "A" else "B") + victim[6:]
    os.rename(os.path.join(vol.cipher, victim), os.path.join(vol.cipher, bad))
    r = fsck(vol)
    assert r.returncode == 4 and bad in r.stdout
    vol.mount()
    assert len(os.listdir(vol.mnt)) == 1


def test_missing_dirid_is_eio(vol):
    os.mkdir(vol.p("d"))
    write_files(vol, {"d/x": b"data"})
    vol.umount()
    (d,) = [n for n in os.listdir(vol.cipher) if not n.startswith(".")
            and os.path.isdir(os.path.join(vol.cipher, n))]
    os.unlink(os.path.join(vol.cipher, d, ".phivault.dirid"))
    vol.mount()
    expect_eio(lambda: open(vol.p("d", "x"), "rb"))
    expect_eio(lambda: os.listdir(vol.p("d")))


def test_config_edit_refuses_mount(new_volume):
    v = new_volume
    conf = os.path.join(v.cipher, ".phivault.conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("current-kek 1", "current-kek 1\nextra x"))
    r = run([PHIVAULT, "mount", "--passphrase-file", v.passfile, v.cipher,
             v.mnt])
    assert r.returncode != 0
    assert ".phivault.conf" in r.stderr
    assert not os.path.ismount(v.mnt)


def test_wrong_passphrase_before_fork(new_volume):
    v = new_volume
    with open(v.passfile, "w") as f:
        f.write("wrong\n")
    r = run([PHIVAULT, "mount", "--passphrase-file", v.passfile, v.cipher,
             v.mnt])
    assert r.returncode == 5, r.stderr
    assert "wrong passphrase" in r.stderr
    assert not os.path.ismount(v.mnt)


def test_fsck_clean(vol):
    os.makedirs(vol.p("a", "b"))
    write_files(vol, {"a/b/" + "n" * 250: os.urandom(100000),
                      "x": b""})
    os.symlink("a/b", vol.p("l"))
    os.setxattr(vol.p("x"), "user.k", b"v")
    vol.umount()
    r = fsck(vol)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 damaged" in r.stdout
