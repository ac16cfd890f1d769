#!/usr/bin/python3
"""Three-server ensembles of quorumd and Apache ZooKeeper 3.8 side by side in one run, on
loopback, with the same tickTime, initLimit and syncLimit, snapCount at its default (100,000)
on both, and fsync on:

  - cold start: all three started at once until one leader accepts a write;
  - leader SIGKILL until a new leader accepts a write;
  - leader SIGSTOP until a new leader accepts a write (the frozen one is continued after);
  - with --netns (root): each server in its own network namespace, and the leader isolated
    from the others by iptables until a new leader accepts a write;
  - write throughput: 16 clients creating znodes for 5 s, from kazoo (Python threads, 8
    creates in flight each) and from quorumd_bench's wire clients (one thread, poll(2); one
    create in flight each, then 8): the kazoo clients cost more CPU than either server;
  - resident memory per server, idle after the trials.

Each timing is the median of N trials (default 10); the last column is quorumd / ZooKeeper.

usage: ensemble_bench.py [--quorumd PATH] [--load-bin PATH] [--trials N] [--netns]
(--load-bin: quorumd_bench, default build/bench/quorumd_bench beside the quorumd binary's build)
"""
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))
import ensemble  # noqa: E402
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402


def rss_kb(pid):
    """Resident set of pid and its children (ZooKeeper runs under a shell wrapper's exec)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def first_write(ens, exclude, t0, timeout=60.0):
    sid, took = ensemble.time_to_write(ens, exclude=exclude, t0=t0, timeout=timeout)
    return took


def throughput(ens, clients=16, seconds=5.0, depth=8):
    done = [0] * clients
    stop = threading.Event()

    def work(i):
        zk = KazooClient(hosts=ens.hosts, timeout=10)
        zk.start(timeout=30)
        zk.ensure_path("/tp")
        inflight = []
        while not stop.is_set():
            while len(inflight) < depth:
                inflight.append(zk.create_async("/tp/c%d-" % i, b"x" * 64, sequence=True))
            inflight.pop(0).get(timeout=30)
            done[i] += 1
        for op in inflight:
            op.get(timeout=30)
        zk.stop()
        zk.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # connected and warm
    base = sum(done)
    t0 = time.time()
    time.sleep(seconds)
    n = sum(done) - base
    took = time.time() - t0
    stop.set()
    for t in threads:
        t.join(60)
    return n / took


def wire_throughput(ens, load_bin, clients=16, seconds=5.0, depth=8):
    """Creates per second from the wire clients, spread over every server of the ensemble."""
    out = subprocess.run([load_bin, "--load", ens.hosts, str(clients), str(depth), str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError("%s --load failed: %s" % (load_bin, out.stderr.strip()))
    rate, failed = out.stdout.split()
    if int(failed):
        raise RuntimeError("%s --load: %s creates failed" % (load_bin, failed))
    return float(rate)


def bench(kind, qbin, trials, net=None, load_bin=None):
    out = {"cold start to a write (s)": [], "leader SIGKILL to a write (s)": [],
           "leader SIGSTOP to a write (s)": []}
    if net:
        out["leader isolated to a write (s)"] = []
    for _ in range(trials):
        with ensemble.Ensemble(kind, qbin, net=net, cfg=ensemble.BASE_CFG) as ens:
            t0 = time.time()
            out["cold start to a write (s)"].append(first_write(ens, (), t0))
            old = ens.leader()
            t0 = time.time()
            ens.member(old).kill()
            out["leader SIGKILL to a write (s)"].append(first_write(ens, (old,), t0))
            ens.member(old).start(ens.lines)
            old = ens.leader()
            m = ens.member(old)
            t0 = time.time()
            m.proc.send_signal(signal.SIGSTOP)
            m.stopped = True
            out["leader SIGSTOP to a write (s)"].append(first_write(ens, (old,), t0))
            m.proc.send_signal(signal.SIGCONT)
            m.stopped = False
            if net:
                ens.leader()
                old = ens.leader()
                others = [x.sid for x in ens.members if x.sid != old]
                t0 = time.time()
                net.isolate(old, others)
                try:
                    out["leader isolated to a write (s)"].append(first_write(ens, (old,), t0))
                finally:
                    net.heal(old, others)
            # Throughput on every trial's ensemble, all three serving again: the disk's fsync
            # time wanders from run to run, and one sample says little.
            ens.leader()  # one leader, the others following
            out.setdefault("writes/s, 16 kazoo clients", []).append(throughput(ens))
            if load_bin:
                out.setdefault("writes/s, 16 wire clients, 1 each", []).append(wire_throughput(ens, load_bin, depth=1))
                out.setdefault("writes/s, 16 wire clients, 8 each", []).append(wire_throughput(ens, load_bin))
    res = {k: statistics.median(v) for k, v in out.items()}
    with ensemble.Ensemble(kind, qbin, net=net, cfg=ensemble.BASE_CFG) as ens:
        ens.leader()
        time.sleep(2.0)
        res["resident memory per server (MiB)"] = statistics.mean(rss_kb(m.proc.pid) for m in ens.members) / 1024.0
    return res


def main():
    qbin = servers.quorumd_bin_from_args(sys.argv)
    trials = int(sys.argv[sys.argv.index("--trials") + 1]) if "--trials" in sys.argv else 10
    netns = "--netns" in sys.argv
    if netns and os.geteuid() != 0:
        print("--netns needs root (network namespaces, a bridge, iptables)")
        return 2
    if "--load-bin" in sys.argv:
        load_bin = sys.argv[sys.argv.index("--load-bin") + 1]
    else:
        load_bin = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(qbin))), "bench", "quorumd_bench")
    if not os.access(load_bin, os.X_OK):
        print("no wire load generator at %s (build quorumd_bench or pass --load-bin); kazoo only" % load_bin)
        load_bin = None
    results = {}
    for kind in ("quorumd", "zookeeper"):
        net = ensemble.Namespaces(3) if netns else None
        try:
            results[kind] = bench(kind, qbin, trials, net, load_bin)
        finally:
            if net:
                net.close()
    print("ensemble of 3 %s, tickTime=%d initLimit=10 syncLimit=4, default snapCount, fsync on, %d trials (medians)"
          % ("in network namespaces on a bridge" if netns else "on loopback", ensemble.TICK, trials))
    print("%-36s %12s %12s %10s" % ("", "quorumd", "zookeeper", "ratio"))
    for k in results["quorumd"]:
        q, z = results["quorumd"][k], results["zookeeper"][k]
        print("%-36s %12.2f %12.2f %10.2f" % (k, q, z, q / z if z else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
