//! Finding the holders of flock and OFD locks that `/proc/locks` does not
//! name, with real processes and real locks: the walk over every process
//! finds what the plain walk it replaced found, a scanner remembers what it
//! found and walks again only when the lock or its holders change, and a
//! holder's fork is seen without a walk.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

use common::*;
use pidscope::config::Config;
use pidscope::inspect::Scanner;
use pidscope::probe::locks::{FileKey, HolderCache, LockTable, parse_lock_line};

/// Takes a flock on `path` from a `python3` that forks a child keeping the
/// descriptor and exits: `/proc/locks` names the exited taker. The taker
/// leads its own process group when `leads` (a daemon's way: its children
/// are then found without a walk), else it stays in ours. On SIGUSR1 the
/// child forks a grandchild that keeps the descriptor too.
///
/// Returns the child's PID (the holder), the taker's and a guard killing the child.
fn orphaned_flock(path: &Path, leads: bool) -> (i32, i32, KillOnDrop) {
    const SCRIPT: &str = r#"
import fcntl, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
if os.fork() == 0:
    def fork(*_):
        if os.fork() == 0:
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            while True:
                time.sleep(1000)
    signal.signal(signal.SIGUSR1, fork)
    print(os.getpid(), flush=True)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    while True:
        time.sleep(1000)
os._exit(0)
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", SCRIPT])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if leads {
        cmd.process_group(0);
    }
    let mut taker = cmd.spawn().expect("cannot start python3");
    let stdout = taker.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(STARTUP_TIMEOUT)
        .expect("the lock holder did not start");
    let child: i32 = line.trim().parse().expect("a PID");
    let guard = KillOnDrop::new(child);
    let taker_pid = taker.id() as i32;
    assert!(taker.wait().expect("wait for the taker").success());
    (child, taker_pid, guard)
}

fn key_of(path: &Path) -> FileKey {
    let meta = fs::metadata(path).expect("stat the pidfile");
    FileKey::from_dev_ino(meta.dev(), meta.ino())
}

/// The holders of the lock on `path` as a one-scan cache finds them.
fn holders(cache: &mut HolderCache, path: &Path) -> Vec<i32> {
    let key = key_of(path);
    cache
        .resolve(&LockTable::read(), &[(key, None)])
        .remove(&key)
        .map(|l| l.holders)
        .unwrap_or_default()
}

/// Waits until no lock on `path` is left in `/proc/locks`.
fn wait_unlocked(path: &Path) {
    let key = key_of(path);
    assert!(
        wait_until(TIMEOUT, || LockTable::read().on(key).is_empty()),
        "the lock on {} was not released",
        path.display()
    );
}

/// The walk pidscope used to make, one path per descriptor: the oracle.
fn plain_walk(keys: &[FileKey]) -> BTreeSet<(FileKey, i32)> {
    let mut pairs = BTreeSet::new();
    for pid in fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
    {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(meta) = fs::metadata(fd.path()) else {
                continue;
            };
            let key = FileKey::from_dev_ino(meta.dev(), meta.ino());
            if !keys.contains(&key) {
                continue;
            }
            let info = fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            if info
                .lines()
                .filter_map(|l| l.strip_prefix("lock:"))
                .filter_map(parse_lock_line)
                .any(|r| r.key == key)
            {
                pairs.insert((key, pid));
            }
        }
    }
    pairs
}

/// The holders `pidscope audit --json` gives for `path`, with `env` set.
fn audited_holders(path: &Path, env: &[(&str, &str)]) -> Vec<i64> {
    let out = run(bin()
        .args(["audit", "--json"])
        .arg(path)
        .envs(env.iter().copied()));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    doc["entries"][0]["lock"]["holders"]
        .as_array()
        .expect("a lock with holders")
        .iter()
        .map(|h| h.as_i64().expect("a PID"))
        .collect()
}

#[test]
fn audit_finds_the_same_holders_with_the_bpf_iterator_and_without() {
    // As root the iterator is used (the unit tests in probe::locks::bpf fail
    // when it cannot be); PIDSCOPE_BPF=0 walks /proc instead.
    let dir = tempdir();
    let path = dir.path().join("orphaned.pid");
    let (child, taker, _guard) = orphaned_flock(&path, false);
    fs::write(&path, format!("{taker}\n")).unwrap();
    let holders = audited_holders(&path, &[]);
    assert_eq!(holders, vec![i64::from(child)]);
    assert_eq!(audited_holders(&path, &[("PIDSCOPE_BPF", "0")]), holders);
}

