# SPDX-License-Identifier: MIT
"""kill -9 of the volume daemon in the middle of writes: every file that
was fsynced before the kill reads back exactly; no file that was not
being written is damaged; fsck after the crash finds no damage outside
the files in flight."""
import hashlib
import os
import random
import threading
import time

from fusehelp import PHIVAULT, run


def test_kill9_during_writes(vol):
    done = {}                   # name -> sha256 of fsynced content
    stop = threading.Event()
    rnd = random.Random(7)

    # files written and fsynced before the storm
    for i in range(20):
        data = os.urandom(rnd.randrange(1, 300000))
        with open(vol.p("old%d" % i), "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
        done["old%d" % i] = hashlib.sha256(data).hexdigest()

    def writer(k):
        i = 0
        while not stop.is_set():
            name = "w%d_%d" % (k, i)
            data = os.urandom(rnd.randrange(1, 1 << 20))
            try:
                with open(vol.p(name), "wb") as f:
                    f.write(data)
                    os.fsync(f.fileno())
            except OSError:
                return
            done[name] = hashlib.sha256(data).hexdigest()
            i += 1

    def rewriter():
        # overwrites inside an old file without fsync: may tear it only
        try:
            with open(vol.p("inflight"), "wb") as f:
                while not stop.is_set():
                    f.seek(rnd.randrange(0, 4 << 20))
                    f.write(os.urandom(70000))
        except OSError:
            pass

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    threads.append(threading.Thread(target=rewriter))
    for t in threads:
        t.start()
    time.sleep(2.0)
    snapshot = dict(done)       # fsync returned for all of these
    assert vol.kill_daemon() >= 1
    stop.set()
    for t in threads:
        t.join(timeout=30)
    run(["fusermount3", "-u", "-z", vol.mnt])

    r = run([PHIVAULT, "fsck", "--passphrase-file", vol.passfile,
             vol.cipher])
    damaged = [ln for ln in r.stdout.splitlines() if ln.startswith("DAMAGED")]
    # only the file being rewritten, or a file whose fsync never
    # returned, may be damaged
    for ln in damaged:
        name = ln.split()[1].rstrip(":").lstrip("/")
        assert name not in snapshot, ln

    vol.mount()
    for name, digest in snapshot.items():
        with open(vol.p(name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name
