# SPDX-License-Identifier: MIT
"""Integration tests of backup/s3.c through tests/backup/s3tool.

Most tests talk to a real Ceph radosgw on loopback (see conftest.py).
The retry tests use a scripted HTTP server on 127.0.0.1 instead, because
only a fake server can be told to fail on purpose; it counts requests.

Run: /usr/bin/python3 -m pytest tests/backup/test_s3.py
"""
import http.server
import threading
import time
import uuid

import pytest

from conftest import Tool

EXIT_LOCKED, EXIT_NOTFOUND, EXIT_BADKEY = 3, 4, 5
DAY = 86400


def put(tool, bucket, datafile, key, content, *lock):
    return tool.kv("put", bucket, key, datafile(content), *lock)["version"]


# ---- against radosgw ---------------------------------------------------

def test_bucket_has_object_lock(tool, bucket):
    cfg = tool.kv("lockcfg", bucket)
    assert cfg["enabled"] == "1"


def test_lockcfg_of_missing_bucket(tool):
    r = tool.run("lockcfg", "phv-missing-" + uuid.uuid4().hex[:8])
    assert r.returncode == EXIT_NOTFOUND
    assert "NoSuchBucket" in r.err


def test_put_returns_version_and_head_shows_lock(tool, bucket, datafile):
    before = int(time.time())
    v = put(tool, bucket, datafile, "pack-1", b"x" * 1000,
            "--mode", "GOVERNANCE", "--retain-days", 1)
    assert v
    h = tool.kv("head", bucket, "pack-1", "--version", v)
    assert h["version"] == v
    assert h["size"] == "1000"
    assert h["mode"] == "GOVERNANCE"
    until = int(h["retain_until_epoch"])
    assert before + DAY - 5 <= until <= int(time.time()) + DAY + 5
    ret = tool.kv("retention", bucket, "pack-1", "--version", v)
    assert ret["mode"] == "GOVERNANCE"
    assert int(ret["retain_until_epoch"]) == until


def test_put_without_lock_has_no_retention(tool, bucket, datafile):
    v = put(tool, bucket, datafile, "plain", b"abc")
    h = tool.kv("head", bucket, "plain")
    assert h["version"] == v and h["mode"] == ""
    assert tool.kv("retention", bucket, "plain")["mode"] == ""


def test_locked_version_delete_refused(tool, bucket, datafile):
    v = put(tool, bucket, datafile, "k", b"data",
            "--mode", "GOVERNANCE", "--retain-days", 1)
    r = tool.run("rm", bucket, "k", "--version", v)
    assert r.returncode == EXIT_LOCKED, r.err
    assert "AccessDenied" in r.err and bucket + "/k" in r.err
    assert "refused by object lock" in r.err
    assert tool.ok("get", bucket, "k", "--version", v).stdout == b"data"


def test_plain_delete_leaves_locked_version(tool, bucket, datafile):
    v = put(tool, bucket, datafile, "k", b"keep me",
            "--mode", "COMPLIANCE", "--retain-seconds", 600)
    marker = tool.kv("rm", bucket, "k")["delete_marker_version"]
    assert marker and marker != v
    assert tool.run("get", bucket, "k").returncode == EXIT_NOTFOUND
    assert tool.ok("get", bucket, "k", "--version", v).stdout == b"keep me"
    lines = tool.ok("versions", bucket).out.splitlines()
    assert any(f"version={marker} " in s and "delete_marker=1" in s
               and "latest=1" in s for s in lines)
    assert any(f"version={v} " in s and "delete_marker=0" in s
               for s in lines)
    # the marker itself is not locked and can go; the data is back
    tool.ok("rm", bucket, "k", "--version", marker)
    assert tool.ok("get", bucket, "k").stdout == b"keep me"


def test_extend_retention(tool, bucket, datafile):
    v = put(tool, bucket, datafile, "k", b"d",
            "--mode", "GOVERNANCE", "--retain-days", 1)
    tool.ok("extend-retention", bucket, "k", "--version", v,
            "--retain-days", 3)
    until = int(tool.kv("retention", bucket, "k", "--version", v)
                ["retain_until_epoch"])
    assert abs(until - (time.time() + 3 * DAY)) < 10
    # shortening needs the bypass, and is refused without it
    r = tool.run("extend-retention", bucket, "k", "--version", v,
                 "--retain-days", 2)
    assert r.returncode == EXIT_LOCKED, r.err
    assert "AccessDenied" in r.err


def test_compliance_cannot_be_bypassed(tool, bucket, datafile):
    v = put(tool, bucket, datafile, "k", b"d",
            "--mode", "COMPLIANCE", "--retain-seconds", 600)
    r = tool.run("rm", bucket, "k", "--version", v, "--bypass")
    assert r.returncode == EXIT_LOCKED, r.err
    r = tool.run("extend-retention", bucket, "k", "--version", v,
                 "--mode", "COMPLIANCE", "--retain-seconds", 60, "--bypass")
    assert r.returncode == EXIT_LOCKED, r.err
    tool.ok("extend-retention", bucket, "k", "--version", v,
            "--mode", "COMPLIANCE", "--retain-seconds", 1200)


def test_governance_bypass_delete(tool, bucket, datafile):
    v = put(tool, bucket, datafile, "k", b"d",
            "--mode", "GOVERNANCE", "--retain-days", 1)
    tool.ok("rm", bucket, "k", "--version", v, "--bypass")
    assert tool.run("get", bucket, "k", "--version", v).returncode \
        == EXIT_NOTFOUND
    assert f"version={v} " not in tool.ok("versions", bucket).out


