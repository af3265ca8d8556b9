//! `pidscope audit` while other processes keep taking and releasing locks.
//!
//! `/proc/locks` is generated one page per read() and every read() restarts
//! the walk by position, so a lock table of several pages that changes
//! between two reads can lose a line. A pidfile whose owner steadily holds
//! its flock must nevertheless be reported locked by every audit.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Takes an exclusive flock on `argv[1]` from the last CPU it may run on (a
/// new lock goes to the head of the current CPU's list, and the lists are
/// printed in CPU order, so this lock is printed after every lock taken
/// later), writes its PID into the file, then exec's `sleep` with the fd.
const STEADY: &str = r#"
import fcntl, os, sys
os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"%d\n" % os.getpid())
os.set_inheritable(fd, True)
os.execvp("sleep", ["sleep", "1000"])
"#;

/// Holds `argv[2]` flocks on files in `argv[1]`, creates `argv[1]/ready`,
/// then `argv[3]` threads, each owning a share of the files, release all of
/// theirs together, then re-take them together, forever. The threads blocked
/// while `/proc/locks` is being read all proceed between two of its reads,
/// so the locks printed before the steady one disappear several at a time.
const CHURNER: &str = r#"
import fcntl, os, sys, threading
d, n, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fds = [os.open(os.path.join(d, "churn%d.lock" % i), os.O_RDWR | os.O_CREAT, 0o644) for i in range(n)]
for fd in fds:
    fcntl.flock(fd, fcntl.LOCK_EX)
barrier = threading.Barrier(t)
def churn(mine):
    while True:
        barrier.wait()
        for fd in mine:
            fcntl.flock(fd, fcntl.LOCK_UN)
        barrier.wait()
        for fd in mine:
            fcntl.flock(fd, fcntl.LOCK_EX)
for k in range(t):
    threading.Thread(target=churn, args=(fds[k::t],), daemon=True).start()
open(os.path.join(d, "ready"), "w").close()
threading.Event().wait()
"#;

/// Locks held by the churner: several pages of `/proc/locks`.
const CHURNED_LOCKS: usize = 300;
/// Churning threads.
const CHURN_THREADS: usize = 6;
/// Audits to run, unless [`AUDIT_BUDGET`] runs out first.
const AUDITS: usize = 500;
/// Time allowed for the audits.
const AUDIT_BUDGET: Duration = Duration::from_secs(8);

/// The tests here run one at a time: the churn of one would disturb the
/// other's table on purpose-built edges it does not test.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Spawns the steady holder and waits until `/proc/locks` shows its flock
/// and the file names it.
fn hold_steady(path: &Path) -> Proc {
    let proc = Proc::spawn(
        Command::new("python3")
            .args(["-c", STEADY])
            .arg(path)
            .stdout(Stdio::null()),
    );
    let pid = proc.pid();
    let ready = wait_until(STARTUP_TIMEOUT, || {
        fs::read_to_string(path).is_ok_and(|t| t.trim() == pid.to_string())
            && proc_locks_for(path)
                .iter()
                .any(|l| !l.blocked && l.kind == "FLOCK" && l.pid == pid)
    });
    assert!(ready, "PID {pid} did not lock {} in time", path.display());
    proc
}

/// Spawns the churner and waits until it holds all its locks.
fn churn_locks(dir: &Path) -> Proc {
    let proc = Proc::spawn(
        Command::new("python3")
            .args(["-c", CHURNER])
            .arg(dir)
            .arg(CHURNED_LOCKS.to_string())
            .arg(CHURN_THREADS.to_string())
            .stdout(Stdio::null()),
    );
    let ready = wait_until(STARTUP_TIMEOUT, || dir.join("ready").exists());
    assert!(ready, "the churner did not take its locks in time");
    proc
}

#[test]
fn a_steadily_held_flock_is_seen_by_every_audit_while_others_churn() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let churn_dir = dir.path().join("churn");
    fs::create_dir(&churn_dir).expect("churn dir");
    let steady_path = dir.path().join("steady.pid");

    // The steady lock first: every churned lock is printed before it.
    let steady = hold_steady(&steady_path);
    let _churner = churn_locks(&churn_dir);
    let mut size = 0;
    let big = wait_until(TIMEOUT, || {
        size = fs::read_to_string("/proc/locks").map_or(0, |t| t.len());
        size > 3 * 4096
    });
    assert!(
        big,
        "/proc/locks should span several pages, has {size} bytes"
    );

    let pid = i64::from(steady.pid());
    let start = Instant::now();
    let mut runs = 0;
    let mut misses = Vec::new();
    while runs < AUDITS && start.elapsed() < AUDIT_BUDGET {
        let entry = audit_entry(&steady_path);
        runs += 1;
        if entry["status"] != "alive" || !lock_holders(&entry).contains(&pid) {
            misses.push(entry);
        }
    }
    assert!(runs >= 20, "only {runs} audits ran in {AUDIT_BUDGET:?}");
    assert!(
        misses.is_empty(),
        "the flock of PID {pid} was missed in {} of {runs} audits; first: {:#}",
        misses.len(),
        misses[0]
    );
}

/// Takes, from one CPU (so the locks are listed in reverse order of taking):
/// a flock on `argv[1]/p.pid` (which names the dead PID `argv[2]`), a flock on
/// `argv[1]/h.lock` with 80 threads blocked waiting for it, and a small flock
/// on `argv[1]/s.lock`; then creates `argv[1]/ready`. The lock with its
/// waiters is one long record, listed between the small one and the pidfile's.
const LONG_RECORD: &str = r#"
import fcntl, os, sys, threading, time
d, dead = sys.argv[1], sys.argv[2]
os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
p = os.open(os.path.join(d, "p.pid"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
fcntl.flock(p, fcntl.LOCK_EX)
os.write(p, b"%s\n" % dead.encode())
h = os.open(os.path.join(d, "h.lock"), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(h, fcntl.LOCK_EX)
def waiter():
    f = os.open(os.path.join(d, "h.lock"), os.O_RDWR)
    fcntl.flock(f, fcntl.LOCK_EX)
for _ in range(80):
    threading.Thread(target=waiter, daemon=True).start()
deadline = time.time() + 10
while open("/proc/locks").read().count("->") < 80 and time.time() < deadline:
    time.sleep(0.01)
s = os.open(os.path.join(d, "s.lock"), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(s, fcntl.LOCK_EX)
open(os.path.join(d, "ready"), "w").close()
time.sleep(1000)
"#;

#[test]
fn a_lock_listed_after_one_with_many_waiters_is_seen() {
    // A page of /proc/locks ends before the first record that does not fit:
    // here the first read returns only the small lock's line, and a reader
    // that took a short first read for the whole table lost the pidfile's.
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let holder = Proc::spawn(
        Command::new("python3")
            .args(["-c", LONG_RECORD])
            .arg(dir.path())
            .arg(dead_pid().to_string())
            .stdout(Stdio::null()),
    );
    assert!(
        wait_until(STARTUP_TIMEOUT, || dir.path().join("ready").exists()),
        "the lockers never got ready"
    );
    let entry = audit_entry(&dir.path().join("p.pid"));
    assert_eq!(
        lock_holders(&entry),
        vec![i64::from(holder.pid())],
        "the pidfile's lock was missed: {entry:#}"
    );
}
