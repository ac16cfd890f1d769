#!/usr/bin/python3
"""Three-server ensembles of quorumd and of Apache ZooKeeper 3.8, side by side on loopback,
through the same scenario with kazoo clients writing throughout:

  - the ensemble elects one leader and two followers (srvr's Mode);
  - a write through a follower is read back on every server;
  - the leader is SIGKILLed: a new leader is elected and accepts writes; the old one restarts
    and rejoins as a follower with everything it missed;
  - the leader is SIGSTOPped past syncLimit: the others elect a new leader; after SIGCONT the
    old one stops serving as leader and rejoins as a follower;
  - a session with an ephemeral znode, connected through the whole connection string, moves
    to another server when its own is killed, and keeps its ephemeral;
  - a follower stopped while 1,500 writes land, then restarted: it catches up and the leader's
    mntr counts it as a synced follower again (runbook F1's check);
  - a follower restarted with a stale zoo.cfg (the other follower at an address it no longer
    has) never leads or serves and disturbs nobody; with the right config it rejoins;
  - a majority stopped: the last server stops serving (srvr says so) and writes fail;
  - at the end every acknowledged write is present on every server (a set check);
  - (quorumd only, as root) every dataDir on a small tmpfs that is then filled: writes fail
    cleanly, nothing acknowledged is lost, and once space is freed the ensemble takes writes
    again without a restart. Apache ZooKeeper needs its restart here (runbook F4).

Both servers must pass every check; the failover times of each are printed side by side.

With --netns (root) each server runs in its own network namespace on a bridge, and the
scenario adds the leader isolated by iptables and healed.

usage: ensemble.py [--quorumd PATH] [--only quorumd|zookeeper] [--netns]
"""
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import KazooException  # noqa: E402
from kazoo.handlers.threading import KazooTimeoutError  # noqa: E402

logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # reconnects are the point here

TICK = 500
# The settings every ensemble here shares with ZooKeeper's, and what the tests add to them:
# a small snapCount, so that snapshots and log compaction happen during the scenarios.
# Benches leave snapCount at its default (100,000 on both servers), as a production ensemble has it.
BASE_CFG = ["tickTime=%d" % TICK, "initLimit=10", "syncLimit=4", "4lw.commands.whitelist=*"]
CFG = BASE_CFG + ["snapCount=400"]


class Namespaces:
    """One network namespace per server (fle-1..) on a bridge of their own (fle-br,
    10.78.0.0/24), reached from here at 10.78.0.1; all of it removed on close, also after a
    failure. Isolation is iptables in the isolated server's own namespace."""

    BRIDGE = "fle-br"

    def __init__(self, n):
        self.n = n
        self.close()  # the remains of a run that was killed
        sh = ["ip link add %s type bridge" % self.BRIDGE, "ip addr add 10.78.0.1/24 dev %s" % self.BRIDGE,
              "ip link set %s up" % self.BRIDGE]
        for i in range(1, n + 1):
            sh += ["ip netns add fle-%d" % i,
                   "ip link add fle-v%d type veth peer name eth0 netns fle-%d" % (i, i),
                   "ip link set fle-v%d master %s up" % (i, self.BRIDGE),
                   "ip -n fle-%d addr add %s/24 dev eth0" % (i, self.address(i)),
                   "ip -n fle-%d link set eth0 up" % i,
                   "ip -n fle-%d link set lo up" % i]
        try:
            for c in sh:
                subprocess.run(c.split(), check=True, capture_output=True)
        except subprocess.CalledProcessError as e:
            self.close()
            raise RuntimeError("cannot build the namespaces: %s: %s" % (" ".join(e.cmd), e.stderr.decode()))

    @staticmethod
    def address(sid):
        return "10.78.0.%d" % (10 + sid)

    def prefix(self, sid):
        return ["ip", "netns", "exec", "fle-%d" % sid]

    def _rules(self, sid, others, verb, outbound=True):
        for o in others:
            a = self.address(o)
            subprocess.run(self.prefix(sid) + ["iptables", verb, "INPUT", "-s", a, "-j", "DROP"], check=True)
            if outbound:
                subprocess.run(self.prefix(sid) + ["iptables", verb, "OUTPUT", "-d", a, "-j", "DROP"], check=True)

    def isolate(self, sid, others):
        self._rules(sid, others, "-I")

    def heal(self, sid, others):
        self._rules(sid, others, "-D")

    def deafen(self, sid, others):
        """Drops what `others` send to sid; what sid sends still goes out."""
        self._rules(sid, others, "-I", outbound=False)

    def undeafen(self, sid, others):
        self._rules(sid, others, "-D", outbound=False)

    def close(self):
        for i in range(1, self.n + 1):
            ns = "fle-%d" % i
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:  # only the servers this run started live in these namespaces
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            subprocess.run(["ip", "link", "del", "fle-v%d" % i], capture_output=True)
        subprocess.run(["ip", "link", "del", self.BRIDGE], capture_output=True)


