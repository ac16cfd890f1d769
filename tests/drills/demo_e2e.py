#!/usr/bin/python3
"""The runbook's drills end to end on the one-machine lab, as `faultline demo` runs them:
lab up with the chosen coordination backend, the drills, the reports, lab down. Asserts that
every drill passed (exit 0), that the JUnit report lists every expectation with no failure,
that every journal says all faults were reverted, and that nothing is left on this machine
(namespaces, links, mounts, iptables rules, processes the lab started).

usage: demo_e2e.py FAULTLINE --coord quorumd|zookeeper [--zk 3|5|6] [DRILL...]   (run as root)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def snapshot():
    def run(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True).stdout

    rules = [line for line in run("iptables-save").splitlines()
             if not line.startswith("#") and not line.startswith(":")]
    rules = [re.sub(r"\[\d+:\d+\]", "", r) for r in rules]
    mounts = [line.split()[1] for line in open("/proc/mounts") if "faultline" in line]
    return {
        "netns": sorted(n.split()[0] for n in run("ip", "netns", "list").splitlines() if n.startswith("fl")),
        "links": sorted(re.findall(r"^\d+: (fl[^:@]*)", run("ip", "-o", "link"), re.M)),
        "mounts": sorted(mounts),
        "iptables": rules,
        "procs": sorted(p for p in run("pgrep", "-a", "-f", "/run/faultline-demo").splitlines()
                        if "demo_e2e" not in p),
    }


def diagnostics_problems(name, journal, report):
    """Every drill brings a capture on the coordination ports of each ZooKeeper server and
    the logs of its window, all on disk beside the report and linked from the HTML page;
    the drills that make the ensemble elect bring the election timeline."""
    problems = []
    att = journal.get("attachments", {})
    html = open(os.path.join(report, "report.html")).read() if os.path.exists(os.path.join(report, "report.html")) else ""
    captures = [k for k in att if k.endswith(" capture")]
    if not captures:
        problems.append("%s: no packet capture attached (notes: %s)" % (name, journal.get("notes")))
    if not any(k.endswith(" zookeeper log") for k in att):
        problems.append("%s: no ZooKeeper server log attached" % name)
    for key, rel in att.items():
        path = os.path.join(report, rel)
        if not os.path.isfile(path):
            problems.append("%s: attachment %s missing at %s" % (name, key, path))
            continue
        if key.endswith(" capture"):
            with open(path, "rb") as f:
                if f.read(4) not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
                    problems.append("%s: %s is not a pcap file" % (name, path))
        if html and rel not in html:
            problems.append("%s: the HTML report does not link %s" % (name, rel))
    elects = name.startswith("split-") or name in ("leader-isolation", "one-way-partition", "F2", "decommission")
    if elects and "election timeline" not in att:
        problems.append("%s: no election timeline (the ensemble elected during the drill)" % name)
    return problems


def rolling_restart_problems(name, journal):
    """Each of the three servers left restarted once, in the drill's order (the safe one:
    followers first, leader last; or the leader first), none of them one of the two
    decommissioned."""
    hosts = {w["fault"]: w.get("hosts", []) for w in journal.get("faults", [])}
    order = ["restart-follower-1", "restart-follower-2", "restart-leader"]
    picked = [hosts.get(f, []) for f in order]
    if any(len(h) != 1 for h in picked):
        return ["%s: each restart should land on one server, got %s" % (name, dict(zip(order, picked)))]
    names = [h[0] for h in picked]
    if len(set(names)) != 3 or set(names) & {"zk4", "zk5"}:
        return ["%s: the restarts should land on three different servers of zk1-zk3, got %s" % (name, names)]
    return []


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--coord":
        print(__doc__)
        return 2
    faultline, coord, drills = sys.argv[1], sys.argv[3], sys.argv[4:]
    zk = ["--zk", "3"]
    if drills[:1] == ["--zk"]:
        zk, drills = drills[:2], drills[2:]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    drills = [d if os.path.isabs(d) else os.path.join(root, "drills", d + ".yaml") for d in drills]
    before = snapshot()
    report = tempfile.mkdtemp(prefix="fl-demo-%s-" % coord, dir="/tmp")
    proc = subprocess.run([faultline, "demo", "--coord", coord, "--report", report] + zk + drills, cwd=root,
                          capture_output=True, text=True, timeout=1500)
    out = proc.stdout + proc.stderr
    problems = []
    if proc.returncode != 0:
        problems.append("faultline demo exited %d (0: every expectation met)" % proc.returncode)

    expected = drills or [os.path.join(root, "drills", "F%d.yaml" % i) for i in range(1, 7)]
    names = [os.path.splitext(os.path.basename(d))[0] for d in expected]
    junit = os.path.join(report, "junit.xml")
    if not os.path.exists(junit):
        problems.append("no JUnit report at " + junit)
    else:
        tree = ET.parse(junit)
        cases = tree.getroot().iter("testcase")
        seen = {}
        for case in cases:
            suite = case.get("classname", "")
            bad = case.find("failure") is not None or case.find("error") is not None
            seen.setdefault(suite, []).append((case.get("name"), bad))
        for name in names:
            rows = seen.get(name, [])
            if not rows:
                problems.append("JUnit has no test cases for " + name)
            for case, bad in rows:
                if bad:
                    problems.append("JUnit: %s %s failed" % (name, case))
    for name in names:
        path = os.path.join(report, name + ".json")
        if not os.path.exists(path):
            problems.append("no journal " + path)
            continue
        journal = json.load(open(path))
        if journal.get("leftovers"):
            problems.append("%s: the journal lists faults left behind: %s" % (name, journal["leftovers"]))
        if journal.get("exit_code") != 0:
            problems.append("%s: the journal's exit code is %s" % (name, journal.get("exit_code")))
        problems += diagnostics_problems(name, journal, report)
        if name.startswith("decommission"):
            problems += rolling_restart_problems(name, journal)
    if not os.path.exists(os.path.join(report, "report.html")):
        problems.append("no HTML report")

    after = snapshot()
    for key in before:
        if before[key] != after[key]:
            gone = sorted(set(after[key]) - set(before[key]))
            problems.append("left on this machine (%s): %s" % (key, gone[:5]))

    if problems:
        print(out[-6000:])
        print("\n".join("FAIL: " + p for p in problems))
        return 1
    table = [line for line in out.splitlines() if re.match(r"^F\d\s", line)]
    print("\n".join(table))
    print("%s: %d drill(s) passed, every fault reverted, nothing left behind" % (coord, len(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
