//! Race-safe, attack-safe actions: deleting and signalling against a system
//! that changes under them, `pidscope clean` in every mode, and the audit trail.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::clean::clean_paused_at;
use common::*;
use nix::sys::signal::Signal;
use pidscope::act::log::ActionLog;
use pidscope::act::{Action, ActionError, Confirmed, Consent, Executor};
use pidscope::inspect::Scanner;
use pidscope::verdict::{Entry, Status, Warning};
use serde_json::Value;

const GRACE: Duration = Duration::from_secs(60);

/// Delete through the one gate, as the inspector's dialog does.
fn delete_pidfile(seen: &Entry, consent: Consent, grace: Duration) -> Result<String, ActionError> {
    let confirmed = Confirmed::by_dialog(Action::Delete, seen.clone(), consent);
    executor(grace).execute(&confirmed).result
}

/// Signal through the one gate, as the inspector's dialog does.
fn signal_owner(seen: &Entry, signal: Signal, consent: Consent) -> Result<String, ActionError> {
    let confirmed = Confirmed::by_dialog(Action::Signal(signal), seen.clone(), consent);
    executor(GRACE).execute(&confirmed).result
}

/// An executor whose audit trail goes to a scratch file.
fn executor(grace: Duration) -> Executor {
    let log =
        std::env::temp_dir().join(format!("pidscope-actions-test-{}.log", std::process::id()));
    Executor::new(ActionLog::new(log), grace)
}

/// What the operator would have seen for `path` right now.
fn seen(path: &Path) -> Entry {
    Scanner::inspect_file(path).unwrap_or_else(|| panic!("{} not found", path.display()))
}

fn clean(args: &[&str], dir: &Path) -> (Value, i32) {
    let out = run(bin().arg("clean").args(args).arg("--json").arg(dir));
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().expect("exit code"))
}

fn action_of(doc: &Value, path: &Path) -> String {
    let want = path.to_string_lossy();
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["path"] == *want)
        .unwrap_or_else(|| panic!("no result for {want}: {doc:#}"))["action"]
        .as_str()
        .expect("action")
        .to_string()
}

// ------------------------------------------------------------------ deleting

