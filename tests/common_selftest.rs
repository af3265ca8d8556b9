//! Self-test of the shared helpers in `tests/common/mod.rs`: every helper is
//! exercised against the real system and its effect checked independently
//! (through `/proc`, `kill(2)`, `fcntl(2)` and `flock(2)`).

mod common;

use std::fs::{self, File, OpenOptions, TryLockError};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Whether another open file description holds a `flock(2)` lock on `path`.
fn flock_is_taken(path: &Path) -> bool {
    let file = File::open(path).expect("open for try_lock");
    match file.try_lock() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(e)) => panic!("try_lock({}): {e}", path.display()),
    }
}

/// `F_GETLK` for a write lock over the whole file: `None` if it could be
/// placed, else the conflicting lock's `l_pid` (`-1` for an OFD lock).
fn posix_conflict_pid(path: &Path) -> Option<i32> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open for F_GETLK");
    // SAFETY: `flock` is plain old data; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: valid fd and a valid pointer to a `struct flock`.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    assert_eq!(r, 0, "F_GETLK: {}", std::io::Error::last_os_error());
    (fl.l_type != libc::F_UNLCK as libc::c_short).then_some(fl.l_pid)
}

/// The `lock:` lines of all of `pid`'s `/proc/PID/fdinfo/*` files.
fn fdinfo_lock_lines(pid: i32) -> Vec<String> {
    fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .expect("fdinfo")
        .filter_map(|e| fs::read_to_string(e.ok()?.path()).ok())
        .flat_map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| l.starts_with("lock:"))
        .collect()
}

fn held_kinds(path: &Path) -> Vec<(String, i32)> {
    // /proc/locks comes a page per read and can repeat or drop a line while
    // other tests change it: two reads, their union, each lock once.
    let mut held: Vec<(String, i32)> = proc_locks_for(path)
        .into_iter()
        .chain(proc_locks_for(path))
        .filter(|l| !l.blocked)
        .map(|l| (l.kind, l.pid))
        .collect();
    held.sort();
    held.dedup();
    held
}

#[test]
fn spawn_sleep_runs_and_drop_kills_and_reaps() {
    let proc = spawn_sleep();
    let pid = proc.pid();
    assert!(pid > 0);
    assert!(alive(pid));
    assert_eq!(comm(pid), "sleep");
    assert!(matches!(process_state(pid), Some('S' | 'R')));
    assert_eq!(process_ppid(pid), Some(std::process::id() as i32));
    drop(proc);
    // Killed *and* reaped: not even a zombie is left.
    assert_eq!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH));
    assert_eq!(process_state(pid), None);
}

#[test]
fn dead_pid_is_not_in_use() {
    let pid = dead_pid();
    assert!(pid > 0);
    assert_eq!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH));
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(process_state(pid), None);
}

#[test]
fn zombie_is_a_real_zombie() {
    let zombie = spawn_zombie();
    let pid = zombie.pid;
    let parent = zombie.parent_pid();
    assert_eq!(process_state(pid), Some('Z'));
    assert_eq!(process_ppid(pid), Some(parent));
    // A zombie still "exists" for kill(2).
    assert!(alive(pid));
    assert_eq!(comm(parent), "sleep");
    drop(zombie);
    assert_eq!(process_state(parent), None, "parent not killed");
    // Orphaned, the zombie is no longer the (dead) parent's child.
    assert_ne!(process_ppid(pid), Some(parent));
}

#[test]
fn process_state_splits_after_the_last_paren() {
    let dir = tempdir();
    // comm becomes "x) Z (y": a parser splitting at the first ')' reads 'Z'.
    let link = dir.path().join("x) Z (y");
    std::os::unix::fs::symlink("/bin/sleep", &link).expect("symlink");
    let proc = Proc::spawn(Command::new(&link).arg("1000"));
    let pid = proc.pid();
    assert_eq!(comm(pid), "x) Z (y");
    // Once sleeping (right after exec it may still be 'R').
    assert!(
        common::wait_until(Duration::from_secs(5), || process_state(pid) == Some('S')),
        "state {:?}",
        process_state(pid)
    );
    assert_eq!(process_ppid(pid), Some(std::process::id() as i32));
    // This very thread is running.
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    assert_eq!(process_state(tid), Some('R'));
}

