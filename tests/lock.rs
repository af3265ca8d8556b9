//! The pidfile lock library (`pidscope::lock`) against the real system: real
//! processes racing for one file, real SIGKILLs, other users' processes, and
//! other careful lockers (util-linux `flock(1)`, libbsd `pidfile_open(3)`).
//!
//! Competing lockers are this test binary re-executed in a helper role (see
//! [`helper_entry`]), so every racer runs the library code under test.
//!
//! Needs, besides what `tests/common` needs: a C compiler (`cc`) and libbsd's
//! headers (Debian: `gcc`, `libbsd-dev`) for the `pidfile_open` interop test.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use pidscope::lock::{EMPTY_GRACE, LockError, PidFile, Unlocked};

const ROLE: &str = "PIDSCOPE_LOCK_TEST_ROLE";
const PATH: &str = "PIDSCOPE_LOCK_TEST_PATH";
const LOG: &str = "PIDSCOPE_LOCK_TEST_LOG";
/// Output lines of helpers start with this (the test harness prints its own lines too).
const MARK: &str = "@@ ";

/// Racers per round (the issue asks for at least 24).
const RACERS: usize = 24;
/// Rounds of the one-winner race.
const ROUNDS: usize = 50;
/// Lock/unlock cycles per process in the churn test.
const CYCLES: usize = 25;

fn me() -> i32 {
    std::process::id() as i32
}

// ---------------------------------------------------------------------------
// Helper processes
// ---------------------------------------------------------------------------

/// Runs [`helper_entry`] when the binary starts, before the test harness's
/// `main`: a constructor (`.init_array`), so the helper role is no `#[test]`
/// and never counted as one.
#[used]
#[unsafe(link_section = ".init_array")]
static HELPER_ENTRY: extern "C" fn() = helper_entry;

/// The entry point of the helper processes the tests start: this binary
/// re-executed with `ROLE` set plays that role and exits (status 101 if the
/// role panics), before the test harness starts. Without `ROLE` it returns
/// at once and the tests run as usual.
extern "C" fn helper_entry() {
    let Some(role) = std::env::var_os(ROLE) else {
        return;
    };
    // As Rust's runtime would before `main`: a closed pipe is an error, not death.
    // SAFETY: no other thread exists yet; SIG_IGN is a valid disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = std::panic::catch_unwind(|| {
        let path = PathBuf::from(std::env::var_os(PATH).expect("helper without a path"));
        match role.to_str().unwrap_or_default() {
            "race" => role_race(&path),
            "hold" => role_hold(&path),
            "try" => role_try(&path),
            "churn" => role_churn(&path),
            "fork" => role_fork(&path),
            other => panic!("unknown helper role {other}"),
        }
    })
    .unwrap_or(101);
    std::process::exit(code);
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{MARK}{line}");
    let _ = out.flush();
}

fn describe(result: &Result<pidscope::lock::PidFileGuard, LockError>) -> String {
    match result {
        Ok(guard) => format!("won {}", guard.pid()),
        Err(LockError::Busy { owner, locked, .. }) => {
            format!("busy {} {locked}", owner.unwrap_or(0))
        }
        Err(e) => format!("error {e}"),
    }
}

/// Wait for EOF on stdin (the test closing our pipe, or dying).
fn wait_for_eof() {
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
}

/// Say `ready`, wait for a `go` line, try once; a winner holds the lock until
/// stdin closes, then unlocks and says how.
fn role_race(path: &Path) -> i32 {
    say("ready");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let result = PidFile::new(path).try_lock();
    say(&describe(&result));
    if let Ok(guard) = result {
        wait_for_eof();
        say(&format!("unlocked {:?}", guard.unlock()));
    }
    0
}

/// Lock (or say why not), say `won PID`, hold until stdin closes, unlock.
fn role_hold(path: &Path) -> i32 {
    let result = PidFile::new(path).try_lock();
    say(&describe(&result));
    let Ok(guard) = result else { return 1 };
    wait_for_eof();
    say(&format!("unlocked {:?}", guard.unlock()));
    0
}

/// Lock, fork; the child unlocks its copy of the guard and says how; the
/// parent then says whether the file is still there, and unlocks itself.
fn role_fork(path: &Path) -> i32 {
    let result = PidFile::new(path).try_lock();
    say(&describe(&result));
    let Ok(guard) = result else { return 1 };
    // SAFETY: the child only formats, writes to stdout and exits.
    match unsafe { libc::fork() } {
        0 => {
            say(&format!("child {:?}", guard.unlock()));
            // SAFETY: _exit runs no destructors or atexit handlers of the parent's.
            unsafe { libc::_exit(0) }
        }
        -1 => return 1,
        child => {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(child, &mut status, 0) };
        }
    }
    say(&format!("parent sees the file: {}", path.exists()));
    say(&format!("parent {:?}", guard.unlock()));
    0
}

/// Try once and say what happened; release at once.
fn role_try(path: &Path) -> i32 {
    let result = PidFile::new(path).try_lock();
    say(&describe(&result));
    if let Ok(guard) = result {
        say(&format!("unlocked {:?}", guard.unlock()));
    }
    0
}

