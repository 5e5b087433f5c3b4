# SPDX-License-Identifier: MIT
"""Key life cycle on real mounts (docs/KEYS.md): every key source end to
end, slot changes that leave file headers alone, rotation picked up by a
running mount, rewrap (also killed halfway and resumed), retire, shred,
and failures that change nothing.

Run as root from the top of the tree with Debian's python3:
    /usr/bin/python3 -m pytest tests/keys
The binary is $PHIVAULT or ./phivault.  Token tests use a private
SoftHSM2 store (tests/keys/softhsm-setup); key-command tests use
tests/keys/kms-sim.  Nothing is mocked.
"""
import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHIVAULT = os.environ.get("PHIVAULT", os.path.join(TOP, "phivault"))
KEYS = os.path.join(TOP, "tests", "keys")
ARGON = "1:8192:1"
HDR = 88


# never the shared default under /var/log/phivault: a log left there by
# another volume of the same name must not change what these tests see
AUDIT_LOG = os.path.join(tempfile.mkdtemp(prefix="phv-keys-"), "none.jsonl")


def run(*args, stdin="", env=None, check=None, timeout=300):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("PHIVAULT_"):
            del e[k]
    e["PHIVAULT_AUDIT_LOG"] = AUDIT_LOG
    e.update(env or {})
    p = subprocess.run([PHIVAULT, *args], input=stdin, env=e,
                       capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


@pytest.fixture(scope="module", autouse=True)
def need_root_and_fuse():
    if not os.access(PHIVAULT, os.X_OK):
        pytest.fail(f"no phivault binary at {PHIVAULT} (run make)")
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse") or \
            not shutil.which("fusermount3"):
        pytest.skip("needs root, /dev/fuse and fusermount3")


def ismounted(path):
    real = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == real for line in f)


class Vol:
    def __init__(self, base):
        self.base = str(base)
        self.dir = os.path.join(self.base, "cipher")
        self.mnt = os.path.join(self.base, "mnt")
        self.pw = os.path.join(self.base, "pw")
        os.mkdir(self.dir)
        os.mkdir(self.mnt)
        with open(self.pw, "w") as f:
            f.write("correct horse battery staple\n")
        self.unlock = ["--passphrase-file", self.pw]
        self.env = {}

    @property
    def conf(self):
        return os.path.join(self.dir, ".phivault.conf")

    def conf_bytes(self):
        with open(self.conf, "rb") as f:
            return f.read()

    def init(self, *extra, env=None):
        return run("init", "--argon2", ARGON, *extra, self.dir,
                   env=env, check=0).stdout

    def mount(self, *unlock, env=None, check=0, bare=False):
        args = [] if bare else list(unlock or self.unlock)
        p = run("mount", *args, self.dir, self.mnt,
                env=env if env is not None else self.env, check=check)
        if check == 0:
            assert ismounted(self.mnt)
        return p

    def umount(self):
        for _ in range(50):
            if not ismounted(self.mnt):
                return
            subprocess.run(["fusermount3", "-u", self.mnt],
                           capture_output=True)
            if ismounted(self.mnt):
                time.sleep(0.1)
        subprocess.run(["fusermount3", "-uz", self.mnt])

    def key(self, *args, env=None, check=0, unlock=None, after=()):
        return run("key", args[0], *(self.unlock if unlock is None
                                     else unlock), *args[1:], self.dir,
                   *after,
                   env=env if env is not None else self.env, check=check)

    def backing_files(self):
        """Relative path -> bytes of every backing file but the config,
        its (empty) lock file and the running mount's .phivault.mount
        (removed as the daemon exits, a moment after the unmount)."""
        out = {}
        for root, _, files in os.walk(self.dir):
            for n in files:
                p = os.path.join(root, n)
                if n in (".phivault.conf", ".phivault.conf.lock",
                         ".phivault.mount"):
                    continue
                with open(p, "rb") as f:
                    out[os.path.relpath(p, self.dir)] = f.read()
        return out

    def headers(self):
        """KEK version of every backing file with a header."""
        out = {}
        for rel, data in self.backing_files().items():
            if len(data) >= HDR and data[:4] == b"PHVF":
                out[rel] = int.from_bytes(data[24:28], "big")
        return out


@pytest.fixture
def vol(tmp_path):
    v = Vol(tmp_path)
    yield v
    v.umount()


