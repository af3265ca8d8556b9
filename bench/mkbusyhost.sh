#!/usr/bin/env bash
# mkbusyhost.sh DIR [PROCS] [FDS] - make this host busy, for the cost of finding
# the holder of a lock that /proc/locks cannot name.
#
#   bench/mkbusyhost.sh DIR [PROCS] [FDS]     (default: 1500 processes x 100 descriptors)
#   bench/mkbusyhost.sh --teardown DIR        (ends every process it started, removes DIR)
#
# Starts PROCS `sleep` processes, each holding FDS open descriptors (on
# /dev/null, on a file in DIR and on pipes), and writes 10 pidfiles
# DIR/lockedN.pid whose flock is held by a child of the process that took it:
# the taker wrote its own PID, took the lock, forked a `sleep` that keeps the
# descriptor, and exited. /proc/locks keeps naming the taker, which is gone,
# so the holder is unknown until every process's descriptors are looked at.
# The takers are not process group or session leaders, so no cheap guess finds
# the holders: this is the worst case. Every PID started is in DIR/.pids.
# Needs python3; takes a few seconds.
set -euo pipefail
if [[ ${1:-} == --teardown ]]; then
  dir=${2:?usage: mkbusyhost.sh --teardown DIR}
  [[ -f $dir/.pids ]] && xargs -r kill -9 <"$dir/.pids" 2>/dev/null || true
  rm -rf "$dir"
  exit 0
fi
dir=${1:?usage: mkbusyhost.sh DIR [PROCS] [FDS] | mkbusyhost.sh --teardown DIR}
procs=${2:-1500}
fds=${3:-100}
mkdir -p "$dir"
python3 - "$dir" "$procs" "$fds" <<'PY'
import fcntl, os, resource, sys

where, procs, fds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pid_max = int(open("/proc/sys/kernel/pid_max").read())
running = len([p for p in os.listdir("/proc") if p.isdigit()])
if running + procs + 50 > pid_max:
    sys.exit(f"mkbusyhost: {procs} more processes do not fit under pid_max {pid_max}")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < fds + 64:
    if hard < fds + 64:
        sys.exit(f"mkbusyhost: RLIMIT_NOFILE hard limit {hard} is below {fds + 64}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (fds + 64, hard))

pids_file = open(os.path.join(where, ".pids"), "a")
def started(pid):
    pids_file.write(f"{pid}\n")
    pids_file.flush()

# The descriptors every sleeper inherits: a third each on /dev/null, a file
# here and pipes. Kept clear of 0-2, which are /dev/null for the sleepers.
data = os.path.join(where, ".data")
open(data, "w").close()
held = []
while len(held) < fds:
    kind = len(held) % 3
    if kind == 0:
        held.append(os.open(os.devnull, os.O_RDONLY))
    elif kind == 1:
        held.append(os.open(data, os.O_RDONLY))
    else:
        r, w = os.pipe()
        held.extend([r, w])
held = held[:fds]
for fd in held:
    os.set_inheritable(fd, True)
null = os.open(os.devnull, os.O_RDWR)
actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
for _ in range(procs):
    started(os.posix_spawnp("sleep", ["sleep", "3600"], os.environ, file_actions=actions))
for fd in held:
    os.close(fd)

# The pidfiles, each locked by the child of a taker that has exited.
for i in range(10):
    path = os.path.join(where, f"locked{i}.pid")
    r, w = os.pipe()
    taker = os.fork()
    if taker == 0:
        os.close(r)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.set_inheritable(fd, True)
        child = os.posix_spawnp("sleep", ["sleep", "3600"], os.environ, file_actions=actions)
        os.write(w, f"{child}\n".encode())
        os._exit(0)
    os.close(w)
    child = int(os.read(r, 64).decode() or "0")
    os.close(r)
    os.waitpid(taker, 0)
    if child:
        started(child)
print(f"{where}: {procs} processes x {fds} descriptors, 10 pidfiles locked by orphans; PIDs in {where}/.pids")
PY
