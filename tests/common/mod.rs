//! Shared helpers for pidscope's integration tests.
//!
//! Everything here works against the *real* system: real processes, real
//! files, real locks as the kernel reports them in `/proc/locks`. Nothing is
//! mocked. Use it with `mod common;` from a file under `tests/`.
//!
//! Processes spawned through [`Proc`] get their own process group, and dropping
//! a [`Proc`] SIGKILLs that whole group, waits until every member is dead and
//! reaps the leader. A lock holder is therefore gone, and its lock released, by
//! the time its handle has been dropped.
//!
//! Requirements on the machine: `sleep`, `sh`, `true`, `python3` (3.9 or
//! newer, for `fcntl.F_OFD_SETLK`), and util-linux's `flock` and `setpriv`.
//! [`spawn_as`] needs root.
//!
//! Locks are matched against `/proc/locks` by `MAJ:MIN:INO` built from
//! `stat(2)`. On file systems whose `st_dev` differs from the device the
//! kernel prints there (overlayfs, btrfs subvolumes), the lock helpers time
//! out and say so: keep test files on a plain file system such as the default
//! temporary directory.

#![allow(dead_code)]

pub mod cgroups;
pub mod clean;
pub mod inspector;
pub mod pidns;
pub mod tmux;
pub mod watch;

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long helpers wait for a state they expect (a lock showing up in
/// `/proc/locks`, a zombie, the death of a process group...).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How long helpers wait for a freshly spawned `python3` to report that it
/// has its lock (interpreter start-up can be slow on a loaded machine).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Polls `cond` every 10 ms until it returns `true` (then returns `true`) or
/// until `timeout` has passed (then returns `false`). `cond` is always called
/// at least once, and once more after the deadline.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return cond();
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// A child process that is killed when dropped.
///
/// The child is the leader of its own process group (`setpgid(0, 0)`), so
/// helpers that fork (like util-linux `flock`, whose `sleep` child keeps the
/// locked fd) are cleaned up completely: [`Drop`] sends SIGKILL to the whole
/// group, waits (up to [`TIMEOUT`]) until no other member of the group is
/// still alive (zombies count as dead: they have already closed their files,
/// hence released their locks), then reaps the leader.
///
/// The child's stdin is `/dev/null` and its stderr is inherited.
pub struct Proc {
    child: Child,
    /// Set once `child` has been reaped: after that its PID may be reused, so
    /// it must never be signalled again.
    reaped: bool,
}

impl Proc {
    /// Spawns `cmd` in a new process group and wraps it. Stdin is forced to
    /// `/dev/null`; stdout and stderr are left as configured on `cmd`
    /// (stdout defaults to `/dev/null` here, stderr to inherited).
    /// Returns once the kernel has finished exec'ing the program (see
    /// `wait_for_exec`); panics if the command cannot be started.
    pub fn spawn(cmd: &mut Command) -> Proc {
        cmd.stdin(Stdio::null()).process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let proc = Proc {
            child,
            reaped: false,
        };
        proc.wait_for_exec();
        proc
    }

    /// `spawn` may return before the kernel has finished the child's
    /// `execve` (the parent is released once the new memory map is in place,
    /// before `comm` and the argument area are set up). Waits, up to
    /// [`TIMEOUT`] and without failing, until `/proc/PID/cmdline` is set up
    /// and differs from ours, so callers see the new program's `comm`,
    /// `cmdline`, `exe` and credentials.
    fn wait_for_exec(&self) {
        let pid = self.pid();
        let ours = fs::read("/proc/self/cmdline").unwrap_or_default();
        wait_until(TIMEOUT, || {
            if matches!(process_state(pid), None | Some('Z' | 'X' | 'x')) {
                return true;
            }
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !cmdline.is_empty() && cmdline != ours
        });
    }

    /// The process ID of the child (also its process group ID).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Returns the exit status if the child has already exited (reaping it),
    /// `None` while it is still running.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.reaped {
            return self.child.try_wait().ok().flatten();
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.reaped = true;
                Some(status)
            }
            Ok(None) => None,
            Err(e) => panic!("waitpid({}) failed: {e}", self.pid()),
        }
    }

    /// Waits for the child to exit on its own and reaps it.
    pub fn wait(&mut self) -> ExitStatus {
        let status = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("waitpid({}) failed: {e}", self.pid()));
        self.reaped = true;
        status
    }

    /// Takes the child's piped stdout. Panics if stdout was not piped.
    fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.child
            .stdout
            .take()
            .expect("the child's stdout is not piped")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let pid = self.pid();
        // The leader is not reaped yet (at worst it is a zombie), so neither
        // its PID nor its process group ID can have been reused.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = wait_until(TIMEOUT, || live_group_members(pid, pid).is_empty());
        let _ = self.child.wait();
        self.reaped = true;
    }
}