#[test]
fn a_stale_pidfile_replaced_by_a_live_one_is_never_removed() {
    // Hundreds of rounds: while `clean --yes` runs, the stale pidfile is atomically
    // replaced (write + rename) by one naming a live process, at varying moments.
    let dir = tempdir();
    let live = spawn_sleep();
    let path = dir.path().join("daemon.pid");
    let fresh = dir.path().join("daemon.pid.new");
    let rounds = 300;
    let mut removed_stale = 0;
    // How clean reported the pidfile: removed (the stale file, before the
    // replacement), kept (it saw the live one), refused (it saw the stale one,
    // then found the file changed).
    let (mut removed, mut kept, mut refused) = (0, 0, 0);
    for round in 0..rounds {
        fs::write(&path, format!("{}\n", dead_pid())).unwrap();
        let child = bin()
            .args(["clean", "--yes", "--json"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Spread the replacement over the run: 0 to ~6 ms after the start.
        std::thread::sleep(Duration::from_micros((round * 97 % 60) as u64 * 100));
        let existed_before = path.exists();
        fs::write(&fresh, format!("{}\n", live.pid())).unwrap();
        fs::rename(&fresh, &path).unwrap();
        let out = wait_output(child, "pidscope clean --yes --json", RUN_TIMEOUT);
        let content = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("round {round}: the live pidfile was lost: {e}"));
        assert_eq!(content.trim(), live.pid().to_string(), "round {round}");
        if !existed_before {
            removed_stale += 1;
        }
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "round {round}: clean printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let code = out.status.code();
        let action = action_of(&doc, &path);
        match action.as_str() {
            "removed" => removed += 1,
            "kept" => kept += 1,
            "refused" => refused += 1,
            other => panic!("round {round}: {other}: {doc:#}"),
        }
        // A refusal is a problem clean reports with exit 1; otherwise all went well.
        let want = if action == "refused" { 1 } else { 0 };
        assert_eq!(code, Some(want), "round {round}: {doc:#}");
        // The stale file was gone before the replacement: clean removed it, and
        // said so.
        if !existed_before {
            assert_eq!(action, "removed", "round {round}: {doc:#}");
        }
        // Nothing else was ever removed: the live pidfile is there, and is the only one.
        let results = doc["results"].as_array().expect("results");
        assert_eq!(results.len(), 1, "round {round}: {doc:#}");
        assert_eq!(
            doc["summary"]["removed"],
            u64::from(action == "removed"),
            "round {round}: {doc:#}"
        );
    }
    // The race was real: some rounds removed the stale file before the replacement.
    eprintln!("{removed_stale} of {rounds} rounds removed the stale file before the replacement");
    eprintln!("clean reported: {removed} removed, {kept} kept, {refused} refused");
    assert_eq!(removed + kept + refused, rounds);
    // Clean acted on the stale file in some rounds (removed, or refused once
    // it saw the change): the replacement did land inside its run, not
    // always before its scan.
    assert!(
        removed + refused > 0,
        "every round saw the live pidfile: the replacement never raced the removal"
    );
}

#[test]
fn a_replacement_landing_between_the_last_check_and_the_removal_is_put_back() {
    // Debug builds pause between the last check and the rename-aside when asked:
    // every round lands the replacement inside that window, in a different spot.
    let dir = tempdir();
    let live = spawn_sleep();
    let path = dir.path().join("daemon.pid");
    let fresh = dir.path().join("daemon.pid.new");
    let (mut put_back, mut removed_first) = (0, 0);
    for round in 0..40u64 {
        fs::write(&path, format!("{}\n", dead_pid())).unwrap();
        let child = clean_paused_at(dir.path(), "PIDSCOPE_TEST_PAUSE_BEFORE_REMOVE_MS", 40);
        // Inside the 40 ms window, at a different spot each round (late ones
        // may miss it: then the stale file was removed first).
        std::thread::sleep(Duration::from_millis(round % 50));
        fs::write(&fresh, format!("{}\n", live.pid())).unwrap();
        fs::rename(&fresh, &path).unwrap();
        let out = wait_output(child, "pidscope clean --yes --json", RUN_TIMEOUT);
        let content = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("round {round}: the live pidfile was lost: {e}"));
        assert_eq!(content.trim(), live.pid().to_string(), "round {round}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        match action_of(&doc, &path).as_str() {
            "refused" => put_back += 1,
            "removed" => removed_first += 1,
            other => panic!("round {round}: {other}"),
        }
    }
    assert!(
        put_back > 0,
        "no round landed in the window ({removed_first} removed before)"
    );
}

#[test]
fn a_symlinked_stale_pidfile_loses_the_link_never_the_target() {
    let dir = tempdir();
    let outside = tempdir();
    let target = outside.path().join("real.pid");
    fs::write(&target, format!("{}\n", dead_pid())).unwrap();
    let link = dir.path().join("link.pid");
    symlink(&target, &link).unwrap();
    let (doc, code) = clean(&["--yes"], dir.path());
    assert_eq!(action_of(&doc, &link), "removed");
    assert_eq!(code, 0);
    assert!(fs::symlink_metadata(&link).is_err(), "the link is gone");
    assert!(target.exists(), "the target is untouched");
}

/// `dir/sub` holds a stale pidfile; `outside` holds one with the same name.
fn swap_fixture() -> (tempfile::TempDir, tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempdir();
    let outside = tempdir();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let inside = sub.join("x.pid");
    fs::write(&inside, format!("{}\n", dead_pid())).unwrap();
    let victim = outside.path().join("x.pid");
    fs::write(&victim, format!("{}\n", dead_pid())).unwrap();
    (dir, outside, inside, victim)
}

#[test]
fn a_directory_swapped_for_a_symlink_after_the_scan_removes_nothing_outside() {
    let (dir, outside, inside, victim) = swap_fixture();
    let entry = seen(&inside);
    assert_eq!(entry.status, Status::Stale);
    let sub = dir.path().join("sub");
    fs::rename(&sub, dir.path().join("sub.old")).unwrap();
    symlink(outside.path(), &sub).unwrap();
    let err = delete_pidfile(&entry, Consent::Once, GRACE).unwrap_err();
    assert!(matches!(err, ActionError::ChangedSinceScan { .. }), "{err}");
    assert!(victim.exists(), "nothing outside the root is removed");
    assert!(dir.path().join("sub.old/x.pid").exists());
}

