//! What may land in the windows between the executor's last look at a stale
//! pidfile and its removal: a FIFO swapped in, which must not even be opened
//! (opening one waits for a writer), a lease taken on the file, which must
//! make the removal give up at once rather than wait for the lease to be
//! broken, and the file rewritten in place, which must be put back.
//!
//! Each lands inside a debug pause (`PIDSCOPE_TEST_PAUSE_BEFORE_LOCK_MS`,
//! `PIDSCOPE_TEST_PAUSE_BEFORE_REMOVE_MS`); `pidscope clean` must come back
//! within [`RUN_TIMEOUT`] with the file kept.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Long enough for a `python3` lease holder to start on a loaded machine.
const PAUSE: Duration = Duration::from_secs(5);

/// `clean --yes --json DIR`, returned once it has reached the debug pause
/// before taking the file's locks (it says so on stderr).
fn clean_paused_before_lock(dir: &Path) -> Child {
    clean_paused_at(dir, "PIDSCOPE_TEST_PAUSE_BEFORE_LOCK_MS")
}

/// `clean --yes --json DIR`, returned once it has reached the debug pause
/// `variable` (it says so on stderr).
fn clean_paused_at(dir: &Path, variable: &str) -> Child {
    common::clean::clean_paused_at(dir, variable, PAUSE.as_millis() as u64)
}

/// What `clean` did with its one file.
fn only_result(child: Child) -> Value {
    let out = wait_output(child, "pidscope clean --yes --json", RUN_TIMEOUT);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(doc["results"].as_array().map(Vec::len), Some(1), "{doc:#}");
    doc["results"][0].clone()
}

fn stale_pidfile(dir: &Path) -> PathBuf {
    write_pidfile(dir, "daemon.pid", &format!("{}\n", dead_pid()))
}

#[test]
fn a_fifo_swapped_in_before_the_locks_is_never_opened_or_removed() {
    let dir = tempdir();
    let path = stale_pidfile(dir.path());
    let child = clean_paused_before_lock(dir.path());
    fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    // Opening the FIFO to lock it would wait for a writer forever: clean
    // must look at it through a handle that opens nothing, and stop.
    let result = only_result(child);
    assert_eq!(result["action"], "refused", "{result:#}");
    assert!(
        result["reason"]
            .as_str()
            .is_some_and(|r| r.contains("changed since scan")),
        "{result:#}"
    );
    let kind = fs::symlink_metadata(&path)
        .expect("the FIFO stays")
        .file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
}

/// A `python3` process holding a write lease on `path` (it ignores the
/// SIGIO a lease break sends, so the lease stays until the kernel's
/// lease-break time); returns once the lease is taken.
fn hold_write_lease(path: &Path, dir: &Path) -> Proc {
    const SCRIPT: &str = r#"
import fcntl, os, signal, sys, time
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
with open(sys.argv[2], "w") as f:
    f.write("leased")
time.sleep(1000)
"#;
    let ready = dir.join("leased");
    let holder = Proc::spawn(
        Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(path)
            .arg(&ready),
    );
    assert!(
        wait_until(STARTUP_TIMEOUT, || ready.exists()),
        "the lease holder never took its lease on {}",
        path.display()
    );
    holder
}

#[test]
fn a_lease_taken_before_the_locks_makes_the_removal_give_up_not_wait() {
    let dir = tempdir();
    let path = stale_pidfile(dir.path());
    let child = clean_paused_before_lock(dir.path());
    let _holder = hold_write_lease(&path, dir.path());
    // Opening a leased file waits for the lease holder (up to the kernel's
    // lease-break time, 45 s by default): clean opens it without waiting.
    let result = only_result(child);
    assert_eq!(result["action"], "refused", "{result:#}");
    assert!(
        result["reason"]
            .as_str()
            .is_some_and(|r| r.contains("holds a lease on it: the file is in use")),
        "{result:#}"
    );
    assert!(path.exists(), "a leased file was removed");
}

#[test]
fn a_pidfile_rewritten_in_place_before_the_removal_is_put_back() {
    let dir = tempdir();
    let daemon = spawn_sleep();
    // Both contents the same length (a PID may be followed by blanks), so
    // that only the modification time tells the rewritten file from the old.
    let (dead, live) = (dead_pid().to_string(), daemon.pid().to_string());
    let width = dead.len().max(live.len());
    let path = write_pidfile(dir.path(), "daemon.pid", &format!("{dead:<width$}\n"));
    let child = clean_paused_at(dir.path(), "PIDSCOPE_TEST_PAUSE_BEFORE_REMOVE_MS");
    // The daemon restarts and writes its new PID into the same file (same
    // inode; a writer that takes no lock is not stopped by clean's flock).
    let content = format!("{live:<width$}\n");
    fs::write(&path, &content).unwrap();
    let result = only_result(child);
    assert_eq!(result["action"], "refused", "{result:#}");
    assert!(
        result["reason"]
            .as_str()
            .is_some_and(|r| r.contains("put back")),
        "{result:#}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
}