/// `CYCLES` times: take the lock, check the file names us, log entry and
/// exit of the critical section, unlock (which must remove the file).
fn role_churn(path: &Path) -> i32 {
    let log = PathBuf::from(std::env::var_os(LOG).expect("churn without a log"));
    let me = me();
    let append = |what: &str| {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open the log");
        f.write_all(format!("{what}{me}\n").as_bytes())
            .expect("append to the log");
    };
    // Half the workers spin on try_lock, to hit the moment a holder has just
    // removed the file; the others wait with lock_timeout.
    let spin = me % 2 == 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    for _ in 0..CYCLES {
        let result = if spin {
            loop {
                match PidFile::new(path).try_lock() {
                    Err(e) if e.is_busy() && Instant::now() < deadline => thread::yield_now(),
                    other => break other,
                }
            }
        } else {
            PidFile::new(path).lock_timeout(Duration::from_secs(30))
        };
        let guard = match result {
            Ok(guard) => guard,
            Err(e) => {
                say(&format!("error {e}"));
                return 1;
            }
        };
        append("+");
        let content = fs::read_to_string(path).unwrap_or_default();
        if content != format!("{me}\n") {
            say(&format!(
                "error the file holds {content:?} while we hold the lock"
            ));
            return 1;
        }
        thread::sleep(Duration::from_millis(1));
        append("-");
        match guard.unlock() {
            Ok(Unlocked::Removed) => {}
            other => {
                say(&format!("error unlock gave {other:?}"));
                return 1;
            }
        }
    }
    say("done");
    0
}

/// A helper process: this test binary in `role` on `path`, stdin and stdout piped.
/// Killed (SIGKILL) and reaped when dropped.
struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Helper {
    fn command(role: &str, path: &Path) -> Command {
        let mut cmd = Command::new(std::env::current_exe().expect("own executable"));
        cmd.env(ROLE, role).env(PATH, path);
        cmd
    }

    fn spawn(role: &str, path: &Path) -> Helper {
        Helper::spawn_command(Helper::command(role, path))
    }

    fn spawn_command(mut cmd: Command) -> Helper {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn a helper: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(line) = line.strip_prefix(MARK)
                    && tx.send(line.to_owned()).is_err()
                {
                    break;
                }
            }
        });
        Helper {
            stdin: child.stdin.take(),
            child,
            lines: rx,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line the helper says (panics after `STARTUP_TIMEOUT`).
    fn line(&self) -> String {
        self.lines
            .recv_timeout(STARTUP_TIMEOUT)
            .unwrap_or_else(|_| panic!("helper {} said nothing", self.pid()))
    }

    fn go(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(b"go\n").expect("write go");
        stdin.flush().expect("flush go");
    }

    /// Close its stdin: a holder unlocks and exits.
    fn release(&mut self) {
        self.stdin = None;
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.stdin = None;
        self.child.wait().expect("wait for a helper")
    }

    fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read the directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Is the file's flock free? (`flock -n` exits 0 when it got the lock.)
fn flock_is_free(path: &Path) -> bool {
    Command::new("flock")
        .args(["-n", "-E", "99"])
        .arg(path)
        .arg("true")
        .status()
        .expect("run flock")
        .success()
}

// ---------------------------------------------------------------------------
// Taking and releasing
// ---------------------------------------------------------------------------

#[test]
fn try_lock_writes_our_pid_holds_a_flock_and_unlock_removes_the_file() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let guard = PidFile::new(&path)
        .try_lock()
        .expect("lock a fresh pidfile");
    assert_eq!(guard.pid(), me());
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o644, 0, "mode {mode:o} is wider than 0644");
    assert_eq!(mode & 0o600, 0o600, "mode {mode:o}");

    // The descriptor is close-on-exec: no program we start inherits the lock by accident.
    let flags = nix::fcntl::fcntl(guard.as_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
    assert_ne!(flags & libc::FD_CLOEXEC, 0);

    // The kernel sees our flock, and the inspector sees us alive, holding it.
    let mut locks = Vec::new();
    let found = wait_until(TIMEOUT, || {
        locks = proc_locks_for(&path);
        locks
            .iter()
            .any(|l| l.kind == "FLOCK" && l.pid == me() && !l.blocked)
    });
    assert!(found, "{locks:?}");
    assert!(!flock_is_free(&path));
    let entry = audit_locked_by(&path, &[me()]);
    assert_eq!(entry["status"], "alive", "{entry}");
    assert_eq!(entry["pid"], me());
    assert_eq!(lock_holders(&entry), vec![i64::from(me())], "{entry}");

    assert_eq!(guard.unlock().unwrap(), Unlocked::Removed);
    assert!(!path.exists());
}

#[test]
fn mode_is_the_one_asked_for() {
    let dir = tempdir();
    let path = dir.path().join("private.pid");
    let guard = PidFile::new(&path).mode(0o600).try_lock().unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    drop(guard);
}

#[test]
fn dropping_the_guard_unlocks_and_removes() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let guard = PidFile::new(&path).try_lock().unwrap();
    assert!(!flock_is_free(&path));
    drop(guard);
    assert!(!path.exists(), "drop left the file");
    // And it can be taken again.
    PidFile::new(&path).try_lock().unwrap().unlock().unwrap();
}

#[test]
fn a_second_locker_even_in_the_same_process_is_busy_with_our_pid() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let guard = PidFile::new(&path).try_lock().unwrap();
    match PidFile::new(&path).try_lock() {
        Err(LockError::Busy { owner, locked, .. }) => {
            assert_eq!(owner, Some(me()));
            assert!(locked);
        }
        other => panic!("expected busy, got {other:?}"),
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    guard.unlock().unwrap();
}

