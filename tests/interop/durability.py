#!/usr/bin/python3
"""quorumd's durability, shown from outside with a real client:

  kill     a writer keeps many creates in flight; quorumd is SIGKILLed at random moments
           (--rounds, at least 20) and restarted on the same dataDir; every create that was
           acknowledged must be there, with its data, after every restart.
  torn     the last log record is half-zeroed as a crash mid-write leaves it: quorumd cuts
           it with a log line and serves everything before it.
  flip     one byte in the middle of the log is flipped: the damaged record and all after
           it are cut (kept aside in .corrupt), never applied; the server serves the rest
           and accepts writes again; the next start is clean.
  diskfull dataDir on a small tmpfs mounted here (needs root): when it fills, writes fail
           with an error and a log line, reads go on; when space returns, writes resume;
           after a restart everything acknowledged is there. The mount is always removed.

usage: durability.py [--quorumd PATH] [--rounds N] [kill] [torn] [flip] [diskfull]
"""
import glob
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import KazooException, SystemZookeeperError  # noqa: E402


def connect(server, timeout=10):
    zk = KazooClient(hosts=server.hosts, timeout=timeout, connection_retry={"max_tries": 3},
                     command_retry={"max_tries": 0})
    zk.start(timeout=15)
    return zk


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def test_kill(qbin, rounds):
    with servers.Server("quorumd", quorumd_bin=qbin, extra_cfg=["snapCount=2000"]) as srv:
        acked = {}  # path -> data
        for rnd in range(rounds):
            zk = connect(srv)
            zk.ensure_path("/crash")
            stop = threading.Event()

            def writer():
                i = 0
                while not stop.is_set():
                    batch = []
                    for _ in range(32):
                        path = "/crash/r%02d-%06d" % (rnd, i)
                        data = ("%d:%d" % (rnd, i)).encode()
                        i += 1
                        batch.append((path, data, zk.create_async(path, data)))
                    for path, data, a in batch:
                        try:
                            a.get(timeout=10)
                            acked[path] = data
                        except Exception:
                            stop.set()

            t = threading.Thread(target=writer, daemon=True)
            t.start()
            time.sleep(random.uniform(0.05, 0.6))
            srv.kill()
            stop.set()
            t.join(20)
            try:
                zk.stop()
                zk.close()
            except Exception:
                pass
            srv.start()
            zk = connect(srv)
            present = set(zk.get_children("/crash"))
            missing = [p for p in acked if p.rsplit("/", 1)[1] not in present]
            check(not missing, "round %d: %d acknowledged writes lost after SIGKILL, e.g. %s" %
                  (rnd, len(missing), missing[:3]))
            for p in random.sample(sorted(acked), min(20, len(acked))):
                check(zk.get(p)[0] == acked[p], "round %d: %s has wrong data" % (rnd, p))
            zk.stop()
            zk.close()
        log = srv.log()
        check(log.count("Creating new log file") >= rounds, "every start opens a new log")
        print("PASS kill: %d SIGKILL rounds, %d acknowledged writes all present" % (rounds, len(acked)))


def log_records(path):
    """(offset, length) of every record in a quorumd log file."""
    data = open(path, "rb").read()
    out, pos = [], 16
    while pos + 8 <= len(data):
        crc, ln = struct.unpack(">II", data[pos:pos + 8])
        if crc == 0 and ln == 0:
            break
        out.append((pos, 8 + ln))
        pos += 8 + ln
    return out


def write_some(srv, prefix, n, crash=False):
    """n creates; with crash the server is SIGKILLed before the session closes, so the
    last log record is the last create."""
    zk = connect(srv)
    zk.ensure_path("/d")
    for i in range(n):
        zk.create("/d/%s-%04d" % (prefix, i), b"x" * 100)
    if crash:
        srv.kill()
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass


def newest_log(srv):
    logs = sorted(glob.glob(os.path.join(srv.data_dir, "version-2", "log.*")),
                  key=lambda p: int(p.rsplit(".", 1)[1], 16) if not p.endswith(".corrupt") else -1)
    return [p for p in logs if not p.endswith(".corrupt")][-1]


