# SPDX-License-Identifier: MIT
"""Fixtures for the FUSE integration tests: real mounts of ./phivault.

Every test gets its own volume, created with a cheap Argon2 cost
(`phivault init --argon2 1:8192:1`), mounted in the background
(`phivault mount`, which daemonizes) and unmounted with `fusermount3 -u`
when the test ends.  Nothing here mocks FUSE or the volume: a test that
passes has exercised the kernel, the daemon and the backing files.

Tests are written against the behaviour the README, `phivault help` and
POSIX promise, not against what the current daemon happens to do; many
fail while the volume is being written, and that is the point.

Skips (with the reason printed): no /dev/fuse or fusermount3, or
`phivault init` does not know --argon2 yet.  A missing ./phivault is a
failure: `make` builds it, and run-all counts a failed build separately.
"""
import os
import shutil
import tempfile

import pytest

from fusehelp import HELPERS, PHIVAULT, Volume, run


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes more than a few seconds (still run by default)")


def _require_fuse():
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing (modprobe fuse)")
    if not shutil.which("fusermount3"):
        pytest.skip("fusermount3 is missing (apt-get install fuse3)")
    if not os.access(PHIVAULT, os.X_OK):
        pytest.fail("%s is not built (run make)" % PHIVAULT)


@pytest.fixture
def new_volume(tmp_path):
    """A created but unmounted volume."""
    _require_fuse()
    base = tempfile.mkdtemp(prefix="phv-", dir=str(tmp_path))
    v = Volume(base)
    v.init()
    yield v
    v.cleanup()


@pytest.fixture
def vol(new_volume):
    """A created and mounted volume."""
    new_volume.mount()
    yield new_volume
    new_volume.cleanup()


@pytest.fixture
def bare(tmp_path):
    """A Volume object with nothing created, for init/mount failure tests."""
    _require_fuse()
    base = tempfile.mkdtemp(prefix="phv-", dir=str(tmp_path))
    v = Volume(base)
    yield v
    v.cleanup()



@pytest.fixture(scope="session")
def c_helper(tmp_path_factory):
    """Compile tests/fuse/helpers/NAME.c once per session; returns a path."""
    out = tmp_path_factory.mktemp("helpers")
    built = {}

    def build(name):
        if name not in built:
            exe = str(out / name)
            r = run(["cc", "-O2", "-Wall", "-o", exe,
                     os.path.join(HELPERS, name + ".c")])
            if r.returncode:
                pytest.fail("cannot build helper %s: %s" % (name, r.stderr))
            built[name] = exe
        return built[name]
    return build