class Member:
    def __init__(self, kind, sid, quorumd_bin, base, net=None, cfg=CFG):
        self.kind = kind
        self.sid = sid
        self.net = net
        self.address = net.address(sid) if net else "127.0.0.1"
        self.quorumd_bin = quorumd_bin
        self.dir = os.path.join(base, "s%d" % sid)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        with open(os.path.join(self.data, "myid"), "w") as f:
            f.write("%d\n" % sid)
        self.port = servers.free_port()
        self.proc = None
        self.stopped = False
        self.cfg = list(cfg)
        self.log_path = os.path.join(self.dir, "zookeeper.log" if kind == "zookeeper" else "server.log")

    def start(self, server_lines):
        extra = self.cfg + server_lines
        prefix = self.net.prefix(self.sid) if self.net else []
        if self.kind == "zookeeper":
            env = dict(os.environ, REFZK_MAIN="org.apache.zookeeper.server.quorum.QuorumPeerMain")
            self.proc = subprocess.Popen(prefix + [servers.REFZK, self.dir, str(self.port)] + extra +
                                         ["dataDir=" + self.data, "clientPortAddress=" + self.address],
                                         env=env, stdout=open(os.path.join(self.dir, "stdout"), "a"),
                                         stderr=subprocess.STDOUT)
        else:
            cfg = os.path.join(self.dir, "zoo.cfg")
            with open(cfg, "w") as f:
                f.write("dataDir=%s\nclientPort=%d\nclientPortAddress=%s\nadmin.enableServer=false\n"
                        % (self.data, self.port, self.address))
                for line in extra:
                    f.write(line + "\n")
            env = dict(os.environ, QUORUMD_LOG_FILE=self.log_path)
            self.proc = subprocess.Popen(prefix + [self.quorumd_bin, cfg], env=env, stdout=subprocess.DEVNULL,
                                         stderr=open(os.path.join(self.dir, "stderr"), "a"))
        self.stopped = False

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            if self.stopped:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def mode(self):
        try:
            out = servers.four_letter(self.port, "srvr", 1.0, self.address)
        except OSError:
            return "down"
        if "not currently serving" in out:
            return "not serving"
        for line in out.splitlines():
            if line.startswith("Mode: "):
                return line[6:]
        return "?"

    @property
    def hosts(self):
        return "%s:%d" % (self.address, self.port)

    def log(self):
        return servers.read_log(self.log_path)


