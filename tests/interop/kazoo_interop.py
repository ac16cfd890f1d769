#!/usr/bin/python3
"""Runs the same kazoo scenarios against quorumd and Apache ZooKeeper 3.8 and compares
what a client observes: return values, exception types, full Stat structures (times
aside), watch events, recipe outcomes, session expiry.

usage: kazoo_interop.py [--quorumd PATH]   (exit 0 when both servers behave alike)
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient, KazooState  # noqa: E402
from kazoo.exceptions import KazooException, LockTimeout  # noqa: E402
from kazoo.security import make_digest_acl, make_acl  # noqa: E402


def norm_stat(st, own=None):
    d = st._asdict()
    for k in ("ctime", "mtime"):
        d[k] = "t" if d[k] > 0 else d[k]
    owner = d["ephemeralOwner"]
    d["ephemeralOwner"] = "self" if own is not None and owner == own else ("other" if owner else 0)
    return d


def norm(v, own=None):
    if hasattr(v, "_asdict") and hasattr(v, "czxid"):
        return norm_stat(v, own)
    if isinstance(v, (list, tuple)):
        return [norm(x, own) for x in v]
    if isinstance(v, Exception):
        return "EXC:" + type(v).__name__
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v


class Trace:
    def __init__(self, zk=None):
        self.rows = []
        self.zk = zk

    def call(self, label, fn, *a, **kw):
        own = self.zk.client_id[0] if self.zk and self.zk.client_id else None
        try:
            r = fn(*a, **kw)
            self.rows.append((label, norm(r, own)))
            return r
        except KazooException as e:
            self.rows.append((label, "EXC:" + type(e).__name__))
            return None

    def note(self, label, value):
        self.rows.append((label, norm(value)))


def client(server, **kw):
    zk = KazooClient(hosts=server.hosts, timeout=kw.pop("timeout", 10), **kw)
    zk.start(timeout=15)
    return zk


def wait_for(pred, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


# ---- scenarios: each returns a list of observations -------------------------------

def scenario_crud(server):
    zk = client(server)
    t = Trace(zk)
    t.call("create", zk.create, "/crud", b"v0")
    t.call("create-exists", zk.create, "/crud", b"v0")
    t.call("create-nonode", zk.create, "/missing/child", b"")
    t.call("create-makepath", zk.create, "/deep/a/b", b"x", makepath=True)
    t.call("get", zk.get, "/crud")
    t.call("set", zk.set, "/crud", b"v1")
    t.call("set-badversion", zk.set, "/crud", b"v2", version=7)
    t.call("set-version", zk.set, "/crud", b"v2", version=1)
    t.call("exists", zk.exists, "/crud")
    t.call("exists-none", zk.exists, "/nothing")
    t.call("seq1", zk.create, "/crud/s-", b"", sequence=True)
    t.call("seq2", zk.create, "/crud/s-", b"", sequence=True)
    t.call("eph", zk.create, "/crud/e", b"", ephemeral=True)
    t.call("eph-seq", zk.create, "/crud/es-", b"", ephemeral=True, sequence=True)
    t.call("eph-child", zk.create, "/crud/e/c", b"")
    t.call("children", lambda: sorted(zk.get_children("/crud")))
    t.call("children2", lambda: (sorted(zk.get_children("/crud", include_data=True)[0]),
                                 zk.get_children("/crud", include_data=True)[1]))
    t.call("get-parent", zk.get, "/crud")
    t.call("delete-notempty", zk.delete, "/crud")
    t.call("delete-badversion", zk.delete, "/crud/s-0000000000", version=3)
    t.call("delete", zk.delete, "/crud/s-0000000000", version=0)
    t.call("delete-nonode", zk.delete, "/crud/s-0000000000")
    t.call("seq3-after-delete", zk.create, "/crud/s-", b"", sequence=True)
    t.call("bad-path", zk.create, "/bad//path", b"")
    t.call("big-value", lambda: zk.get(zk.create("/big", b"z" * 500000))[1])
    t.call("sync", zk.sync, "/crud")
    t.call("root", zk.get, "/")
    t.call("zookeeper", zk.get_children, "/zookeeper")
    t.call("delete-recursive", zk.delete, "/crud", recursive=True)
    t.call("root-after", zk.get, "/")
    zk.stop()
    zk.close()
    return t.rows


def scenario_watches(server):
    zk = client(server)
    other = client(server)
    t = Trace(zk)
    events = []
    lock = threading.Lock()

    def w(e):
        with lock:
            events.append((e.type, e.path))

    zk.create("/w", b"a")
    zk.get("/w", watch=w)
    zk.get_children("/w", watch=w)
    zk.exists("/w/new", watch=w)
    other.set("/w", b"b")  # data watch fires
    other.set("/w", b"c")  # one-shot: nothing more
    other.create("/w/new", b"")  # child watch on /w and exists watch on /w/new
    wait_for(lambda: len(events) >= 3)
    time.sleep(0.3)
    with lock:
        t.note("after-set-set-create", sorted(events))
        events.clear()
    zk.get("/w/new", watch=w)
    zk.get_children("/w/new", watch=w)
    other.delete("/w/new")  # NodeDeleted once to this client
    wait_for(lambda: len(events) >= 1)
    time.sleep(0.3)
    with lock:
        t.note("after-delete", sorted(events))
        events.clear()
    # A watch set then removed by the server when its target changes is re-armable.
    zk.exists("/w", watch=w)
    other.delete("/w")
    wait_for(lambda: len(events) >= 1)
    time.sleep(0.2)
    with lock:
        t.note("exists-then-delete", sorted(events))
    zk.stop()
    other.stop()
    return t.rows


def scenario_acl(server):
    owner = client(server)
    stranger = client(server)
    t = Trace(owner)
    owner.add_auth("digest", "alice:secret")
    t.call("create-auth", owner.create, "/acl", b"private", acl=[make_acl("auth", "", all=True)])
    t.call("get-acls", owner.get_acls, "/acl")
    t.call("owner-get", owner.get, "/acl")
    t.call("stranger-get", stranger.get, "/acl")
    t.call("stranger-set", stranger.set, "/acl", b"x")
    t.call("stranger-exists", stranger.exists, "/acl")
    stranger.add_auth("digest", "alice:secret")
    t.call("stranger-after-auth", stranger.get, "/acl")
    t.call("digest-acl", owner.create, "/acl2", b"", acl=[make_digest_acl("bob", "pw", read=True)])
    t.call("digest-acls", owner.get_acls, "/acl2")
    t.call("digest-read-denied", owner.get, "/acl2")
    t.call("read-only-world", owner.create, "/ro", b"", acl=[make_acl("world", "anyone", read=True)])
    t.call("ro-set", owner.set, "/ro", b"x")
    t.call("ro-create-child", owner.create, "/ro/c", b"")
    t.call("set-acls-badversion", owner.set_acls, "/acl", [make_acl("world", "anyone", all=True)], version=5)
    t.call("set-acls", owner.set_acls, "/acl", [make_acl("world", "anyone", all=True)], version=0)
    t.call("stat-after-set-acls", owner.exists, "/acl")
    fresh = client(server)
    t.call("invalid-acl", fresh.create, "/bad-acl", b"", acl=[make_acl("auth", "", all=True)])
    t.call("invalid-world", fresh.create, "/bad-acl", b"", acl=[make_acl("world", "someone", all=True)])
    for c in (owner, stranger, fresh):
        c.stop()
    return t.rows


def scenario_transactions(server):
    zk = client(server)
    t = Trace(zk)
    zk.create("/tx", b"")
    tx = zk.transaction()
    tx.create("/tx/a", b"1")
    tx.create("/tx/s-", b"", sequence=True)
    tx.set_data("/tx", b"top")
    tx.check("/tx", 1)
    t.call("commit-ok", tx.commit)
    tx = zk.transaction()
    tx.create("/tx/b", b"")
    tx.delete("/tx/a")
    tx.check("/tx", 42)
    tx.create("/tx/c", b"")
    t.call("commit-fail", tx.commit)
    t.call("after-fail", lambda: sorted(zk.get_children("/tx")))
    t.call("stat-after-fail", zk.exists, "/tx")
    tx = zk.transaction()
    tx.delete("/tx/a", version=0)
    tx.delete("/tx/s-0000000001")
    t.call("commit-deletes", tx.commit)
    t.call("final", zk.get, "/tx")
    zk.stop()
    return t.rows


def scenario_recipes(server):
    a = client(server)
    b = client(server)
    t = Trace()
    la = a.Lock("/recipes/lock", "a")
    lb = b.Lock("/recipes/lock", "b")
    t.note("a-acquire", la.acquire(timeout=5))
    try:
        t.note("b-acquire-blocked", lb.acquire(timeout=1))
    except LockTimeout:
        t.note("b-acquire-blocked", "LockTimeout")
    t.note("contenders", lb.contenders())
    la.release()
    t.note("b-acquire-after", lb.acquire(timeout=5))
    lb.release()
    # Election: the first candidate leads; when its session closes the second takes over.
    leaders = []
    ev_a_started = threading.Event()

    def lead(name, hold):
        leaders.append(name)
        hold.wait(30)

    hold_a, hold_b = threading.Event(), threading.Event()
    ea = a.Election("/recipes/election", "a")
    ta = threading.Thread(target=lambda: (ev_a_started.set(), ea.run(lead, "a", hold_a)), daemon=True)
    ta.start()
    wait_for(lambda: leaders == ["a"])
    eb = b.Election("/recipes/election", "b")
    tb = threading.Thread(target=lambda: eb.run(lead, "b", hold_b), daemon=True)
    tb.start()
    wait_for(lambda: len(eb.contenders()) == 2)
    t.note("contenders", eb.contenders())
    a.stop()  # closes a's session: its election node goes
    wait_for(lambda: leaders == ["a", "b"])
    t.note("leaders", list(leaders))
    hold_a.set()
    hold_b.set()
    tb.join(5)
    b.stop()
    return t.rows


def scenario_sessions(server):
    t = Trace()
    watcher = client(server)
    events = []
    # A client process that dies without closing: its session must expire after the
    # negotiated timeout, taking its ephemeral with it and firing the watch.
    child = subprocess.Popen([servers.PYTHON, "-c", (
        "import sys,time\n"
        "from kazoo.client import KazooClient\n"
        "zk=KazooClient(hosts='%s',timeout=4); zk.start()\n"
        "zk.create('/sess-eph', b'', ephemeral=True)\n"
        "print(zk._session_timeout, flush=True); time.sleep(600)\n") % server.hosts],
        stdout=subprocess.PIPE, text=True)
    try:
        t.note("negotiated", int(child.stdout.readline()))
        wait_for(lambda: watcher.exists("/sess-eph") is not None)
        watcher.exists("/sess-eph", watch=lambda e: events.append((e.type, e.path)))
        killed = time.time()
        child.send_signal(signal.SIGKILL)
        child.wait()
        gone = wait_for(lambda: watcher.exists("/sess-eph") is None, timeout=20)
        took = time.time() - killed
        t.note("ephemeral-gone", gone)
        t.note("gone-after-timeout", took >= 3.0)
        wait_for(lambda: events)
        t.note("watch", events)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # A second client that takes the session over with id and password, then closes it:
    # the first client's session is over.
    first = client(server)
    states = []
    first.add_listener(lambda s: states.append(s))
    first.create("/sess-owned", b"", ephemeral=True)
    sid, pw = first.client_id
    t.note("owner-is-self", first.exists("/sess-owned").ephemeralOwner == sid)
    taker = KazooClient(hosts=server.hosts, client_id=(sid, pw), timeout=10)
    taker.start(timeout=15)
    t.note("takeover-same-session", taker.client_id[0] == sid)
    t.note("takeover-sees-owner", taker.exists("/sess-owned").ephemeralOwner == sid)
    taker.stop()  # closes the session
    t.note("ephemeral-after-close", watcher.exists("/sess-owned"))
    wait_for(lambda: KazooState.LOST in states, timeout=20)
    t.note("first-lost", KazooState.LOST in states)
    bad = KazooClient(hosts=server.hosts, client_id=(sid, pw), timeout=10, connection_retry={"max_tries": 0})
    try:
        bad.start(timeout=5)
        t.note("reuse-closed-session", "connected")
    except Exception as e:  # the session is gone: kazoo reports expiry
        t.note("reuse-closed-session", type(e).__name__)
    finally:
        bad.stop()
        bad.close()
    first.stop()
    watcher.stop()
    return t.rows


class Proxy:
    """A TCP forwarder on loopback that a test can cut, to drop one client's connection."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", servers.free_port()))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.pairs = []
        self.blocked = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.blocked:
                c.close()
                continue
            u = socket.create_connection(("127.0.0.1", self.target))
            self.pairs.append((c, u))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        for c, u in self.pairs:
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.pairs = []

    def close(self):
        self.blocked = True
        self.cut()
        self.sock.close()


