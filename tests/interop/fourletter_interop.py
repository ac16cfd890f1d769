#!/usr/bin/python3
"""Compares quorumd's four-letter words with Apache ZooKeeper 3.8's, field by field, after
the same client activity on both, and the 4lw.commands.whitelist behaviour.

usage: fourletter_interop.py [--quorumd PATH]
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402

failures = []


def expect(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL " + msg)


def kv_lines(text, sep):
    out = []
    for line in text.splitlines():
        if sep in line:
            k, v = line.split(sep, 1)
            out.append((k, v))
    return out


def activity(server):
    """The same client activity on both servers; returns clients to keep open."""
    zk = KazooClient(hosts=server.hosts, timeout=10)
    zk.start()
    zk.create("/four", b"data")
    for i in range(5):
        zk.create("/four/c%d" % i, b"x" * i)
    zk.create("/four/eph", b"", ephemeral=True)
    zk.get("/four", watch=lambda e: None)
    zk.get_children("/four", watch=lambda e: None)
    zk.exists("/four/none", watch=lambda e: None)
    return [zk]


def compare_srvr(name, ours, ref):
    o, r = kv_lines(ours, ": "), kv_lines(ref, ": ")
    expect([k for k, _ in o] == [k for k, _ in r], "%s: same fields in the same order: %s vs %s" %
           (name, [k for k, _ in o], [k for k, _ in r]))
    od, rd = dict(o), dict(r)
    expect(od.get("Zookeeper version", "").startswith("3.8.0"), "%s: version parses as 3.8.0" % name)
    for k in ("Zxid", "Mode", "Node count", "Connections", "Outstanding"):
        expect(od.get(k) == rd.get(k), "%s: %s equal (%r vs %r)" % (name, k, od.get(k), rd.get(k)))
    lat = re.compile(r"^\d+/\d+\.\d+(E-?\d+)?/\d+$")
    expect(lat.match(od.get("Latency min/avg/max", "")) is not None, "%s: latency format %r" %
           (name, od.get("Latency min/avg/max")))
    for k in ("Received", "Sent"):
        expect(od.get(k, "").isdigit(), "%s: %s is a count" % (name, k))
    expect(ours.endswith("\n") == ref.endswith("\n"), "%s: same trailing newline" % name)


def main():
    qbin = servers.quorumd_bin_from_args(sys.argv)
    with servers.Server("zookeeper") as ref, servers.Server("quorumd", quorumd_bin=qbin) as ours:
        keep = activity(ref) + activity(ours)
        q = lambda w: servers.four_letter(ours.port, w)  # noqa: E731
        z = lambda w: servers.four_letter(ref.port, w)  # noqa: E731
        expect(q("ruok") == z("ruok") == "imok", "ruok")
        expect(q("isro") == z("isro"), "isro")
        compare_srvr("srvr", q("srvr"), z("srvr"))

        qs, zs = q("stat"), z("stat")
        client = re.compile(r"^ /127\.0\.0\.1:\d+\[[01]\]\(queued=\d+,recved=\d+,sent=\d+\)$")
        for name, text in (("quorumd", qs), ("zookeeper", zs)):
            head, _, rest = text.partition("Clients:\n")
            clients, _, tail = rest.partition("\n\n")
            expect(all(client.match(l) for l in clients.splitlines()), "stat client lines (%s): %r" % (name, clients))
        expect(len(qs.partition("Clients:\n")[2].partition("\n\n")[0].splitlines()) ==
               len(zs.partition("Clients:\n")[2].partition("\n\n")[0].splitlines()), "stat: same number of clients")
        compare_srvr("stat", qs.splitlines()[0] + "\n" + qs.partition("\n\n")[2],
                     zs.splitlines()[0] + "\n" + zs.partition("\n\n")[2])

        qm, zm = dict(kv_lines(q("mntr"), "\t")), dict(kv_lines(z("mntr"), "\t"))
        core = ["zk_version", "zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections",
                "zk_avg_latency", "zk_outstanding_requests", "zk_znode_count", "zk_global_sessions",
                "zk_packets_sent", "zk_packets_received", "zk_watch_count", "zk_min_latency", "zk_max_latency",
                "zk_approximate_data_size", "zk_open_file_descriptor_count", "zk_max_file_descriptor_count",
                "zk_uptime", "zk_auth_failed_count", "zk_last_client_response_size",
                "zk_max_client_response_size", "zk_min_client_response_size", "zk_connection_rejected"]
        for k in core:
            expect(k in qm and k in zm, "mntr: %s in both" % k)
        for k in ("zk_server_state", "zk_ephemerals_count", "zk_znode_count", "zk_watch_count",
                  "zk_approximate_data_size", "zk_outstanding_requests", "zk_global_sessions",
                  "zk_num_alive_connections"):
            expect(qm.get(k) == zm.get(k), "mntr: %s equal (%r vs %r)" % (k, qm.get(k), zm.get(k)))
        num = re.compile(r"^-?\d+(\.\d+)?$")
        for k, v in qm.items():
            if k in zm and k != "zk_version":
                expect(bool(num.match(v)) == bool(num.match(zm[k])), "mntr: %s has ZooKeeper's type (%r vs %r)" %
                       (k, v, zm[k]))
        expect(set(qm) <= set(zm), "mntr: every key quorumd prints is one ZooKeeper prints: %s" %
               sorted(set(qm) - set(zm)))

        qc, zc = kv_lines(q("conf"), "="), kv_lines(z("conf"), "=")
        expect([k for k, _ in qc] == [k for k, _ in zc], "conf: same keys in the same order")
        qcd, zcd = dict(qc), dict(zc)
        for k in ("secureClientPort", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
                  "clientPortListenBacklog", "serverId"):
            expect(qcd.get(k) == zcd.get(k), "conf: %s equal (%r vs %r)" % (k, qcd.get(k), zcd.get(k)))
        expect(qcd.get("dataDir", "").endswith("/version-2"), "conf: dataDir names version-2")

        full = re.compile(r"^ /127\.0\.0\.1:\d+\[[01]\]\(queued=\d+,recved=\d+,sent=\d+"
                          r"(,sid=0x[0-9a-f]+,lop=\w+,est=\d+,to=\d+(,lcxid=0x[0-9a-f]+)?,lzxid=0x[0-9a-f]+,"
                          r"lresp=\d+,llat=\d+,minlat=\d+,avglat=[\d.]+,maxlat=\d+)?\)$")
        for name, text in (("quorumd", q("cons")), ("zookeeper", z("cons"))):
            lines = [l for l in text.splitlines() if l]
            expect(lines and all(full.match(l) for l in lines), "cons format (%s): %r" % (name, lines))
            expect(any(",sid=0x" in l for l in lines), "cons shows the session (%s)" % name)
        qe, ze = q("envi"), z("envi")
        expect(qe.splitlines()[0] == ze.splitlines()[0] == "Environment:", "envi header")
        qed, zed = dict(kv_lines(qe, "=")), dict(kv_lines(ze, "="))
        for k in ("host.name", "os.name", "os.arch", "user.name"):
            expect(qed.get(k) == zed.get(k), "envi: %s equal (%r vs %r)" % (k, qed.get(k), zed.get(k)))
        expect(q("wchs") == z("wchs"), "wchs equal: %r vs %r" % (q("wchs"), z("wchs")))
        for c in keep:
            c.stop()

    # The allow-list: the same config on both, a word left out is refused the same way.
    wl = ["4lw.commands.whitelist=srvr, ruok"]
    with servers.Server("zookeeper", extra_cfg=wl) as ref, servers.Server("quorumd", quorumd_bin=qbin, extra_cfg=wl) as ours:
        for w in ("mntr", "conf", "stat"):
            a, b = servers.four_letter(ours.port, w), servers.four_letter(ref.port, w)
            expect(a == b, "whitelist refusal of %s identical: %r vs %r" % (w, a, b))
        expect(servers.four_letter(ours.port, "ruok") == "imok", "whitelisted ruok still answers")
    print("%d difference(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
