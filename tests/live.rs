//! `pidscope watch`: verdict changes as the kernel reports them. Every test
//! runs watch with `--interval 60s`, so its safety-net rescan cannot explain
//! a change seen within a second: only inotify and pidfd events can.
//!
//! The processes are real (`sleep`, a zombie whose parent reaps it on a
//! signal), the pidfiles are real files in temp dirs, and watch's JSON
//! lines are read from its stdout pipe as it prints them.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use common::watch::{ONE_INOTIFY_WATCH, Watch, wrapped};
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Within this, a change must be on stdout: far above the 100 ms target,
/// far below the 60 s safety net.
const SOON: Duration = Duration::from_secs(1);

fn args<'a>(extra: &'a [&'a str], dir: &'a std::path::Path) -> Vec<&'a OsStr> {
    let mut args: Vec<&OsStr> = vec![OsStr::new("--interval"), OsStr::new("60s")];
    args.extend(extra.iter().map(OsStr::new));
    args.push(dir.as_os_str());
    args
}

#[test]
fn a_killed_process_shows_stale_within_a_second() {
    let dir = tempdir();
    let mut owner = spawn_sleep();
    let pid = owner.pid();
    write_pidfile(dir.path(), "sleep.pid", &format!("{pid}\n"));
    let mut watch = Watch::start(&args(&["--initial"], dir.path()));
    let (_, first) = watch.expect_change("/sleep.pid", None, &[Some("alive")], TIMEOUT);
    assert_eq!(first["pid"], pid);

    let killed = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill the owner");
    owner.wait();
    let (at, line) = watch.expect_change(
        "/sleep.pid",
        Some("alive"),
        &[Some("stale"), Some("zombie")],
        SOON,
    );
    assert!(at - killed < SOON, "seen after {:?}", at - killed);
    assert_eq!(line["pid"], pid);
    assert!(
        line["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&pid.to_string())),
        "{line}"
    );

    let (status, rest) = watch.stop(Signal::SIGTERM);
    assert!(status.success(), "watch exited {status}");
    assert!(rest.is_empty(), "unexpected lines: {rest:?}");
}

/// A zombie whose parent (python) reaps it on SIGUSR1; the zombie's PID is
/// written to `pidfile`.
fn zombie_reaped_on_usr1(pidfile: &std::path::Path) -> Proc {
    let script = format!(
        "import os, signal, time\n\
         pid = os.fork()\n\
         if pid == 0:\n    os._exit(0)\n\
         signal.signal(signal.SIGUSR1, lambda *a: os.waitpid(pid, 0))\n\
         time.sleep(0.05)\n\
         open({path:?}, 'w').write(str(pid) + '\\n')\n\
         while True:\n    time.sleep(1)\n",
        path = pidfile.to_str().expect("UTF-8 temp path")
    );
    let parent = Proc::spawn(Command::new("python3").arg("-c").arg(script));
    assert!(
        wait_until(STARTUP_TIMEOUT, || fs::read_to_string(pidfile)
            .is_ok_and(|t| t.ends_with('\n'))),
        "the zombie's parent wrote no pidfile"
    );
    parent
}

#[test]
fn a_reaped_zombie_shows_stale_and_waiting_on_it_never_wakes() {
    let dir = tempdir();
    let pidfile = dir.path().join("child.pid");
    let parent = zombie_reaped_on_usr1(&pidfile);
    let zombie: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_until(TIMEOUT, || process_state(zombie) == Some('Z')));

    let mut watch = Watch::start(&args(&["--initial"], dir.path()));
    watch.expect_change("/child.pid", None, &[Some("zombie")], TIMEOUT);
    // A zombie's pidfd is readable from the start: waiting on it must not
    // wake the loop again and again.
    let before = watch.sleeps();
    std::thread::sleep(Duration::from_secs(1));
    let woke = watch.sleeps() - before;
    assert!(
        woke <= 2,
        "watch woke {woke} times in 1 s with nothing changing"
    );

    let reaped = Instant::now();
    kill(Pid::from_raw(parent.pid()), Signal::SIGUSR1).expect("ask the parent to reap");
    let (at, _) = watch.expect_change("/child.pid", Some("zombie"), &[Some("stale")], SOON);
    assert!(at - reaped < SOON);
    let (status, _) = watch.stop(Signal::SIGINT);
    assert!(status.success(), "watch exited {status} on SIGINT");
}

