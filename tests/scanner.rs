//! The scanner across repeated scans: unchanged files are not re-read, changed ones are.

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::*;
use pidscope::config::Config;
use pidscope::inspect::Scanner;
use pidscope::verdict::Status;

#[test]
fn repeated_scans_reread_only_changed_files() {
    let dir = tempdir();
    let a = spawn_sleep();
    let b = spawn_sleep();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", a.pid()));
    // Same length for both PIDs, so only the content and mtime tell the versions apart.
    let other = format!("{}\n", b.pid());
    assert_eq!(
        other.len(),
        format!("{}\n", a.pid()).len(),
        "PIDs of equal width"
    );
    let rules = Config::default().rules().unwrap();
    let mut scanner = Scanner::new(vec![dir.path().to_path_buf()], rules).remembering();
    let first = scanner.scan();
    assert_eq!(first.entries[0].pid, Some(a.pid()));
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();

    // Rewrite in place and put the old mtime back: size, inode and mtime unchanged,
    // so the second scan trusts what it read before (it did not open the file).
    fs::write(&path, &other).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let second = scanner.scan();
    assert_eq!(
        second.entries[0].pid,
        Some(a.pid()),
        "unchanged stamp: not re-read"
    );

    // A real rewrite moves the mtime: re-read.
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(1))
        .unwrap();
    let third = scanner.scan();
    assert_eq!(third.entries[0].pid, Some(b.pid()));
    assert_eq!(third.entries[0].status, Status::Alive);

    // The PID is probed afresh every scan: a process that died is seen at once.
    drop(b);
    let fourth = scanner.scan();
    assert_eq!(fourth.entries[0].status, Status::Stale);
}