@pytest.fixture
def token(tmp_path):
    if not shutil.which("softhsm2-util"):
        pytest.skip("softhsm2 not installed")
    d = tmp_path / "hsm"
    d.mkdir()
    module = subprocess.run([os.path.join(KEYS, "softhsm-setup"), str(d),
                             "phv-test", "so-1234", "pin-5678"],
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    (d / "pin").write_text("pin-5678\n")
    (d / "badpin").write_text("pin-0000\n")
    env = {"SOFTHSM2_CONF": str(d / "softhsm2.conf")}
    t = {"env": env, "module": module, "pin": str(d / "pin"),
         "badpin": str(d / "badpin")}
    run("key", "token-keygen", "--pkcs11-module", module, "--token-label",
        "phv-test", "--key-label", "vk", "--pin-file", t["pin"], env=env,
        check=0)
    t["args"] = ["--pkcs11-module", module, "--token-label", "phv-test",
                 "--key-label", "vk", "--pin-file", t["pin"]]
    return t


def roundtrip(v, name, data, *unlock, env=None, bare=False):
    v.mount(*unlock, env=env, bare=bare)
    with open(os.path.join(v.mnt, name), "w") as f:
        f.write(data)
    v.umount()
    v.mount(*unlock, env=env, bare=bare)
    with open(os.path.join(v.mnt, name)) as f:
        assert f.read() == data
    v.umount()


def recovery_keyfile(v, out):
    """The recovery key init printed, as a --keyfile."""
    key = [w for w in out.split() if w.startswith("phvk-")][0]
    path = os.path.join(v.base, "recovery.bin")
    run("key", "recovery", "keyfile", path, stdin=key, check=0)
    return path


# ---- every key source, end to end ---------------------------------------

def test_passphrase_and_recovery_key(vol):
    out = vol.init(*vol.unlock, "--recovery-key")
    rk = recovery_keyfile(vol, out)
    roundtrip(vol, "a", "by passphrase")
    roundtrip(vol, "b", "by recovery key", "--keyfile", rk)
    listing = vol.key("list", unlock=[]).stdout
    assert "recovery" in listing and "keyfile" in listing
    assert "phvk-" not in listing


def test_recovery_shares_unlock(vol):
    out = vol.init(*vol.unlock, "--recovery-key", "--shares", "3",
                   "--threshold", "2")
    shares = [w for w in out.split() if w.startswith("phvs-")]
    assert len(shares) == 3
    key = run("key", "recovery", "combine",
              stdin=shares[0] + "\n" + shares[2], check=0).stdout
    path = os.path.join(vol.base, "rk.bin")
    run("key", "recovery", "keyfile", path, stdin=key, check=0)
    roundtrip(vol, "s", "shares", "--keyfile", path)


def test_keyfile_source_and_env(vol):
    kf = os.path.join(vol.base, "kf")
    with open(kf, "wb") as f:
        f.write(os.urandom(64))
    os.chmod(kf, 0o600)
    vol.init("--keyfile", kf)
    roundtrip(vol, "k", "by key file", "--keyfile", kf)
    # PHIVAULT_KEYFILE alone unlocks
    roundtrip(vol, "k2", "by env", env={"PHIVAULT_KEYFILE": kf}, bare=True)


def test_key_command_source(vol, tmp_path):
    kms = f"{KEYS}/kms-sim {tmp_path}/kms.key"
    out = vol.init("--key-command", kms, "--recovery-key")
    vol.unlock = ["--key-command", kms]
    roundtrip(vol, "c", "by key service")
    roundtrip(vol, "c2", "by PHIVAULT_KEY_COMMAND",
              env={"PHIVAULT_KEY_COMMAND": kms}, bare=True)
    rk = recovery_keyfile(vol, out)
    roundtrip(vol, "c3", "recovery", "--keyfile", rk)
    assert "command" in vol.key("list", unlock=[]).stdout


def test_token_source(vol, token):
    vol.env = token["env"]
    vol.init(*token["args"], env=token["env"])
    vol.unlock = token["args"]
    roundtrip(vol, "t", "by token", *token["args"], env=token["env"])
    env = dict(token["env"], PHIVAULT_PKCS11_MODULE=token["module"],
               PHIVAULT_TOKEN_LABEL="phv-test", PHIVAULT_PIN_FILE=token["pin"])
    roundtrip(vol, "t2", "by env", env=env, bare=True)
    listing = vol.key("list", unlock=[]).stdout
    assert "pkcs11" in listing


# ---- failures change nothing ------------------------------------------------

def test_failures_are_clear_and_change_nothing(vol, token, tmp_path):
    kms = f"{KEYS}/kms-sim {tmp_path}/kms.key"
    vol.env = token["env"]
    vol.init(*token["args"], env=token["env"])
    vol.key("add", "--new-key-command", kms, "--label", "kms",
            unlock=token["args"])
    before = vol.conf_bytes()
    bad = list(token["args"])
    bad[bad.index(token["pin"])] = token["badpin"]

    p = vol.mount(*bad, check=5)
    assert "wrong PIN for token 'phv-test'" in p.stderr
    absent = list(token["args"])
    absent[absent.index("phv-test")] = "unplugged"
    p = vol.mount(*absent, check=1)
    assert "no pkcs11 slot for token unplugged" in p.stderr
    # the token store is gone (token unplugged)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "tokens").mkdir()
    (empty / "c.conf").write_text(f"directories.tokendir = {empty}/tokens\n")
    p = vol.mount(*token["args"], env={"SOFTHSM2_CONF": str(empty / "c.conf")},
                  check=1)
    assert "no token labelled 'phv-test'" in p.stderr
    p = vol.mount("--key-command", kms, env={"KMS_SIM_MODE": "fail"},
                  check=1)
    assert "failed (exit status 3)" in p.stderr
    assert "access denied" in p.stderr
    # slot editing with a failing source changes nothing either
    vol.key("add", "--new-passphrase-file", vol.pw, unlock=bad, check=5)
    vol.key("remove", "--slot", "1", unlock=["--key-command", kms],
            env={"KMS_SIM_MODE": "fail"}, check=1)
    assert vol.conf_bytes() == before
    assert not ismounted(vol.mnt)


def test_tampered_slot_is_refused(vol):
    vol.init(*vol.unlock)
    lines = vol.conf_bytes().decode().splitlines(True)
    i = next(i for i, l in enumerate(lines) if l.startswith("slot 1 "))
    f = lines[i].split(" ")
    seal = bytearray(base64.urlsafe_b64decode(f[6] + "=" * (-len(f[6]) % 4)))
    seal[20] ^= 1
    f[6] = base64.urlsafe_b64encode(bytes(seal)).decode().rstrip("=")
    lines[i] = " ".join(f)
    tampered = "".join(lines).encode()
    with open(vol.conf, "wb") as fh:
        fh.write(tampered)
    p = vol.mount(check=5)
    assert "no key slot" in p.stderr
    vol.key("add", "--new-passphrase-file", vol.pw, check=5)
    vol.key("rotate", check=5)
    assert vol.conf_bytes() == tampered
    assert not ismounted(vol.mnt)


def test_mac_mismatch_is_named(vol):
    vol.init(*vol.unlock)
    data = vol.conf_bytes().replace(b"block-size 16384", b"block-size 32768")
    with open(vol.conf, "wb") as fh:
        fh.write(data)
    p = vol.mount(check=1)
    assert "integrity check" in p.stderr and ".phivault.conf" in p.stderr
    assert vol.conf_bytes() == data


# ---- slot changes never touch file headers ---------------------------------

def test_slot_changes_keep_headers(vol, token):
    vol.env = token["env"]
    vol.init(*vol.unlock)
    vol.mount()
    os.mkdir(os.path.join(vol.mnt, "d"))
    for i in range(20):
        with open(os.path.join(vol.mnt, "d", str(i)), "w") as f:
            f.write("x" * (i * 1000))
    vol.umount()
    before = vol.backing_files()
    newpw = os.path.join(vol.base, "pw2")
    with open(newpw, "w") as f:
        f.write("a brand new passphrase\n")
    # change the passphrase: add the new one, remove the old one
    vol.key("add", "--new-passphrase-file", newpw)
    vol.key("remove", "--slot", "1", unlock=["--passphrase-file", newpw])
    vol.mount(check=5)
    # add a token, then remove it again
    vol.key("add", "--new-token", *token["args"],
            unlock=["--passphrase-file", newpw])
    vol.key("remove", "--slot", "3", unlock=token["args"])
    assert vol.backing_files() == before
    roundtrip(vol, "after", "still fine", "--passphrase-file", newpw)
    p = vol.key("remove", "--slot", "2", unlock=["--passphrase-file", newpw],
                check=1)
    assert "last one" in p.stderr


# ---- rotation, rewrap, retire -----------------------------------------------

def make_files(v, n, per_dir=100):
    for d in range((n + per_dir - 1) // per_dir):
        dp = os.path.join(v.mnt, "d%03d" % d)
        os.mkdir(dp)
        for i in range(min(per_dir, n - d * per_dir)):
            with open(os.path.join(dp, "f%d" % i), "w") as f:
                f.write("file %d/%d\n" % (d, i))


def test_rotation_reaches_running_mount(vol):
    vol.init(*vol.unlock)
    vol.mount()
    make_files(vol, 10)
    assert set(vol.headers().values()) == {1}
    out = vol.key("rotate").stdout
    assert "KEK version 2 is current" in out
    old = set(vol.headers())
    with open(os.path.join(vol.mnt, "fresh"), "w") as f:
        f.write("made after the rotation")
    new = {k: v for k, v in vol.headers().items() if k not in old}
    assert list(new.values()) == [2]
    # old files still read, and fsck-clean after rewrap while mounted
    out = vol.key("rewrap").stdout
    assert "10 file(s) rewrapped to KEK version 2, 1 already" in out
    for d, _, files in os.walk(vol.mnt):
        for n in files:
            with open(os.path.join(d, n)) as f:
                assert f.read()
    vol.umount()
    assert "0 damaged" in run("fsck", *vol.unlock, vol.dir, check=0).stdout


def test_rewrap_killed_and_resumed(vol):
    vol.init(*vol.unlock)
    vol.mount()
    n = 10000
    make_files(vol, n)
    vol.umount()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PHIVAULT_")}
    partial = None
    for attempt in range(12):
        vol.key("rotate")
        cur = int(run("info", vol.dir, check=0).stdout.split(
            "(current ")[1].split(")")[0])
        p = subprocess.Popen([PHIVAULT, "key", "rewrap", *vol.unlock,
                              vol.dir], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(0.02 + 0.02 * attempt)
        os.kill(p.pid, signal.SIGSTOP)
        versions = list(vol.headers().values())
        done = sum(1 for v in versions if v == cur)
        if 0 < done < n:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            partial = done
            break
        os.kill(p.pid, signal.SIGCONT)
        p.wait()
        # finished too fast or not started: rotate again and retry
    assert partial is not None, "could not catch rewrap halfway"
    out = vol.key("rewrap").stdout
    moved = int(out.split("rewrap: ")[1].split(" ")[0])
    assert moved == n - partial
    assert f"{partial} already on it" in out
    assert set(vol.headers().values()) == {cur}
    assert "0 damaged" in run("fsck", *vol.unlock, vol.dir, check=0).stdout


def test_rewrap_10000_files(vol):
    # the time it takes is a benchmark figure (bench/sections/30-keys.sh)
    vol.init(*vol.unlock)
    vol.mount()
    make_files(vol, 10000)
    vol.umount()
    vol.key("rotate")
    out = vol.key("rewrap").stdout
    assert "10000 file(s) rewrapped" in out
    cur = max(vol.headers().values())
    assert set(vol.headers().values()) == {cur}


def test_retire_refused_then_material_gone(vol):
    vol.init(*vol.unlock)
    vol.mount()
    make_files(vol, 30)
    vol.umount()
    line = [l for l in vol.conf_bytes().decode().splitlines()
            if l.startswith("kek 1 ")][0]
    sealed_b64 = line.split()[3]
    sealed = base64.urlsafe_b64decode(sealed_b64 + "=" * (-len(sealed_b64) % 4))
    p = vol.key("retire", after=["1"], check=1)
    assert "current one" in p.stderr
    vol.key("rotate")
    before = vol.conf_bytes()
    p = vol.key("retire", after=["1"], check=1)
    assert "30 file(s) still use KEK version 1" in p.stderr
    assert p.stderr.count("\n  /d000/") == 10
    assert vol.conf_bytes() == before
    vol.key("rewrap")
    out = vol.key("retire", after=["1"]).stdout
    assert "destroyed" in out
    info = run("info", vol.dir, check=0).stdout
    assert "kek 1" not in info and "kek 2" in info
    # the sealed KEK is nowhere in the backing directory any more
    for root, _, files in os.walk(vol.dir):
        for n in files:
            with open(os.path.join(root, n), "rb") as f:
                data = f.read()
            assert sealed_b64.encode() not in data, n
            assert sealed[12:44] not in data, n
    roundtrip(vol, "after-retire", "fine")
    assert "0 damaged" in run("fsck", *vol.unlock, vol.dir, check=0).stdout


# ---- shred ------------------------------------------------------------------------

def backing_of(v, before):
    new = [k for k in v.backing_files() if k not in before]
    assert len(new) == 1, new
    return os.path.join(v.dir, new[0])


def test_shred_leaves_nothing_decryptable(vol, tmp_path):
    vol.init(*vol.unlock)
    vol.mount()
    before = vol.backing_files()
    with open(os.path.join(vol.mnt, "phi.txt"), "w") as f:
        f.write("patient 1234: diagnosis\n" * 100)
    os.sync()
    bpath = backing_of(vol, before)
    held = os.open(bpath, os.O_RDONLY)	# to read it after the unlink
    old_copy = tmp_path / "old-copy"
    shutil.copytree(vol.dir, old_copy)
    p = run("shred", *vol.unlock, vol.dir, "phi.txt")
    assert p.returncode == 2 and "--yes" in p.stderr
    assert os.path.exists(bpath)
    out = run("shred", *vol.unlock, "--yes", "--mountpoint", vol.mnt,
              vol.dir, os.path.join(vol.mnt, "phi.txt"), check=0).stdout
    assert "1 file(s) destroyed" in out
    assert not os.path.exists(bpath)
    # removed through the mount: the kernel forgot the name at once
    assert not os.path.exists(os.path.join(vol.mnt, "phi.txt"))
    vol.umount()
    after = os.pread(held, 1 << 20, 0)
    os.close(held)
    assert len(after) > HDR and after[:4] != b"PHVF"
    # a backing copy taken after the shred has no trace of the file
    new_copy = tmp_path / "new-copy"
    shutil.copytree(vol.dir, new_copy)
    assert not os.path.exists(new_copy / os.path.relpath(bpath, vol.dir))
    # the bytes left after the shred, put back in place: no valid header
    dst = new_copy / os.path.relpath(bpath, vol.dir)
    dst.write_bytes(after)
    p = run("fsck", *vol.unlock, str(new_copy), check=4)
    assert "phi.txt: header fails authentication" in p.stdout
    # the documented limit: a copy taken BEFORE the shred still opens
    p = run("fsck", *vol.unlock, str(old_copy), check=0)
    assert "1 files" in p.stdout


def test_shred_directories_and_refusals(vol):
    vol.init(*vol.unlock)
    vol.mount()
    make_files(vol, 25, per_dir=10)
    os.symlink("d000/f1", os.path.join(vol.mnt, "link"))
    os.link(os.path.join(vol.mnt, "d002", "f0"),
            os.path.join(vol.mnt, "hard"))
    vol.umount()
    for root in ("/", "", ".", "d000/.."):
        p = run("shred", *vol.unlock, "--yes", vol.dir, root)
        assert p.returncode == 2 and "refused" in p.stderr, root
    p = run("shred", *vol.unlock, "--yes", vol.dir, "d002")
    assert p.returncode == 3 and "hard links" in p.stderr
    out = run("shred", *vol.unlock, "--yes", vol.dir, "d000", "/d001/",
              "link", check=0).stdout
    assert "20 file(s) destroyed, 1 symlink(s) and 2 directories" in out
    vol.mount()
    assert sorted(os.listdir(vol.mnt)) == ["d002", "hard"]
    vol.umount()


# ---- retention ----------------------------------------------------------------

def test_retention_rules(vol):
    vol.init(*vol.unlock)
    vol.mount()
    make_files(vol, 6, per_dir=3)		# d000/f0..f2, d001/f0..f2
    old = time.time() - 40 * 86400
    for name in ("d000/f0", "d000/f1", "d001/f0"):
        os.utime(os.path.join(vol.mnt, name), (old, old))
    vol.umount()

    def ret(*args, check=0):
        return run("retention", args[0], *vol.unlock, *args[1:], check=check)

    ret("set", vol.dir, "/d000", "30d")
    ret("set", vol.dir, "d001/f0", "90d")
    ret("set", vol.dir, "d000", "2w")		# replaces the 30d rule
    assert ret("set", vol.dir, "/", "1d", check=2).returncode == 2
    assert ret("list", vol.dir).stdout == "90d d001/f0\n2w d000\n"
    # rules name plaintext paths: they are sealed in the config
    assert b"d000" not in vol.conf_bytes()
    out = ret("apply", "--dry-run", vol.dir).stdout
    assert "would shred /d000/f0" in out and "would shred /d000/f1" in out
    assert "2 file(s) would be shredded" in out
    before = vol.backing_files()
    out = ret("apply", vol.dir).stdout
    assert "2 file(s) shredded, 0 failed" in out
    assert len(vol.backing_files()) == len(before) - 2
    vol.mount()
    assert sorted(os.listdir(os.path.join(vol.mnt, "d000"))) == ["f2"]
    assert len(os.listdir(os.path.join(vol.mnt, "d001"))) == 3
    vol.umount()
    ret("remove", vol.dir, "d000")
    assert ret("list", vol.dir).stdout == "90d d001/f0\n"
    assert "no rule" in ret("remove", vol.dir, "d000", check=1).stderr
