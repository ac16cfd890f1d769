#!/usr/bin/env bash
# Lab bench: time `faultline lab up` and `lab down` of the default topology (15 hosts) with
# each coordination backend, side by side in one run, and the lab's memory footprint (the
# resident set of every process in the lab's namespaces once it is up). Apache ZooKeeper is
# the reference; the last column is quorumd / ZooKeeper. Needs root.
#
#   sudo bench/lab_updown.sh [BUILD_DIR] [ROUNDS]      (defaults: build 3)
#
# Goal (issue 6): the quorumd lab up in under 10 s on a 2-core machine.
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
faultline="${FAULTLINE:-$build/orchestrator/faultline}"
[ -x "$faultline" ] || { echo "lab_updown: $faultline not built (cmake --build $build --target faultline faultline-supervisor quorumd fl-svc)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "lab_updown: run as root" >&2; exit 2; }
work=$(mktemp -d /tmp/fl-labbench-XXXXXX)
state="$work/state"
cleanup() { "$faultline" lab down --state-dir "$state" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
# Sum of VmRSS (KiB) of every process in the lab's namespaces, and of the coordination servers.
footprint() {
  local total=0 coord=0 ns pid kb
  for ns in $(python3 -c 'import json,sys; print(" ".join(h["netns"] for h in json.load(open(sys.argv[1]))["hosts"]))' "$state/state.json"); do
    for pid in $(ip netns pids "$ns"); do
      kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      total=$((total + ${kb:-0}))
      if grep -qaE 'QuorumPeerMain|quorumd' "/proc/$pid/cmdline" 2>/dev/null; then coord=$((coord + ${kb:-0})); fi
    done
  done
  echo "$total $coord"
}

declare -A up down mem cmem
for backend in zookeeper quorumd; do
  for r in $(seq 1 "$rounds"); do
    t0=$(now)
    if ! "$faultline" lab up --coord "$backend" --state-dir "$state" > "$work/up.log" 2>&1; then
      echo "lab_updown: lab up --coord $backend failed:" >&2; cat "$work/up.log" >&2
      "$faultline" lab down --state-dir "$state" >/dev/null 2>&1 || true
      up[$backend]+="NaN "; down[$backend]+="NaN "; mem[$backend]+="NaN "; cmem[$backend]+="NaN "
      continue
    fi
    t1=$(now)
    sleep 2  # let the JVMs and services settle before measuring memory
    read -r total coord < <(footprint)
    t2=$(now)
    "$faultline" lab down --state-dir "$state" > "$work/down.log" 2>&1
    t3=$(now)
    up[$backend]+="$(echo "$t1 - $t0" | bc) "
    down[$backend]+="$(echo "$t3 - $t2" | bc) "
    mem[$backend]+="$((total / 1024)) "
    cmem[$backend]+="$((coord / 1024)) "
  done
done

python3 - "${up[zookeeper]}" "${up[quorumd]}" "${down[zookeeper]}" "${down[quorumd]}" \
           "${mem[zookeeper]}" "${mem[quorumd]}" "${cmem[zookeeper]}" "${cmem[quorumd]}" "$rounds" <<'PY'
import math, statistics, sys
def med(s):
    v = [float(x) for x in s.split()]
    v = [x for x in v if not math.isnan(x)]
    return statistics.median(v) if v else float("nan")
uz, uq, dz, dq, mz, mq, cz, cq, rounds = sys.argv[1:]
rows = [("lab up (s)", med(uz), med(uq)), ("lab down (s)", med(dz), med(dq)),
        ("lab RSS (MiB)", med(mz), med(mq)), ("ensemble RSS (MiB)", med(cz), med(cq))]
print(f"default topology (15 hosts), median of {rounds} rounds")
print(f"{'':20} {'zookeeper':>10} {'quorumd':>10} {'quorumd/zk':>11}")
for name, z, q in rows:
    ratio = q / z if z and not math.isnan(z) and not math.isnan(q) else float("nan")
    print(f"{name:20} {z:10.2f} {q:10.2f} {ratio:11.2f}")
up_q = med(uq)
print("goal: quorumd lab up < 10 s:", "met" if up_q < 10 else ("not measured" if math.isnan(up_q) else "NOT met"))
PY