def test_torn(qbin):
    with servers.Server("quorumd", quorumd_bin=qbin) as srv:
        write_some(srv, "t", 50, crash=True)
        log = newest_log(srv)
        recs = log_records(log)
        off, ln = recs[-1]
        with open(log, "r+b") as f:  # the second half of the last record never reached disk
            f.seek(off + ln // 2)
            f.write(b"\0" * (ln - ln // 2))
        srv.start()
        text = srv.log()
        check("Corrupted or torn transaction log" in text, "the torn tail is reported")
        zk = connect(srv)
        kids = set(zk.get_children("/d"))
        check("t-0048" in kids and "t-0049" not in kids,
              "records before the torn one are served, the torn one is not: %s" % sorted(kids)[-3:])
        zk.create("/d/after-torn", b"")
        zk.stop()
        srv.kill()
        srv.start()
        zk = connect(srv)
        check(zk.exists("/d/after-torn") is not None, "writes after the cut survive a restart")
        zk.stop()
        print("PASS torn: torn tail cut and reported, earlier records kept")


def test_flip(qbin):
    with servers.Server("quorumd", quorumd_bin=qbin) as srv:
        write_some(srv, "f", 40)
        srv.kill()
        log = newest_log(srv)
        recs = log_records(log)
        # Record k: the createSession is first, then /d, then f-0000...; damage one mid-way.
        k = len(recs) // 2
        off, ln = recs[k]
        with open(log, "r+b") as f:
            f.seek(off + ln - 3)
            b = f.read(1)
            f.seek(off + ln - 3)
            f.write(bytes([b[0] ^ 0x20]))
        srv.start()
        text = srv.log()
        check("checksum mismatch" in text, "the flipped byte is detected by its checksum")
        check(os.path.exists(log + ".corrupt"), "the cut bytes are kept aside")
        zk = connect(srv)
        kids = sorted(c for c in zk.get_children("/d") if c.startswith("f-"))
        # Records before k were applied; k and later were not.
        check(len(kids) == k - 2, "expected %d nodes before the damage, found %d" % (k - 2, len(kids)))
        zk.create("/d/after-flip", b"")
        zk.stop()
        srv.kill()
        before = srv.log().count("Corrupted or torn")
        srv.start()
        check(srv.log().count("Corrupted or torn") == before, "the second start is clean")
        zk = connect(srv)
        check(zk.exists("/d/after-flip") is not None, "writes after the cut survive")
        zk.stop()
        print("PASS flip: flipped byte detected, %d records kept, the rest cut and set aside" % (k - 2))


def test_diskfull(qbin):
    mnt = tempfile.mkdtemp(prefix="flq-tmpfs-", dir="/tmp")
    mounted = False
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], check=True)
        mounted = True
        data_dir = os.path.join(mnt, "data")
        with servers.Server("quorumd", quorumd_bin=qbin, data_dir=data_dir,
                            extra_cfg=["preAllocSize=64", "snapCount=1000000"]) as srv:
            zk = connect(srv)
            zk.create("/full", b"")
            filler = os.path.join(mnt, "filler")
            with open(filler, "wb") as f:  # leave well under a megabyte free
                try:
                    f.write(b"\1" * (3 * 1024 * 1024))
                except OSError:
                    pass
            acked, failed = [], None
            for i in range(5000):
                try:
                    zk.create("/full/n-%05d" % i, b"y" * 1000)
                    acked.append(i)
                except SystemZookeeperError as e:
                    failed = e
                    break
            check(failed is not None, "writes must fail once the disk is full")
            check(len(acked) > 0, "some writes fit before the disk filled")
            check("Unable to write to the transaction log" in srv.log(), "the full disk is logged")
            check(zk.get("/full/n-%05d" % acked[-1])[0] == b"y" * 1000, "reads go on while the disk is full")
            check(len(zk.get_children("/full")) == len(acked), "nothing half-written is visible")
            try:
                zk.create("/full/still-full", b"y" * 1000)
                check(False, "a second write while full must fail too")
            except SystemZookeeperError:
                pass
            os.unlink(filler)
            zk.create("/full/after-space", b"z")
            check("writes resumed" in srv.log(), "the recovery is logged")
            zk.stop()
            srv.kill()
            srv.start()
            zk = connect(srv)
            kids = set(zk.get_children("/full"))
            missing = [i for i in acked if "n-%05d" % i not in kids]
            check(not missing and "after-space" in kids, "acknowledged writes survive: missing %s" % missing[:5])
            zk.stop()
            print("PASS diskfull: %d writes before the disk filled, refused cleanly, resumed, all kept" % len(acked))
    finally:
        if mounted:
            subprocess.run(["umount", "-l", mnt])
        shutil.rmtree(mnt, ignore_errors=True)


def main():
    qbin = servers.quorumd_bin_from_args(sys.argv)
    rounds = 20
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    which = [a for a in sys.argv[1:] if a in ("kill", "torn", "flip", "diskfull")] or ["kill", "torn", "flip", "diskfull"]
    for name in which:
        if name == "kill":
            test_kill(qbin, rounds)
        elif name == "torn":
            test_torn(qbin)
        elif name == "flip":
            test_flip(qbin)
        elif name == "diskfull":
            test_diskfull(qbin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
