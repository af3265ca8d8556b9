#!/usr/bin/env bash
# busy-bench.sh - what a lock whose holder is unknown costs on a busy host.
#
#   scripts/busy-bench.sh [RUNS] [IDLE_SECONDS]     (default: 9 runs, 30 s)
#
# Lays out the busy host of bench/mkbusyhost.sh (1,500 processes x 100
# descriptors, and 10 pidfiles whose flock a child of an exited taker holds:
# the holders are found only by looking at every process's descriptors),
# then:
#   - times `pidscope audit --json` of those 10 pidfiles, RUNS times (as it
#     runs, and with PIDSCOPE_BPF=0: walking /proc, not asking the kernel's
#     BPF iterator), and for contrast of 10 pidfiles with the same content and
#     no lock, and the bare
#     C walk of bench/fdwalk.c over every process's descriptors (listed and
#     followed, on one thread and on two; listed only), in turn;
#   - counts the CPU ticks the inspector uses over IDLE_SECONDS with a full
#     rescan every 2 s (`pidscope --poll --interval 2s DIR`, in a
#     pseudo-terminal), after its first scan, on both sets of pidfiles.
# Everything it started is ended on exit. PIDSCOPE=/path/to/pidscope measures
# that binary instead of building this tree's. Needs cargo, cc and python3.
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
cc -O2 -pthread -o "$work/fdwalk" "$root/bench/fdwalk.c"
for f in "$work"/busy/locked*.pid; do cp "$f" "$work/plain/"; done

"$root/bench/machine.sh"
echo "host:    $(find /proc -maxdepth 1 -name '[0-9]*' | wc -l) processes, $(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) descriptors"
echo

PYTHONPATH=$root/bench python3 - "$PIDSCOPE" "$work/busy" "$work/plain" "$runs" "$idle" "$work/fdwalk" <<'PY'
import statistics, subprocess, sys, time
from measure import ENV as env, TICK as tick, Inspector, ticks

pidscope, busy, plain, runs, idle, fdwalk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]

def timed(argv, extra={}):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(env, **extra))
    return (time.perf_counter() - start) * 1000

# The bare C walks (bench/fdwalk.c) over the same host: every descriptor
# listed and followed, then only listed; a floor under any complete walk.
locked = f"{busy}/locked0.pid"
no_bpf = {"PIDSCOPE_BPF": "0"}
rows = [
    ("10 locks, holders unknown", [pidscope, "audit", "--json", busy], {}),
    ("  the same, PIDSCOPE_BPF=0", [pidscope, "audit", "--json", busy], no_bpf),
    ("10 pidfiles, no lock", [pidscope, "audit", "--json", plain], {}),
    ("C: list + statx, 1 thread", [fdwalk, locked, "1"], {}),
    ("C: list + statx, 2 threads", [fdwalk, locked, "2"], {}),
    ("C: list only, 2 threads", [fdwalk, "--list-only", locked, "2"], {}),
]
times = {label: [] for label, _, _ in rows}
for _, argv, extra in rows:
    timed(argv, extra)  # warm the caches once
for _ in range(runs):
    for label, argv, extra in rows:
        times[label].append(timed(argv, extra))
print(f"audit --json, and bare C walks, {runs} runs (ms)   min   median      max")
for label, _, _ in rows:
    t = sorted(times[label])
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