/// PIDs of the processes in process group `pgid`, except `except`, that are
/// not dead yet (state other than `Z`/`X`).
fn live_group_members(pgid: i32, except: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != except)
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| {
                f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
                    && !matches!(f.first().map(String::as_str), Some("Z" | "X" | "x"))
            })
        })
        .collect()
}

/// Spawns `sleep 1000`. The returned [`Proc`]'s PID is the sleep's PID.
pub fn spawn_sleep() -> Proc {
    Proc::spawn(Command::new("sleep").arg("1000").stdout(Stdio::null()))
}

/// Runs `args` (program first) as user *and* group `uid`, with no
/// supplementary groups, through util-linux
/// `setpriv --reuid=UID --regid=UID --clear-groups -- ARGS...`.
///
/// `setpriv` exec's the command, so [`Proc::pid`] is the command's PID. Only
/// returns once the exec has happened (the process's real UID is `uid`, its
/// `comm` is no longer `setpriv` and its `cmdline` is the command's); panics if that does not happen within
/// [`TIMEOUT`]. Requires root (see [`is_root`]).
pub fn spawn_as(uid: u32, args: &[&str]) -> Proc {
    assert!(!args.is_empty(), "spawn_as: no command given");
    let mut proc = Proc::spawn(
        Command::new("setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups")
            .arg("--")
            .args(args)
            .stdout(Stdio::null()),
    );
    let pid = proc.pid();
    let mut exited = None;
    let ok = wait_until(TIMEOUT, || {
        if let Some(status) = proc.try_wait() {
            exited = Some(status);
            return true;
        }
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        comm.trim_end() != "setpriv"
            && !cmdline.is_empty()
            && !cmdline.starts_with(b"setpriv\0")
            && process_uids(pid).is_some_and(|u| u[0] == uid)
    });
    if let Some(status) = exited {
        panic!("spawn_as({uid}, {args:?}): setpriv or the command exited early: {status}");
    }
    assert!(
        ok,
        "spawn_as({uid}, {args:?}): PID {pid} did not become uid {uid} running {:?} in time",
        args[0]
    );
    proc
}

/// Waits up to [`TIMEOUT`] until `pid`'s `/proc/PID/cmdline` is exactly
/// `argv` (i.e. it has exec'd that command line); panics otherwise.
fn wait_for_cmdline(pid: i32, argv: &[&str]) {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"])
        .flatten()
        .copied()
        .collect();
    let mut seen = Vec::new();
    let ok = wait_until(TIMEOUT, || {
        seen = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        seen == want
    });
    assert!(
        ok,
        "PID {pid} did not exec {argv:?} in time (cmdline: {:?})",
        String::from_utf8_lossy(&seen)
    );
}

/// Real, effective, saved and filesystem UIDs of `pid` (the `Uid:` line of
/// `/proc/PID/status`), or `None` if there is no such process.
pub fn process_uids(pid: i32) -> Option<[u32; 4]> {
    status_ids(pid, "Uid:")
}

/// Real, effective, saved and filesystem GIDs of `pid` (the `Gid:` line of
/// `/proc/PID/status`), or `None` if there is no such process.
pub fn process_gids(pid: i32) -> Option<[u32; 4]> {
    status_ids(pid, "Gid:")
}

fn status_ids(pid: i32, key: &str) -> Option<[u32; 4]> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let ids: Vec<u32> = line[key.len()..]
        .split_whitespace()
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    ids.try_into().ok()
}