def scenario_set_watches(server):
    """Watches survive a reconnect: the client re-registers them with setWatches, and a
    change made while it was away fires at once."""
    t = Trace()
    proxy = Proxy(server.port)
    try:
        zk = KazooClient(hosts="127.0.0.1:%d" % proxy.port, timeout=10)
        zk.start(timeout=15)
        other = client(server)
        events = []
        zk.create("/sw", b"0")
        zk.create("/sw2", b"0")
        zk.get("/sw", watch=lambda e: events.append((e.type, e.path)))
        zk.get("/sw2", watch=lambda e: events.append((e.type, e.path)))
        proxy.blocked = True
        proxy.cut()
        other.set("/sw", b"changed-while-away")
        time.sleep(0.5)
        proxy.blocked = False
        wait_for(lambda: zk.connected and events, timeout=20)
        time.sleep(0.3)
        t.note("while-away", sorted(events))
        events.clear()
        other.set("/sw2", b"changed-after")
        wait_for(lambda: events)
        time.sleep(0.2)
        t.note("after-reconnect", sorted(events))
        zk.stop()
        other.stop()
    finally:
        proxy.close()
    return t.rows


SCENARIOS = [scenario_crud, scenario_watches, scenario_acl, scenario_transactions, scenario_recipes,
             scenario_sessions, scenario_set_watches]


def main():
    qbin = servers.quorumd_bin_from_args(sys.argv)
    only = [a for a in sys.argv[1:] if a.startswith("scenario_")]
    failures = 0
    with servers.Server("zookeeper") as ref, servers.Server("quorumd", quorumd_bin=qbin) as ours:
        for sc in SCENARIOS:
            if only and sc.__name__ not in only:
                continue
            want = sc(ref)
            got = sc(ours)
            if want == got:
                print("PASS %s (%d observations)" % (sc.__name__, len(want)))
                continue
            failures += 1
            print("FAIL %s" % sc.__name__)
            for i in range(max(len(want), len(got))):
                w = want[i] if i < len(want) else None
                g = got[i] if i < len(got) else None
                if w != g:
                    print("  zookeeper: %r\n  quorumd:   %r" % (w, g))
        log = ours.log()
        needles = () if only else ("Established session 0x", "Expiring session 0x", "timeout of 4000ms exceeded")
        for needle in needles:
            if needle not in log:
                failures += 1
                print("FAIL quorumd log lacks %r" % needle)
            if needle not in ref.log():
                print("note: zookeeper log lacks %r" % needle)
    print("%d scenario(s) differ" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
