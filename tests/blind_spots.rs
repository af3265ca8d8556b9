//! Verdicts and lockers at their blind spots, against real processes, files,
//! locks and PID namespaces (nothing mocked).
//!
//! A stepped wall clock: a pidfile whose mtime is 15 hours before its
//! process started (`set_mtime_ago`, the mark an NTP step or a resumed VM
//! leaves) is still its process's when the process holds its lock, has it
//! open or is named after it: `alive` with `clock-skew`, kept by `clean`, and
//! never taken over by `PidFile::try_lock` or `pidscope run`. With none of
//! those signs it is `reused`, removed and recovered.
//!
//! A nested PID namespace (`unshare --pid --fork --mount-proc`, root only):
//! a PID not seen there proves nothing, so stale and reused verdicts are
//! `unverifiable` and kept unless `--same-namespace` says the pidfiles belong
//! to that namespace. A real PID reuse is made inside one with
//! `/proc/sys/kernel/ns_last_pid`; that part runs in this test binary
//! re-executed as the namespace's init (see [`namespace_helper`]), so that
//! the library's `try_lock` runs where the PID was reused.
//!
//! Pidfiles live in a directory called `run`: a generic name, so only the
//! file's own name can relate to a process's.
//!
//! Needs, besides what `tests/common` needs: util-linux `unshare` and `tmux`.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::tmux::{Pane, sh_quote};
use common::*;
use pidscope::lock::{LockError, PidFile};
use serde_json::Value;
use tempfile::TempDir;

/// How far back a stepped clock leaves the pidfile's mtime.
const STEP: u64 = 15 * 3600;

/// `pidscope run`'s status when another instance owns the pidfile.
const BUSY: i32 = 75;

/// The warning `audit` and `clean` print in a nested PID namespace.
const NESTED_WARNING: &str = "running in a nested PID namespace: ";

/// Set in the re-executed test binary: what [`namespace_helper`] does.
const ROLE: &str = "BLIND_SPOTS_NAMESPACE_ROLE";
/// Set in the re-executed test binary: the [`Scene`]'s root.
const SCENE: &str = "BLIND_SPOTS_SCENE";

// ---------------------------------------------------------------------------
// The scene: pidfiles, the state directory, pidscope's command line
// ---------------------------------------------------------------------------

/// A temp dir with `run/` for the pidfiles and `state/` for `XDG_STATE_HOME`.
struct Scene {
    root: PathBuf,
    _dir: Option<TempDir>,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempdir();
        let scene = Scene::at(dir.path());
        for sub in [scene.run_dir(), scene.root.join("state")] {
            fs::create_dir(&sub).unwrap_or_else(|e| panic!("mkdir {}: {e}", sub.display()));
        }
        Scene {
            _dir: Some(dir),
            ..scene
        }
    }

    /// A scene another process created (and removes).
    fn at(root: &Path) -> Scene {
        Scene {
            root: root.to_path_buf(),
            _dir: None,
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// `pidscope --config EMPTY` with `XDG_STATE_HOME` in the scene ([`bin`]'s isolation).
    fn pidscope(&self) -> Command {
        let mut cmd = bin();
        cmd.env("XDG_STATE_HOME", self.root.join("state"))
            .arg("--config")
            .arg(empty_config());
        cmd
    }

    /// `pidscope ARGS...` (in a new PID namespace if `nested`): the JSON
    /// document it printed, and its stderr.
    fn json(&self, nested: bool, args: &[&OsStr]) -> (Value, String) {
        let mut cmd = self.pidscope();
        cmd.args(args);
        if nested {
            cmd = in_namespace(cmd);
        }
        json_of(run(&mut cmd))
    }

    /// `pidscope audit --json ARGS...`: the document and stderr.
    fn audit(&self, args: &[&OsStr]) -> (Value, String) {
        let audit = ["audit", "--json"].map(OsStr::new);
        self.json(false, &[&audit[..], args].concat())
    }

    /// `pidscope clean --yes --json ARGS...`: the document and stderr.
    fn clean(&self, args: &[&OsStr]) -> (Value, String) {
        let clean = ["clean", "--yes", "--json"].map(OsStr::new);
        self.json(false, &[&clean[..], args].concat())
    }

    /// `pidscope run --pidfile PATH -- true`.
    fn run_true(&self, path: &Path) -> Output {
        run(self
            .pidscope()
            .arg("run")
            .arg("--pidfile")
            .arg(path)
            .args(["--", "true"]))
    }
}

/// `words` then `path`, as arguments.
fn args<'a>(words: &[&'a str], path: &'a OsStr) -> Vec<&'a OsStr> {
    words.iter().map(|w| OsStr::new(*w)).chain([path]).collect()
}

