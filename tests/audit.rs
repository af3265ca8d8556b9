//! `pidscope audit` against real processes, files and locks in temp dirs.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// `pidscope audit --json ARGS...`: the parsed document and the exit status.
fn audit_json(args: &[&OsStr]) -> (Value, i32) {
    let out = run(bin().arg("audit").arg("--json").args(args));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().expect("exit code"))
}

fn audit_dir(dir: &Path) -> (Value, i32) {
    audit_json(&[dir.as_os_str()])
}

/// The entry for `path` in an audit document.
fn entry<'a>(doc: &'a Value, path: &Path) -> &'a Value {
    let want = path.to_string_lossy();
    doc["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["path"] == *want)
        .unwrap_or_else(|| panic!("no entry for {want} in {doc:#}"))
}

fn status_of(doc: &Value, path: &Path) -> String {
    entry(doc, path)["status"]
        .as_str()
        .expect("status")
        .to_string()
}

fn warnings_of(doc: &Value, path: &Path) -> Vec<String> {
    entry(doc, path)["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("code").to_string())
        .collect()
}

#[test]
fn every_status_against_real_processes() {
    let dir = tempdir();
    let d = dir.path();
    let sleeper = spawn_sleep();
    let alive = write_pidfile(d, "sleep.pid", &format!("{}\n", sleeper.pid()));
    let stale = write_pidfile(d, "gone.pid", &format!("{}\n", dead_pid()));
    let fresh = spawn_sleep();
    let reused = write_pidfile(d, "old-daemon.pid", &format!("{}\n", fresh.pid()));
    set_mtime_ago(&reused, 3600);
    let zombie = Zombie::spawn();
    let zombie_file = write_pidfile(d, "sleep-zombie.pid", &format!("{}\n", zombie.pid));
    let kthread = write_pidfile(d, "kthreadd.pid", "2\n");
    let invalid = write_pidfile(d, "bad.pid", "abc\n");
    let fifo = d.join("fifo.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    let zero = d.join("zero.pid");
    symlink("/dev/zero", &zero).expect("symlink");

    let (doc, code) = audit_dir(d);
    assert_eq!(status_of(&doc, &alive), "alive");
    assert_eq!(status_of(&doc, &stale), "stale");
    assert_eq!(status_of(&doc, &reused), "reused");
    assert!(
        entry(&doc, &reused)["reason"]
            .as_str()
            .unwrap()
            .contains("after the file was last written")
    );
    assert_eq!(status_of(&doc, &zombie_file), "zombie");
    assert_eq!(
        status_of(&doc, &kthread),
        "reused",
        "kernel threads never write pidfiles"
    );
    assert_eq!(status_of(&doc, &invalid), "invalid");
    assert_eq!(status_of(&doc, &fifo), "unreadable");
    assert_eq!(status_of(&doc, &zero), "unreadable");
    assert_eq!(code, 1, "problems exit 1");

    let summary = &doc["summary"];
    assert_eq!(summary["alive"], 1);
    assert_eq!(summary["stale"], 1);
    assert_eq!(summary["reused"], 2);
    assert_eq!(summary["zombie"], 1);
    assert_eq!(summary["invalid"], 1);
    assert_eq!(summary["unreadable"], 2);
    assert_eq!(doc["errors"].as_array().unwrap().len(), 0);

    // The alive entry carries the process's details.
    let e = entry(&doc, &alive);
    assert_eq!(e["pid"], sleeper.pid());
    assert_eq!(e["warnings"].as_array().unwrap().len(), 0);
    let p = &e["process"];
    assert_eq!(p["name"], "sleep");
    assert_eq!(p["cmdline"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(p["uid"], nix::unistd::getuid().as_raw());
    assert_eq!(p["parent_pid"], std::process::id());
    assert_eq!(p["state"], "sleeping");
    assert!(p["exe"].as_str().unwrap().ends_with("sleep"));
    assert!(p["memory_bytes"].as_u64().unwrap() > 0);
    assert!(p["cpu_percent"].as_f64().is_some());
    let start = p["start_time"].as_f64().unwrap();
    let mtime = e["file"]["mtime"].as_f64().unwrap();
    assert!(
        start <= mtime + 0.1,
        "the sleep started before its pidfile was written: {start} vs {mtime}"
    );
    assert_eq!(e["file"]["mode"], "0644");
    assert_eq!(e["file"]["size"], format!("{}\n", sleeper.pid()).len());
    assert!(e["lock"].is_null());

    let e = entry(&doc, &stale);
    assert!(e["pid"].is_i64());
    assert!(e["process"].is_null());
    assert!(entry(&doc, &invalid)["pid"].is_null());
}

#[test]
fn all_alive_exits_zero_and_an_empty_dir_too() {
    let dir = tempdir();
    let sleeper = spawn_sleep();
    write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    let (doc, code) = audit_dir(dir.path());
    assert_eq!(doc["summary"]["alive"], 1);
    assert_eq!(code, 0);

    let empty = tempdir();
    let (doc, code) = audit_dir(empty.path());
    assert_eq!(doc["entries"].as_array().unwrap().len(), 0);
    assert_eq!(code, 0);
}

#[test]
fn every_invalid_form_has_a_precise_reason() {
    let dir = tempdir();
    let d = dir.path();
    let pid_max = fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse::<u64>()
        .unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty.pid", String::new(), "The file is empty"),
        ("blank.pid", "\n".into(), "The first line is blank"),
        ("spaces.pid", "  \t\r\n".into(), "The first line is blank"),
        ("abc.pid", "abc\n".into(), "\"abc\" is not a decimal number"),
        ("zero.pid", "0\n".into(), "0 is not a process ID"),
        ("neg.pid", "-5\n".into(), "\"-5\" is negative, not a PID"),
        (
            "hex.pid",
            "0x1f\n".into(),
            "\"0x1f\" is not a decimal number",
        ),
        (
            "two.pid",
            "12 34\n".into(),
            "The first line holds several values: \"12 34\"",
        ),
        (
            "big.pid",
            format!("{}\n", pid_max + 1),
            "is above the largest PID",
        ),
    ];
    for (name, content, _) in &cases {
        write_pidfile(d, name, content);
    }
    let (doc, code) = audit_dir(d);
    assert_eq!(code, 1);
    for (name, _, reason) in &cases {
        let e = entry(&doc, &d.join(name));
        assert_eq!(e["status"], "invalid", "{name}");
        assert!(e["pid"].is_null(), "{name}");
        let got = e["reason"].as_str().unwrap();
        assert!(
            got.contains(reason),
            "{name}: {got:?} should contain {reason:?}"
        );
    }
}

#[test]
fn later_lines_are_ignored_like_postgres_postmaster_pid() {
    let dir = tempdir();
    let sleeper = spawn_sleep();
    let path = write_pidfile(
        dir.path(),
        "sleep.pid",
        &format!(
            "{}\n/var/lib/postgresql/15/main\n1700000000\n5432\n",
            sleeper.pid()
        ),
    );
    let (doc, _) = audit_dir(dir.path());
    assert_eq!(status_of(&doc, &path), "alive");
}

#[test]
fn eperm_is_alive_and_not_signalable() {
    if !is_root() {
        skip("needs root to run processes as other users");
        return;
    }
    // A process of uid 1 (daemon), inspected by pidscope running as uid 65534 (nobody).
    let other = spawn_as(1, &["sleep", "1000"]);
    let dir = tempdir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", other.pid()));
    let bin_copy = public_binary(&dir);
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin_copy)
        .args(["audit", "--json"])
        .arg(&path)
        .env("PIDSCOPE_CONFIG", "/dev/null"));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        status_of(&doc, &path),
        "alive",
        "EPERM is never dead: {doc:#}"
    );
    assert_eq!(warnings_of(&doc, &path), vec!["not-signalable"]);
    assert_eq!(entry(&doc, &path)["process"]["uid"], 1);
    assert_eq!(
        out.status.code(),
        Some(0),
        "alive with a warning is still healthy"
    );
}