#[test]
fn wait_for_handler_returns_once_the_trap_is_set() {
    let usr1 = 1u64 << (libc::SIGUSR1 - 1);
    let sleeper = spawn_sleep();
    assert_eq!(caught_signals(sleeper.pid()).map(|m| m & usr1), Some(0));
    let mut shell = Proc::spawn(
        Command::new("sh").args(["-c", "trap 'exit 3' USR1; while :; do sleep 0.05; done"]),
    );
    wait_for_handler(shell.pid(), nix::sys::signal::Signal::SIGUSR1);
    assert_ne!(caught_signals(shell.pid()).unwrap() & usr1, 0);
    // So the signal now runs the trap instead of killing the shell.
    kill(
        Pid::from_raw(shell.pid()),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .expect("kill");
    assert_eq!(shell.wait().code(), Some(3));
    assert_eq!(caught_signals(dead_pid()), None);
}

#[test]
#[should_panic(expected = "ended before installing a handler for SIGUSR1")]
fn wait_for_handler_fails_at_once_for_a_process_that_ends() {
    let proc = Proc::spawn(&mut Command::new("true"));
    wait_for_handler(proc.pid(), nix::sys::signal::Signal::SIGUSR1);
}

#[test]
fn hold_flock_shows_the_flock_process() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "a.pid", "1\n");
    let holder = hold_flock(&path);
    let pid = holder.pid();
    assert_eq!(held_kinds(&path), vec![("FLOCK".to_owned(), pid)]);
    assert_eq!(comm(pid), "flock");
    assert!(flock_is_taken(&path));
    // flock's `sleep` child, in the holder's process group, inherited the fd.
    // (flock may hold the lock a moment before it has started `sleep`.)
    let mut kids: Vec<i32> = Vec::new();
    wait_until(TIMEOUT, || {
        kids = fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&p: &i32| process_ppid(p) == Some(pid))
            .collect();
        kids.len() == 1 && comm(kids[0]) == "sleep"
    });
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert_eq!(comm(kids[0]), "sleep");
    let lock_lines = fdinfo_lock_lines(kids[0]);
    assert_eq!(lock_lines.len(), 1, "{lock_lines:?}");
    assert!(lock_lines[0].contains("FLOCK"), "{lock_lines:?}");
    drop(holder);
    // Dropping the holder killed the whole group, child included.
    assert!(matches!(process_state(kids[0]), None | Some('Z')));
    // Both `flock` and its `sleep` child are dead: the lock is gone at once.
    assert_eq!(held_kinds(&path), vec![]);
    assert!(!flock_is_taken(&path));
}

#[test]
fn hold_flock_orphaned_shows_a_dead_pid() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "b.pid", "1\n");
    let (child, guard) = hold_flock_orphaned(&path);
    assert_eq!(guard.pid(), child);
    let held = held_kinds(&path);
    assert_eq!(held.len(), 1, "{held:?}");
    let (kind, owner) = &held[0];
    assert_eq!(kind, "FLOCK");
    assert_ne!(*owner, child);
    assert_eq!(kill(Pid::from_raw(*owner), None), Err(Errno::ESRCH));
    assert!(alive(child));
    assert_eq!(comm(child), "sleep");
    assert!(flock_is_taken(&path));
    // The child holds the lock through one of its fds.
    let ino = fs::metadata(&path).expect("stat").ino();
    let lock_lines = fdinfo_lock_lines(child);
    assert_eq!(lock_lines.len(), 1, "{lock_lines:?}");
    assert!(lock_lines[0].contains("FLOCK"), "{lock_lines:?}");
    assert!(
        lock_lines[0].contains(&format!(":{ino} ")),
        "{lock_lines:?}"
    );
    drop(guard);
    assert!(matches!(process_state(child), None | Some('Z')));
    assert_eq!(held_kinds(&path), vec![]);
    assert!(!flock_is_taken(&path));
}