/// The JSON document a command printed, and its stderr.
fn json_of(out: Output) -> (Value, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}; {}): {}\nstderr: {stderr}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (doc, stderr)
}

/// The object in `doc[list]` whose `path` is `path`.
fn find<'a>(doc: &'a Value, list: &str, path: &Path) -> &'a Value {
    let want = path.to_str().expect("UTF-8 temp path");
    doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {doc:#}"))
        .iter()
        .find(|e| e["path"] == want)
        .unwrap_or_else(|| panic!("no {list} entry for {want} in {doc:#}"))
}

/// The audit entry for `path`.
fn entry<'a>(doc: &'a Value, path: &Path) -> &'a Value {
    find(doc, "entries", path)
}

/// The warning codes of an audit entry.
fn warnings(entry: &Value) -> Vec<&str> {
    entry["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("no warnings in {entry:#}"))
        .iter()
        .map(|w| w.as_str().expect("a warning code"))
        .collect()
}

fn reason(entry: &Value) -> &str {
    entry["reason"].as_str().expect("a reason")
}

/// Writes `PID\n` to `path` and puts its mtime 15 hours back: the file now
/// looks written long before its process started. Returns the content.
fn write_stepped(path: &Path, pid: i32) -> String {
    let content = format!("{pid}\n");
    fs::write(path, &content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    set_mtime_ago(path, STEP);
    let md = fs::metadata(path).expect("stat the pidfile");
    let age = std::time::SystemTime::now()
        .duration_since(md.modified().expect("mtime"))
        .expect("mtime in the past");
    assert!(age >= Duration::from_secs(STEP), "mtime not stepped back");
    content
}

// ---------------------------------------------------------------------------
// The cases: a pidfile 15 hours older than its process, and what ties them
// ---------------------------------------------------------------------------

/// A pidfile, the process it names and what keeps that process running.
struct Case {
    path: PathBuf,
    pid: i32,
    content: String,
    /// The verdict's ownership sign, as the reason phrases it (`None`: no sign).
    sign: Option<&'static str>,
    /// `try_lock` meets a held lock: a `flock`, or a POSIX or OFD lock.
    locked: bool,
    _keep: Vec<Box<dyn std::any::Any>>,
}

impl Case {
    /// Writes `pid` to `path` as a file last written before a clock step
    /// ([`write_stepped`]), with what keeps `pid`'s process running.
    fn stepped(
        path: PathBuf,
        pid: i32,
        sign: Option<&'static str>,
        locked: bool,
        keep: impl std::any::Any,
    ) -> Case {
        let content = write_stepped(&path, pid);
        Case {
            path,
            pid,
            content,
            sign,
            locked,
            _keep: vec![Box::new(keep)],
        }
    }

    fn unchanged(&self) -> bool {
        fs::read_to_string(&self.path).ok().as_deref() == Some(self.content.as_str())
    }
}

/// Case 1: a copy of `sleep` called `mydaemon`, and `mydaemon.pid` naming it.
fn renamed_daemon(scene: &Scene) -> Case {
    let bin_dir = scene.root.join("bin");
    fs::create_dir_all(&bin_dir).expect("mkdir bin");
    let exe = bin_dir.join("mydaemon");
    // Copied by `cp`, so that no descriptor open for writing on it can leak
    // into a child forked meanwhile by another test thread (ETXTBSY).
    let copied = run(Command::new("cp").arg("/bin/sleep").arg(&exe));
    assert!(copied.status.success(), "cp /bin/sleep: {copied:?}");
    let daemon = Proc::spawn(Command::new(&exe).arg("1000"));
    let pid = daemon.pid();
    assert_eq!(comm(pid), "mydaemon");
    let path = scene.run_dir().join("mydaemon.pid");
    Case::stepped(
        path,
        pid,
        Some("its name matches the file's"),
        false,
        daemon,
    )
}

/// Case 2: util-linux `flock FILE sleep 1000`; the file names the `flock`
/// process (whose lock `/proc/locks` shows).
fn flock_holder(scene: &Scene) -> Case {
    let path = scene.run_dir().join("worker.pid");
    let holder = hold_flock(&path);
    let pid = holder.pid();
    assert_eq!(comm(pid), "flock");
    Case::stepped(path, pid, Some("holds its lock"), true, holder)
}

/// Case 2, a variant: the `flock` was taken by a process that has exited
/// (`/proc/locks` still names it); its `sleep` child holds it and the file
/// names that child.
fn inherited_flock_holder(scene: &Scene) -> Case {
    let path = scene.run_dir().join("backup.pid");
    let (pid, guard) = hold_flock_orphaned(&path);
    assert_eq!(comm(pid), "sleep");
    assert!(
        proc_locks_for(&path).iter().all(|l| l.pid != pid),
        "/proc/locks should name the exited locker, not its child"
    );
    Case::stepped(path, pid, Some("holds its lock"), true, guard)
}

/// Case 2, a variant: a POSIX record lock, which a `flock` does not
/// conflict with: the lockers ask the kernel about it and find the file locked.
fn posix_lock_holder(scene: &Scene) -> Case {
    let path = scene.run_dir().join("indexer.pid");
    let holder = hold_posix_lock(&path);
    let pid = holder.pid();
    assert_eq!(comm(pid), "sleep");
    Case::stepped(path, pid, Some("holds its lock"), true, holder)
}

/// Case 3: `sleep` holding the file open on descriptor 3, without a lock.
fn open_holder(scene: &Scene) -> Case {
    let path = scene.run_dir().join("reporter.pid");
    fs::write(&path, "").expect("create the pidfile");
    let holder = Proc::spawn(
        Command::new("sh")
            .args(["-c", r#"exec 3<"$1"; exec sleep 1000"#, "sh"])
            .arg(&path),
    );
    let pid = holder.pid();
    let md = fs::metadata(&path).expect("stat the pidfile");
    let holds_it = || {
        comm(pid) == "sleep"
            && fs::metadata(format!("/proc/{pid}/fd/3"))
                .is_ok_and(|fd| (fd.dev(), fd.ino()) == (md.dev(), md.ino()))
    };
    assert!(
        wait_until(TIMEOUT, holds_it),
        "PID {pid} ({}) never became sleep with {} open on fd 3",
        comm(pid),
        path.display()
    );
    // Same inode: the descriptor stays on the file.
    let case = Case::stepped(path, pid, Some("has it open"), false, holder);
    assert!(holds_it());
    assert!(proc_locks_for(&case.path).is_empty(), "nobody may lock it");
    case
}

/// Case 4: a `sleep` that has nothing to do with `mailer.pid`.
fn unrelated(scene: &Scene) -> Case {
    let sleeper = spawn_sleep();
    let pid = sleeper.pid();
    let path = scene.run_dir().join("mailer.pid");
    let case = Case::stepped(path, pid, None, false, sleeper);
    assert!(proc_locks_for(&case.path).is_empty());
    case
}

/// `audit --json` on an owned case: `alive`, `clock-skew`, and a reason that
/// says the clock was stepped and by which sign the process owns the file.
fn assert_alive_by_sign(doc: &Value, case: &Case, name: &str) {
    let e = entry(doc, &case.path);
    assert_eq!(e["status"], "alive", "{e:#}");
    assert!(warnings(e).contains(&"clock-skew"), "{e:#}");
    let sign = case.sign.expect("an owned case");
    let prefix = format!("PID {} is {name}, started 1", case.pid);
    let tail = format!(
        " after the file was last written, but {sign}: the clock was probably stepped since"
    );
    assert!(
        reason(e).starts_with(&prefix) && reason(e).contains(&tail),
        "{}",
        reason(e)
    );
}

/// `clean --yes --json` kept `case`'s file, untouched.
fn assert_kept(doc: &Value, case: &Case) {
    let row = find(doc, "results", &case.path);
    assert_eq!(row["action"], "kept", "{doc:#}");
    assert!(case.unchanged(), "{} was changed", case.path.display());
}

// ---------------------------------------------------------------------------
// 1-4: a stepped clock on the host
// ---------------------------------------------------------------------------

#[test]
fn a_renamed_daemon_named_after_its_pidfile_is_alive_after_a_clock_step() {
    let scene = Scene::new();
    let case = renamed_daemon(&scene);
    let (doc, _) = scene.audit(&[case.path.as_os_str()]);
    assert_alive_by_sign(&doc, &case, "mydaemon");
    assert!(
        !warnings(entry(&doc, &case.path)).contains(&"name-mismatch"),
        "{doc:#}"
    );
    let (doc, _) = scene.clean(&[scene.run_dir().as_os_str()]);
    assert_kept(&doc, &case);
    assert!(alive(case.pid));
}

#[test]
fn a_process_holding_its_pidfiles_lock_is_alive_after_a_clock_step() {
    let scene = Scene::new();
    let cases = [
        (flock_holder(&scene), "flock"),
        (inherited_flock_holder(&scene), "sleep"),
        (posix_lock_holder(&scene), "sleep"),
    ];
    let (doc, _) = scene.audit(&[scene.run_dir().as_os_str()]);
    for (case, name) in &cases {
        assert_alive_by_sign(&doc, case, name);
        let e = entry(&doc, &case.path);
        assert!(lock_holders(e).contains(&i64::from(case.pid)), "{e:#}");
    }
    let (doc, _) = scene.clean(&[scene.run_dir().as_os_str()]);
    for (case, _) in &cases {
        assert_kept(&doc, case);
    }
}

#[test]
fn a_process_holding_its_pidfile_open_is_alive_after_a_clock_step() {
    let scene = Scene::new();
    let case = open_holder(&scene);
    let (doc, _) = scene.audit(&[case.path.as_os_str()]);
    assert_alive_by_sign(&doc, &case, "sleep");
    // Its name says nothing: only the open descriptor does.
    assert!(
        warnings(entry(&doc, &case.path)).contains(&"name-mismatch"),
        "{doc:#}"
    );
    let (doc, _) = scene.clean(&[scene.run_dir().as_os_str()]);
    assert_kept(&doc, &case);
}

#[test]
fn an_unrelated_process_without_lock_or_open_file_is_reused_and_cleaned() {
    let scene = Scene::new();
    let case = unrelated(&scene);
    let (doc, stderr) = scene.audit(&[case.path.as_os_str()]);
    assert_eq!(doc["pid_namespace"], "initial", "{doc:#}");
    assert!(!stderr.contains(NESTED_WARNING), "{stderr}");
    let e = entry(&doc, &case.path);
    assert_eq!(e["status"], "reused", "{e:#}");
    assert!(warnings(e).is_empty(), "{e:#}");
    let prefix = format!("PID {} is now sleep, which started 1", case.pid);
    assert!(
        reason(e).starts_with(&prefix) && reason(e).ends_with(" after the file was last written"),
        "{}",
        reason(e)
    );
    let (doc, _) = scene.clean(&[scene.run_dir().as_os_str()]);
    assert_eq!(
        find(&doc, "results", &case.path)["action"],
        "removed",
        "{doc:#}"
    );
    assert!(!case.path.exists());
    assert!(
        alive(case.pid),
        "the process that reused the PID was harmed"
    );
}

// ---------------------------------------------------------------------------
// 6: the lockers on cases 1-4
// ---------------------------------------------------------------------------

#[test]
fn lockers_never_take_over_a_pidfile_its_process_owns_after_a_clock_step() {
    let scene = Scene::new();
    let cases = [
        renamed_daemon(&scene),
        flock_holder(&scene),
        inherited_flock_holder(&scene),
        posix_lock_holder(&scene),
        open_holder(&scene),
    ];
    for case in &cases {
        let what = format!(
            "{} (PID {}, {})",
            case.path.display(),
            case.pid,
            comm(case.pid)
        );
        match PidFile::new(&case.path).try_lock() {
            Err(LockError::Busy { owner, locked, .. }) => {
                assert_eq!(owner, Some(case.pid), "{what}");
                assert_eq!(locked, case.locked, "{what}");
            }
            Ok(guard) => panic!(
                "try_lock took over {what} (recovered {:?})",
                guard.recovered()
            ),
            Err(e) => panic!("try_lock on {what}: {e}"),
        }
        assert!(case.unchanged(), "try_lock changed {what}");

        let out = scene.run_true(&case.path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(BUSY), "{what}: {stderr}");
        assert!(
            stderr.contains(&format!("PID {}", case.pid)),
            "{what}: {stderr}"
        );
        assert!(case.unchanged(), "pidscope run changed {what}");
        assert!(alive(case.pid), "{what}: the owner was harmed");
    }
}

#[test]
fn lockers_recover_a_pidfile_whose_pid_an_unrelated_process_has() {
    let scene = Scene::new();
    let case = unrelated(&scene);
    let guard = PidFile::new(&case.path)
        .try_lock()
        .unwrap_or_else(|e| panic!("try_lock did not recover {}: {e}", case.path.display()));
    assert_eq!(guard.recovered(), Some(case.pid));
    assert_eq!(
        fs::read_to_string(&case.path).expect("read the pidfile"),
        format!("{}\n", std::process::id())
    );
    assert!(guard.unlock().expect("unlock").removed());

    let content = write_stepped(&case.path, case.pid);
    assert_eq!(content, case.content);
    let out = scene.run_true(&case.path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!case.path.exists(), "pidscope run left its pidfile");
    assert!(
        alive(case.pid),
        "the process that reused the PID was harmed"
    );
}

// ---------------------------------------------------------------------------
// PID namespaces
// ---------------------------------------------------------------------------

/// `cmd` run by `unshare --pid --fork --mount-proc --kill-child`: in a new
/// PID namespace, with its own `/proc`, ended with its init.
fn in_namespace(cmd: Command) -> Command {
    let mut ns = Command::new("unshare");
    ns.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => ns.env(key, value),
            None => ns.env_remove(key),
        };
    }
    ns
}

/// Skips (fails under CI) when not root: `unshare --pid` needs it.
fn can_unshare() -> bool {
    if is_root() {
        return true;
    }
    skip("unshare --pid needs root");
    false
}

/// Runs [`namespace_helper`] in `role` as the init of a new PID namespace,
/// on `scene`; panics with its output unless it passed.
fn run_namespace_helper(role: &str, scene: &Scene) {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args([
        "--exact",
        "namespace_helper",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE, role)
    .env(SCENE, &scene.root);
    let out = run(&mut in_namespace(cmd));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("test namespace_helper ... ok"),
        "the {role} helper failed in its PID namespace ({}):\n{text}",
        out.status
    );
}

/// Not a test: what this binary does when re-executed in a PID namespace
/// ([`run_namespace_helper`]). Run normally, it does nothing.
#[test]
fn namespace_helper() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let scene = Scene::at(Path::new(&std::env::var_os(SCENE).expect("no scene")));
    assert_eq!(std::process::id(), 1, "not the init of a new PID namespace");
    match role.as_str() {
        "audit-reuse" => audit_a_reused_pid(&scene),
        "lock-reuse" => lock_a_reused_pid(&scene),
        other => panic!("unknown role {other}"),
    }
}

/// In this (new) PID namespace: a worker writes its PID to `worker.pid` and
/// is killed and reaped; then `ns_last_pid` is set to that PID minus one and
/// `sleep` is forked until it gets the very PID (other forks may take it
/// first). The file's mtime goes 15 hours back, as it would be had the
/// worker written it long ago. Returns the file, the PID and the `sleep`.
fn reuse_a_pid(scene: &Scene) -> (PathBuf, i32, Proc) {
    let path = scene.run_dir().join("worker.pid");
    let worker = Proc::spawn(
        Command::new("sh")
            .args(["-c", r#"echo $$ > "$1"; exec sleep 1000"#, "sh"])
            .arg(&path),
    );
    let pid = worker.pid();
    let written = format!("{pid}\n");
    assert!(
        wait_until(TIMEOUT, || fs::read_to_string(&path).ok().as_deref()
            == Some(written.as_str())),
        "the worker never wrote its PID {pid}"
    );
    drop(worker); // SIGKILL, then reaped
    assert!(!alive(pid), "PID {pid} still exists");
    let mut taken_by_others = 0;
    let reuser = loop {
        fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", pid - 1))
            .expect("write /proc/sys/kernel/ns_last_pid");
        let sleeper = spawn_sleep();
        if sleeper.pid() == pid {
            break sleeper;
        }
        taken_by_others += 1;
        assert!(
            taken_by_others < 100,
            "PID {pid} never came back (last fork got {})",
            sleeper.pid()
        );
    };
    assert_eq!(comm(pid), "sleep");
    assert_eq!(write_stepped(&path, pid), written);
    (path, pid, reuser)
}

/// Case 5, inside the namespace: `reused`. The PID in the file is this
/// namespace's own (it was written here), which is what `--same-namespace`
/// states: with it the verdict is the host's verdict on a reuse, with no
/// `unverifiable`. Without it only the warning is added.
fn audit_a_reused_pid(scene: &Scene) {
    let (path, pid, _reuser) = reuse_a_pid(scene);
    let (doc, stderr) = scene.audit(&[OsStr::new("--same-namespace"), path.as_os_str()]);
    assert_eq!(doc["pid_namespace"], "nested", "{doc:#}");
    assert!(!stderr.contains(NESTED_WARNING), "{stderr}");
    let e = entry(&doc, &path);
    assert_eq!(e["status"], "reused", "{e:#}");
    assert!(warnings(e).is_empty(), "{e:#}");
    let prefix = format!("PID {pid} is now sleep, which started 1");
    assert!(
        reason(e).starts_with(&prefix) && reason(e).ends_with(" after the file was last written"),
        "{}",
        reason(e)
    );

    let (doc, stderr) = scene.audit(&[path.as_os_str()]);
    assert!(stderr.contains(NESTED_WARNING), "{stderr}");
    let e = entry(&doc, &path);
    assert_eq!(e["status"], "reused", "{e:#}");
    assert_eq!(warnings(e), ["unverifiable"], "{e:#}");
    assert!(reason(e).starts_with(&prefix), "{}", reason(e));
}

/// Case 5 for the lockers, inside the namespace: both recover the file.
fn lock_a_reused_pid(scene: &Scene) {
    let (path, pid, _reuser) = reuse_a_pid(scene);
    let guard = PidFile::new(&path)
        .try_lock()
        .unwrap_or_else(|e| panic!("try_lock did not recover {}: {e}", path.display()));
    assert_eq!(guard.recovered(), Some(pid));
    assert_eq!(fs::read_to_string(&path).expect("read"), "1\n");
    assert!(guard.unlock().expect("unlock").removed());

    write_stepped(&path, pid);
    let out = scene.run_true(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!path.exists(), "pidscope run left its pidfile");
    assert!(
        stderr.contains(&format!("took it over from PID {pid}")),
        "{stderr}"
    );
    assert!(
        alive(pid) && comm(pid) == "sleep",
        "the reusing process was harmed"
    );
}

#[test]
fn a_real_pid_reuse_in_a_pid_namespace_is_reused() {
    if !can_unshare() {
        return;
    }
    run_namespace_helper("audit-reuse", &Scene::new());
}

#[test]
fn lockers_recover_a_real_pid_reuse_in_a_pid_namespace() {
    if !can_unshare() {
        return;
    }
    run_namespace_helper("lock-reuse", &Scene::new());
}

/// A live host process named by `host.pid` (written after it started) and a
/// dead PID in `dead.pid`.
struct HostFiles {
    scene: Scene,
    host: Proc,
    live: PathBuf,
    dead: PathBuf,
    dead_pid: i32,
}

impl HostFiles {
    fn new() -> HostFiles {
        let scene = Scene::new();
        let host = spawn_sleep();
        let live = write_pidfile(&scene.run_dir(), "host.pid", &format!("{}\n", host.pid()));
        let dead_pid = dead_pid();
        let dead = write_pidfile(&scene.run_dir(), "dead.pid", &format!("{dead_pid}\n"));
        HostFiles {
            scene,
            host,
            live,
            dead,
            dead_pid,
        }
    }

    fn unchanged(&self) -> bool {
        fs::read_to_string(&self.live).ok() == Some(format!("{}\n", self.host.pid()))
            && fs::read_to_string(&self.dead).ok() == Some(format!("{}\n", self.dead_pid))
    }
}

#[test]
fn from_a_nested_pid_namespace_stale_verdicts_are_unverifiable_and_kept() {
    if !can_unshare() {
        return;
    }
    let mut fx = HostFiles::new();
    let scene = &fx.scene;
    let run_dir = scene.run_dir();

    // audit: nested, and neither PID can be vouched for.
    let dir = run_dir.as_os_str();
    let (doc, stderr) = scene.json(true, &args(&["audit", "--json"], dir));
    assert_eq!(doc["pid_namespace"], "nested", "{doc:#}");
    assert!(stderr.contains(NESTED_WARNING), "{stderr}");
    for path in [&fx.live, &fx.dead] {
        let e = entry(&doc, path);
        assert_eq!(e["status"], "stale", "{e:#}");
        assert_eq!(warnings(e), ["unverifiable"], "{e:#}");
    }

    // clean --yes: nothing removed.
    let (doc, stderr) = scene.json(true, &args(&["clean", "--yes", "--json"], dir));
    assert!(stderr.contains(NESTED_WARNING), "{stderr}");
    for path in [&fx.live, &fx.dead] {
        let row = find(&doc, "results", path);
        assert_eq!(row["action"], "kept", "{doc:#}");
        assert!(
            row["reason"]
                .as_str()
                .is_some_and(|r| r.contains("unverifiable from a nested PID namespace")),
            "{row:#}"
        );
    }
    assert!(fx.unchanged(), "clean touched a pidfile");

    // run: takes over the unlocked dead-PID file, and says what it could not check.
    let mut cmd = scene.pidscope();
    cmd.arg("run")
        .arg("--pidfile")
        .arg(&fx.dead)
        .args(["--", "true"]);
    let out = run(&mut in_namespace(cmd));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "took it over from PID {}, judged not its owner from inside a nested PID namespace",
            fx.dead_pid
        )),
        "{stderr}"
    );
    assert!(!fx.dead.exists(), "pidscope run left its pidfile");
    write_pidfile(&run_dir, "dead.pid", &format!("{}\n", fx.dead_pid));

    // --same-namespace: the operator vouches for the PIDs, and the dead one goes.
    let (doc, stderr) = scene.json(
        true,
        &args(
            &["clean", "--yes", "--json", "--same-namespace"],
            fx.dead.as_os_str(),
        ),
    );
    assert!(!stderr.contains(NESTED_WARNING), "{stderr}");
    assert_eq!(
        find(&doc, "results", &fx.dead)["action"],
        "removed",
        "{doc:#}"
    );
    assert!(!fx.dead.exists());
    assert!(fx.live.exists());
    write_pidfile(&run_dir, "dead.pid", &format!("{}\n", fx.dead_pid));

    // The same statement from the configuration file (`same_namespace = true`).
    let config = scene.root.join("same-namespace.toml");
    let log = action_log();
    let text = format!(
        "action_log = {:?}\nsame_namespace = true\n",
        log.to_str().expect("UTF-8")
    );
    fs::write(&config, text).expect("write the config");
    let mut cmd = bin();
    cmd.env("XDG_STATE_HOME", scene.root.join("state"))
        .arg("--config")
        .arg(&config)
        .args(["clean", "--yes", "--json"])
        .arg(&fx.dead);
    let (doc, stderr) = json_of(run(&mut in_namespace(cmd)));
    assert!(!stderr.contains(NESTED_WARNING), "{stderr}");
    assert_eq!(
        find(&doc, "results", &fx.dead)["action"],
        "removed",
        "{doc:#}"
    );
    assert!(!fx.dead.exists() && fx.live.exists());
    write_pidfile(&run_dir, "dead.pid", &format!("{}\n", fx.dead_pid));

    // On the host: the initial namespace, and every verdict verifiable.
    let (doc, stderr) = scene.audit(&[run_dir.as_os_str()]);
    assert_eq!(doc["pid_namespace"], "initial", "{doc:#}");
    assert!(!stderr.contains(NESTED_WARNING), "{stderr}");
    assert_eq!(entry(&doc, &fx.live)["status"], "alive", "{doc:#}");
    assert_eq!(entry(&doc, &fx.dead)["status"], "stale", "{doc:#}");
    for e in doc["entries"].as_array().expect("entries") {
        assert!(!warnings(e).contains(&"unverifiable"), "{e:#}");
    }
    assert!(fx.host.try_wait().is_none(), "the host process died");
}

// ---------------------------------------------------------------------------
// The inspector in a nested PID namespace, in a real terminal (tmux)
// ---------------------------------------------------------------------------

const ROWS: usize = 30;

/// `cmd` as one `sh` command line, its environment changes through `env`.
fn sh_words(cmd: &Command) -> String {
    let mut words = vec!["env".to_string()];
    for (key, value) in cmd.get_envs() {
        match value {
            None => words.push(format!("-u {}", sh_quote(key))),
            Some(value) => {
                let mut pair = key.to_os_string();
                pair.push("=");
                pair.push(value);
                words.push(sh_quote(&pair));
            }
        }
    }
    words.push(sh_quote(cmd.get_program()));
    words.extend(cmd.get_args().map(sh_quote));
    words.join(" ")
}

/// `cmd` running in a 120x30 tmux pane of its own.
fn start_in_pane(label: &str, cmd: &Command) -> Pane {
    let script = format!("{}; echo EXIT=$?; exec sleep 1000", sh_words(cmd));
    Pane::start(label, (120, ROWS as u16), tempdir(), &script)
}

/// The footer's message line (the last line holds the key hints).
fn footer(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    if lines.len() == ROWS {
        lines[ROWS - 2].trim().to_string()
    } else {
        String::new()
    }
}

/// The path in the detail pane: the selected row's.
fn selected_path(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find_map(|l| l.strip_prefix("Path     "))
        .map(str::trim_end)
}

#[test]
fn the_inspector_in_a_nested_pid_namespace_refuses_to_delete() {
    if !can_unshare() {
        return;
    }
    let fx = HostFiles::new();
    let dead = fx.dead.to_str().expect("UTF-8").to_string();
    let mut cmd = fx.scene.pidscope();
    cmd.args(["--interval", "500ms"]).arg(fx.scene.run_dir());
    let tui = start_in_pane("nested", &in_namespace(cmd));

    let screen = tui.wait_for("both rows and the namespace warning", |s| {
        s.contains("host.pid") && s.contains("dead.pid") && s.contains("stale 2")
    });
    let counts = screen.lines().nth(1).unwrap_or_default();
    assert!(
        counts.contains("nested PID namespace: unverifiable"),
        "header:\n{screen}"
    );
    if selected_path(&screen) != Some(dead.as_str()) {
        tui.key("Down");
        tui.wait_for("dead.pid selected", |s| {
            selected_path(s) == Some(dead.as_str())
        });
    }

    tui.key("d");
    tui.wait_for("the delete dialog", |s| s.contains("Delete pidfiles"));
    tui.key("y");
    let screen = tui.wait_for("the action's result", |s| {
        s.contains("Really delete pidfiles in use?") || footer(s).contains(&dead)
    });
    let screen = if screen.contains("Really delete pidfiles in use?") {
        tui.key("y");
        tui.wait_for("the action's result", |s| footer(s).contains(&dead))
    } else {
        screen
    };
    assert!(
        footer(&screen).contains(&format!(
            "{dead}: refused: stale: unverifiable from a nested PID namespace"
        )),
        "footer: {:?}\n{screen}",
        footer(&screen)
    );
    assert!(fx.dead.exists(), "the inspector deleted {dead}");
    assert!(fx.unchanged(), "a pidfile changed");
}