/// A copy of the binary that any user may execute (the build tree may sit under a private home).
fn public_binary(dir: &tempfile::TempDir) -> PathBuf {
    let copy = dir.path().join("pidscope-bin");
    // Copied by cp, not by us: a write descriptor of ours that another test's
    // fork inherited for a moment would make exec fail with ETXTBSY.
    let copied = Command::new("cp")
        .arg(env!("CARGO_BIN_EXE_pidscope"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(copied.success());
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

#[test]
fn name_mismatch_warns_only_when_names_are_unrelated() {
    let dir = tempdir();
    let sleeper = spawn_sleep();
    let nginx = write_pidfile(dir.path(), "nginx.pid", &format!("{}\n", sleeper.pid()));
    let sleep = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    let (doc, _) = audit_dir(dir.path());
    assert_eq!(status_of(&doc, &nginx), "alive");
    assert_eq!(warnings_of(&doc, &nginx), vec!["name-mismatch"]);
    assert!(warnings_of(&doc, &sleep).is_empty());
}

#[test]
fn flock_holder_is_found_even_when_it_is_a_child() {
    let dir = tempdir();
    let path = dir.path().join("sleep.pid");
    fs::write(&path, "").unwrap();
    // `flock FILE sleep 1000`: /proc/locks names flock; its sleep child holds the fd too.
    let holder = hold_flock(&path);
    let child = wait_for_child(holder.pid());
    fs::write(&path, format!("{child}\n")).unwrap();
    let (doc, _) = audit_dir(dir.path());
    let e = entry(&doc, &path);
    assert_eq!(e["status"], "alive");
    assert_eq!(e["lock"]["kind"], "flock");
    assert_eq!(e["lock"]["holder_pid"], child);
    let holders = lock_holders(e);
    assert!(
        holders.contains(&i64::from(holder.pid())) || holders.contains(&i64::from(child)),
        "{holders:?}"
    );
    assert!(warnings_of(&doc, &path).is_empty(), "{e:#}");
}

#[test]
fn orphaned_flock_resolves_the_real_holder() {
    let dir = tempdir();
    let path = dir.path().join("sleep.pid");
    fs::write(&path, "").unwrap();
    let (child, _guard) = hold_flock_orphaned(&path);
    fs::write(&path, format!("{child}\n")).unwrap();
    let (doc, _) = audit_dir(dir.path());
    let e = entry(&doc, &path);
    assert_eq!(e["status"], "alive");
    assert_eq!(
        e["lock"]["holder_pid"], child,
        "not the dead taker /proc/locks names: {e:#}"
    );
    assert!(warnings_of(&doc, &path).is_empty());
}

#[test]
fn a_lock_held_by_another_process_warns() {
    let dir = tempdir();
    let path = dir.path().join("sleep.pid");
    fs::write(&path, "").unwrap();
    let holder = hold_posix_lock(&path);
    let other = spawn_sleep();
    fs::write(&path, format!("{}\n", other.pid())).unwrap();
    let (doc, _) = audit_dir(dir.path());
    let e = entry(&doc, &path);
    assert_eq!(e["lock"]["kind"], "posix");
    assert_eq!(e["lock"]["holder_pid"], holder.pid());
    assert_eq!(warnings_of(&doc, &path), vec!["lock-holder-mismatch"]);
}

#[test]
fn posix_and_ofd_holders_are_reported() {
    let dir = tempdir();
    let posix_path = dir.path().join("posix.pid");
    let ofd_path = dir.path().join("ofd.pid");
    fs::write(&posix_path, "").unwrap();
    fs::write(&ofd_path, "").unwrap();
    let posix = hold_posix_lock(&posix_path);
    let ofd = hold_ofd_lock(&ofd_path);
    fs::write(&posix_path, format!("{}\n", posix.pid())).unwrap();
    fs::write(&ofd_path, format!("{}\n", ofd.pid())).unwrap();
    let (doc, _) = audit_dir(dir.path());
    let e = entry(&doc, &posix_path);
    assert_eq!(
        (e["lock"]["kind"].as_str(), e["lock"]["holder_pid"].as_i64()),
        (Some("posix"), Some(posix.pid().into()))
    );
    let e = entry(&doc, &ofd_path);
    assert_eq!(
        (e["lock"]["kind"].as_str(), e["lock"]["holder_pid"].as_i64()),
        (Some("ofd"), Some(ofd.pid().into()))
    );
    // An empty pidfile held by a live locker is invalid, and says it is locked.
    let empty = dir.path().join("empty.pid");
    fs::write(&empty, "").unwrap();
    let _locker = hold_flock(&empty);
    let (doc, _) = audit_dir(dir.path());
    let e = entry(&doc, &empty);
    assert_eq!(e["status"], "invalid");
    assert!(
        e["reason"].as_str().unwrap().contains("locked (flock)"),
        "{e:#}"
    );
}

/// The first child of `pid` (flock's sleep).
fn wait_for_child(pid: i32) -> i32 {
    let mut found = None;
    assert!(wait_until(TIMEOUT, || {
        found = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|c| c.parse().ok()));
        found.is_some()
    }));
    found.unwrap()
}

#[test]
fn hostile_files_never_block_or_blow_up() {
    let dir = tempdir();
    let d = dir.path();
    let fifo = d.join("fifo.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let zero = d.join("zero.pid");
    symlink("/dev/zero", &zero).unwrap();
    // 100 MB (sparse) starting with a valid PID line.
    let sleeper = spawn_sleep();
    let huge = write_pidfile(d, "sleep-huge.pid", &format!("{}\n", sleeper.pid()));
    fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    // 10 MB of digits on one line.
    let digits = d.join("digits.pid");
    fs::write(&digits, vec![b'7'; 10 << 20]).unwrap();
    let loop_a = d.join("a.pid");
    let loop_b = d.join("b.pid");
    symlink(&loop_b, &loop_a).unwrap();
    symlink(&loop_a, &loop_b).unwrap();
    let dangling = d.join("dangling.pid");
    symlink(d.join("nowhere"), &dangling).unwrap();
    let socket_path = d.join("sock.pid");
    let _socket = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    let _other_socket = std::os::unix::net::UnixListener::bind(d.join("real.sock")).unwrap();
    let socket_link = d.join("socklink.pid");
    symlink(d.join("real.sock"), &socket_link).unwrap();
    // A directory symlink loop must not be followed.
    fs::create_dir(d.join("sub")).unwrap();
    symlink(d, d.join("sub/up")).unwrap();

    let (doc, _) = audit_dir(d);
    let reason = |p: &Path| entry(&doc, p)["reason"].as_str().unwrap().to_string();
    assert_eq!(status_of(&doc, &fifo), "unreadable");
    assert!(reason(&fifo).contains("FIFO"));
    assert_eq!(status_of(&doc, &zero), "unreadable");
    assert!(reason(&zero).contains("character device"));
    assert_eq!(status_of(&doc, &huge), "alive");
    assert_eq!(status_of(&doc, &digits), "invalid");
    assert!(
        reason(&digits).contains("longer than 4096 bytes"),
        "{}",
        reason(&digits)
    );
    assert_eq!(status_of(&doc, &loop_a), "unreadable");
    assert!(reason(&loop_a).contains("symlink loop"));
    assert!(reason(&dangling).contains("dangling symlink"));
    assert_eq!(status_of(&doc, &socket_path), "unreadable");
    assert!(reason(&socket_path).contains("socket"));
    assert!(reason(&socket_link).contains("socket"));
    assert_eq!(
        doc["entries"].as_array().unwrap().len(),
        9,
        "nothing reached through sub/up: {doc:#}"
    );
}

#[test]
fn unreadable_directory_is_an_error_and_the_scan_goes_on() {
    let dir = tempdir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    write_pidfile(&locked, "hidden.pid", "1\n");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let sleeper = spawn_sleep();
    let visible = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    fs::set_permissions(&visible, fs::Permissions::from_mode(0o644)).unwrap();

    // Root reads any directory: run as nobody then.
    let out = if is_root() {
        let copy = public_binary(&dir);
        run(Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(copy)
            .args(["audit", "--json"])
            .arg(dir.path())
            .env("PIDSCOPE_CONFIG", "/dev/null"))
    } else {
        run(bin().args(["audit", "--json"]).arg(dir.path()))
    };
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{doc:#}");
    assert_eq!(errors[0]["path"], locked.to_string_lossy().as_ref());
    assert_eq!(errors[0]["error"], "permission denied");
    assert_eq!(status_of(&doc, &visible), "alive");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error makes the audit unhealthy"
    );
}

#[test]
fn unreadable_file_is_unreadable() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "secret.pid", "1\n");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    let doc = if is_root() {
        // Root reads every file: audit as nobody, who may enter the directory
        // but not read the file.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let copy = public_binary(&dir);
        let out = run(Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&copy)
            .args(["audit", "--json"])
            .arg(dir.path())
            .env("PIDSCOPE_CONFIG", "/dev/null"));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "audit as nobody printed no JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    } else {
        audit_dir(dir.path()).0
    };
    assert_eq!(status_of(&doc, &path), "unreadable", "{doc:#}");
    assert!(
        entry(&doc, &path)["reason"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{doc:#}"
    );
}

#[test]
fn non_utf8_names_are_reported_lossily() {
    let dir = tempdir();
    let name = OsStr::from_bytes(b"caf\xe9.pid");
    let path = dir.path().join(name);
    fs::write(&path, format!("{}\n", dead_pid())).unwrap();
    let (doc, _) = audit_dir(dir.path());
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("caf\u{FFFD}.pid")
    );
    assert_eq!(entries[0]["status"], "stale");
    // The table shows it too.
    let out = run(bin().arg("audit").arg(dir.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("caf\u{FFFD}.pid"));
}

#[test]
fn a_file_reached_twice_is_reported_once() {
    let dir = tempdir();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let path = write_pidfile(&sub, "x.pid", &format!("{}\n", dead_pid()));
    fs::hard_link(&path, sub.join("y.pid")).unwrap();
    let (doc, _) = audit_json(&[dir.path().as_os_str(), sub.as_os_str(), path.as_os_str()]);
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{doc:#}");
    assert_eq!(entries[0]["path"], path.to_string_lossy().as_ref());
}

#[test]
fn file_arguments_are_inspected_whatever_their_name() {
    let dir = tempdir();
    let sleeper = spawn_sleep();
    let path = write_pidfile(dir.path(), "sleep.lock", &format!("{}\n", sleeper.pid()));
    let (doc, code) = audit_json(&[path.as_os_str()]);
    assert_eq!(status_of(&doc, &path), "alive");
    assert_eq!(code, 0);
    // Walking the directory applies the patterns: *.lock is not a pidfile.
    let (doc, _) = audit_dir(dir.path());
    assert_eq!(doc["entries"].as_array().unwrap().len(), 0);
}

#[test]
fn missing_root_is_an_error() {
    let dir = tempdir();
    let missing = dir.path().join("missing");
    let (doc, code) = audit_json(&[missing.as_os_str()]);
    assert_eq!(doc["errors"][0]["path"], missing.to_string_lossy().as_ref());
    assert_eq!(doc["errors"][0]["error"], "no such file or directory");
    assert_eq!(code, 1);
}

#[test]
fn config_patterns_exclude_and_depth_apply() {
    let dir = tempdir();
    let d = dir.path();
    let deep = d.join("a/b/c");
    fs::create_dir_all(&deep).unwrap();
    write_pidfile(d, "top.pid", "1\n");
    write_pidfile(d, "daemon.lock", "1\n");
    write_pidfile(&d.join("a"), "skip-me.pid", "1\n");
    write_pidfile(&deep, "deep.pid", "1\n");
    let config = d.join("config.toml");
    fs::write(&config, format!("dirs = [{:?}]\npatterns = [\"*.pid\", \"*.lock\"]\nexclude = [\"skip-*\"]\nmax_depth = 2\n", d)).unwrap();
    let out = run(bin().arg("--config").arg(&config).args(["audit", "--json"]));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<String> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            Path::new(e["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, vec!["daemon.lock", "top.pid"]);
}

#[test]
fn broken_config_exits_2_naming_file_line_and_key() {
    let dir = tempdir();
    let config = dir.path().join("bad.toml");
    fs::write(&config, "patterns = [\"*.pid\"]\nmax_depht = 3\n").unwrap();
    let out = run(bin()
        .arg("--config")
        .arg(&config)
        .args(["audit"])
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&*config.to_string_lossy())
            && err.contains("line 2")
            && err.contains("max_depht"),
        "{err}"
    );

    fs::write(&config, "max_depth = \"deep\"\n").unwrap();
    let out = run(bin()
        .arg("--config")
        .arg(&config)
        .args(["audit"])
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1, key `max_depth`"));

    let out = run(bin()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .args(["audit"]));
    assert_eq!(out.status.code(), Some(2));

    let out = run(bin().args(["audit", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_documented_sample_config_loads() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/pidscope.toml");
    let dir = tempdir();
    let out = run(bin()
        .arg("--config")
        .arg(&sample)
        .args(["audit", "--json"])
        .arg(dir.path()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn table_output_is_plain_under_no_color() {
    let dir = tempdir();
    let sleeper = spawn_sleep();
    write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    write_pidfile(dir.path(), "gone.pid", &format!("{}\n", dead_pid()));
    let out = run(bin().arg("audit").arg(dir.path()));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no escape codes: {text:?}");
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for column in ["STATUS", "PID", "PROCESS", "USER", "AGE", "PATH", "REASON"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(text.contains("stale") && text.contains("No process has PID"));
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("2 pidfiles: 1 alive, 1 stale"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_foreign_symlink_to_a_private_file_is_not_followed() {
    if !is_root() {
        skip("needs root to own a symlink as another user");
        return;
    }
    let dir = tempdir();
    let secret = dir.path().join("secret");
    fs::write(&secret, "root:secret-hash:20228:0\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("backup.pid");
    symlink(&secret, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let out = run(bin().args(["audit", "--json"]).arg(dir.path()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("secret-hash"), "content leaked: {text}");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status_of(&doc, &link), "unreadable");
    assert!(
        entry(&doc, &link)["reason"]
            .as_str()
            .unwrap()
            .contains("not followed")
    );
    // A symlink of the file's own owner is followed as usual.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    let (doc, _) = audit_dir(dir.path());
    assert_eq!(status_of(&doc, &link), "invalid");
}

#[test]
fn hidden_proc_entries_do_not_make_live_processes_stale() {
    if !is_root() {
        skip("needs root to mount /proc with hidepid");
        return;
    }
    let sleeper = spawn_sleep();
    let dir = tempdir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    let copy = public_binary(&dir);
    // Created once /proc is mounted with hidepid: from then on pidscope runs,
    // and any failure is its own.
    let mounted = dir.path().join("proc-mounted");
    let script = format!(
        "mount -t proc -o hidepid=invisible proc /proc || exit 77; \
         : > {} || exit 77; \
         exec setpriv --reuid=65534 --regid=65534 --clear-groups -- {} audit --json {}",
        mounted.display(),
        copy.display(),
        path.display()
    );
    let out = run(Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("PIDSCOPE_CONFIG", "/dev/null"));
    if out.status.code() == Some(77) || !mounted.exists() {
        skip(&format!(
            "cannot mount /proc in a new namespace here ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
        return;
    }
    // pidscope ran: it must have finished its audit (0 or 1), not crashed.
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && !out.stdout.is_empty(),
        "pidscope audit under hidepid failed ({}): stdout {:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_of(&doc, &path), "alive", "{doc:#}");
    assert_eq!(warnings_of(&doc, &path), vec!["not-signalable"]);
}

#[test]
fn hard_links_keep_every_name_and_any_name_may_relate() {
    let dir = tempdir();
    let sleeper = spawn_sleep();
    let sleep = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    let other = dir.path().join("aaa.pid");
    fs::hard_link(&sleep, &other).unwrap();
    let (doc, _) = audit_dir(dir.path());
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["path"], other.to_string_lossy().as_ref());
    assert_eq!(
        entries[0]["aliases"],
        serde_json::json!([sleep.to_string_lossy()])
    );
    assert_eq!(
        entries[0]["warnings"],
        serde_json::json!([]),
        "sleep.pid relates to sleep"
    );
}

#[test]
fn a_fifo_as_config_is_refused_without_blocking() {
    let dir = tempdir();
    let fifo = dir.path().join("config.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let out = run(bin()
        .arg("--config")
        .arg(&fifo)
        .arg("audit")
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file: FIFO"));
}

#[test]
fn a_full_stderr_is_not_a_crash() {
    let dir = tempdir();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let status = bin()
        .arg("audit")
        .arg(dir.path().join("missing"))
        .stdout(Stdio::null())
        .stderr(full)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "a panic would exit 101");
}

#[test]
fn timings_go_to_stderr_only_when_asked_for() {
    let dir = tempdir();
    write_pidfile(dir.path(), "a.pid", "1\n");
    let quiet = run(bin().arg("audit").arg("--json").arg(dir.path()));
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("timings:"),
        "{quiet:?}"
    );
    let timed = run(bin()
        .env("PIDSCOPE_TIMINGS", "1")
        .arg("audit")
        .arg("--json")
        .arg(dir.path()));
    let stderr = String::from_utf8_lossy(&timed.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("timings:"))
        .unwrap_or_else(|| panic!("no timings line: {stderr}"));
    for phase in [
        "walk", "read", "units", "probe", "locks", "classify", "render",
    ] {
        assert!(line.contains(&format!(" {phase}=")), "{phase} in {line}");
    }
    // The report itself is the same document.
    let doc: Value = serde_json::from_slice(&timed.stdout).expect("JSON");
    assert_eq!(doc["entries"].as_array().map(Vec::len), Some(1));
}