#[test]
fn hold_posix_lock_shows_a_posix_lock() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "c.pid", "1\n");
    let holder = hold_posix_lock(&path);
    let pid = holder.pid();
    assert_eq!(held_kinds(&path), vec![("POSIX".to_owned(), pid)]);
    assert_eq!(posix_conflict_pid(&path), Some(pid));
    assert_eq!(comm(pid), "sleep");
    // POSIX locks do not conflict with flock(2) locks.
    assert!(!flock_is_taken(&path));
    drop(holder);
    assert_eq!(held_kinds(&path), vec![]);
    assert_eq!(posix_conflict_pid(&path), None);
}

#[test]
fn hold_ofd_lock_shows_an_ofd_lock() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "d.pid", "1\n");
    let holder = hold_ofd_lock(&path);
    assert_eq!(held_kinds(&path), vec![("OFDLCK".to_owned(), -1)]);
    assert_eq!(posix_conflict_pid(&path), Some(-1));
    let access: Vec<String> = proc_locks_for(&path)
        .into_iter()
        .map(|l| l.access)
        .collect();
    assert_eq!(access, vec!["WRITE".to_owned()]);
    assert_eq!(comm(holder.pid()), "sleep");
    drop(holder);
    assert_eq!(held_kinds(&path), vec![]);
    assert_eq!(posix_conflict_pid(&path), None);
}

#[test]
fn holders_create_a_missing_file() {
    let dir = tempdir();
    let path = dir.path().join("new.pid");
    let holder = hold_ofd_lock(&path);
    assert!(path.is_file());
    assert_eq!(held_kinds(&path), vec![("OFDLCK".to_owned(), -1)]);
    drop(holder);
}

#[test]
fn spawn_as_changes_uid_gid_and_groups() {
    if !is_root() {
        skip("spawn_as needs root");
        return;
    }
    let proc = spawn_as(65534, &["sleep", "1000"]);
    let pid = proc.pid();
    assert_eq!(comm(pid), "sleep");
    assert_eq!(process_uids(pid), Some([65534; 4]));
    assert_eq!(process_gids(pid), Some([65534; 4]));
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let groups = status
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .expect("Groups:");
    assert_eq!(groups.trim_end(), "Groups:");
    assert_eq!(
        fs::metadata(format!("/proc/{pid}")).expect("stat").uid(),
        65534
    );
    drop(proc);
    assert_eq!(process_state(pid), None);
}

#[test]
fn write_pidfile_and_set_mtime_ago() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "e.pid", "4242\n");
    assert_eq!(path, dir.path().join("e.pid"));
    assert_eq!(fs::read_to_string(&path).expect("read"), "4242\n");
    let atime = fs::metadata(&path)
        .expect("stat")
        .accessed()
        .expect("atime");

    set_mtime_ago(&path, 3600);
    let md = fs::metadata(&path).expect("stat");
    let age = SystemTime::now()
        .duration_since(md.modified().expect("mtime"))
        .expect("mtime in the future");
    assert!(
        (Duration::from_secs(3595)..Duration::from_secs(3610)).contains(&age),
        "{age:?}"
    );
    assert_eq!(md.accessed().expect("atime"), atime, "atime changed");
    // Content untouched.
    assert_eq!(fs::read_to_string(&path).expect("read"), "4242\n");
}

#[test]
fn is_root_matches_id_u() {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    let uid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(is_root(), uid == "0", "id -u says {uid}");
}

#[test]
fn skip_fails_the_test_under_ci_and_only_there() {
    let skipped = std::panic::catch_unwind(|| skip("a check of skip itself"));
    assert_eq!(skipped.is_err(), in_ci(), "CI={:?}", std::env::var("CI"));
}

