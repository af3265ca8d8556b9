//! A scan made once, as root, reads `/proc/locks` (and waits for the RCU
//! grace period its readers wait for) only when one of its pidfiles is
//! locked: a BPF peek at the files the scan holds open says so first. With
//! real pidfiles, real processes and real locks of each kind.

mod common;

use std::path::Path;

use common::*;
use pidscope::config::Config;
use pidscope::inspect::Scanner;
use pidscope::report::Report;

/// A scanner of `dir` as `audit` makes one: once, not remembering.
fn scan_once(dir: &Path) -> (Report, u64) {
    let rules = Config::default().rules().unwrap();
    let mut scanner = Scanner::new(vec![dir.to_path_buf()], rules);
    let report = scanner.scan();
    (report, scanner.lock_tables())
}

/// The PID that `report` says holds the lock on `path`, if any.
fn holder(report: &Report, path: &Path) -> Option<i32> {
    let entry = report.entries.iter().find(|e| e.path == path)?;
    entry.lock.as_ref()?.holder_pid
}

/// A directory of pidfiles none of which is locked: a live one, a stale
/// one and garbage.
fn unlocked_pidfiles(sleeper: &Proc) -> tempfile::TempDir {
    let dir = tempdir();
    write_pidfile(dir.path(), "live.pid", &format!("{}\n", sleeper.pid()));
    write_pidfile(dir.path(), "stale.pid", &format!("{}\n", dead_pid()));
    write_pidfile(dir.path(), "garbage.pid", "not a pid\n");
    dir
}

/// A sleeping process and [`unlocked_pidfiles`] naming it, as root (the
/// peek needs it); `None`, the test skipped, elsewhere.
fn as_root() -> Option<(Proc, tempfile::TempDir)> {
    if !is_root() {
        skip("the lock peek needs root");
        return None;
    }
    let sleeper = spawn_sleep();
    let dir = unlocked_pidfiles(&sleeper);
    Some((sleeper, dir))
}

#[test]
fn no_lock_table_is_read_when_no_pidfile_is_locked() {
    let Some((_sleeper, dir)) = as_root() else {
        return;
    };
    let (report, tables) = scan_once(dir.path());
    assert_eq!(report.entries.len(), 3);
    assert!(report.entries.iter().all(|e| e.lock.is_none()));
    assert_eq!(tables, 0, "nothing locked: /proc/locks is not read");
}

#[test]
fn a_locked_pidfile_of_each_kind_makes_the_scan_read_the_table() {
    let Some((sleeper, _)) = as_root() else {
        return;
    };
    type Hold = fn(&Path) -> Proc;
    let kinds: [(&str, Hold); 3] = [
        ("flock", hold_flock),
        ("posix", hold_posix_lock),
        ("ofd", hold_ofd_lock),
    ];
    for (kind, hold) in kinds {
        let dir = unlocked_pidfiles(&sleeper);
        let path = dir.path().join(format!("{kind}.pid"));
        let locker = hold(&path);
        let (report, tables) = scan_once(dir.path());
        assert_eq!(tables, 1, "{kind}: a pidfile is locked, the table is read");
        assert_eq!(holder(&report, &path), Some(locker.pid()), "{kind}");
        assert!(holder(&report, &dir.path().join("live.pid")).is_none());
    }
}

#[test]
fn a_large_tree_and_a_view_read_the_table_as_before() {
    let Some((sleeper, dir)) = as_root() else {
        return;
    };
    // One more than a scan peeks at: reading them all hides the table's wait.
    for i in 0..2046 {
        write_pidfile(dir.path(), &format!("n{i}.pid"), "1\n");
    }
    let (report, tables) = scan_once(dir.path());
    assert_eq!(report.entries.len(), 2049);
    assert_eq!(tables, 1, "too many to peek at");

    let small = unlocked_pidfiles(&sleeper);
    let rules = Config::default().rules().unwrap();
    let mut view = Scanner::new(vec![small.path().to_path_buf()], rules).remembering();
    view.scan();
    view.scan();
    assert_eq!(
        view.lock_tables(),
        2,
        "a view's rescans use its cache, not the peek"
    );
}
