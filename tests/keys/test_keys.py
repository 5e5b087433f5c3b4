# SPDX-License-Identifier: MIT
"""End-to-end tests of `phivault key` (docs/KEYS.md).

Run from the top of the tree: pytest tests/keys.  The binary is
$PHIVAULT or ./phivault.  Token tests use a private SoftHSM2 store made
by tests/keys/softhsm-setup in a temporary directory; they are skipped
when softhsm2 is not installed.  Slot-editing tests are skipped while
the volume library lacks the slot API (the binary says so).
"""
import itertools
import os
import shutil
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHIVAULT = os.environ.get("PHIVAULT", os.path.join(TOP, "phivault"))
KEYS = os.path.join(TOP, "tests", "keys")


def run(*args, stdin="", env=None, check=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([PHIVAULT, *args], input=stdin, env=e,
                       capture_output=True, text=True, timeout=120)
    if check is not None:
        assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
    return p


@pytest.fixture(scope="session", autouse=True)
def binary():
    if not os.access(PHIVAULT, os.X_OK):
        pytest.skip(f"no phivault binary at {PHIVAULT}")


# ---- recovery keys -----------------------------------------------------

def new_key():
    key = run("key", "recovery", "new", check=0).stdout.strip()
    assert key.startswith("phvk-")
    return key


def split(key, n, m):
    out = run("key", "recovery", "split", "--shares", str(n),
              "--threshold", str(m), stdin=key + "\n", check=0).stdout
    shares = [line.split(": ", 1)[1] for line in out.splitlines()]
    assert len(shares) == n and all(s.startswith("phvs-") for s in shares)
    return shares


def test_every_threshold_subset_recovers():
    key = new_key()
    shares = split(key, 5, 3)
    for k in (3, 4, 5):
        for subset in itertools.combinations(shares, k):
            out = run("key", "recovery", "combine",
                      stdin="\n".join(subset) + "\n", check=0).stdout
            assert out.strip() == key
    for subset in itertools.combinations(shares, 2):
        p = run("key", "recovery", "combine", stdin="\n".join(subset))
        assert p.returncode == 1 and "3 needed" in p.stderr
        assert "phvk-" not in p.stdout


def test_printed_lines_and_case_are_accepted():
    key = new_key()
    out = run("key", "recovery", "split", "--shares", "3", "--threshold",
              "2", stdin=key, check=0).stdout
    lines = out.splitlines()[1:]
    text = "\n\n".join(line.upper() if i else line
                       for i, line in enumerate(lines))
    assert run("key", "recovery", "combine", stdin=text,
               check=0).stdout.strip() == key


def test_mistyped_share_is_named():
    shares = split(new_key(), 3, 2)
    bad = shares[1]
    pos = len(bad) - 10
    bad = bad[:pos] + ("0" if bad[pos] != "0" else "1") + bad[pos + 1:]
    p = run("key", "recovery", "combine", stdin=shares[0] + "\n" + bad)
    assert p.returncode == 1 and "mistyped" in p.stderr
    assert "phvk-" not in p.stdout


def test_mixed_splits_and_duplicates_are_refused():
    a = split(new_key(), 3, 2)
    b = split(new_key(), 3, 2)
    p = run("key", "recovery", "combine", stdin=a[0] + "\n" + b[1])
    assert p.returncode == 1 and "different splits" in p.stderr
    p = run("key", "recovery", "combine", stdin=a[0] + "\n" + a[0])
    assert p.returncode == 1 and "twice" in p.stderr


def test_split_usage():
    key = new_key()
    assert run("key", "recovery", "split", "--shares", "2", "--threshold",
               "3", stdin=key).returncode == 2
    assert run("key", "recovery", "split", "--shares", "3", "--threshold",
               "1", stdin=key).returncode == 2
    p = run("key", "recovery", "split", "--shares", "3", "--threshold", "2",
            stdin=key[:-1] + ("0" if key[-1] != "0" else "1"))
    assert p.returncode == 1 and "mistyped" in p.stderr


def test_recovery_keyfile(tmp_path):
    key = new_key()
    out = tmp_path / "rk.bin"
    run("key", "recovery", "keyfile", str(out), stdin=key, check=0)
    assert out.stat().st_size == 32
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    # never overwrites, says why, and leaves no temporary behind
    before = out.read_bytes()
    p = run("key", "recovery", "keyfile", str(out), stdin=new_key())
    assert p.returncode == 1 and "never overwritten" in p.stderr
    assert out.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["rk.bin"]


# ---- PKCS#11 token ------------------------------------------------------

@pytest.fixture
def token(tmp_path):
    if not shutil.which("softhsm2-util"):
        pytest.skip("softhsm2 not installed")
    module = subprocess.run([os.path.join(KEYS, "softhsm-setup"),
                             str(tmp_path), "phv-test", "so-1234", "pin-5678"],
                            capture_output=True, text=True, check=True)
    pin = tmp_path / "pin"
    pin.write_text("pin-5678\n")
    badpin = tmp_path / "badpin"
    badpin.write_text("pin-0000\n")
    return {
        "env": {"SOFTHSM2_CONF": str(tmp_path / "softhsm2.conf")},
        "module": module.stdout.strip(),
        "pin": str(pin),
        "badpin": str(badpin),
    }


def token_args(t, pin=None, label="phv-test"):
    return ["--pkcs11-module", t["module"], "--token-label", label,
            "--pin-file", pin or t["pin"]]


def test_token_keygen(token):
    p = run("key", "token-keygen", *token_args(token), "--key-label", "vk",
            env=token["env"], check=0)
    assert "not extractable" in p.stdout
    p = run("key", "token-keygen", *token_args(token), "--key-label", "vk",
            env=token["env"], check=1)
    assert "already has a key" in p.stderr


def test_token_errors_are_clear(token):
    p = run("key", "token-keygen", *token_args(token, pin=token["badpin"]),
            "--key-label", "vk", env=token["env"], check=5)
    assert "wrong PIN" in p.stderr
    p = run("key", "token-keygen", *token_args(token, label="absent"),
            "--key-label", "vk", env=token["env"], check=1)
    assert "no token labelled 'absent'" in p.stderr
    p = run("key", "token-keygen", "--pkcs11-module", "/nonexistent.so",
            "--token-label", "phv-test", "--pin-file", token["pin"],
            "--key-label", "vk", env=token["env"], check=1)
    assert "cannot load PKCS#11 module" in p.stderr
    # the PIN comes from a command, too
    p = run("key", "token-keygen", "--pkcs11-module", token["module"],
            "--token-label", "phv-test", "--pin-command", "echo pin-5678",
            "--key-label", "vk3", env=token["env"], check=0)


# ---- slots on a real volume (needs the slot API in fs/) ------------------

def slot_api_missing():
    p = run("key", "add", "/nonexistent")
    return "build lacks" in p.stderr


@pytest.fixture
def volume(tmp_path):
    if slot_api_missing():
        pytest.skip("volume library has no slot API yet (see docs/KEYS.md)")
    d = tmp_path / "vol"
    d.mkdir()
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery staple\n")
    run("init", "--passphrase-file", str(pw), "--argon2", "1:8192:1",
        str(d), check=0)
    return {"dir": str(d), "pw": str(pw)}


def test_list_shows_no_secrets(volume):
    p = run("key", "list", volume["dir"], check=0)
    assert "passphrase" in p.stdout
    conf = open(os.path.join(volume["dir"], ".phivault.conf")).read()
    for field in conf.split():
        if len(field) > 40:
            assert field not in p.stdout


def test_command_slot_end_to_end(volume, tmp_path):
    kms = f"{KEYS}/kms-sim {tmp_path}/kms.key"
    run("key", "add", "--passphrase-file", volume["pw"],
        "--new-key-command", kms, "--label", "kms", volume["dir"], check=0)
    before = open(os.path.join(volume["dir"], ".phivault.conf")).read()
    assert "command" in run("key", "list", volume["dir"], check=0).stdout
    # unlock through the key service: remove the passphrase slot with it
    run("key", "remove", "--slot", "1", "--key-command", kms,
        volume["dir"], check=0)
    # a failing service and a hanging one change nothing
    p = run("key", "remove", "--slot", "2", "--key-command", kms,
            volume["dir"], env={"KMS_SIM_MODE": "fail"})
    assert p.returncode != 0 and "exit status 3" in p.stderr
    p = run("key", "remove", "--slot", "2", "--key-command", kms,
            "--key-command-timeout", "1", volume["dir"],
            env={"KMS_SIM_MODE": "sleep"})
    assert p.returncode != 0 and "did not answer" in p.stderr
    # never the last slot
    p = run("key", "remove", "--slot", "2", "--key-command", kms,
            volume["dir"])
    assert p.returncode == 1 and "last one" in p.stderr
    assert before != open(os.path.join(volume["dir"],
                                       ".phivault.conf")).read()


def test_token_slot_end_to_end(volume, token):
    env = token["env"]
    run("key", "token-keygen", *token_args(token), "--key-label", "vk",
        env=env, check=0)
    run("key", "add", "--passphrase-file", volume["pw"], "--new-token",
        *token_args(token), "--key-label", "vk", volume["dir"], env=env,
        check=0)
    conf = os.path.join(volume["dir"], ".phivault.conf")
    before = open(conf).read()
    p = run("key", "remove", "--slot", "1", *token_args(token,
            pin=token["badpin"]), volume["dir"], env=env)
    assert p.returncode == 5 and "wrong PIN" in p.stderr
    assert open(conf).read() == before
    run("key", "remove", "--slot", "1", *token_args(token), volume["dir"],
        env=env, check=0)