#[test]
fn busy_names_the_holder_in_another_process() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let holder = Helper::spawn("hold", &path);
    assert_eq!(holder.line(), format!("won {}", holder.pid()));
    let err = PidFile::new(&path)
        .try_lock()
        .expect_err("held by the helper");
    assert!(err.is_busy());
    assert_eq!(err.owner(), Some(holder.pid()));
    assert_eq!(err.path(), path);
    assert_eq!(
        err.to_string(),
        format!("{} is locked by PID {}", path.display(), holder.pid())
    );
}

#[test]
fn write_pid_names_another_process_and_unlock_checks_that_pid() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let job = spawn_sleep();
    let mut guard = PidFile::new(&path).try_lock().unwrap();
    guard.write_pid(job.pid()).unwrap();
    assert_eq!(guard.pid(), job.pid());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", job.pid())
    );
    let entry = audit_entry(&path);
    assert_eq!(entry["status"], "alive", "{entry}");
    assert_eq!(entry["pid"], job.pid());
    assert!(guard.write_pid(0).is_err(), "0 is not a PID");
    assert_eq!(guard.unlock().unwrap(), Unlocked::Removed);
    assert!(!path.exists());

    // The same from the start, with PidFile::pid.
    let guard = PidFile::new(&path).pid(job.pid()).try_lock().unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", job.pid())
    );
    assert_eq!(guard.unlock().unwrap(), Unlocked::Removed);
}

// ---------------------------------------------------------------------------
// Recovering stale files, refusing live ones
// ---------------------------------------------------------------------------

#[test]
fn recovers_the_file_of_a_sigkilled_holder_which_the_inspector_calls_stale() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let mut holder = Helper::spawn("hold", &path);
    let victim = holder.pid();
    assert_eq!(holder.line(), format!("won {victim}"));
    let entry = audit_locked_by(&path, &[victim]);
    assert_eq!(entry["status"], "alive", "{entry}");
    assert_eq!(lock_holders(&entry), vec![i64::from(victim)]);

    holder.sigkill();
    // Left behind: the file, naming the dead holder, locked by nobody.
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{victim}\n"));
    assert!(flock_is_free(&path));
    let entry = audit_entry(&path);
    assert_eq!(entry["status"], "stale", "{entry}");

    let guard = PidFile::new(&path)
        .try_lock()
        .expect("recover a stale pidfile");
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    assert_eq!(audit_entry(&path)["status"], "alive");
    assert_eq!(guard.unlock().unwrap(), Unlocked::Removed);
}

#[test]
fn a_longer_stale_pid_is_fully_overwritten() {
    let dir = tempdir();
    // More digits than any PID, plus more lines: all of it must go.
    let path = write_pidfile(dir.path(), "app.pid", "99999999\nextra line\n");
    // 99999999 is above pid_max: invalid, refused; a dead PID with trailing lines is fine.
    assert!(matches!(
        PidFile::new(&path).try_lock(),
        Err(LockError::Invalid { .. })
    ));
    fs::write(
        &path,
        format!("{}\nport=5432\nsome more data\n", dead_pid()),
    )
    .unwrap();
    let guard = PidFile::new(&path).try_lock().unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    guard.unlock().unwrap();
}

#[test]
fn a_live_writer_without_locks_is_never_stolen_from() {
    let dir = tempdir();
    let daemon = spawn_sleep();
    let content = format!("{}\n", daemon.pid());
    let path = write_pidfile(dir.path(), "daemon.pid", &content);
    match PidFile::new(&path).try_lock() {
        Err(LockError::Busy { owner, locked, .. }) => {
            assert_eq!(owner, Some(daemon.pid()));
            assert!(!locked, "nobody holds a lock: the live PID makes it busy");
        }
        other => panic!("expected busy, got {other:?}"),
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), content, "file touched");
    assert!(flock_is_free(&path), "the failed attempt kept a lock");
    // Once it is gone, the file is stale and recovered.
    drop(daemon);
    let guard = PidFile::new(&path).try_lock().unwrap();
    guard.unlock().unwrap();
}

#[test]
fn an_owner_we_may_not_signal_eperm_counts_as_alive() {
    if !is_root() {
        skip("needs root to run a locker as another user");
        return;
    }
    // Root can signal anything, so the locker runs as nobody (65534), and the
    // file names a process of root's: kill(pid, 0) fails with EPERM for it.
    let dir = tempdir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let daemon = spawn_sleep();
    let content = format!("{}\n", daemon.pid());
    let path = write_pidfile(dir.path(), "daemon.pid", &content);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    let as_nobody = |path: &Path| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(std::env::current_exe().unwrap());
        let helper = Helper::command("try", path);
        cmd.args(helper.get_args())
            .env(ROLE, "try")
            .env(PATH, path)
            .env("HOME", "/");
        let mut helper = Helper::spawn_command(cmd);
        let line = helper.line();
        helper.wait();
        line
    };
    assert_eq!(as_nobody(&path), format!("busy {} false", daemon.pid()));
    assert_eq!(fs::read_to_string(&path).unwrap(), content, "file touched");

    // Control: the same user recovers a dead PID in the same place.
    fs::write(&path, format!("{}\n", dead_pid())).unwrap();
    assert!(
        as_nobody(&path).starts_with("won "),
        "nobody cannot lock here"
    );
}