/// A PID that no process has right now: spawns `true`, reaps it, and checks
/// that `kill(pid, 0)` fails with `ESRCH` (tries again otherwise). The kernel
/// hands out PIDs cyclically, so the PID stays free for a good while.
pub fn dead_pid() -> i32 {
    loop {
        let mut child = Command::new("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `true`: {e}"));
        let pid = child.id() as i32;
        child
            .wait()
            .unwrap_or_else(|e| panic!("waitpid({pid}) failed: {e}"));
        if kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
            return pid;
        }
    }
}

/// The fields of `/proc/PID/stat` after the command name, i.e. after the
/// *last* `)` (the name itself may contain `)` and spaces): index 0 is the
/// state, 1 the PPID, 2 the process group, 19 the start time.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The state letter of `pid` from `/proc/PID/stat` (`R`, `S`, `D`, `Z`,
/// `T`...), or `None` if there is no such process. The field is found after
/// the *last* `)`, so odd command names cannot fool it.
pub fn process_state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// The parent PID of `pid` from `/proc/PID/stat`, or `None` if there is no
/// such process.
pub fn process_ppid(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The start time of `pid` (clock ticks after boot, field 22 of
/// `/proc/PID/stat`), or `None` if there is no such process. Together with the
/// PID it identifies a process even across PID reuse.
pub fn process_starttime(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Whether `kill(pid, 0)` finds `pid`: a process (zombies included) or a
/// thread, whoever owns it.
pub fn alive(pid: i32) -> bool {
    matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

/// The command name of `pid` (`/proc/PID/comm` without its newline), or an
/// empty string if there is no such process.
pub fn comm(pid: i32) -> String {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    comm.strip_suffix('\n').unwrap_or(&comm).to_owned()
}

/// The signals `pid` has a handler installed for: the `SigCgt:` mask of
/// `/proc/PID/status` (bit N-1 set for signal N), or `None` if there is no
/// such process.
pub fn caught_signals(pid: i32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
    u64::from_str_radix(mask.trim(), 16).ok()
}

/// Waits up to [`TIMEOUT`] until `pid` has a handler installed for `signal`
/// (its bit in [`caught_signals`]); panics if that does not happen in time or
/// if the process ends first.
///
/// A process that has exec'd is not yet ready for a signal it means to catch:
/// until, say, `sh -c "trap 'exit 3' USR1; ..."` has run its `trap`, the
/// signal still has its default action and kills the shell. Call this
/// between starting such a process and signalling it.
pub fn wait_for_handler(pid: i32, signal: Signal) {
    // nix's `Signal` values are libc's signal numbers (`SIGUSR1` is `libc::SIGUSR1`).
    let bit = 1u64 << (signal as libc::c_int - 1);
    let mut mask = None;
    let mut ended = false;
    let caught = wait_until(TIMEOUT, || {
        mask = caught_signals(pid);
        ended = matches!(process_state(pid), None | Some('Z' | 'X' | 'x'));
        ended || mask.is_some_and(|m| m & bit != 0)
    });
    if caught && !ended {
        return;
    }
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let mask = mask.map_or("unreadable".to_owned(), |m| format!("{m:016x}"));
    if ended {
        panic!("PID {pid} ended before installing a handler for {signal} (SigCgt: {mask})");
    }
    panic!(
        "PID {pid} ({}) had no handler for {signal} after {TIMEOUT:?} (SigCgt: {mask})",
        comm.trim_end()
    );
}

/// SIGKILLs a process that is not our child (so cannot be reaped by us) when
/// dropped, then waits up to [`TIMEOUT`] until it is dead (gone or a zombie,
/// so its files, and locks, are released).
///
/// The process's start time is recorded on creation; nothing is signalled on
/// drop if the PID now belongs to another process.
pub struct KillOnDrop {
    pid: i32,
    starttime: Option<u64>,
}

impl KillOnDrop {
    /// Guards the running process `pid`.
    pub fn new(pid: i32) -> KillOnDrop {
        KillOnDrop {
            pid,
            starttime: process_starttime(pid),
        }
    }

    /// The guarded PID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    fn is_same_live_process(&self) -> bool {
        self.starttime.is_some()
            && process_starttime(self.pid) == self.starttime
            && !matches!(process_state(self.pid), None | Some('Z' | 'X' | 'x'))
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !self.is_same_live_process() {
            return;
        }
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = wait_until(TIMEOUT, || !self.is_same_live_process());
    }
}

/// A real zombie: a dead process whose parent never reaps it.
///
/// Made with `sh -c 'sleep 0 & echo $!; exec sleep 1000'`: the shell starts a
/// background `sleep 0`, prints its PID, and turns itself into `sleep 1000`,
/// which never calls `wait`, so the exited `sleep 0` stays a zombie. Dropping
/// the `Zombie` kills that parent; the zombie is then reparented to init (or
/// the nearest subreaper), which reaps it.
pub struct Zombie {
    parent: Proc,
    /// PID of the zombie process (its `/proc/PID/stat` state is `Z`).
    pub pid: i32,
}

impl Zombie {
    /// Makes a zombie; only returns once the parent has become `sleep 1000`
    /// and `/proc/PID/stat` shows the child in state `Z`
    /// (waits up to [`TIMEOUT`], retrying a few times if the shell happened
    /// to reap its child anyway).
    pub fn spawn() -> Zombie {
        for _ in 0..5 {
            let mut parent = Proc::spawn(
                Command::new("sh")
                    .arg("-c")
                    .arg("sleep 0 & echo $!; exec sleep 1000")
                    .stdout(Stdio::piped()),
            );
            let line = read_line_timeout(parent.take_stdout(), STARTUP_TIMEOUT)
                .unwrap_or_else(|| panic!("zombie maker printed no PID"));
            let pid: i32 = line
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("zombie maker printed {line:?}: {e}"));
            let ppid = parent.pid();
            wait_for_cmdline(ppid, &["sleep", "1000"]);
            let mut is_zombie = false;
            wait_until(TIMEOUT, || {
                let ours = process_ppid(pid) == Some(ppid);
                is_zombie = ours && process_state(pid) == Some('Z');
                // Stop early if the child was reaped after all (retry then).
                is_zombie || !ours
            });
            if is_zombie {
                return Zombie { parent, pid };
            }
        }
        panic!("could not make a zombie process");
    }

    /// PID of the (never reaping) parent of the zombie.
    pub fn parent_pid(&self) -> i32 {
        self.parent.pid()
    }
}

/// Shorthand for [`Zombie::spawn`].
pub fn spawn_zombie() -> Zombie {
    Zombie::spawn()
}

/// Reads one line from `r` in a helper thread; `None` on EOF, error or
/// timeout. (On timeout the thread lingers until the pipe is closed, which
/// happens when the writer is killed.)
fn read_line_timeout<R: Read + Send + 'static>(r: R, timeout: Duration) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let n = BufReader::new(r).read_line(&mut line).unwrap_or(0);
        let _ = tx.send((n > 0).then_some(line));
    });
    rx.recv_timeout(timeout).ok().flatten()
}

