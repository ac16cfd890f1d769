#!/usr/bin/python3
"""The runbook's drills F1-F6 on the one-machine lab, quorumd and Apache ZooKeeper side by
side in one run: the wall time of lab up, of each drill and in total, and the CPU that
faultline costs the target hosts while probes sample every 50 ms.

The targets' cost is read from each lab host's sshd: everything faultline runs on a host (the
agent, the probes' commands, the service commands) runs in an SSH session of that sshd, and
when a run's connection closes, the kernel adds the CPU of the whole session tree to the
sshd's children time. Measured per drill as the increase of utime+stime+cutime+cstime of
every host's sshd, from before the run to after it.

usage: demo_bench.py FAULTLINE [--sample-ms 50] [DRILL...]     (root; takes ~10 minutes)
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = "/run/faultline-lab"
TICK = os.sysconf("SC_CLK_TCK")


def sshd_cpu():
    """Seconds of CPU of every lab host's sshd and its reaped children."""
    total = 0.0
    for pidfile in glob.glob(os.path.join(STATE, "hosts", "*", "run", "sshd.pid")):
        try:
            pid = int(open(pidfile).read().split()[0])
            fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / TICK
        except (OSError, ValueError, IndexError):
            pass
    return total


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)


def bench(faultline, coord, drills, sample_ms):
    out = {}
    run([faultline, "lab", "down"])
    t0 = time.time()
    up = run([faultline, "lab", "up", "--coord", coord])
    out["lab up"] = (time.time() - t0, None, up.returncode)
    if up.returncode != 0:
        print(up.stdout + up.stderr)
        return out
    inventory = os.path.join(STATE, "inventory.yml")
    report = tempfile.mkdtemp(prefix="fl-bench-%s-" % coord, dir="/tmp")
    try:
        for d in drills:
            before = sshd_cpu()
            t0 = time.time()
            r = run([faultline, "run", os.path.join("drills", d + ".yaml"), "-i", inventory, "--report",
                     os.path.join(report, d), "--sample-ms", str(sample_ms)])
            wall = time.time() - t0
            time.sleep(1.0)  # the run's SSH connections close and are reaped
            out[d] = (wall, sshd_cpu() - before, r.returncode)
            if r.returncode != 0:
                print("%s on %s exited %d:\n%s" % (d, coord, r.returncode, (r.stdout + r.stderr)[-3000:]))
    finally:
        run([faultline, "lab", "down"])
    return out


def main():
    if len(sys.argv) < 2 or os.geteuid() != 0:
        print(__doc__)
        return 2
    faultline = os.path.abspath(sys.argv[1])
    args = sys.argv[2:]
    sample_ms = 50
    if "--sample-ms" in args:
        i = args.index("--sample-ms")
        sample_ms = int(args[i + 1])
        args = args[:i] + args[i + 2:]
    drills = args or ["F%d" % i for i in range(1, 7)]
    results = {coord: bench(faultline, coord, drills, sample_ms) for coord in ("quorumd", "zookeeper")}
    print("F1-F6 on the one-machine lab, probes every %d ms, %d cores" % (sample_ms, os.cpu_count()))
    print("%-12s %10s %10s %7s %16s %16s" % ("", "quorumd s", "zk s", "ratio", "targets' CPU q", "targets' CPU zk"))
    totals = [0.0, 0.0]
    cpu = [0.0, 0.0]
    for step in ["lab up"] + drills:
        q = results["quorumd"].get(step)
        z = results["zookeeper"].get(step)
        if not q or not z:
            continue
        for k, r in enumerate((q, z)):
            totals[k] += r[0]
            cpu[k] += r[1] or 0.0

        def c(r):
            return "-" if r[1] is None else "%.1f s (%.1f%%)" % (r[1], 100.0 * r[1] / r[0])
        flag = "" if q[2] == 0 and z[2] == 0 else "  exit %d/%d" % (q[2], z[2])
        print("%-12s %10.1f %10.1f %7.2f %16s %16s%s" % (step, q[0], z[0], q[0] / z[0], c(q), c(z), flag))
    print("%-12s %10.1f %10.1f %7.2f %16s %16s" % ("total", totals[0], totals[1], totals[0] / totals[1],
                                                   "%.1f s" % cpu[0], "%.1f s" % cpu[1]))
    print("(targets' CPU: seconds of CPU on all lab hosts together, and that as a share of one core "
          "over the drill's wall time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