#[test]
fn a_directory_swapped_back_and_forth_during_clean_removes_nothing_outside() {
    let (dir, outside, _inside, victim) = swap_fixture();
    let sub = dir.path().join("sub");
    let real = dir.path().join("sub.real");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, sub, real, outside) = (
            stop.clone(),
            sub.clone(),
            real.clone(),
            outside.path().to_path_buf(),
        );
        let link = sub.with_extension("link");
        symlink(&outside, &link).unwrap();
        std::thread::spawn(move || {
            // Atomically alternate `sub` between the real directory and a symlink outside.
            let mut pointing_out = false;
            while !stop.load(Ordering::Relaxed) {
                if pointing_out {
                    fs::rename(&sub, &link).unwrap();
                    fs::rename(&real, &sub).unwrap();
                } else {
                    fs::rename(&sub, &real).unwrap();
                    fs::rename(&link, &sub).unwrap();
                }
                pointing_out = !pointing_out;
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    for _ in 0..100 {
        let _ = run(bin().args(["clean", "--yes"]).arg(dir.path()));
        assert!(victim.exists(), "a file outside the root was removed");
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
}

#[test]
fn a_file_locked_by_a_live_process_is_never_removed() {
    let dir = tempdir();
    // An empty file held by flock(1) is a lock in use, not an invalid pidfile to clean.
    let empty = dir.path().join("empty.pid");
    fs::write(&empty, "").unwrap();
    set_mtime_ago(&empty, 3600);
    let _holder = hold_flock(&empty);
    // A dead PID whose daemon's child still holds the lock is not stale either.
    let orphan = dir.path().join("orphan.pid");
    fs::write(&orphan, "").unwrap();
    let (_child, _guard) = hold_flock_orphaned(&orphan);
    fs::write(&orphan, format!("{}\n", dead_pid())).unwrap();
    let (doc, code) = clean(&["--yes", "--include-invalid"], dir.path());
    assert_eq!(action_of(&doc, &empty), "kept");
    assert_eq!(action_of(&doc, &orphan), "kept");
    assert!(empty.exists() && orphan.exists());
    assert_eq!(code, 0);
    // The library refuses too, whatever the confirmation.
    let err = delete_pidfile(&seen(&empty), Consent::Twice, Duration::ZERO).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn a_lock_taken_after_the_scan_stops_the_removal() {
    // A careful locker may take a stale file's lock (to recover it in place) after
    // the last scan: the removal asks the kernel about this file right before
    // acting, holding the flock itself, and refuses. One round per kind of lock,
    // each taken inside the debug pause before the removal.
    type Hold = fn(&Path) -> Proc;
    let holders: [(&str, Hold); 3] = [
        ("flock", hold_flock),
        ("POSIX", hold_posix_lock),
        ("OFD", hold_ofd_lock),
    ];
    for (kind, hold) in holders {
        let dir = tempdir();
        let path = dir.path().join("daemon.pid");
        fs::write(&path, format!("{}\n", dead_pid())).unwrap();
        let seen_stale = seen(&path);
        assert_eq!(seen_stale.status, Status::Stale);
        let child = clean_paused_at(dir.path(), "PIDSCOPE_TEST_PAUSE_BEFORE_LOCK_MS", 1500);
        let _holder = hold(&path);
        let out = wait_output(child, "pidscope clean --yes --json", RUN_TIMEOUT);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(path.exists(), "{kind}: a locked file was removed: {doc:#}");
        let result = &doc["results"][0];
        assert_eq!(result["action"], "refused", "{kind}: {doc:#}");
        assert!(
            result["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("in use"),
            "{kind}: {doc:#}"
        );
    }
    // From the lock on, clean holds the flock itself: a locker arriving then is
    // refused (and, if it waits, finds the file gone afterwards).
    let dir = tempdir();
    let path = dir.path().join("daemon.pid");
    fs::write(&path, format!("{}\n", dead_pid())).unwrap();
    let child = clean_paused_at(dir.path(), "PIDSCOPE_TEST_PAUSE_BEFORE_REMOVE_MS", 1500);
    let clean_pid = child.id() as i32;
    let held_by_clean = wait_until(TIMEOUT, || {
        proc_locks_for(&path)
            .iter()
            .any(|l| l.kind == "FLOCK" && l.pid == clean_pid && !l.blocked)
    });
    // (Probed only once clean holds it: an earlier probe could make clean refuse.)
    let refused = held_by_clean
        && Command::new("flock")
            .args(["-n", "-E", "99"])
            .arg(&path)
            .arg("true")
            .status()
            .unwrap()
            .code()
            == Some(99);
    let out = wait_output(child, "pidscope clean --yes --json", RUN_TIMEOUT);
    assert!(held_by_clean, "clean never held the flock while removing");
    assert!(refused, "flock -n got the lock clean holds");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["results"][0]["action"], "removed", "{doc:#}");
    assert!(!path.exists());
}

#[test]
fn a_rewritten_pidfile_is_changed_since_scan() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "d.pid", &format!("{}\n", dead_pid()));
    let entry = seen(&path);
    let live = spawn_sleep();
    fs::write(&path, format!("{}\n", live.pid())).unwrap();
    let err = delete_pidfile(&entry, Consent::Once, GRACE).unwrap_err();
    assert!(err.to_string().contains("changed since scan"), "{err}");
    assert!(path.exists());
}

#[test]
fn a_live_pidfile_needs_the_second_confirmation() {
    let dir = tempdir();
    let live = spawn_sleep();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", live.pid()));
    let err = delete_pidfile(&seen(&path), Consent::Once, GRACE).unwrap_err();
    assert!(matches!(err, ActionError::Refused { .. }), "{err}");
    assert!(path.exists());
    delete_pidfile(&seen(&path), Consent::Twice, GRACE).expect("explicitly confirmed");
    assert!(!path.exists());
}

// ------------------------------------------------------------------ signalling

// A PID really reused between the screen and the signal: tests/reuse.rs.
#[test]
fn an_owner_that_exited_since_the_screen_is_not_signalled() {
    let dir = tempdir();
    let live = spawn_sleep();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", live.pid()));
    let entry = seen(&path);
    drop(live);
    let err = signal_owner(&entry, Signal::SIGTERM, Consent::Once).unwrap_err();
    assert!(matches!(err, ActionError::ChangedSinceScan { .. }), "{err}");
}

#[test]
fn the_seen_owner_is_signalled_through_a_pidfd() {
    let dir = tempdir();
    let mut live = spawn_sleep();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", live.pid()));
    let sent = signal_owner(&seen(&path), Signal::SIGTERM, Consent::Once).expect("sent");
    assert!(
        !sent.contains("no pidfd"),
        "pidfd is available on this kernel: {sent}"
    );
    assert!(wait_until(TIMEOUT, || live.try_wait().is_some()));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(live.wait().signal(), Some(15));
}

/// A kernel thread running now: the lowest PID whose `/proc/PID/stat` flags
/// (field 9) carry `PF_KTHREAD`, or `None` when this PID namespace shows none.
/// The lowest one is normally `kthreadd` or an early per-CPU thread, which
/// live as long as the machine does.
fn a_kernel_thread() -> Option<i32> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let mut pids: Vec<i32> = fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|pid| {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // After the last `)`: state, ppid, pgrp, session, tty_nr, tpgid, flags.
        let flags = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(6)?.parse::<u64>().ok());
        flags.is_some_and(|f| f & PF_KTHREAD != 0)
    })
}