#[test]
fn a_reused_pid_file_older_than_the_process_is_recovered() {
    let dir = tempdir();
    let other = spawn_sleep();
    let path = write_pidfile(dir.path(), "app.pid", &format!("{}\n", other.pid()));
    // Written an hour before the process started: it cannot be its writer.
    set_mtime_ago(&path, 3600);
    assert_eq!(audit_entry(&path)["status"], "reused");
    let guard = PidFile::new(&path)
        .try_lock()
        .expect("recover a reused PID");
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    guard.unlock().unwrap();
    assert!(
        kill(Pid::from_raw(other.pid()), None).is_ok(),
        "the process that reused the PID was harmed"
    );
}

#[test]
fn a_posix_or_ofd_lock_on_a_dead_pid_file_keeps_it_busy() {
    // A daemon that locks with lockf(3) or F_OFD_SETLK, not flock: our flock is
    // granted, but the file is in use, whatever PID it names (as clean sees it).
    for (kind, hold) in [
        ("posix", hold_posix_lock as fn(&Path) -> Proc),
        ("ofd", hold_ofd_lock),
    ] {
        let dir = tempdir();
        let path = dir.path().join("lockf.pid");
        let holder = hold(&path);
        let content = format!("{}\n", dead_pid());
        fs::write(&path, &content).unwrap();
        match PidFile::new(&path).try_lock() {
            Err(LockError::Busy { owner, locked, .. }) => {
                assert!(locked, "{kind}");
                if kind == "posix" {
                    assert_eq!(owner, Some(holder.pid()), "the holder is named");
                }
            }
            other => panic!("{kind}: expected busy, got {other:?}"),
        }
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            content,
            "{kind}: file touched"
        );
        drop(holder);
        // Released: the dead PID is recovered as before.
        let guard = PidFile::new(&path)
            .try_lock()
            .expect("recovered once unlocked");
        guard.unlock().unwrap();
    }
}

#[test]
fn a_zombie_or_a_thread_id_is_not_a_live_owner() {
    let dir = tempdir();
    let zombie = spawn_zombie();
    let path = write_pidfile(dir.path(), "z.pid", &format!("{}\n", zombie.pid));
    PidFile::new(&path)
        .try_lock()
        .expect("zombie")
        .unlock()
        .unwrap();

    // A thread of this process: a thread ID never wrote a pidfile.
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let thread = thread::spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).unwrap();
        let _ = stop_rx.recv();
    });
    let tid = rx.recv().unwrap();
    assert_ne!(tid, me());
    let path = write_pidfile(dir.path(), "t.pid", &format!("{tid}\n"));
    let result = PidFile::new(&path).try_lock();
    stop_tx.send(()).unwrap();
    thread.join().unwrap();
    result.expect("thread ID").unlock().unwrap();
}

#[test]
fn a_file_naming_us_without_a_lock_is_ours() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "app.pid", &format!("{}\n", me()));
    let guard = PidFile::new(&path).try_lock().unwrap();
    guard.unlock().unwrap();
}

#[test]
fn old_empty_files_are_recovered_but_other_content_is_never_overwritten() {
    let dir = tempdir();
    for content in ["", "\n", "  \n"] {
        // Left by a locker that died between creating and writing it.
        let path = write_pidfile(dir.path(), "empty.pid", content);
        set_mtime_ago(&path, EMPTY_GRACE.as_secs() + 1);
        let guard = PidFile::new(&path)
            .try_lock()
            .unwrap_or_else(|e| panic!("{content:?}: {e}"));
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
        guard.unlock().unwrap();
    }
    for content in [
        "abc\n",
        "0\n",
        "-5\n",
        "0x1f\n",
        "12 34\n",
        "[main]\nkey=1\n",
    ] {
        let path = write_pidfile(dir.path(), "config.pid", content);
        match PidFile::new(&path).try_lock() {
            Err(err @ LockError::Invalid { .. }) => {
                assert!(err.to_string().contains("not overwriting"), "{err}");
            }
            other => panic!("{content:?}: expected invalid, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), content);
        assert!(flock_is_free(&path), "{content:?}: the refusal kept a lock");
    }
}

#[test]
fn a_fresh_empty_file_is_left_to_the_writer_that_is_filling_it() {
    // A daemon that takes no lock has created its pidfile and not yet written
    // its PID: the file is empty and unlocked, and it is not stale.
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "daemon.pid", "");
    match PidFile::new(&path).try_lock() {
        Err(
            err @ LockError::Busy {
                owner: None,
                locked: false,
                ..
            },
        ) => {
            assert!(err.to_string().contains("empty and new"), "{err}");
        }
        other => panic!("a fresh empty file was taken: {other:?}"),
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), "");
    assert!(flock_is_free(&path), "the refusal kept a lock");

    // The daemon writes its PID 10 ms into the locker's look: busy, naming it.
    let daemon = spawn_sleep();
    let writer = {
        let (path, pid) = (path.clone(), daemon.pid());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            fs::write(&path, format!("{pid}\n")).unwrap();
        })
    };
    let result = PidFile::new(&path).try_lock();
    writer.join().unwrap();
    match result {
        Err(LockError::Busy {
            owner,
            locked: false,
            ..
        }) => assert_eq!(owner, Some(daemon.pid())),
        other => panic!("the daemon's pidfile was taken: {other:?}"),
    }
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", daemon.pid())
    );

    // An empty file left for longer than the grace is taken over.
    fs::write(&path, "").unwrap();
    set_mtime_ago(&path, EMPTY_GRACE.as_secs() + 1);
    let guard = PidFile::new(&path)
        .try_lock()
        .expect("an old empty file is stale");
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    guard.unlock().unwrap();
}