// ---------------------------------------------------------------------------
// Locks
// ---------------------------------------------------------------------------

/// One line of `/proc/locks`, e.g.
/// `1: FLOCK  ADVISORY  WRITE 1234 fe:01:5678 0 EOF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcLock {
    /// `FLOCK`, `POSIX`, `OFDLCK`, `LEASE`, ...
    pub kind: String,
    /// `ADVISORY`, `MANDATORY`, or a lease state.
    pub mode: String,
    /// `READ` or `WRITE` (or lease access).
    pub access: String,
    /// Owner PID as the kernel prints it: the PID that took the lock (which
    /// may be dead by now), `-1` for OFD locks.
    pub pid: i32,
    /// Device major number (printed in hex in `/proc/locks`).
    pub dev_major: u32,
    /// Device minor number (printed in hex in `/proc/locks`).
    pub dev_minor: u32,
    /// Inode number (printed in decimal in `/proc/locks`).
    pub inode: u64,
    /// `true` for `->` lines: a waiter blocked on the lock, not a holder.
    pub blocked: bool,
}

/// Parses all of `/proc/locks` (panics if it cannot be read).
pub fn proc_locks() -> Vec<ProcLock> {
    let text = fs::read_to_string("/proc/locks")
        .unwrap_or_else(|e| panic!("cannot read /proc/locks: {e}"));
    text.lines().filter_map(parse_proc_lock).collect()
}

