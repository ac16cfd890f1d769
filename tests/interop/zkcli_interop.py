#!/usr/bin/python3
"""A scripted zkCli.sh session (Debian's zookeeper package) against quorumd and Apache
ZooKeeper 3.8; the printed results must match line by line (times and session ids aside).

usage: zkcli_interop.py [--quorumd PATH]
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"

SCRIPT = """\
create /cli hello
create -s /cli/seq- a
create -s /cli/seq- b
create -e /cli/eph b
create /cli/missing/child x
create /cli hello
get /cli
set /cli world
set -v 7 /cli nope
get -s /cli
ls /cli
ls -s /cli
stat /cli
stat /nothing
addauth digest dave:pw
create /cli/acl x auth:dave:pw:cdrwa
getAcl /cli/acl
setAcl /cli/acl world:anyone:r
getAcl /cli/acl
set /cli/acl denied
delete /cli
delete -v 3 /cli/eph
deleteall /cli
ls /
get /zookeeper/config
quit
"""


def run(server):
    p = subprocess.run([ZKCLI, "-server", server.hosts], input=SCRIPT, capture_output=True, text=True, timeout=120)
    out = []
    for line in (p.stdout + p.stderr).splitlines():
        if re.match(r"^\d{4}-\d\d-\d\d \d\d:", line) or "Welcome to ZooKeeper" in line or "JLine" in line:
            continue
        if line.startswith("\tat ") or not line.strip() or line.startswith("Connecting to "):
            continue
        line = re.sub(r"^(ctime|mtime) = (?!Thu Jan 01 00:00:00 UTC 1970).*", r"\1 = T", line)
        line = re.sub(r"^ephemeralOwner = 0x(?!0$)[0-9a-f]+", "ephemeralOwner = OWNER", line)
        out.append(line)
    return out


def main():
    qbin = servers.quorumd_bin_from_args(sys.argv)
    with servers.Server("zookeeper") as ref, servers.Server("quorumd", quorumd_bin=qbin) as ours:
        want, got = run(ref), run(ours)
    diffs = 0
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else "<missing>"
        g = got[i] if i < len(got) else "<missing>"
        if w != g:
            diffs += 1
            print("line %d\n  zookeeper: %s\n  quorumd:   %s" % (i, w, g))
    if len(want) < 40:
        print("FAIL: the session printed too little (%d lines)" % len(want))
        diffs += 1
    print("%s: %d lines compared, %d differ" % ("PASS" if not diffs else "FAIL", len(want), diffs))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