#[test]
fn a_holder_passing_through_is_waited_for_not_reported() {
    // A process holds the flock of a file naming a dead PID, then removes
    // the file (what `pidscope clean` does): the locker waits for it
    // and takes a new file instead of reporting a busy file naming a dead PID.
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "app.pid", &format!("{}\n", dead_pid()));
    // The cleaner removes the file once our locker has it open (and so is
    // looking again after its refused flock), not before.
    let cleaner = Proc::spawn(Command::new("python3").args([
        "-c",
        "import fcntl, os, sys, time\n\
         f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX)\n\
         ino = os.fstat(f.fileno()).st_ino; fds = '/proc/%d/fd' % os.getppid()\n\
         def opened():\n\
         \x20   for n in os.listdir(fds):\n\
         \x20       try:\n\
         \x20           if os.stat(os.path.join(fds, n)).st_ino == ino: return True\n\
         \x20       except OSError: pass\n\
         \x20   return False\n\
         while not opened(): time.sleep(0.001)\n\
         os.unlink(sys.argv[1]); time.sleep(5)",
        path.to_str().unwrap(),
    ]));
    assert!(
        wait_until(TIMEOUT, || proc_locks_for(&path)
            .iter()
            .any(|l| l.pid == cleaner.pid() && !l.blocked)),
        "the cleaner never took the lock"
    );
    let guard = PidFile::new(&path)
        .try_lock()
        .expect("waited for the cleaner");
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    guard.unlock().unwrap();
    drop(cleaner);

    // One that keeps holding it is busy, after the short look, naming the file's PID.
    let stale = dead_pid();
    let path = write_pidfile(dir.path(), "held.pid", &format!("{stale}\n"));
    let _holder = hold_flock(&path);
    let started = Instant::now();
    match PidFile::new(&path).try_lock() {
        Err(LockError::Busy {
            owner,
            locked: true,
            ..
        }) => assert_eq!(owner, Some(stale)),
        other => panic!("expected busy: {other:?}"),
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(90), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn a_forked_child_never_removes_the_lockers_file() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let helper = Helper::spawn("fork", &path);
    assert_eq!(helper.line(), format!("won {}", helper.pid()));
    assert_eq!(helper.line(), "child Ok(NotTheLocker)");
    assert_eq!(helper.line(), "parent sees the file: true");
    assert_eq!(helper.line(), "parent Ok(Removed)");
    assert!(!path.exists());
}