fn parse_proc_lock(line: &str) -> Option<ProcLock> {
    let mut tokens = line.split_whitespace().skip(1).peekable();
    let blocked = tokens.next_if_eq(&"->").is_some();
    let kind = tokens.next()?.to_owned();
    let mode = tokens.next()?.to_owned();
    let access = tokens.next()?.to_owned();
    let pid = tokens.next()?.parse().ok()?;
    let mut dev = tokens.next()?.split(':');
    let dev_major = u32::from_str_radix(dev.next()?, 16).ok()?;
    let dev_minor = u32::from_str_radix(dev.next()?, 16).ok()?;
    let inode = dev.next()?.parse().ok()?;
    Some(ProcLock {
        kind,
        mode,
        access,
        pid,
        dev_major,
        dev_minor,
        inode,
        blocked,
    })
}

/// `(major, minor, inode)` of `path` as `/proc/locks` identifies it, from
/// `stat(2)` (`libc::major`/`libc::minor` of `st_dev`, `st_ino`); `None` if
/// `path` cannot be stat'ed.
pub fn file_lock_key(path: &Path) -> Option<(u32, u32, u64)> {
    let md = fs::metadata(path).ok()?;
    let dev = md.dev() as libc::dev_t;
    Some((libc::major(dev), libc::minor(dev), md.ino()))
}

/// The `/proc/locks` entries (holders and blocked waiters) on `path`'s inode.
pub fn proc_locks_for(path: &Path) -> Vec<ProcLock> {
    let Some((maj, min, ino)) = file_lock_key(path) else {
        return Vec::new();
    };
    proc_locks()
        .into_iter()
        .filter(|l| l.dev_major == maj && l.dev_minor == min && l.inode == ino)
        .collect()
}

/// Waits up to [`TIMEOUT`] for a held (not blocked) lock of `kind` on `path`
/// in `/proc/locks`, owned by `pid` if given. Panics with a diagnostic if
/// there is none, or as soon as `proc` (the would-be holder) exits.
fn wait_for_lock(path: &Path, kind: &str, pid: Option<i32>, mut proc: Option<&mut Proc>) {
    let mut exited = None;
    let found = wait_until(TIMEOUT, || {
        if let Some(status) = proc.as_mut().and_then(|p| p.try_wait()) {
            exited = Some(status);
            return true;
        }
        proc_locks_for(path)
            .iter()
            .any(|l| !l.blocked && l.kind == kind && pid.is_none_or(|p| l.pid == p))
    });
    if let Some(status) = exited {
        panic!(
            "the {kind} lock holder for {} exited before holding the lock: {status}",
            path.display()
        );
    }
    if found {
        return;
    }
    let key = file_lock_key(path);
    let same_inode: Vec<ProcLock> = match key {
        Some((_, _, ino)) => proc_locks()
            .into_iter()
            .filter(|l| l.inode == ino)
            .collect(),
        None => Vec::new(),
    };
    panic!(
        "no held {kind} lock{} on {} ((major, minor, inode) = {key:?}) within {TIMEOUT:?}; \
         /proc/locks lines with that inode: {same_inode:#?} (a device mismatch suggests \
         overlayfs or btrfs, whose st_dev differs from what /proc/locks prints)",
        pid.map(|p| format!(" by PID {p}")).unwrap_or_default(),
        path.display()
    );
}

/// Holds an exclusive `flock(2)` lock on `path` (created if missing) by running
/// util-linux `flock PATH sleep 1000`: the `flock` process takes the lock,
/// then forks `sleep`, which inherits the locked fd.
///
/// `/proc/locks` names the **`flock`** process (the returned [`Proc::pid`]),
/// not its `sleep` child, although both hold the lock. Blocks (up to
/// [`TIMEOUT`], then panics) until `/proc/locks` shows the lock held. Dropping
/// the handle kills both processes, which releases the lock.
pub fn hold_flock(path: &Path) -> Proc {
    let mut proc = Proc::spawn(
        Command::new("flock")
            .arg(path)
            .args(["sleep", "1000"])
            .stdout(Stdio::null()),
    );
    let pid = proc.pid();
    wait_for_lock(path, "FLOCK", Some(pid), Some(&mut proc));
    proc
}

