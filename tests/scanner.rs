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

/// What a report says about each pidfile, in order: the part a refresh must
/// get exactly as a full scan does.
fn verdicts(report: &pidscope::report::Report) -> Vec<String> {
    report
        .entries
        .iter()
        .map(|e| {
            format!(
                "{} {:?} {} {:?} {:?}",
                e.path.display(),
                e.aliases,
                e.status,
                e.pid,
                e.warnings
            )
        })
        .collect()
}

#[test]
fn a_refresh_of_what_changed_equals_a_full_scan() {
    use pidscope::inspect::Dirty;
    let dir = tempdir();
    let owners: Vec<Proc> = (0..3).map(|_| spawn_sleep()).collect();
    let mut rules = Config::default().rules().unwrap();
    rules.max_depth = 3;
    let roots = vec![dir.path().join("b"), dir.path().join("a")];
    for root in &roots {
        fs::create_dir_all(root).unwrap();
    }
    let mut live = Scanner::new(roots.clone(), rules.clone()).remembering();
    let mut report = live.scan();
    // A fixed pseudo-random walk over creations, rewrites, removals, new
    // and removed directories, hard links and dead PIDs, in both roots.
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let names = ["x.pid", "y.pid", "z.pid", "q.lock"];
    let subdirs = ["", "s", "s/t", "u", "s/t/v"];
    for step in 0..300 {
        let root = &roots[next(2) as usize];
        let sub = root.join(subdirs[next(subdirs.len() as u64) as usize]);
        let path = sub.join(names[next(names.len() as u64) as usize]);
        let mut dirty = Dirty::default();
        match next(7) {
            0 | 1 => {
                if fs::create_dir_all(&sub).is_ok() {
                    let content = match next(3) {
                        0 => format!("{}\n", owners[next(3) as usize].pid()),
                        1 => format!("{}\n", dead_pid()),
                        _ => "junk".to_string(),
                    };
                    fs::write(&path, content).unwrap();
                    dirty.files.insert(path.clone());
                    // A new directory is reported as such, as inotify does.
                    let mut d = sub.clone();
                    while d != *root {
                        dirty.dirs.insert(d.clone());
                        d = d.parent().unwrap().to_path_buf();
                    }
                }
            }
            2 => {
                let _ = fs::remove_file(&path);
                dirty.files.insert(path.clone());
            }
            3 if sub != *root => {
                let _ = fs::remove_dir_all(&sub);
                dirty.dirs.insert(sub.clone());
            }
            4 => {
                // A second name for a listed file: a full scan folds it.
                let other = root.join("link.pid");
                if path.is_file() && fs::hard_link(&path, &other).is_ok() {
                    dirty.files.insert(other);
                }
            }
            5 => {
                for e in &report.entries {
                    if let Some(pid) = e.pid {
                        dirty.pids.insert(pid);
                    }
                }
            }
            _ => {
                let _ = fs::remove_file(root.join("link.pid"));
                dirty.files.insert(root.join("link.pid"));
            }
        }
        report = live.refresh(report, &dirty).report;
        let full = Scanner::new(roots.clone(), rules.clone()).scan();
        assert_eq!(
            verdicts(&report),
            verdicts(&full),
            "step {step}: a refresh after {dirty:?} differs from a full scan"
        );
    }
}