#[test]
fn pid_1_self_and_kernel_threads_are_refused() {
    let Some(kpid) = a_kernel_thread() else {
        skip("no kernel thread is visible in /proc (a PID namespace of its own?)");
        return;
    };
    let kstart = process_starttime(kpid).expect("the kernel thread's start time");
    let dir = tempdir();
    let init = write_pidfile(dir.path(), "init.pid", "1\n");
    let me = write_pidfile(dir.path(), "me.pid", &format!("{}\n", std::process::id()));
    let kthread = write_pidfile(dir.path(), "kthread.pid", &format!("{kpid}\n"));
    for path in [&init, &me, &kthread] {
        let entry = seen(path);
        let err = signal_owner(&entry, Signal::SIGTERM, Consent::Twice).unwrap_err();
        assert!(
            matches!(err, ActionError::Refused { .. }),
            "{}: {err}",
            path.display()
        );
    }
    assert!(
        signal_owner(&seen(&init), Signal::SIGTERM, Consent::Twice)
            .unwrap_err()
            .to_string()
            .contains("PID 1")
    );
    assert!(
        signal_owner(&seen(&me), Signal::SIGTERM, Consent::Twice)
            .unwrap_err()
            .to_string()
            .contains("pidscope itself")
    );

    // A pidfile naming a kernel thread is `reused` by the verdict rules, so the
    // refusal above is the `reused` one. The kernel-thread rule must hold on
    // its own too: shown an entry the operator saw as alive, owned by that
    // kernel thread, the executor still refuses before it re-verifies or sends.
    let mut entry = seen(&kthread);
    assert_eq!(entry.status, Status::Reused, "{entry:?}");
    let process = entry.process.as_mut().expect("the kernel thread was read");
    assert!(
        process.kernel_thread,
        "PID {kpid} is a kernel thread: {process:?}"
    );
    entry.status = Status::Alive;
    let err = signal_owner(&entry, Signal::SIGKILL, Consent::Twice).unwrap_err();
    assert!(matches!(err, ActionError::Refused { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("kernel threads are never signalled"),
        "{err}"
    );
    // Nothing was sent: the kernel thread is the same one, still there.
    assert_eq!(
        process_starttime(kpid),
        Some(kstart),
        "PID {kpid} is unchanged"
    );
    assert!(
        !matches!(process_state(kpid), None | Some('Z' | 'X' | 'x')),
        "PID {kpid} is still running"
    );
}

#[test]
fn a_pidfile_made_untrusted_after_the_scan_needs_the_second_confirmation() {
    // chmod changes no mtime, so the file still looks as the operator saw it:
    // the rules must be asked again about what is there now.
    let dir = tempdir();
    let mut live = spawn_sleep();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", live.pid()));
    let entry = seen(&path);
    assert!(entry.warnings.is_empty(), "{:?}", entry.warnings);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    let err = signal_owner(&entry, Signal::SIGTERM, Consent::Once).unwrap_err();
    assert!(
        matches!(err, ActionError::Refused { .. }) && err.to_string().contains("untrusted-file"),
        "{err}"
    );
    assert!(live.try_wait().is_none(), "nothing was sent");
}

#[test]
fn an_untrusted_pidfile_needs_the_second_confirmation_to_signal() {
    let dir = tempdir();
    let mut live = spawn_sleep();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", live.pid()));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    let entry = seen(&path);
    assert!(
        entry.warnings.contains(Warning::UntrustedFile),
        "{:?}",
        entry.warnings
    );
    let err = signal_owner(&entry, Signal::SIGTERM, Consent::Once).unwrap_err();
    assert!(err.to_string().contains("untrusted-file"), "{err}");
    assert!(live.try_wait().is_none());
    signal_owner(&entry, Signal::SIGTERM, Consent::Twice).expect("explicitly confirmed");
    assert!(wait_until(TIMEOUT, || live.try_wait().is_some()));
}

// ------------------------------------------------------------------ clean

#[test]
fn clean_dry_run_removes_nothing() {
    let dir = tempdir();
    let stale = write_pidfile(dir.path(), "stale.pid", &format!("{}\n", dead_pid()));
    let (doc, code) = clean(&["--dry-run"], dir.path());
    assert_eq!(action_of(&doc, &stale), "would-remove");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(code, 0);
    assert!(stale.exists());
    let out = run(bin().args(["clean", "--dry-run"]).arg(dir.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("would remove"));
}

#[test]
fn clean_without_a_terminal_or_yes_refuses() {
    let dir = tempdir();
    let stale = write_pidfile(dir.path(), "stale.pid", &format!("{}\n", dead_pid()));
    let out = run(bin().arg("clean").arg(dir.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(stale.exists(), "nothing removed");
}

#[test]
fn clean_yes_removes_stale_and_reused_only() {
    let dir = tempdir();
    let d = dir.path();
    let live = spawn_sleep();
    let fresh = spawn_sleep();
    let zombie = Zombie::spawn();
    let stale = write_pidfile(d, "stale.pid", &format!("{}\n", dead_pid()));
    let reused = write_pidfile(d, "old-daemon.pid", &format!("{}\n", fresh.pid()));
    set_mtime_ago(&reused, 3600);
    let alive = write_pidfile(d, "sleep.pid", &format!("{}\n", live.pid()));
    let zombie_file = write_pidfile(d, "zombie.pid", &format!("{}\n", zombie.pid));
    let invalid = write_pidfile(d, "bad.pid", "abc\n");
    set_mtime_ago(&invalid, 3600);
    let fifo = d.join("fifo.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();

    let (doc, code) = clean(&["--yes"], d);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(action_of(&doc, &stale), "removed");
    assert_eq!(action_of(&doc, &reused), "removed");
    for kept in [&alive, &zombie_file, &invalid, &fifo] {
        assert_eq!(action_of(&doc, kept), "kept", "{}", kept.display());
        assert!(
            fs::symlink_metadata(kept).is_ok(),
            "{} survives",
            kept.display()
        );
    }
    assert!(!stale.exists() && !reused.exists());
    assert_eq!(doc["summary"]["removed"], 2);
    assert_eq!(doc["summary"]["kept"], 4);
    // clean only removes files: the owners it kept files of still run.
    for owner in [&live, &fresh] {
        assert!(
            matches!(process_state(owner.pid()), Some(s) if s != 'Z'),
            "PID {} was harmed",
            owner.pid()
        );
    }
}

#[test]
fn clean_include_invalid_honours_the_grace_period() {
    let dir = tempdir();
    let young = write_pidfile(dir.path(), "young.pid", "");
    let old = write_pidfile(dir.path(), "old.pid", "");
    set_mtime_ago(&old, 3600);
    let (doc, code) = clean(&["--yes", "--include-invalid"], dir.path());
    assert_eq!(action_of(&doc, &young), "kept");
    assert_eq!(action_of(&doc, &old), "removed");
    assert!(young.exists() && !old.exists());
    assert_eq!(code, 0);
    // A shorter grace period lets the young one go too, once older than it.
    set_mtime_ago(&young, 2);
    let (doc, _) = clean(&["--yes", "--include-invalid", "--grace", "1s"], dir.path());
    assert_eq!(action_of(&doc, &young), "removed");
}

#[test]
fn clean_reports_refusals_with_exit_1_and_logs_every_action() {
    let dir = tempdir();
    let stale = write_pidfile(dir.path(), "stale.pid", &format!("{}\n", dead_pid()));
    let log_before = fs::read_to_string(action_log())
        .unwrap_or_default()
        .lines()
        .count();
    let (_, code) = clean(&["--yes"], dir.path());
    assert_eq!(code, 0);
    let log = fs::read_to_string(action_log()).expect("audit trail written");
    let record: Value = log
        .lines()
        .skip(log_before)
        .map(|l| serde_json::from_str::<Value>(l).expect("one JSON object per line"))
        .find(|r| r["path"] == stale.to_string_lossy().as_ref())
        .expect("the deletion is recorded");
    assert_eq!(record["action"], "delete");
    assert_eq!(record["result"], "ok");
    assert_eq!(record["uid"], nix::unistd::getuid().as_raw());
    assert!(record["time"].as_f64().is_some() && record["pid"].is_i64());

    // A refused deletion (the directory is read-only for a non-root user, or the log
    // cannot be written) is reported with exit 1.
    let bad_log = dir.path().join("config.toml");
    fs::write(&bad_log, "action_log = \"/proc/version/actions.log\"\n").unwrap();
    write_pidfile(dir.path(), "again.pid", &format!("{}\n", dead_pid()));
    let out = run(bin()
        .arg("--config")
        .arg(&bad_log)
        .args(["clean", "--yes"])
        .arg(dir.path()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unwritable audit trail is not silently skipped"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit log /proc/version/actions.log"));
}
