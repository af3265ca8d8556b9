#!/usr/bin/env bash
# bench.sh - how pidscope audit compares with the least work the job needs.
#
#   scripts/bench.sh [N...]        (default: 1000 10000 100000 pidfiles)
#
# For each N: lays out N pidfiles with bench/mkfixture.sh (30% live, 60% stale,
# 10% garbage), builds bench/baseline.c (walk, open, read, kill 0, read
# /proc/PID/stat in plain C), then runs the baseline and `pidscope audit --json`
# alternately (A B A B ...), and prints median wall times, their ratio and
# pidscope's peak RSS. Needs: cargo, cc, python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
runs=${RUNS:-7}
sizes=("$@")
((${#sizes[@]})) || sizes=(1000 10000 100000)

work=$(mktemp -d)
trap 'for d in "$work"/fx*; do [[ -d $d ]] && "$bench/mkfixture.sh" --teardown "$d"; done; rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
cc -O2 -o "$work/baseline" "$bench/baseline.c"
pidscope=$root/target/release/pidscope

printf '%-8s %12s %12s %7s %10s\n' files baseline_ms pidscope_ms ratio peak_MiB
for n in "${sizes[@]}"; do
  fx=$work/fx$n
  "$bench/mkfixture.sh" "$fx" "$n" >/dev/null
  python3 - "$runs" "$work/baseline" "$pidscope" "$fx" "$n" <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, baseline, pidscope, fx, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
env = dict(os.environ, PIDSCOPE_CONFIG="/dev/null")
def once(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    # ru_maxrss of children is the largest child so far: run pidscope's first to read it.
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
a_cmd = [pidscope, "audit", "--json", fx]
b_cmd = [baseline, fx]
once(a_cmd); once(b_cmd)  # warm the page cache and /proc
a, b, peak = [], [], 0
for _ in range(runs):
    wall, rss = once(a_cmd); a.append(wall); peak = max(peak, rss)
    wall, _ = once(b_cmd); b.append(wall)
ma, mb = statistics.median(a), statistics.median(b)
print(f"{n:<8} {mb*1000:12.1f} {ma*1000:12.1f} {ma/mb:7.2f} {peak/1024:10.1f}")
PY
  "$bench/mkfixture.sh" --teardown "$fx"
done
