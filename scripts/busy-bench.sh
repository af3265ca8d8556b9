#!/usr/bin/env bash
# busy-bench.sh - what a lock whose holder is unknown costs on a busy host.
#
#   scripts/busy-bench.sh [RUNS] [IDLE_SECONDS]     (default: 9 runs, 30 s)
#
# Lays out the busy host of bench/mkbusyhost.sh (1,500 processes x 100
# descriptors, and 10 pidfiles whose flock a child of an exited taker holds:
# the holders are found only by looking at every process's descriptors),
# then:
#   - times `pidscope audit --json` of those 10 pidfiles, RUNS times, and for
#     contrast of 10 pidfiles with the same content and no lock, alternately;
#   - counts the CPU ticks the inspector uses over IDLE_SECONDS with a full
#     rescan every 2 s (`pidscope --poll --interval 2s DIR`, in a
#     pseudo-terminal), after its first scan, on both sets of pidfiles.
# Everything it started is ended on exit. PIDSCOPE=/path/to/pidscope measures
# that binary instead of building this tree's. Needs cargo and python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-9}
idle=${2:-30}

if [[ -z ${PIDSCOPE:-} ]]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  PIDSCOPE=$root/target/release/pidscope
fi

work=$(mktemp -d)
trap '"$root/bench/mkbusyhost.sh" --teardown "$work/busy" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$root/bench/mkbusyhost.sh" "$work/busy" >/dev/null
mkdir "$work/plain"
for f in "$work"/busy/locked*.pid; do cp "$f" "$work/plain/"; done

"$root/bench/machine.sh"
echo "host:    $(find /proc -maxdepth 1 -name '[0-9]*' | wc -l) processes, $(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) descriptors"
echo

PYTHONPATH=$root/bench python3 - "$PIDSCOPE" "$work/busy" "$work/plain" "$runs" "$idle" <<'PY'
import statistics, subprocess, sys, time
from measure import ENV as env, TICK as tick, Inspector, ticks

pidscope, busy, plain, runs, idle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])

def audit(tree):
    start = time.perf_counter()
    subprocess.run([pidscope, "audit", "--json", tree], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    return (time.perf_counter() - start) * 1000

times = {busy: [], plain: []}
audit(busy)  # warm the caches once
for _ in range(runs):
    for tree in (busy, plain):
        times[tree].append(audit(tree))
print(f"audit --json, {runs} runs (ms)               min   median      max")
for label, tree in [("10 locks, holders unknown", busy), ("10 pidfiles, no lock", plain)]:
    t = sorted(times[tree])
    print(f"  {label:<32} {t[0]:8.1f} {statistics.median(t):8.1f} {t[-1]:8.1f}")

def inspector_ticks(tree):
    tool = Inspector(pidscope, "--poll", "--interval", "2s", tree)
    tool.read_for(5)  # the first scan, and its walk
    before = ticks(tool.pid)
    tool.read_for(idle)
    used = ticks(tool.pid) - before
    tool.stop()
    return used

print()
print(f"inspector --poll --interval 2s, idle {idle:.0f} s   CPU ticks  % of a core")
for label, tree in [("10 locks, holders unknown", busy), ("10 pidfiles, no lock", plain)]:
    used = inspector_ticks(tree)
    print(f"  {label:<32} {used:9d} {100 * used / tick / idle:12.1f}")
PY