#[test]
fn a_missing_directory_is_an_error_at_once() {
    let dir = tempdir();
    let path = dir.path().join("no-such-dir").join("app.pid");
    match PidFile::new(&path).try_lock() {
        Err(err @ LockError::Io { .. }) => {
            let text = err.to_string();
            assert!(text.contains("no-such-dir/app.pid"), "{text}");
            assert!(text.contains("No such file or directory"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_write_that_fails_leaves_no_empty_file_behind() {
    // A full file system: the file can be created but not written. Left
    // empty, it would look like a locker mid-start (busy) for 10 s.
    if !is_root() {
        skip("needs root to mount a tiny tmpfs");
        return;
    }
    let dir = tempdir();
    let mnt = dir.path().join("full");
    fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k", "pidscope-full"])
        .arg(&mnt)
        .status()
        .unwrap();
    if !mounted.success() {
        skip("cannot mount a tmpfs here");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mnt);
    // Fill the one page the file system has.
    let _ = fs::write(mnt.join("filler"), vec![b'x'; 64 * 1024]);
    let path = mnt.join("app.pid");
    match PidFile::new(&path).try_lock() {
        Err(err @ LockError::Io { .. }) => {
            assert!(err.to_string().contains("No space left"), "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!path.exists(), "an empty pidfile was left behind");
    fs::remove_file(mnt.join("filler")).unwrap();
    let guard = PidFile::new(&path).try_lock().expect("room again");
    guard.unlock().unwrap();
}

#[test]
fn symlinks_and_fifos_are_refused_without_harm() {
    let dir = tempdir();
    let victim = write_pidfile(dir.path(), "victim.conf", "precious\n");
    let link = dir.path().join("app.pid");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    match PidFile::new(&link).try_lock() {
        Err(LockError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{source}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");

    let dangling = dir.path().join("dangling.pid");
    std::os::unix::fs::symlink(dir.path().join("target.pid"), &dangling).unwrap();
    assert!(PidFile::new(&dangling).try_lock().is_err());
    assert!(
        !dir.path().join("target.pid").exists(),
        "created through a link"
    );

    let fifo = dir.path().join("fifo.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let started = Instant::now();
    assert!(matches!(
        PidFile::new(&fifo).try_lock(),
        Err(LockError::Io { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "blocked on a FIFO"
    );
}

// ---------------------------------------------------------------------------
// Releasing only what is ours
// ---------------------------------------------------------------------------

#[test]
fn unlock_leaves_a_replaced_file_alone() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let guard = PidFile::new(&path).try_lock().unwrap();
    // Someone renames their own pidfile over ours.
    let theirs = write_pidfile(dir.path(), "theirs.tmp", "4242\n");
    fs::rename(&theirs, &path).unwrap();
    let outcome = guard.unlock().unwrap();
    assert_eq!(outcome, Unlocked::Replaced { pid: Some(4242) });
    assert!(!outcome.removed());
    assert_eq!(fs::read_to_string(&path).unwrap(), "4242\n");

    // The same on drop.
    fs::remove_file(&path).unwrap();
    let guard = PidFile::new(&path).try_lock().unwrap();
    fs::remove_file(&path).unwrap();
    fs::write(&path, "4343\n").unwrap();
    drop(guard);
    assert_eq!(fs::read_to_string(&path).unwrap(), "4343\n");
}

#[test]
fn unlock_leaves_a_rewritten_file_alone_and_a_missing_one_missing() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let guard = PidFile::new(&path).try_lock().unwrap();
    // A writer without locks rewrites our file in place.
    fs::write(&path, "4242\n").unwrap();
    assert_eq!(
        guard.unlock().unwrap(),
        Unlocked::Rewritten { pid: Some(4242) }
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "4242\n");
    fs::remove_file(&path).unwrap();

    let guard = PidFile::new(&path).try_lock().unwrap();
    fs::remove_file(&path).unwrap();
    assert_eq!(guard.unlock().unwrap(), Unlocked::Missing);
    assert!(!path.exists());
}

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

#[test]
fn lock_timeout_waits_for_the_holder_and_gives_up_in_time() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let mut holder = Helper::spawn("hold", &path);
    assert_eq!(holder.line(), format!("won {}", holder.pid()));

    let started = Instant::now();
    let err = PidFile::new(&path)
        .lock_timeout(Duration::from_millis(300))
        .expect_err("still held");
    let waited = started.elapsed();
    assert_eq!(err.owner(), Some(holder.pid()));
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "{waited:?}"
    );

    let pidfile = PidFile::new(&path);
    let waiter = thread::spawn(move || {
        let result = pidfile.lock_timeout(Duration::from_secs(10));
        (result, Instant::now())
    });
    thread::sleep(Duration::from_millis(300));
    let releasing = Instant::now();
    holder.release();
    assert_eq!(holder.line(), "unlocked Ok(Removed)");
    let (result, got_it) = waiter.join().unwrap();
    let guard = result.expect("got the lock once released");
    assert!(got_it >= releasing, "got the lock while it was held");
    assert!(
        got_it - releasing < Duration::from_secs(3),
        "{:?}",
        got_it - releasing
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    guard.unlock().unwrap();
}

// ---------------------------------------------------------------------------
// Other careful lockers
// ---------------------------------------------------------------------------

#[test]
fn interoperates_with_util_linux_flock() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    {
        let holder = hold_flock(&path);
        // flock(1) writes nothing: busy, no owner to name.
        match PidFile::new(&path).try_lock() {
            Err(LockError::Busy { owner, locked, .. }) => {
                assert_eq!(owner, None);
                assert!(locked);
            }
            other => panic!("expected busy, got {other:?}"),
        }
        fs::write(&path, format!("{}\n", holder.pid())).unwrap();
        assert_eq!(
            PidFile::new(&path).try_lock().unwrap_err().owner(),
            Some(holder.pid())
        );
    }
    // The holder is gone, its PID with it: stale, recovered.
    let guard = PidFile::new(&path).try_lock().unwrap();
    let status = Command::new("flock")
        .args(["-n", "-E", "99"])
        .arg(&path)
        .arg("true")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(99), "flock(1) got our lock");
    guard.unlock().unwrap();
}

/// A libbsd `pidfile_open(3)` daemon: prints `locked PID` and holds the
/// pidfile until stdin closes, then `pidfile_remove`s it; or prints
/// `busy OTHERPID` and exits 75 when `pidfile_open` fails with EEXIST.
const BSD_PIDFILE_C: &str = r#"
#include <bsd/libutil.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    pid_t other = 0;
    struct pidfh *pfh = pidfile_open(argv[1], 0644, &other);
    if (pfh == NULL) {
        if (errno == EEXIST) {
            printf("@@ busy %d\n", (int)other);
            return 75;
        }
        printf("@@ error %s\n", strerror(errno));
        return 1;
    }
    if (pidfile_write(pfh) == -1) {
        printf("@@ error %s\n", strerror(errno));
        return 1;
    }
    printf("@@ won %d\n", (int)getpid());
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    pidfile_remove(pfh);
    return 0;
}
"#;

/// The libbsd daemon, compiled once per test run.
fn bsd_daemon() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // Directories earlier runs left behind (their test process is gone) go first.
        if let Ok(entries) = fs::read_dir(std::env::temp_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("pidscope-bsd-pidfile-"))
                    .and_then(|p| p.parse::<i32>().ok())
                else {
                    continue;
                };
                if process_state(pid).is_none() {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = std::env::temp_dir().join(format!("pidscope-bsd-pidfile-{}", me()));
        fs::create_dir_all(&dir).unwrap();
        let src = dir.join("daemon.c");
        let bin = dir.join("daemon");
        fs::write(&src, BSD_PIDFILE_C).unwrap();
        let out = Command::new("cc")
            .arg(&src)
            .arg("-o")
            .arg(&bin)
            .arg("-lbsd")
            .output()
            .unwrap_or_else(|e| panic!("cannot run cc (install gcc): {e}"));
        assert!(
            out.status.success(),
            "cannot build the libbsd pidfile_open daemon (install gcc and libbsd-dev): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

#[test]
fn interoperates_with_libbsd_pidfile_open() {
    let daemon = bsd_daemon();
    let dir = tempdir();
    let path = dir.path().join("bsd.pid");

    // While the BSD daemon holds it, we are refused and told its PID.
    let mut bsd = Helper::spawn_command({
        let mut cmd = Command::new(daemon);
        cmd.arg(&path);
        cmd
    });
    assert_eq!(bsd.line(), format!("won {}", bsd.pid()));
    match PidFile::new(&path).try_lock() {
        Err(LockError::Busy { owner, locked, .. }) => {
            assert_eq!(owner, Some(bsd.pid()));
            assert!(locked);
        }
        other => panic!("expected busy, got {other:?}"),
    }
    bsd.release();
    assert!(bsd.wait().success());
    assert!(!path.exists(), "pidfile_remove left the file");

    // While we hold it, pidfile_open is refused. libbsd then reads the PID
    // with strtol and insists on digits only (BSD writes no newline), so our
    // `PID\n` makes it fail with EINVAL instead of EEXIST + our PID: refused
    // all the same, which is what matters.
    let guard = PidFile::new(&path).try_lock().unwrap();
    let out = run(Command::new(daemon).arg(&path));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.trim() == format!("@@ busy {}", me()) || said.trim() == "@@ error Invalid argument",
        "pidfile_open got our pidfile: {said}"
    );
    assert!(!out.status.success());
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    guard.unlock().unwrap();

    // A BSD daemon SIGKILLed: its stale file is ours to recover, and the
    // other way round.
    let mut bsd = Helper::spawn_command({
        let mut cmd = Command::new(daemon);
        cmd.arg(&path);
        cmd
    });
    assert_eq!(bsd.line(), format!("won {}", bsd.pid()));
    bsd.sigkill();
    let guard = PidFile::new(&path)
        .try_lock()
        .expect("recover the BSD file");
    drop(guard);
    let mut mine = Helper::spawn("hold", &path);
    assert_eq!(mine.line(), format!("won {}", mine.pid()));
    mine.sigkill();
    let mut bsd = Helper::spawn_command({
        let mut cmd = Command::new(daemon);
        cmd.arg(&path);
        cmd
    });
    assert_eq!(bsd.line(), format!("won {}", bsd.pid()));
    bsd.release();
    assert!(bsd.wait().success());
}

// ---------------------------------------------------------------------------
// Races between many processes
// ---------------------------------------------------------------------------

/// How a race round's pidfile looks before the racers start.
#[derive(Debug, Clone, Copy)]
enum Start {
    NoFile,
    DeadPid,
    Empty,
    LeftBySigkill,
    ReusedPid,
}

#[test]
fn racers_for_one_pidfile_one_winner_per_round_and_never_a_lost_or_doubled_file() {
    let started = Instant::now();
    let dir = tempdir();
    let path = dir.path().join("race.pid");
    let starts = [
        Start::NoFile,
        Start::DeadPid,
        Start::Empty,
        Start::LeftBySigkill,
        Start::ReusedPid,
    ];
    for round in 0..ROUNDS {
        let start = starts[round % starts.len()];
        let mut stale = None;
        let mut _reused = None;
        match start {
            Start::NoFile => {}
            Start::DeadPid => {
                let pid = dead_pid();
                stale = Some(pid);
                write_pidfile(dir.path(), "race.pid", &format!("{pid}\n"));
            }
            Start::Empty => {
                // Left by a locker that died between creating and writing it.
                write_pidfile(dir.path(), "race.pid", "");
                set_mtime_ago(&path, EMPTY_GRACE.as_secs() + 1);
            }
            Start::LeftBySigkill => {
                let mut holder = Helper::spawn("hold", &path);
                assert_eq!(holder.line(), format!("won {}", holder.pid()));
                stale = Some(holder.pid());
                holder.sigkill();
            }
            Start::ReusedPid => {
                let sleep = spawn_sleep();
                stale = Some(sleep.pid());
                write_pidfile(dir.path(), "race.pid", &format!("{}\n", sleep.pid()));
                set_mtime_ago(&path, 3600);
                _reused = Some(sleep);
            }
        }

        let mut racers: Vec<Helper> = (0..RACERS).map(|_| Helper::spawn("race", &path)).collect();
        for racer in &racers {
            assert_eq!(racer.line(), "ready");
        }
        for racer in &mut racers {
            racer.go();
        }
        let results: Vec<String> = racers.iter().map(Helper::line).collect();
        let winners: Vec<usize> = (0..RACERS)
            .filter(|&i| results[i].starts_with("won "))
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round} ({start:?}): not exactly one winner: {results:?}"
        );
        let winner = racers[winners[0]].pid();
        assert_eq!(results[winners[0]], format!("won {winner}"));
        for (i, result) in results.iter().enumerate() {
            if i == winners[0] {
                continue;
            }
            // A loser reads the file while the winner holds the lock: it names
            // the winner, or still the stale PID the winner is overwriting.
            let ok = [Some(winner), stale]
                .iter()
                .flatten()
                .any(|p| *result == format!("busy {p} true"))
                || *result == "busy 0 true";
            assert!(
                ok,
                "round {round} ({start:?}): racer said {result:?}; winner {winner}"
            );
        }

        // While held: exactly one file, naming the winner, flocked by it.
        assert_eq!(entries(dir.path()), vec!["race.pid"], "round {round}");
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{winner}\n"));
        // (/proc/locks is read in chunks; while other tests churn locks a read
        // can skip a line, so look again before concluding.)
        let mut held = Vec::new();
        let winner_holds = wait_until(TIMEOUT, || {
            held = proc_locks_for(&path)
                .into_iter()
                .filter(|l| !l.blocked)
                .map(|l| (l.kind, l.pid))
                .collect();
            held == [("FLOCK".to_owned(), winner)]
        });
        assert!(
            winner_holds,
            "round {round}: locks {held:?}, winner {winner}"
        );

        for racer in &mut racers {
            racer.release();
        }
        assert_eq!(racers[winners[0]].line(), "unlocked Ok(Removed)");
        for racer in &mut racers {
            assert!(racer.wait().success());
        }
        assert!(
            entries(dir.path()).is_empty(),
            "round {round}: left behind {:?}",
            entries(dir.path())
        );
    }
    eprintln!(
        "{ROUNDS} rounds of {RACERS} racing processes in {:?}",
        started.elapsed()
    );
}

#[test]
fn lockers_churning_one_pidfile_never_overlap() {
    let started = Instant::now();
    let dir = tempdir();
    let path = dir.path().join("churn.pid");
    let log = dir.path().join("log");
    fs::write(&log, "").unwrap();
    let mut workers: Vec<Helper> = (0..RACERS)
        .map(|_| {
            let mut cmd = Helper::command("churn", &path);
            cmd.env(LOG, &log);
            Helper::spawn_command(cmd)
        })
        .collect();
    for worker in &mut workers {
        let line = worker.line();
        assert_eq!(line, "done", "worker {}", worker.pid());
        assert!(worker.wait().success());
    }
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * RACERS * CYCLES, "{text}");
    for pair in lines.chunks(2) {
        let [enter, leave] = pair else { unreachable!() };
        assert!(
            enter.starts_with('+') && leave.starts_with('-') && enter[1..] == leave[1..],
            "two lockers inside at once: {enter} then {leave}\n{text}"
        );
    }
    assert!(
        entries(dir.path()) == vec!["log"],
        "{:?}",
        entries(dir.path())
    );
    eprintln!(
        "{RACERS} processes x {CYCLES} lock/unlock cycles in {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Packaging
// ---------------------------------------------------------------------------

#[test]
fn the_library_without_default_features_pulls_no_ui_or_cli_crates() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().any(|l| l.starts_with("nix ")), "{tree}");
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        assert!(
            !["ratatui", "crossterm", "clap", "signal-hook"].contains(&name),
            "`{line}` in the dependency tree without default features"
        );
    }
}

/// A `sleep` that inherits descriptor `fd` (its `FD_CLOEXEC` cleared in the child only).
fn sleep_inheriting(fd: i32) -> Helper {
    let mut cmd = Command::new("sleep");
    cmd.arg("1000");
    // SAFETY: fcntl only, on the child's copy of the descriptor.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    Helper::spawn_command(cmd)
}

#[test]
fn the_guard_descriptor_is_what_a_child_inherits() {
    // The lock is shared by every descriptor of the open file description: a
    // child that inherits it holds the lock even after we close ours.
    let dir = tempdir();
    let path = dir.path().join("shared.pid");
    let guard = PidFile::new(&path).try_lock().unwrap();
    let fd = guard.as_fd().as_raw_fd();
    let mut child = sleep_inheriting(fd);
    let child_pid = child.pid();
    // Our guard forgets the file without unlocking (as if we had died).
    std::mem::forget(guard);
    // SAFETY: the descriptor was leaked by the forgotten guard; nothing else uses it.
    unsafe { libc::close(fd) };
    assert_eq!(
        PidFile::new(&path).try_lock().unwrap_err().owner(),
        Some(me())
    );
    assert!(
        wait_until(TIMEOUT, || lock_holders(&audit_entry(&path))
            .contains(&i64::from(child_pid))),
        "{}",
        audit_entry(&path)
    );
    child.sigkill();
    // The last holder is gone; the file names us, unlocked: ours again.
    PidFile::new(&path).try_lock().unwrap().unlock().unwrap();
}

#[test]
fn unlock_shared_leaves_the_file_to_children_that_still_hold_the_lock() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let guard = PidFile::new(&path).try_lock().unwrap();
    let fd = guard.as_fd().as_raw_fd();
    let mut child = sleep_inheriting(fd);
    assert_eq!(guard.unlock_shared().unwrap(), Unlocked::StillLocked);
    assert!(path.exists());
    assert!(PidFile::new(&path).try_lock().unwrap_err().is_busy());
    child.sigkill();
    // Without sharers, unlock_shared removes the file like unlock.
    let guard = PidFile::new(&path).try_lock().unwrap();
    assert_eq!(guard.unlock_shared().unwrap(), Unlocked::Removed);
    assert!(!path.exists());
}