/// Holds an exclusive `flock(2)` lock on `path` (created if missing) whose
/// owner, as printed by `/proc/locks`, is **dead**, while another process
/// still holds it.
///
/// A `python3` script opens `path`, takes `fcntl.flock(LOCK_EX)`, forks a
/// child that keeps the fd and exec's `sleep 1000`, prints the child's PID and
/// exits (and is reaped here). `/proc/locks` keeps naming the exited parent.
///
/// Returns the PID of the child that really holds the lock, and a guard that
/// SIGKILLs that child when dropped (it is not our child, so it is killed by
/// PID and reaped by init). Only returns once `/proc/locks` shows the lock.
pub fn hold_flock_orphaned(path: &Path) -> (i32, KillOnDrop) {
    const SCRIPT: &str = r#"
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
child = os.fork()
if child == 0:
    os.set_inheritable(fd, True)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.execvp("sleep", ["sleep", "1000"])
print(child, flush=True)
os._exit(0)
"#;
    let mut parent = Proc::spawn(
        Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(path)
            .stdout(Stdio::piped()),
    );
    let line = read_line_timeout(parent.take_stdout(), STARTUP_TIMEOUT).unwrap_or_else(|| {
        panic!(
            "hold_flock_orphaned({}): python3 printed no child PID",
            path.display()
        )
    });
    let child: i32 = line
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("hold_flock_orphaned: bad child PID {line:?}: {e}"));
    let guard = KillOnDrop::new(child);
    wait_for_cmdline(child, &["sleep", "1000"]);
    let parent_pid = parent.pid();
    let status = parent.wait();
    assert!(
        status.success(),
        "hold_flock_orphaned: python3 parent failed: {status}"
    );
    assert!(
        guard.is_same_live_process(),
        "hold_flock_orphaned: lock-holding child {child} is not running"
    );
    wait_for_lock(path, "FLOCK", Some(parent_pid), None);
    (child, guard)
}

/// Spawns `python3 -c SCRIPT PATH` whose script prints `locked` once it holds
/// its lock and then exec's `sleep 1000` (keeping the locked fd, so the PID
/// stays the same); waits for that line and for the exec, then for
/// `/proc/locks` to show a held lock of `kind` (owned by the process unless
/// `kind` is `OFDLCK`).
fn hold_with_python(path: &Path, script: &str, kind: &str) -> Proc {
    let mut proc = Proc::spawn(
        Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .stdout(Stdio::piped()),
    );
    let line = read_line_timeout(proc.take_stdout(), STARTUP_TIMEOUT);
    assert_eq!(
        line.as_deref().map(str::trim),
        Some("locked"),
        "the {kind} lock holder for {} did not report its lock",
        path.display()
    );
    wait_for_cmdline(proc.pid(), &["sleep", "1000"]);
    let pid = (kind != "OFDLCK").then(|| proc.pid());
    wait_for_lock(path, kind, pid, Some(&mut proc));
    proc
}

/// Holds an exclusive POSIX record lock (`fcntl.lockf(fd, LOCK_EX)`, i.e.
/// `F_SETLKW` with `F_WRLCK` over the whole file) on `path` (created if
/// missing) from a `python3` process that then exec's `sleep 1000`.
///
/// `/proc/locks` shows it as `POSIX` owned by [`Proc::pid`]. Only returns once
/// the script printed `locked` and `/proc/locks` shows the lock.
pub fn hold_posix_lock(path: &Path) -> Proc {
    const SCRIPT: &str = r#"
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX)
os.set_inheritable(fd, True)
print("locked", flush=True)
os.execvp("sleep", ["sleep", "1000"])
"#;
    hold_with_python(path, SCRIPT, "POSIX")
}