class Ensemble:
    def __init__(self, kind, quorumd_bin, n=3, net=None, cfg=CFG):
        self.kind = kind
        self.net = net
        self.base = tempfile.mkdtemp(prefix="flq-ens-%s-" % kind, dir="/tmp")
        self.members = [Member(kind, i + 1, quorumd_bin, self.base, net, cfg) for i in range(n)]
        self.lines = []
        for m in self.members:
            self.lines.append("server.%d=%s:%d:%d" % (m.sid, m.address, servers.free_port(22000, 22499),
                                                      servers.free_port(22500, 22999)))

    def stale_lines(self, sid):
        """The server lines as a stale zoo.cfg on one host has them: server `sid` at an address
        it no longer has (nobody answers there in namespaces; a closed port on loopback)."""
        out = []
        for line in self.lines:
            if line.startswith("server.%d=" % sid):
                addr = "10.78.0.250" if self.net else "127.0.0.1"
                out.append("server.%d=%s:%d:%d" % (sid, addr, servers.free_port(23000, 23499),
                                                   servers.free_port(23500, 23999)))
            else:
                out.append(line)
        return out

    def __enter__(self):
        for m in self.members:
            m.start(self.lines)
        return self

    def __exit__(self, *exc):
        for m in self.members:
            try:
                m.kill()
            except Exception:  # noqa: BLE001
                pass
        if exc[0] is not None:
            for m in self.members:
                print("---- %s server %d log tail ----" % (self.kind, m.sid))
                print("\n".join(m.log().splitlines()[-30:]))
        shutil.rmtree(self.base, ignore_errors=True)
        return False

    @property
    def hosts(self):
        return ",".join(m.hosts for m in self.members)

    def modes(self, exclude=()):
        """Each member's srvr mode, but for those excluded: a frozen server accepts the
        connection and never answers, and asking it would cost every poll a second."""
        return {m.sid: m.mode() for m in self.members if m.sid not in exclude}

    def leader(self, timeout=60.0, exclude=()):
        """Waits for exactly one leader among the live members (and followers for the rest)."""
        end = time.time() + timeout
        modes = {}
        while time.time() < end:
            modes = self.modes(exclude)
            leaders = [s for s, md in modes.items() if md == "leader"]
            if len(leaders) == 1 and all(md in ("leader", "follower") for md in modes.values()):
                return leaders[0]
            time.sleep(0.05)
        raise AssertionError("%s: no single leader after %.0fs: %s" % (self.kind, timeout, modes))

    def member(self, sid):
        return self.members[sid - 1]


def mntr(member):
    try:
        out = servers.four_letter(member.port, "mntr", 1.0, member.address)
    except OSError:
        return {}
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


class Writer(threading.Thread):
    """Creates /acked/w-NNNN through the whole connection string; records what was acknowledged."""

    def __init__(self, hosts):
        super().__init__(daemon=True)
        self.zk = KazooClient(hosts=hosts, timeout=6, connection_retry=None, command_retry=None)
        self.zk.start(timeout=30)
        self.zk.ensure_path("/acked")
        self.acked = []
        self.failed = 0
        self.halt = threading.Event()
        self.i = 0

    def run(self):
        while not self.halt.is_set():
            self.i += 1
            try:
                path = self.zk.create("/acked/w-%06d" % self.i, b"v")
                self.acked.append(path.rsplit("/", 1)[1])
            except (KazooException, KazooTimeoutError, Exception):  # noqa: BLE001
                self.failed += 1
                time.sleep(0.05)
            time.sleep(0.01)

    def finish(self):
        self.halt.set()
        self.join(30)
        self.zk.stop()
        self.zk.close()


def client(hosts, timeout=10):
    zk = KazooClient(hosts=hosts, timeout=timeout)
    zk.start(timeout=30)
    return zk