#[test]
fn pidfiles_appearing_changing_and_going_are_reported() {
    let dir = tempdir();
    let owner = spawn_sleep();
    let other = spawn_sleep();
    let mut watch = Watch::start(&args(&[], dir.path()));
    watch.wait_stderr("live");

    // Created: from null.
    let path = write_pidfile(dir.path(), "new.pid", &format!("{}\n", owner.pid()));
    let (_, line) = watch.expect_change("/new.pid", None, &[Some("alive")], SOON);
    assert_eq!(line["pid"], owner.pid());
    assert_eq!(line["warnings"], serde_json::json!(["name-mismatch"]));

    // Rewritten in place with another PID: re-read, the PID changes.
    fs::write(&path, format!("{}\n", other.pid())).unwrap();
    let (_, line) = watch.expect_change("/new.pid", Some("alive"), &[Some("alive")], SOON);
    assert_eq!(line["pid"], other.pid());

    // Rewritten with garbage: invalid.
    fs::write(&path, "garbage\n").unwrap();
    let (_, line) = watch.expect_change("/new.pid", Some("alive"), &[Some("invalid")], SOON);
    assert_eq!(line["pid"], serde_json::Value::Null);

    // Renamed: the old path goes, the new one comes.
    let renamed = dir.path().join("renamed.pid");
    fs::rename(&path, &renamed).unwrap();
    watch.expect_change("/renamed.pid", None, &[Some("invalid")], SOON);
    let (_, gone) = watch.expect_change("/new.pid", Some("invalid"), &[None], SOON);
    assert_eq!(gone["reason"], "the pidfile is gone");

    // Removed: to null.
    fs::remove_file(&renamed).unwrap();
    watch.expect_change("/renamed.pid", Some("invalid"), &[None], SOON);

    // A file that is no pidfile by its name changes nothing.
    fs::write(dir.path().join("notes.txt"), "1\n").unwrap();
    watch.expect_silence(Duration::from_millis(300));
    let (status, rest) = watch.stop(Signal::SIGTERM);
    assert!(status.success());
    assert!(rest.is_empty(), "unexpected lines: {rest:?}");
}

#[test]
fn new_subdirectories_are_watched() {
    let dir = tempdir();
    let owner = spawn_sleep();
    let mut watch = Watch::start(&args(&[], dir.path()));
    watch.wait_stderr("live");

    // A directory with a subdirectory and a pidfile, made at once: the
    // pidfile may be written before the new directory is watched, and is
    // found by walking it.
    let deep = dir.path().join("svc/deeper");
    fs::create_dir_all(&deep).unwrap();
    write_pidfile(&deep, "a.pid", &format!("{}\n", owner.pid()));
    watch.expect_change("/svc/deeper/a.pid", None, &[Some("alive")], SOON);

    // Now watched: a later change inside is seen too.
    write_pidfile(&deep, "b.pid", "junk");
    watch.expect_change("/svc/deeper/b.pid", None, &[Some("invalid")], SOON);

    // The directory removed: its pidfiles go.
    fs::remove_dir_all(dir.path().join("svc")).unwrap();
    watch.expect_change("/svc/deeper/a.pid", Some("alive"), &[None], SOON);
    watch.expect_change("/svc/deeper/b.pid", Some("invalid"), &[None], SOON);
    let (status, _) = watch.stop(Signal::SIGTERM);
    assert!(status.success());
}

#[test]
fn a_pidfile_named_on_the_command_line_is_watched() {
    let dir = tempdir();
    let owner = spawn_sleep();
    let path = write_pidfile(dir.path(), "daemon.state", &format!("{}\n", owner.pid()));
    let mut cmd_args = vec![
        OsStr::new("--interval"),
        OsStr::new("60s"),
        OsStr::new("--initial"),
    ];
    cmd_args.push(path.as_os_str());
    let mut watch = Watch::start(&cmd_args);
    watch.expect_change("/daemon.state", None, &[Some("alive")], TIMEOUT);
    fs::write(&path, "nonsense").unwrap();
    watch.expect_change("/daemon.state", Some("alive"), &[Some("invalid")], SOON);
    // Its neighbours are not watched.
    write_pidfile(dir.path(), "other.pid", "1\n");
    watch.expect_silence(Duration::from_millis(300));
    drop(watch);
}

#[test]
fn past_max_user_watches_it_polls_and_says_so() {
    if !command_exists("unshare") {
        return skip("util-linux unshare is not installed");
    }
    let dir = tempdir();
    let sub = dir.path().join("a/b");
    fs::create_dir_all(&sub).unwrap();
    // In a user namespace of its own, where one inotify watch is the limit
    // (the kernel counts watches per user namespace): the root is watched,
    // `a` and `a/b` are not.
    let cmd = wrapped(&ONE_INOTIFY_WATCH);
    let mut watch = Watch::start_cmd(cmd, &[dir.path().as_os_str()]);
    let stderr = watch.wait_stderr("polling:");
    assert!(
        stderr.contains("polling: 2 directories unwatched (fs.inotify.max_user_watches reached)"),
        "{stderr}"
    );
    // Without --interval, polling rescans every 2 s: a change in an
    // unwatched directory is still seen.
    write_pidfile(&sub, "late.pid", "junk");
    watch.expect_change(
        "/a/b/late.pid",
        None,
        &[Some("invalid")],
        Duration::from_secs(5),
    );
    // The watched root still reports at once.
    write_pidfile(dir.path(), "now.pid", "junk");
    watch.expect_change("/now.pid", None, &[Some("invalid")], SOON);
    let (status, _) = watch.stop(Signal::SIGTERM);
    assert!(status.success());
}