/// Holds an exclusive open-file-description lock (`F_OFD_SETLK`, `F_WRLCK`,
/// whole file) on `path` (created if missing) from a `python3` process that
/// then exec's `sleep 1000`.
///
/// `/proc/locks` shows it as `OFDLCK` with PID `-1` (OFD locks belong to an
/// open file, not a process); [`Proc::pid`] is the process holding the fd.
/// `F_OFD_SETLK` does not wait: if the file is already locked this panics.
/// Only returns once the script printed `locked` and `/proc/locks` shows the
/// lock.
pub fn hold_ofd_lock(path: &Path) -> Proc {
    // struct flock on x86_64 (and aarch64): short l_type, short l_whence,
    // 4 bytes padding, off_t l_start, off_t l_len, pid_t l_pid, 4 bytes
    // padding = 32 bytes.
    const SCRIPT: &str = r#"
import fcntl, os, struct, sys
F_WRLCK = 1
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
lk = struct.pack("=hh4xqqi4x", F_WRLCK, os.SEEK_SET, 0, 0, 0)
assert len(lk) == 32
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lk)
os.set_inheritable(fd, True)
print("locked", flush=True)
os.execvp("sleep", ["sleep", "1000"])
"#;
    hold_with_python(path, SCRIPT, "OFDLCK")
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// How long [`run`] lets a command take before failing the test.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// `cmd.output()` that fails the test instead of hanging it: runs `cmd` with
/// stdin from `/dev/null`, stdout and stderr captured, as the leader of a new
/// process group, and waits for it with [`wait_output`] up to [`RUN_TIMEOUT`].
pub fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    wait_output(child, &format!("{cmd:?}"), RUN_TIMEOUT)
}

/// Waits up to `timeout` for `child` to exit and collects what it wrote to
/// its piped stdout and stderr (empty for a stream not piped, or already
/// taken). `what` names the command in failure messages.
///
/// Panics if the child runs longer: it is SIGKILLed with its process group
/// (when it leads one, as [`run`]'s children do) and reaped first, and the
/// message shows what it printed until then. Also panics if, once the child
/// has exited, its output stays open for [`TIMEOUT`] (a process it left
/// behind holds it); that process group is killed too.
pub fn wait_output(mut child: Child, what: &str, timeout: Duration) -> Output {
    let pid = Pid::from_raw(child.id() as i32);
    let stdout = read_all_in_thread(child.stdout.take());
    let stderr = read_all_in_thread(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => panic!("waitpid({pid}) for {what} failed: {e}"),
        }
        if Instant::now() >= deadline {
            // Not reaped yet, so neither the PID nor the group ID can have been reused.
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = kill(pid, Signal::SIGKILL);
            let status = child.wait();
            let shown = |rx: mpsc::Receiver<Vec<u8>>| {
                rx.recv_timeout(TIMEOUT)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|_| "(still held open)".into())
            };
            panic!(
                "{what} did not finish within {timeout:?}: killed it and its process \
                 group ({status:?})\n--- stdout until then:\n{}\n--- stderr until then:\n{}",
                shown(stdout),
                shown(stderr)
            );
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    };
    let collect = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
            let _ = killpg(pid, Signal::SIGKILL);
            panic!(
                "{what} exited ({status}) but left processes holding its output open for {TIMEOUT:?}"
            )
        })
    };
    Output {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    }
}