#[test]
fn bin_is_isolated_from_the_machine() {
    let cmd = bin();
    let program = Path::new(cmd.get_program());
    assert_eq!(
        program.file_name().and_then(|n| n.to_str()),
        Some("pidscope")
    );
    assert!(program.is_file(), "{} missing", program.display());
    assert_eq!(command_env(&cmd, "NO_COLOR"), Some("1".as_ref()));
    let config = Path::new(command_env(&cmd, "PIDSCOPE_CONFIG").expect("PIDSCOPE_CONFIG"));
    assert_eq!(config, empty_config());
    let text = fs::read_to_string(config).expect("read config");
    assert_eq!(
        text,
        format!("action_log = {:?}\n", action_log().display().to_string())
    );
    assert!(
        action_log().starts_with(config.parent().unwrap()),
        "actions of tests stay in the temp dir"
    );
    // The same file is reused.
    assert_eq!(
        command_env(&bin(), "PIDSCOPE_CONFIG"),
        Some(config.as_os_str())
    );
}

#[test]
fn run_captures_both_streams_and_the_exit_status() {
    let out = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    // A large output does not block the child on a full pipe.
    let out = run(Command::new("head").args(["-c", "1000000", "/dev/zero"]));
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 1_000_000);
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("no panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn dead_or_zombie(pid: i32) -> bool {
    wait_until(TIMEOUT, || matches!(process_state(pid), None | Some('Z')))
}

/// `sh -c SCRIPT` in its own process group, where `$PIDFILE` is `pidfile`;
/// stderr is not inherited, so nothing it leaves behind holds the harness's.
fn spawn_shell(script: &str, pidfile: &Path) -> std::process::Child {
    Command::new("sh")
        .args(["-c", script])
        .env("PIDFILE", pidfile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn sh")
}

/// The PID the shell wrote to `pidfile`, guarded: killed at the end whatever
/// happens, should the helper under test have left it.
fn background_pid(pidfile: &Path) -> (i32, KillOnDrop) {
    let mut pid = None;
    wait_until(TIMEOUT, || {
        pid = fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.strip_suffix('\n')?.parse().ok());
        pid.is_some()
    });
    let pid = pid.expect("the shell wrote no PID");
    (pid, KillOnDrop::new(pid))
}

#[test]
fn wait_output_kills_and_reaps_a_command_that_overstays() {
    let dir = tempdir();
    let pidfile = dir.path().join("background.pid");
    let child = spawn_shell(
        "sleep 1000 & echo $! > \"$PIDFILE\"; echo started; exec sleep 1000",
        &pidfile,
    );
    let leader = child.id() as i32;
    let (background, _guard) = background_pid(&pidfile);
    let started = Instant::now();
    let message = panic_message(|| {
        wait_output(child, "the overstayer", Duration::from_millis(300));
    });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up late: {:?}",
        started.elapsed()
    );
    assert!(
        message.contains("the overstayer did not finish within 300ms"),
        "{message}"
    );
    assert!(
        message.contains("stdout until then:\nstarted\n"),
        "shows what it printed: {message}"
    );
    // The leader is killed and reaped (not even a zombie), the rest of its group killed.
    assert_eq!(process_state(leader), None, "the leader is left");
    assert!(dead_or_zombie(background), "the background sleep is left");
}

#[test]
fn wait_output_kills_what_holds_the_output_after_the_command_exits() {
    let dir = tempdir();
    let pidfile = dir.path().join("background.pid");
    let child = spawn_shell("sleep 1000 & echo $! > \"$PIDFILE\"", &pidfile);
    let (background, _guard) = background_pid(&pidfile);
    let message = panic_message(|| {
        wait_output(child, "the leaver", Duration::from_secs(10));
    });
    assert!(
        message.contains(
            "the leaver exited (exit status: 0) but left processes holding its output open"
        ),
        "{message}"
    );
    assert!(dead_or_zombie(background), "the background sleep is left");
}