#[test]
fn past_the_descriptor_limit_pids_are_polled_and_files_still_read() {
    if !command_exists("prlimit") {
        return skip("util-linux prlimit is not installed");
    }
    let dir = tempdir();
    let owners: Vec<Proc> = (0..30).map(|_| spawn_sleep()).collect();
    for (i, owner) in owners.iter().enumerate() {
        write_pidfile(
            dir.path(),
            &format!("s{i:02}.pid"),
            &format!("{}\n", owner.pid()),
        );
    }
    // 90 descriptors: 64 stay free for reading, so 26 pidfds at most.
    let cmd = wrapped(&["prlimit", "--nofile=90:90"]);
    let mut watch = Watch::start_cmd(cmd, &args(&["--initial"], dir.path()));
    for i in 0..30 {
        watch.expect_change(&format!("/s{i:02}.pid"), None, &[Some("alive")], TIMEOUT);
    }
    let stderr = watch.wait_stderr("polling:");
    assert!(
        stderr.contains("polling: 4 PIDs unwatched (over the cap of 26 pidfds)"),
        "{stderr}"
    );
    // A watched PID's exit is still seen at once.
    let killed = owners[0].pid();
    kill(Pid::from_raw(killed), Signal::SIGKILL).unwrap();
    watch.expect_change(
        "/s00.pid",
        Some("alive"),
        &[Some("stale"), Some("zombie")],
        SOON,
    );
    drop(watch);
}

fn command_exists(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_pidfile_naming_a_thread_is_waited_on_and_stays_live() {
    let dir = tempdir();
    let pidfile = dir.path().join("worker.pid");
    let script = format!(
        "import os, signal, threading, time\n\
         done = threading.Event()\n\
         signal.signal(signal.SIGUSR1, lambda *a: done.set())\n\
         t = threading.Thread(target=done.wait)\n\
         t.start()\n\
         open({path:?}, 'w').write(str(t.native_id) + '\\n')\n\
         while t.is_alive():\n    time.sleep(0.02)\n\
         time.sleep(1000)\n",
        path = pidfile.to_str().expect("UTF-8 temp path")
    );
    let process = Proc::spawn(Command::new("python3").arg("-c").arg(script));
    assert!(
        wait_until(STARTUP_TIMEOUT, || fs::read_to_string(&pidfile)
            .is_ok_and(|t| t.ends_with('\n'))),
        "python wrote no pidfile"
    );
    let mut watch = Watch::start(&args(&["--initial"], dir.path()));
    // A thread's ID is no process's: reused, and its pidfd (PIDFD_THREAD) is held.
    watch.expect_change("/worker.pid", None, &[Some("reused")], TIMEOUT);
    let stderr = watch.wait_stderr("and 1 PID: live");
    assert!(!stderr.contains("polling"), "{stderr}");
    let ended = Instant::now();
    kill(Pid::from_raw(process.pid()), Signal::SIGUSR1).unwrap();
    let (at, _) = watch.expect_change("/worker.pid", Some("reused"), &[Some("stale")], SOON);
    assert!(at - ended < SOON);
    drop(watch);
}

#[test]
fn a_lock_holder_exiting_is_seen_at_once() {
    let dir = tempdir();
    let path = dir.path().join("locked.pid");
    let (holder, guard) = hold_flock_orphaned(&path);
    fs::write(&path, format!("{}\n", dead_pid())).unwrap();
    let mut watch = Watch::start(&args(&["--initial"], dir.path()));
    let (_, first) = watch.expect("the initial line", TIMEOUT, |l| {
        l["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/locked.pid"))
    });
    // The holder is waited on beside the PIDs the pidfiles name.
    watch.wait_stderr("and 1 PID: live");
    let released = Instant::now();
    kill(Pid::from_raw(holder), Signal::SIGKILL).unwrap();
    let (at, line) = watch.expect("the lock's release", SOON, |l| {
        l["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/locked.pid"))
    });
    assert!(at - released < SOON);
    assert_ne!(
        (&first["to"], &first["warnings"]),
        (&line["to"], &line["warnings"]),
        "{first} -> {line}"
    );
    drop(guard);
    drop(watch);
}