/// Reads `pipe` to its end in a helper thread; the receiver gets the bytes
/// (nothing at all for `None`).
fn read_all_in_thread<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// A new temporary directory, removed when dropped (panics if it cannot be created).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Writes `content` verbatim (no newline added) to `dir/name` and returns
/// that path. Panics on error.
pub fn write_pidfile(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, content).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Sets the modification time of `path` (following symlinks) to `secs`
/// seconds before now; the access time is left alone. Panics on error.
pub fn set_mtime_ago(path: &Path, secs: u64) {
    use nix::sys::stat::{UtimensatFlags, utimensat};
    use nix::sys::time::TimeSpec;

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970");
    let then = now.saturating_sub(Duration::from_secs(secs));
    let mtime = TimeSpec::new(then.as_secs() as libc::time_t, then.subsec_nanos() as _);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &TimeSpec::UTIME_OMIT,
        &mtime,
        UtimensatFlags::FollowSymlink,
    )
    .unwrap_or_else(|e| panic!("cannot set the mtime of {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------
// Environment and the binary under test
// ---------------------------------------------------------------------------

/// Whether the tests run with effective UID 0.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether the tests run under continuous integration (`CI` set, and not to
/// `""`, `0` or `false`), where every test must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// For a test that cannot run here (`why` says what it needs): fails it
/// under CI ([`in_ci`]), else says on stderr that it is skipped. The caller
/// returns right after.
pub fn skip(why: &str) {
    assert!(!in_ci(), "cannot be skipped under CI: {why}");
    eprintln!("skipped: {why}");
}

/// Path of the tests' config file, created once per test binary in
/// `$TMPDIR/pidscope-tests-uid<EUID>/config.toml` (directory mode 0700): every
/// key at its default but `action_log`, which points into the same directory.
pub fn empty_config() -> &'static Path {
    static CONFIG: OnceLock<PathBuf> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let uid = nix::unistd::geteuid().as_raw();
        let dir = std::env::temp_dir().join(format!("pidscope-tests-uid{uid}"));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("cannot create {}: {e}", dir.display()),
        }
        let md = fs::symlink_metadata(&dir)
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", dir.display()));
        assert!(
            md.is_dir() && md.uid() == uid,
            "{} is not a directory owned by uid {uid}",
            dir.display()
        );
        let path = dir.join("config.toml");
        // Only the audit trail is configured: actions of tests never reach /var/log.
        let text = format!(
            "action_log = {:?}\n",
            action_log_in(&dir).display().to_string()
        );
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            // Other test binaries may be reading it: replace it atomically.
            let tmp = dir.join(format!("config.toml.{}", std::process::id()));
            fs::write(&tmp, &text)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
            fs::rename(&tmp, &path)
                .unwrap_or_else(|e| panic!("cannot rename {}: {e}", tmp.display()));
        }
        path
    })
}

fn action_log_in(dir: &Path) -> PathBuf {
    dir.join("actions.log")
}

/// The audit trail that binaries run through [`bin`] append to.
pub fn action_log() -> PathBuf {
    action_log_in(empty_config().parent().expect("config dir"))
}

/// A [`Command`] for the `pidscope` binary under test, isolated from the
/// machine: every inherited `PIDSCOPE_*` variable is removed,
/// `PIDSCOPE_CONFIG` points at an [empty config file](empty_config),
/// `NO_COLOR=1` is set and `CLICOLOR_FORCE`/`FORCE_COLOR` are removed.
/// Override with `.env(...)` as needed.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pidscope"));
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"PIDSCOPE_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .env("PIDSCOPE_CONFIG", empty_config())
        .env("NO_COLOR", "1");
    cmd
}

/// The value `cmd` will set for `key` (`None` if unset or removed).
pub fn command_env<'a>(cmd: &'a Command, key: &str) -> Option<&'a OsStr> {
    cmd.get_envs()
        .find(|(k, _)| *k == OsStr::new(key))
        .and_then(|(_, v)| v)
}

/// `pidscope audit --json PATH`: the entry for PATH.
pub fn audit_entry(path: &Path) -> serde_json::Value {
    let out = run(bin().args(["audit", "--json"]).arg(path));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "audit printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    doc["entries"][0].clone()
}

/// [`audit_entry`] until the entry shows `holders` (in any order) as its lock
/// holders, up to [`TIMEOUT`]: the last entry seen either way.
pub fn audit_locked_by(path: &Path, holders: &[i32]) -> serde_json::Value {
    let mut want: Vec<i64> = holders.iter().map(|&p| i64::from(p)).collect();
    want.sort_unstable();
    let mut entry = serde_json::Value::Null;
    wait_until(TIMEOUT, || {
        entry = audit_entry(path);
        let mut found = lock_holders(&entry);
        found.sort_unstable();
        found == want
    });
    entry
}

/// The `lock.holders` of an audit entry.
pub fn lock_holders(entry: &serde_json::Value) -> Vec<i64> {
    entry["lock"]["holders"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_default()
}