#[test]
fn the_walk_finds_what_the_plain_walk_finds() {
    let dir = tempdir();
    let mut guards = Vec::new();
    let mut paths = Vec::new();
    for i in 0..3 {
        let path = dir.path().join(format!("flock{i}.pid"));
        let (child, _, guard) = orphaned_flock(&path, false);
        guards.push(guard);
        if i == 0 {
            // A second holder of the same lock, forked by the first.
            kill_usr1(child);
            assert!(wait_until(TIMEOUT, || children(child).len() == 1));
            guards.push(KillOnDrop::new(children(child)[0]));
        }
        paths.push(path);
    }
    let ofd = dir.path().join("ofd.pid");
    let _ofd_holder = hold_ofd_lock(&ofd);
    paths.push(ofd);
    let unlocked = dir.path().join("none.pid");
    fs::write(&unlocked, "1\n").unwrap();
    paths.push(unlocked);

    // Open, not locked: a descriptor on a locked file is not a holder.
    let _open = fs::File::open(&paths[1]).unwrap();
    let keys: Vec<FileKey> = paths.iter().map(|p| key_of(p)).collect();
    let files: Vec<(FileKey, Option<i32>)> = keys.iter().map(|&k| (k, None)).collect();
    let mut cache = HolderCache::default();
    let infos = cache.resolve(&LockTable::read(), &files);
    let found: BTreeSet<(FileKey, i32)> = infos
        .iter()
        .flat_map(|(&key, info)| info.holders.iter().map(move |&pid| (key, pid)))
        .collect();
    let expected = plain_walk(&keys);
    assert_eq!(
        expected.len(),
        5,
        "two holders of one flock, one of each other lock"
    );
    assert_eq!(found, expected);
    assert_eq!(cache.walks(), 1, "one walk for every lock at once");
    for info in infos.values() {
        assert!(info.holders.is_sorted(), "{:?}", info.holders);
    }
}

#[test]
fn a_daemons_children_are_found_without_a_walk() {
    let dir = tempdir();
    let path = dir.path().join("daemon.pid");
    let (child, taker, _guard) = orphaned_flock(&path, true);
    let mut cache = HolderCache::default();
    assert_eq!(holders(&mut cache, &path), vec![child]);
    assert_eq!(cache.walks(), 0, "the taker {taker} led the holder's group");
}

#[test]
fn a_scanner_walks_once_while_nothing_changes_and_again_for_a_new_holder() {
    let dir = tempdir();
    let path = dir.path().join("app.pid");
    let (first, taker, guard) = orphaned_flock(&path, false);
    fs::write(&path, format!("{taker}\n")).unwrap();
    let rules = Config::default().rules().unwrap();
    let mut scanner = Scanner::new(vec![dir.path().to_path_buf()], rules).remembering();
    let holders_now = |scanner: &mut Scanner| {
        let report = scanner.scan();
        let lock = report.entries[0].lock.clone();
        lock.map(|l| (l.holder_pid, l.holders))
    };
    assert_eq!(holders_now(&mut scanner), Some((Some(first), vec![first])));
    assert_eq!(scanner.lock_walks(), 1);
    for _ in 0..3 {
        assert_eq!(holders_now(&mut scanner), Some((Some(first), vec![first])));
    }
    assert_eq!(scanner.lock_walks(), 1, "nothing changed: no walk");

    // The holder exits; another process takes the lock on the same file.
    drop(guard);
    wait_unlocked(&path);
    assert_eq!(holders_now(&mut scanner), None);
    let (second, _, _guard) = orphaned_flock(&path, false);
    assert_eq!(
        holders_now(&mut scanner),
        Some((Some(second), vec![second]))
    );
    assert_eq!(scanner.lock_walks(), 2);
    assert_eq!(
        holders_now(&mut scanner),
        Some((Some(second), vec![second]))
    );
    assert_eq!(scanner.lock_walks(), 2);
}

#[test]
fn an_ofd_lock_taken_again_by_another_process_is_walked_for_again() {
    // /proc/locks shows every OFD lock with PID -1: the lock's identity
    // does not change with its holder, only the holder's fdinfo tells.
    let dir = tempdir();
    let path = dir.path().join("ofd.pid");
    let first = hold_ofd_lock(&path);
    let mut cache = HolderCache::default();
    assert_eq!(holders(&mut cache, &path), vec![first.pid()]);
    assert_eq!(holders(&mut cache, &path), vec![first.pid()]);
    assert_eq!(cache.walks(), 1);
    drop(first);
    wait_unlocked(&path);
    let second = hold_ofd_lock(&path);
    assert_eq!(holders(&mut cache, &path), vec![second.pid()]);
    assert_eq!(cache.walks(), 2);
}

#[test]
fn a_holder_that_forks_passes_the_lock_on_and_no_walk_is_needed() {
    let dir = tempdir();
    let path = dir.path().join("forks.pid");
    let (holder, _, _guard) = orphaned_flock(&path, false);
    let mut cache = HolderCache::default();
    assert_eq!(holders(&mut cache, &path), vec![holder]);
    kill_usr1(holder);
    assert!(wait_until(TIMEOUT, || children(holder).len() == 1));
    let forked = children(holder)[0];
    let _forked_guard = KillOnDrop::new(forked);
    let mut both = vec![holder, forked];
    both.sort_unstable();
    assert_eq!(holders(&mut cache, &path), both);
    assert_eq!(holders(&mut cache, &path), both);
    assert_eq!(
        cache.walks(),
        1,
        "the fork was seen from the holder's children"
    );
}

fn kill_usr1(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .expect("signal the holder");
}

/// The children of `pid`, from its main thread's `children` file.
fn children(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_ascii_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}
