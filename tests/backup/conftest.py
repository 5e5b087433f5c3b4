# SPDX-License-Identifier: MIT
"""Fixtures for the S3 integration tests (test_s3.py).

One radosgw (tests/s3server/rgw-start) serves the whole session and is
stopped at the end.  Set PHIVAULT_RGW_DIR to reuse a gateway that is
already running there (it is then left running).  Tests that need the
gateway are skipped when radosgw is not installed.  The s3tool driver is
built with make when missing.
"""
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
S3TOOL = os.path.join(ROOT, "tests", "backup", "s3tool")
RGW_START = os.path.join(ROOT, "tests", "s3server", "rgw-start")
RGW_STOP = os.path.join(ROOT, "tests", "s3server", "rgw-stop")

# variables of the caller that must not leak into the tests
SCRUB = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3",
         "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
         "AWS_SHARED_CREDENTIALS_FILE", "http_proxy", "https_proxy",
         "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env["HOME"] = "/nonexistent"  # never read the caller's ~/.aws
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def s3tool():
    if not os.access(S3TOOL, os.X_OK):
        r = subprocess.run(["make", "-C", ROOT, "tests/backup/s3tool"],
                           capture_output=True, text=True)
        if r.returncode:
            pytest.fail("cannot build s3tool:\n" + r.stdout + r.stderr)
    return S3TOOL


def parse_env(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export "):].partition("=")
            out[k] = v
    return out


@pytest.fixture(scope="session")
def rgw():
    """Settings (a dict of AWS_* variables) of a running radosgw."""
    if not shutil.which("radosgw"):
        pytest.skip("radosgw not installed (ceph-mon ceph-osd radosgw)")
    reuse = os.environ.get("PHIVAULT_RGW_DIR")
    d = reuse or tempfile.mkdtemp(prefix="phv-rgw-")
    r = subprocess.run([RGW_START, d], capture_output=True, text=True,
                       timeout=240)
    if r.returncode:
        pytest.fail("rgw-start failed:\n" + r.stderr[-4000:])
    try:
        yield parse_env(r.stdout)
    finally:
        if not reuse:
            subprocess.run([RGW_STOP, d], timeout=60)
            shutil.rmtree(d, ignore_errors=True)


class Tool:
    """Runs s3tool with a given environment."""

    def __init__(self, path, env):
        self.path = path
        self.env = env

    def run(self, *args, env=None, input_file=None, check=None):
        e = clean_env(self.env)
        e.update(env or {})
        r = subprocess.run([self.path] + [str(a) for a in args],
                           capture_output=True, env=e, timeout=120)
        r.out = r.stdout.decode("utf-8", "replace")
        r.err = r.stderr.decode("utf-8", "replace")
        if check is not None:
            assert r.returncode == check, (args, r.returncode, r.out, r.err)
        return r

    def ok(self, *args, **kw):
        return self.run(*args, check=0, **kw)

    def kv(self, *args, **kw):
        """Run, require success, and parse name=value output lines."""
        out = {}
        for line in self.ok(*args, **kw).out.splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out


@pytest.fixture(scope="session")
def tool(s3tool, rgw):
    return Tool(s3tool, rgw)


@pytest.fixture
def bucket(tool):
    """A fresh bucket with Object Lock enabled."""
    name = "phv-" + uuid.uuid4().hex[:16]
    tool.ok("mb-lock", name)
    return name


@pytest.fixture
def datafile(tmp_path):
    def make(content):
        p = tmp_path / uuid.uuid4().hex
        p.write_bytes(content)
        return p
    return make
