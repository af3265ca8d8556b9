#!/usr/bin/env bash
# bench.sh - how pidscope audit compares with the least work the job needs.
#
#   scripts/bench.sh [N...]        (default: 1000 10000 100000 pidfiles)
#
# For each N: lays out N pidfiles with bench/mkfixture.sh (30% live, 60% stale,
# 10% garbage), builds bench/baseline.c (walk, open, read, kill 0, read
# /proc/PID/stat in plain C), then runs the baseline and pidscope in turn
# (baseline, `audit --json`, baseline, `audit` (the table), ...: RUNS of each
# pidscope command, default 7, after one warm-up run of each), and prints the
# machine and the date, then per size the baseline's and pidscope's wall
# times (min, median, max), the ratio of the medians, the spread of the
# per-pair ratios (each --json run against the baseline run just before it)
# and pidscope's peak RSS. A second table gives the median time of each of
# pidscope's phases over the same runs (PIDSCOPE_TIMINGS=1: walk, read,
# units, probe, locks, classify, render) and the median wall time of the
# table, against that of `--json`. The peak RSS is read by GNU time in three
# runs of each after the timed ones (a child forked by python3 would count
# python's pages before its exec).
# Needs: cargo, cc, python3, GNU time (/usr/bin/time).
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

"$root/bench/machine.sh"
echo "runs:    $runs of each, alternating, after one warm-up; times in ms"
echo

for n in "${sizes[@]}"; do
  fx=$work/fx$n
  "$bench/mkfixture.sh" "$fx" "$n" >/dev/null
  # The fixture's writeback (and the last one's teardown) out of the timed runs.
  sync
  python3 - "$runs" "$work/baseline" "$pidscope" "$fx" "$n" >>"$work/rows" <<'PY'
import json, os, re, statistics, subprocess, sys, tempfile, time
runs, baseline, pidscope, fx, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
env = dict(os.environ, PIDSCOPE_CONFIG="/dev/null", PIDSCOPE_TIMINGS="1")
def once(argv):
    start = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return time.perf_counter() - start, p.stderr.decode(errors="replace")
def peak_kib(argv):
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        return int(out.read().split()[-1])
json_cmd = [pidscope, "audit", "--json", fx]
table_cmd = [pidscope, "audit", fx]
base_cmd = [baseline, fx]
for cmd in (json_cmd, base_cmd, table_cmd):
    once(cmd)  # warm the page cache and /proc
# Each pidscope run follows a baseline run, never another pidscope run: a
# reader of /proc/locks right after another waits less in the kernel.
a, b, t, ratios, phases = [], [], [], [], {}
for _ in range(runs):
    wall, _ = once(base_cmd); b.append(wall)
    wall, err = once(json_cmd); a.append(wall)
    for name, ms in re.findall(r"(\w+)=([0-9.]+)ms", err):
        phases.setdefault(name, []).append(float(ms))
    ratios.append(a[-1] / b[-1])
    wall, _ = once(base_cmd); b.append(wall)
    wall, _ = once(table_cmd); t.append(wall)
peak = max(max(peak_kib(json_cmd), peak_kib(table_cmd)) for _ in range(3))
ms = lambda xs: [x * 1000 for x in xs]
print(json.dumps({
    "n": int(n), "baseline": ms(b), "json": ms(a), "table": ms(t), "ratios": ratios,
    "peak_mib": peak / 1024, "phases": {k: statistics.median(v) for k, v in phases.items()},
}))
PY
  "$bench/mkfixture.sh" --teardown "$fx"
done

python3 - "$work/rows" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
med = statistics.median
spread = lambda xs: f"{min(xs):.1f} / {med(xs):.1f} / {max(xs):.1f}"
print(f"{'pidfiles':>9}  {'baseline min/median/max':>25}  {'pidscope --json min/median/max':>31}  {'ratio':>5}  {'pair ratios min-max':>19}  {'peak MiB':>8}")
for r in rows:
    ratio = med(r["json"]) / med(r["baseline"])
    pairs = f"{min(r['ratios']):.2f}-{max(r['ratios']):.2f}"
    print(f"{r['n']:>9,}  {spread(r['baseline']):>25}  {spread(r['json']):>31}  {ratio:>5.2f}  {pairs:>19}  {r['peak_mib']:>8.1f}")
print()
names = ["walk", "read", "units", "probe", "locks", "classify", "render"]
print(f"{'pidfiles':>9}  " + "  ".join(f"{n:>8}" for n in names) + f"  {'table':>8}  {'table/json':>10}")
for r in rows:
    cells = "  ".join(f"{r['phases'].get(n, float('nan')):>8.1f}" for n in names)
    print(f"{r['n']:>9,}  {cells}  {med(r['table']):>8.1f}  {med(r['table']) / med(r['json']):>10.2f}")
print()
print("phases: medians over the --json runs, as PIDSCOPE_TIMINGS=1 prints them; table: median")
print("wall time of `pidscope audit` (the table) over runs taken alongside.")
PY