def time_to_write(ens, exclude, t0, timeout=60.0):
    """Seconds from t0 until a new leader exists and a write through it succeeds."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            sid = ens.leader(timeout=1.0, exclude=exclude)
        except AssertionError:
            continue
        try:
            zk = client(ens.member(sid).hosts, timeout=4)
            zk.create("/probe-", b"", sequence=True)
            zk.stop()
            zk.close()
            return sid, time.time() - t0
        except Exception:  # noqa: BLE001
            time.sleep(0.05)
    raise AssertionError("%s: no leader accepting writes %.0fs after the fault: %s" % (ens.kind, timeout, ens.modes(exclude)))


def scenario(kind, quorumd_bin, net=None):
    figures = {}
    with Ensemble(kind, quorumd_bin, net=net) as ens:
        t0 = time.time()
        leader = ens.leader()
        figures["cold start to leader (s)"] = time.time() - t0
        followers = [m.sid for m in ens.members if m.sid != leader]

        # A write through a follower is read back on every server.
        zk = client(ens.member(followers[0]).hosts)
        zk.create("/through-follower", b"hello")
        zk.stop()
        zk.close()
        for m in ens.members:
            zk = client(m.hosts)
            zk.sync("/")
            data, _ = zk.get("/through-follower")
            assert data == b"hello", (kind, m.sid, data)
            zk.stop()
            zk.close()

        # A session with an ephemeral, connected to a follower through the whole string.
        sess = KazooClient(hosts=ens.member(followers[1]).hosts + "," + ens.hosts, timeout=10, randomize_hosts=False)
        sess.start(timeout=30)
        sess.create("/eph", b"mine", ephemeral=True)
        session_id = sess.client_id[0]

        writer = Writer(ens.hosts)
        writer.start()
        time.sleep(1.0)

        # Leader SIGKILLed.
        old = ens.leader()
        t0 = time.time()
        ens.member(old).kill()
        new, took = time_to_write(ens, exclude=(old,), t0=t0)
        figures["leader SIGKILL to writes (s)"] = took
        assert new != old
        ens.member(old).start(ens.lines)
        ens.leader(exclude=())
        assert ens.member(old).mode() == "follower", (kind, ens.modes())

        # The ephemeral's server killed: the session moves and keeps it.
        if ens.member(followers[1]).mode() != "leader":
            ens.member(followers[1]).kill()
            moved = time.time() + 30
            while time.time() < moved and not (sess.connected and sess.client_id and sess.client_id[0] == session_id):
                time.sleep(0.05)
            assert sess.client_id[0] == session_id, (kind, "session changed")
            assert sess.exists("/eph") is not None, (kind, "ephemeral lost when its session moved")
            ens.member(followers[1]).start(ens.lines)
            ens.leader()
            figures["session moved with its ephemeral"] = "yes"

        # A follower misses many writes, then catches up and counts as synced again.
        leader = ens.leader()
        lagging = next(x for x in ens.members if x.sid != leader)
        lagging.kill(signal.SIGTERM)
        zk = client(ens.member(leader).hosts)
        zk.ensure_path("/bulk")
        ops = [zk.create_async("/bulk/n-", b"z" * 64, sequence=True) for _ in range(1500)]
        for op in ops:
            op.get(timeout=30)
        zk.stop()
        zk.close()
        t0 = time.time()
        lagging.start(ens.lines)
        end = time.time() + 30
        while time.time() < end and mntr(ens.member(leader)).get("zk_synced_followers") != "2":
            time.sleep(0.1)
        assert mntr(ens.member(leader)).get("zk_synced_followers") == "2", (
            kind, "a follower that missed 1,500 writes is not synced again", mntr(ens.member(leader)))
        figures["lagging follower restart to synced (s)"] = time.time() - t0

        # Leader SIGSTOPped past syncLimit, then continued.
        old = ens.leader()
        m = ens.member(old)
        t0 = time.time()
        m.proc.send_signal(signal.SIGSTOP)
        m.stopped = True
        others = [x for x in ens.members if x.sid != old]
        end = time.time() + 60
        new = None
        while time.time() < end:
            ms = {x.sid: x.mode() for x in others}
            leaders = [s for s, md in ms.items() if md == "leader"]
            if len(leaders) == 1 and all(md in ("leader", "follower") for md in ms.values()):
                new = leaders[0]
                break
            time.sleep(0.05)
        assert new is not None, (kind, "no new leader while the old one is frozen", ms)
        figures["leader SIGSTOP to new leader (s)"] = time.time() - t0
        m.proc.send_signal(signal.SIGCONT)
        m.stopped = False
        ens.leader()
        assert ens.member(old).mode() == "follower", (kind, "the frozen leader did not rejoin as follower", ens.modes())

        if ens.net:
            # The leader cut off from the other servers by iptables in its namespace, then healed.
            old = ens.leader()
            others = [x.sid for x in ens.members if x.sid != old]
            t0 = time.time()
            ens.net.isolate(old, others)
            try:
                new = ens.leader(timeout=60, exclude=(old,))
                figures["leader isolated to new leader (s)"] = time.time() - t0
                assert new != old, (kind, "the isolated leader still counts as the leader")
                end = time.time() + 30
                while time.time() < end and ens.member(old).mode() != "not serving":
                    time.sleep(0.05)
                assert ens.member(old).mode() == "not serving", (
                    kind, "the isolated leader still serves", ens.member(old).mode())
            finally:
                ens.net.heal(old, others)
            t0 = time.time()
            end = time.time() + 60
            while time.time() < end and ens.member(old).mode() != "follower":
                time.sleep(0.05)
            assert ens.member(old).mode() == "follower", (kind, "the healed leader did not rejoin", ens.modes())
            figures["healed leader to following (s)"] = time.time() - t0

            # sync on a follower that is behind: the leader's packets to it are dropped for a
            # moment (well inside syncLimit), a write is acknowledged by the leader and the
            # other follower, and the lagging follower still reads the old value. sync there
            # must wait for the leader, and a read after it must see the write.
            leader = ens.leader()
            lagging = min(x.sid for x in ens.members if x.sid != leader)
            zl = client(ens.member(leader).hosts)
            zf = client(ens.member(lagging).hosts)
            try:
                zl.ensure_path("/sync-probe")
                zl.set("/sync-probe", b"old")
                end = time.time() + 10
                while time.time() < end and zf.get("/sync-probe")[0] != b"old":
                    time.sleep(0.02)
                ens.net.deafen(lagging, [leader])
                try:
                    zl.set("/sync-probe", b"new")
                    stale = zf.get("/sync-probe")[0]
                    assert stale == b"old", (kind, "the follower was not behind; the check proves nothing", stale)
                    t0 = time.time()
                    pending = zf.sync_async("/sync-probe")
                    time.sleep(0.3)
                    waited = not pending.ready()
                finally:
                    ens.net.undeafen(lagging, [leader])
                pending.get(timeout=15)
                figures["sync on a lagging follower (s)"] = time.time() - t0
                seen = zf.get("/sync-probe")[0]
                assert waited, (kind, "sync on the lagging follower answered before the leader could")
                assert seen == b"new", (kind, "a read after sync on the follower missed the write", seen)
                assert ens.member(lagging).mode() == "follower", (kind, "the lagging follower left", ens.modes())
            finally:
                for z in (zl, zf):
                    z.stop()
                    z.close()

        # A follower restarted with a stale zoo.cfg that lists the other follower at an address
        # it no longer has. It hears only the leader, which is not a quorum of its own list, so
        # (as on ZooKeeper, whose connection rules give it nothing more) it stays out, not
        # serving; it must never lead or serve, and the leader and its follower carry on.
        # Restarted with the right config, it rejoins.
        leader = ens.leader()
        stale, other = sorted(x.sid for x in ens.members if x.sid != leader)
        f = ens.member(stale)
        f.kill(signal.SIGTERM)
        f.start(ens.stale_lines(other))
        seen = set()
        end = time.time() + 10
        while time.time() < end:
            seen.add(f.mode())
            time.sleep(0.1)
        assert "leader" not in seen, (kind, "a follower with a stale config led", seen)
        assert ens.leader(timeout=5, exclude=(stale,)) == leader, (
            kind, "a follower with a stale config moved the leadership", ens.modes())
        assert ens.member(other).mode() == "follower", (kind, "the other follower was disturbed", ens.modes())
        figures["stale-config follower rejoined"] = "yes" if f.mode() == "follower" else "no (" + f.mode() + ")"
        zk = client(ens.member(leader).hosts)
        zk.create("/during-stale", b"ok")
        zk.stop()
        zk.close()
        f.kill(signal.SIGTERM)
        t0 = time.time()
        f.start(ens.lines)
        end = time.time() + 60
        while time.time() < end and f.mode() != "follower":
            time.sleep(0.05)
        assert f.mode() == "follower", (kind, "the follower did not rejoin with the right config", ens.modes())
        figures["right-config restart to following (s)"] = time.time() - t0

        time.sleep(1.0)
        writer.finish()
        assert len(writer.acked) > 20, (kind, "too few writes acknowledged", len(writer.acked), writer.failed)

        # Every acknowledged write on every server.
        for x in ens.members:
            zk = client(x.hosts)
            zk.sync("/acked")
            have = set(zk.get_children("/acked"))
            missing = [w for w in writer.acked if w not in have]
            assert not missing, (kind, "server %d lacks %d acknowledged writes, e.g. %s" % (x.sid, len(missing), missing[:3]))
            zk.stop()
            zk.close()
        figures["writes acknowledged"] = len(writer.acked)
        sess.stop()
        sess.close()

        # A majority stopped: the last one stops serving; writes fail.
        leader = ens.leader()
        last = ens.member(leader)
        for x in ens.members:
            if x.sid != leader:
                x.kill()
        end = time.time() + 30
        while time.time() < end and last.mode() not in ("not serving", "down"):
            time.sleep(0.05)
        assert last.mode() == "not serving", (kind, "the minority still serves", last.mode())
    return figures


def fill(path, leave=64 * 1024):
    """Fills the filesystem of path until about `leave` bytes are free; returns the file."""
    f = os.path.join(path, "fill")
    st = os.statvfs(path)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with open(f, "wb") as out:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            n = min(size, len(chunk))
            try:
                out.write(chunk[:n])
                out.flush()
            except OSError:
                break
            size -= n
    return f


def full_disk(quorumd_bin):
    """Ensemble on tmpfs dataDirs; fill them all; free them; writes resume on their own."""
    figures = {}
    ens = Ensemble("quorumd", quorumd_bin)
    mounts = []
    try:
        for m in ens.members:
            shutil.rmtree(m.data)
            os.makedirs(m.data)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "flq-ens", m.data], check=True)
            mounts.append(m.data)
            with open(os.path.join(m.data, "myid"), "w") as f:
                f.write("%d\n" % m.sid)
        with ens:
            ens.leader()
            zk = client(ens.hosts, timeout=6)
            zk.ensure_path("/full")
            acked = []
            for i in range(20):
                acked.append(zk.create("/full/a-", b"x", sequence=True).rsplit("/", 1)[1])
            fills = [fill(m.data) for m in ens.members]
            failed_at = None
            for i in range(20000):
                try:
                    acked.append(zk.create("/full/b-", b"y" * 512, sequence=True).rsplit("/", 1)[1])
                except Exception:  # noqa: BLE001
                    failed_at = i
                    break
            assert failed_at is not None, "writes never failed on full disks"
            figures["writes before the full disk refused"] = failed_at
            try:
                zk.stop()
                zk.close()
            except Exception:  # noqa: BLE001
                pass
            for f in fills:
                os.unlink(f)
            t0 = time.time()
            sid, took = time_to_write(ens, exclude=(), t0=t0, timeout=60)
            figures["space freed to writes (s)"] = took
            for x in ens.members:
                zk = client(x.hosts)
                zk.sync("/full")
                have = set(zk.get_children("/full"))
                missing = [w for w in acked if w not in have]
                assert not missing, "server %d lost %d acknowledged writes after the full disk" % (x.sid, len(missing))
                zk.stop()
                zk.close()
            logs = "".join(m.log() for m in ens.members)
            assert "Unable to write to the transaction log" in logs, "no log line says the disk was full"
            assert "writes resumed" in logs, "no log line says writes resumed"
    finally:
        for path in mounts:
            subprocess.run(["umount", "-l", path])
        shutil.rmtree(ens.base, ignore_errors=True)
    return figures


def main():
    qbin = servers.quorumd_bin_from_args(sys.argv)
    kinds = ["quorumd", "zookeeper"]
    if "--only" in sys.argv:
        kinds = [sys.argv[sys.argv.index("--only") + 1]]
    netns = "--netns" in sys.argv
    if netns and os.geteuid() != 0:
        print("--netns needs root (it makes network namespaces, a bridge and iptables rules)")
        return 2
    results = {}
    failed = False
    for kind in kinds:
        try:
            if netns:
                net = Namespaces(3)
                try:
                    results[kind] = scenario(kind, qbin, net)
                finally:
                    net.close()
            else:
                results[kind] = scenario(kind, qbin)
            if kind == "quorumd" and os.geteuid() == 0:
                results[kind].update(full_disk(qbin))
            print("%s: every check passed" % kind)
        except AssertionError as e:
            print("FAIL %s: %s" % (kind, e))
            failed = True
    keys = []
    for r in results.values():
        keys += [k for k in r if k not in keys]
    print("%-36s %12s %12s" % ("", "quorumd", "zookeeper"))
    for k in keys:
        row = [results.get(kind, {}).get(k) for kind in ("quorumd", "zookeeper")]
        print("%-36s %12s %12s" % (k, *["%.2f" % v if isinstance(v, float) else str(v) for v in row]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
