#!/usr/bin/env bash
# live-bench.sh - how fast pidscope sees a change, and what it costs while
# nothing changes.
#
#   scripts/live-bench.sh [EVENTS] [IDLE_SECONDS]     (default: 100 events, 30 s)
#
# Latency: EVENTS changes (a pidfile created, its process killed, the file
# removed, in turn), each timed from just before the change to
#   - the line `pidscope watch --json` prints for it, and
#   - the first bytes of the inspector's redraw (in a pseudo-terminal),
# on /run (the changes happen in a directory made under it) and on the
# 10,000-pidfile fixture (bench/mkfixture.sh). The safety-net rescan is set
# to 60 s, so only the kernel's events can explain what is seen.
#
# First screen: from starting the inspector on the fixture to the first
# screen showing a row, over 7 starts.
#
# Idle: CPU ticks used over IDLE_SECONDS by `watch` and by the inspector on
# /run, and by the inspector on the fixture, live and with --poll (the 2 s
# rescan); and the inspector's peak RSS both ways.
#
# Needs root (a directory under /run), cargo, python3. Prints the machine
# and the date first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
events=${1:-100}
idle=${2:-30}

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
pidscope=$root/target/release/pidscope

work=$(mktemp -d)
rundir=$(mktemp -d /run/pidscope-bench.XXXXXX)
trap '"$root/bench/mkfixture.sh" --teardown "$work/fx" >/dev/null 2>&1 || true; rm -rf "$work" "$rundir"' EXIT
"$root/bench/mkfixture.sh" "$work/fx" 10000 >/dev/null

"$root/bench/machine.sh"
echo

PYTHONPATH=$root/bench python3 - "$pidscope" "$rundir" "$work/fx" "$events" "$idle" <<'PY'
import json, os, signal, statistics, subprocess, sys, threading, time
from measure import ENV as env, TICK as tick, Inspector as Terminal, peak_rss_mib, ticks

pidscope, rundir, fixture, events, idle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])

def changes(where):
    """The changes, in turn: create (naming a live sleep), kill, remove."""
    sleeper = None
    for i in range(events):
        step = i % 3
        path = os.path.join(where, f"bench{i // 3}.pid")
        if step == 0:
            sleeper = subprocess.Popen(["sleep", "1000"])
            time.sleep(0.02)  # the file must be newer than its process
            def act(path=path, pid=sleeper.pid):
                with open(path, "w") as f:
                    f.write(f"{pid}\n")
        elif step == 1:
            def act(proc=sleeper):
                proc.kill(); proc.wait()
        else:
            def act(path=path):
                os.unlink(path)
        yield path, act
    # EVENTS not a multiple of 3 leaves the last sleeper running: end it.
    if sleeper is not None and sleeper.poll() is None:
        sleeper.kill()
        sleeper.wait()

class Watch:
    def __init__(self, tree):
        self.proc = subprocess.Popen([pidscope, "watch", "--json", "--interval", "60s", tree],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self.read, daemon=True).start()
        line = self.proc.stderr.readline().decode()
        if "live" not in line:
            sys.exit(f"watch is not live: {line.strip()}")
    def read(self):
        for raw in self.proc.stdout:
            at = time.perf_counter()
            with self.cond:
                self.lines.append((at, json.loads(raw)))
                self.cond.notify_all()
    def wait_for(self, path, start):
        deadline = time.monotonic() + 5
        with self.cond:
            while True:
                for at, line in self.lines:
                    if line["path"] == path and at >= start:
                        self.lines.clear()
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    sys.exit(f"watch printed nothing for {path}")
                self.cond.wait(left)
    def stop(self):
        self.proc.send_signal(signal.SIGTERM); self.proc.wait()

class Inspector(Terminal):
    def __init__(self, tree, *extra):
        super().__init__(pidscope, *extra, tree)
        self.drain(2.0)

def latency(kind, tree, where):
    tool = Watch(tree) if kind == "watch" else Inspector(tree, "--interval", "60s")
    took = []
    for path, act in changes(where):
        if kind == "inspector":
            tool.drain(0.05)
        start = time.perf_counter()
        act()
        at = tool.wait_for(path, start) if kind == "watch" else tool.first_output_after()
        took.append((at - start) * 1000)
    tool.stop()
    took.sort()
    p99 = took[max(0, -(-len(took) * 99 // 100) - 1)]  # nearest rank
    return statistics.median(took), p99, took[-1]

print(f"latency over {events} changes (ms)     median      p99      max")
for label, tree, where in [("/run", "/run", rundir), ("10,000 pidfiles", fixture, os.path.join(fixture, "d0"))]:
    for kind in ("watch", "inspector"):
        med, p99, worst = latency(kind, tree, where)
        print(f"  {kind:<9} on {label:<17} {med:8.1f} {p99:8.1f} {worst:8.1f}")

def first_screen(tree, marker, runs=7):
    """Milliseconds from starting the inspector to the first screen showing `marker`."""
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        tool = Terminal(pidscope, "--interval", "60s", tree)
        tool.wait_for(marker)
        took.append((time.perf_counter() - start) * 1000)
        tool.stop()
    took.sort()
    return took[0], statistics.median(took), took[-1]

def idle_cost(make):
    tool = make()
    pid = tool.proc.pid if isinstance(tool, Watch) else tool.pid
    time.sleep(1)
    before = ticks(pid)
    if isinstance(tool, Inspector):
        tool.read_for(idle)
    else:
        time.sleep(idle)
    used = ticks(pid) - before
    rss = peak_rss_mib(pid)
    tool.stop()
    return used, rss

print()
low, mid, high = first_screen(fixture, b".pid")
print(f"first screen on 10,000 pidfiles (ms, 7 starts)  min {low:.1f}  median {mid:.1f}  max {high:.1f}")

print()
print(f"idle for {idle:.0f} s                 CPU ticks  % of a core  peak RSS MiB")
for label, make in [
    ("watch on /run", lambda: Watch("/run")),
    ("inspector on /run", lambda: Inspector("/run")),
    ("inspector, 10,000 live", lambda: Inspector(fixture)),
    ("inspector, 10,000 --poll", lambda: Inspector(fixture, "--poll")),
]:
    used, rss = idle_cost(make)
    print(f"  {label:<26} {used:6d} {100 * used / (idle * tick):11.2f} {rss:12.1f}")
PY