def test_ranged_get(tool, bucket, datafile):
    body = bytes(range(256)) * 40
    v = put(tool, bucket, datafile, "r", body)
    assert tool.ok("get", bucket, "r", "--range", "0-9").stdout == body[:10]
    assert tool.ok("get", bucket, "r", "--range", "1000-5000",
                   "--version", v).stdout == body[1000:5001]
    # a range past the end is cut at the end of the object
    assert tool.ok("get", bucket, "r", "--range", "10230-20000").stdout \
        == body[10230:]
    assert tool.ok("get", bucket, "r").stdout == body


def test_odd_keys_round_trip(tool, bucket, datafile):
    keys = ["dir one/a+b&c=d~e.txt", "ünïcode/ключ", "x/./y//z", "%41"]
    for i, k in enumerate(keys):
        put(tool, bucket, datafile, k, b"v%d" % i)
    for i, k in enumerate(keys):
        assert tool.ok("get", bucket, k).stdout == b"v%d" % i
    listed = [line[len("key="):line.index(" version=")]
              for line in tool.ok("ls", bucket).out.splitlines()]
    assert sorted(listed) == sorted(keys)


def test_list_pages(tool, bucket, datafile):
    for i in range(7):
        put(tool, bucket, datafile, f"snap/{i:02d}", b"s")
    put(tool, bucket, datafile, "other", b"o")
    out = tool.ok("ls", bucket, "--prefix", "snap/", "--max", 2).out
    assert [s.split(" ")[0] for s in out.splitlines()] == \
        [f"key=snap/{i:02d}" for i in range(7)]
    put(tool, bucket, datafile, "snap/00", b"second version")
    out = tool.ok("versions", bucket, "--prefix", "snap/", "--max", 1).out
    assert len(out.splitlines()) == 8


def test_server_clock(tool, bucket):
    d = tool.kv("date", bucket)
    assert abs(int(d["server_date_epoch"]) - time.time()) < 5
    d = tool.kv("date")
    assert abs(int(d["server_date_epoch"]) - time.time()) < 5


def test_wrong_secret_key(tool, bucket, datafile):
    r = tool.run("put", bucket, "k", datafile(b"x"),
                 env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert r.returncode == EXIT_BADKEY
    assert "SignatureDoesNotMatch" in r.err
    assert "HTTP 403" in r.err and bucket + "/k" in r.err
    assert "not-the-secret" not in r.err + r.out
    assert "retries=0" in r.err


def test_credentials_from_shared_file(tool, bucket, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[other]\naws_access_key_id = nope\n"
                     "[phv]\naws_access_key_id = %s\n"
                     "aws_secret_access_key = %s\n"
                     % (tool.env["AWS_ACCESS_KEY_ID"],
                        tool.env["AWS_SECRET_ACCESS_KEY"]))
    env = {k: v for k, v in tool.env.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    t = Tool(tool.path, env)
    t.ok("lockcfg", bucket, env={"AWS_SHARED_CREDENTIALS_FILE": str(creds),
                                 "AWS_PROFILE": "phv"})
    r = t.run("lockcfg", bucket, env={"AWS_SHARED_CREDENTIALS_FILE":
                                      str(creds), "AWS_PROFILE": "none"})
    assert r.returncode == 1 and "no credentials" in r.err


# ---- retries, against a scripted server ----------------------------------

class Script(http.server.BaseHTTPRequestHandler):
    """Answers HEAD/GET with the next status of server.script."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body):
        srv = self.server
        with srv.lock:
            srv.count += 1
            n = srv.count
            step = srv.script[min(n, len(srv.script)) - 1]
        if step == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_response(step)
        payload = b""
        if step >= 400 and body:
            payload = (b"<?xml version=\"1.0\"?><Error><Code>%s</Code>"
                       b"<Message>scripted</Message></Error>"
                       % (b"AccessDenied" if step == 403 else b"SlowDown"))
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amz-version-id", "v%d" % n)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def do_HEAD(self):
        self.answer(False)

    def do_GET(self):
        self.answer(True)

    def do_DELETE(self):
        self.answer(True)


@pytest.fixture
def scripted(s3tool):
    servers = []

    def start(*script):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Script)
        srv.script, srv.count, srv.lock = list(script), 0, threading.Lock()
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:%d" % srv.server_port,
               "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_REGION": "us-east-1",
               "AWS_SECRET_ACCESS_KEY": "secret", "PHV_S3_ATTEMPTS": "4",
               "PHV_S3_BACKOFF_MS": "20"}
        return srv, Tool(s3tool, env)

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_retry_on_503(scripted):
    srv, t = scripted(503, 503, 200)
    r = t.run("head", "bkt", "key", check=0)
    assert srv.count == 3
    assert "version=v3" in r.out and "retries=2" in r.err


def test_no_retry_on_403(scripted):
    srv, t = scripted(403, 200)
    r = t.run("get", "bkt", "key")
    assert r.returncode == 1 and srv.count == 1
    assert "AccessDenied" in r.err and "bkt/key" in r.err


def test_no_retry_on_404(scripted):
    srv, t = scripted(404, 200)
    assert t.run("get", "bkt", "key").returncode == EXIT_NOTFOUND
    assert srv.count == 1


def test_retry_gives_up(scripted):
    srv, t = scripted(500)
    start = time.time()
    r = t.run("get", "bkt", "key")
    assert srv.count == 4 and r.returncode == 1
    assert "network failure" in r.err and "HTTP 500" in r.err
    assert time.time() - start < 5


def test_retry_on_connection_reset(scripted):
    srv, t = scripted("reset", 429, 200)
    t.run("head", "bkt", "key", check=0)
    assert srv.count == 3


def test_no_retry_on_locked_delete(scripted):
    srv, t = scripted(403, 204)
    r = t.run("rm", "bkt", "key", "--version", "v1")
    assert r.returncode == EXIT_LOCKED and srv.count == 1
