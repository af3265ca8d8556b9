//! Real PID reuse, and the checks that stand between an operator's decision
//! and a process that took the PID since.
//!
//! The PIDs are really reused: in a PID namespace of the test's own
//! ([`PidNs`], root only), a process is SIGKILLed and reaped, and a new one is
//! given exactly its PID through `/proc/sys/kernel/ns_last_pid`. pidscope
//! runs inside that namespace with `--same-namespace` (the pidfiles and
//! their processes belong to it). The processes are [`Witness`]es, which
//! record every signal they catch: "it received nothing" is checked.
//!
//! Covered: the `reused` verdict and `clean` on a really reused PID; the
//! inspector's signal path when the PID changes hands between the
//! confirmation dialog and the keypress; `pidscope run` recovering a lock
//! file whose PID a later process holds (and not when that process has the
//! file open). And one test per re-check of a signal, each failing when that
//! check alone is removed: the executor's re-verification (a pidfile
//! rewritten while the dialog is open, its old process still alive) and the
//! pidfd start-time check (a reuse landed after the re-verification, in the
//! debug build's `PIDSCOPE_TEST_PAUSE_BEFORE_PIDFD_MS` window).
//!
//! Needs root for the namespace (skipped otherwise, except under `CI=true`),
//! and `tmux`, `python3`, util-linux `unshare` and `nsenter`.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use common::pidns::{PidNs, Witness, shell_words};
use common::tmux::{Pane, SCREEN_TIMEOUT, sh_quote};
use common::*;
use pidscope::policy::owner::REUSE_TOLERANCE;
use serde_json::Value;
use tempfile::TempDir;

/// `pidscope run`'s status when another instance owns the pidfile.
const BUSY: i32 = 75;

/// How long the debug build pauses before opening the pidfd: time enough,
/// on a loaded machine, to kill a process and give its PID to another.
const PIDFD_PAUSE_MS: u64 = 4000;

// ---------------------------------------------------------------------------
// The scene
// ---------------------------------------------------------------------------

/// A temp dir: pidfiles in `run/` (a generic name: only a file's own name can
/// relate to a process's), witnesses' records beside it.
struct Scene {
    dir: TempDir,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempdir();
        fs::create_dir(dir.path().join("run")).expect("mkdir run");
        Scene { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `run/NAME` naming `pid`, mode 0644 (not `untrusted-file`), written now.
    fn pidfile(&self, name: &str, pid: i32) -> PathBuf {
        let path = write_pidfile(&self.run_dir(), name, &format!("{pid}\n"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        path
    }
}

/// `pidscope ARGS...` inside `ns`.
fn pidscope_in(ns: &PidNs, args: &[&OsStr]) -> Output {
    let mut cmd = bin();
    cmd.args(args);
    run(&mut ns.command(&cmd))
}

/// The JSON document `out` printed.
fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `pidscope audit --json --same-namespace PATH` inside `ns`: the document.
fn audit_in(ns: &PidNs, path: &Path) -> Value {
    let args = ["audit", "--json", "--same-namespace"].map(OsStr::new);
    json(&pidscope_in(ns, &[&args[..], &[path.as_os_str()]].concat()))
}

/// Waits until a process started now starts more than [`REUSE_TOLERANCE`]
/// after `path` was last written: the clock must move on for a later
/// process to be told from the writer by its start time alone.
fn wait_past_tolerance(path: &Path) {
    let written = fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let after = written + REUSE_TOLERANCE + Duration::from_millis(500);
    assert!(
        wait_until(REUSE_TOLERANCE + TIMEOUT, || SystemTime::now() > after),
        "the clock did not pass {after:?}"
    );
}

/// Kills `old` and starts a witness at its PID in `ns`: a real PID reuse.
fn reuse<'a>(ns: &'a PidNs, scene: &Scene, old: Witness<'_>, open: &[&Path]) -> Witness<'a> {
    let pid = old.pid;
    ns.kill(pid);
    let new = ns.witness(scene.root(), Some(pid), open);
    assert_eq!(new.pid, pid);
    new
}

// ---------------------------------------------------------------------------
// Verdict and clean
// ---------------------------------------------------------------------------

#[test]
fn audit_calls_a_pid_really_reused_by_a_later_process_reused() {
    let Some(ns) = PidNs::start() else { return };
    let scene = Scene::new();
    let writer = ns.witness(scene.root(), None, &[]);
    let pid = writer.pid;
    let path = scene.pidfile("svc.pid", pid);
    let doc = audit_in(&ns, &path);
    assert_eq!(doc["pid_namespace"], "nested", "{doc:#}");
    let e = &doc["entries"][0];
    assert_eq!(e["status"], "alive", "the writer itself: {e:#}");

    wait_past_tolerance(&path);
    let _later = reuse(&ns, &scene, writer, &[]);
    let doc = audit_in(&ns, &path);
    let e = &doc["entries"][0];
    assert_eq!(e["status"], "reused", "{e:#}");
    assert_eq!(e["pid"], pid, "{e:#}");
    assert_eq!(e["warnings"], serde_json::json!([]), "{e:#}");
    let reason = e["reason"].as_str().expect("reason");
    let prefix = format!("PID {pid} is now python3, which started ");
    assert!(
        reason.starts_with(&prefix) && reason.ends_with(" after the file was last written"),
        "{reason}"
    );
}

#[test]
fn clean_removes_a_pidfile_whose_pid_was_really_reused() {
    let Some(ns) = PidNs::start() else { return };
    let scene = Scene::new();
    let writer = ns.witness(scene.root(), None, &[]);
    let path = scene.pidfile("svc.pid", writer.pid);
    let run_dir = scene.run_dir();
    let clean = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = ["clean", "--yes", "--json"].map(OsStr::new).to_vec();
        args.extend(extra.iter().map(OsStr::new));
        args.push(run_dir.as_os_str());
        json(&pidscope_in(&ns, &args))
    };
    let doc = clean(&["--same-namespace"]);
    assert_eq!(doc["results"][0]["action"], "kept", "{doc:#}");

    wait_past_tolerance(&path);
    let later = reuse(&ns, &scene, writer, &[]);
    // Without the statement, a nested namespace proves nothing: kept.
    let doc = clean(&[]);
    assert_eq!(doc["results"][0]["status"], "reused", "{doc:#}");
    assert_eq!(doc["results"][0]["action"], "kept", "{doc:#}");
    assert!(path.exists());

    let doc = clean(&["--same-namespace"]);
    let row = &doc["results"][0];
    assert_eq!(
        (&row["status"], &row["action"]),
        (&Value::from("reused"), &Value::from("removed")),
        "{doc:#}"
    );
    assert!(!path.exists(), "clean left the reused pidfile");
    assert_eq!(
        later.barrier(),
        Vec::<String>::new(),
        "the process that reused the PID was signalled"
    );
}

// ---------------------------------------------------------------------------
// pidscope run
// ---------------------------------------------------------------------------

/// `pidscope run --pidfile PATH -- true` inside `ns`.
fn run_true(ns: &PidNs, path: &Path) -> Output {
    let args = [
        OsStr::new("run"),
        OsStr::new("--pidfile"),
        path.as_os_str(),
        OsStr::new("--"),
        OsStr::new("true"),
    ];
    pidscope_in(ns, &args)
}

/// The lock's rule for a PID that names a live process (README, "Busy" and
/// "Stale"): the process owns the unlocked file unless it started more than
/// [`REUSE_TOLERANCE`] after the file's last write and shows no sign of
/// owning it (a lock on it, the file open, a name related to it). So the
/// writer keeps it; a later process that has the file open keeps it too;
/// a later process with no sign loses it, and is not harmed.
#[test]
fn run_recovers_a_lock_file_whose_pid_a_later_process_reused() {
    let Some(ns) = PidNs::start() else { return };
    let scene = Scene::new();
    let writer = ns.witness(scene.root(), None, &[]);
    let pid = writer.pid;
    let path = scene.pidfile("job.pid", pid);
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let out = run_true(&ns, &path);
    assert_eq!(out.status.code(), Some(BUSY), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("PID {pid}")),
        "{}",
        stderr(&out)
    );

    wait_past_tolerance(&path);
    let holder = reuse(&ns, &scene, writer, &[&path]);
    let out = run_true(&ns, &path);
    assert_eq!(
        out.status.code(),
        Some(BUSY),
        "a later process that has the file open owns it: {}",
        stderr(&out)
    );
    assert_eq!(fs::read_to_string(&path).expect("read"), format!("{pid}\n"));

    let later = reuse(&ns, &scene, holder, &[]);
    let out = run_true(&ns, &path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("took it over from PID {pid}")),
        "{}",
        stderr(&out)
    );
    assert!(!path.exists(), "pidscope run left its pidfile");
    assert_eq!(
        later.barrier(),
        Vec::<String>::new(),
        "the process that reused the PID was signalled"
    );
}

// ---------------------------------------------------------------------------
// The inspector's signal path
// ---------------------------------------------------------------------------

/// pidscope's inspector in a wide tmux pane of its own (inside `ns` when
/// given), on `dir`, with its config, action log and stderr in the pane's
/// scratch directory.
struct Inspector {
    pane: Pane,
}

impl Inspector {
    fn start(ns: Option<&PidNs>, dir: &Path, env: &[(&str, &str)]) -> Inspector {
        let scratch = tempfile::Builder::new()
            .prefix("pidscope-reuse-")
            .tempdir()
            .expect("scratch dir");
        let config = scratch.path().join("config.toml");
        let log = scratch.path().join("actions.log");
        fs::write(
            &config,
            format!("action_log = {:?}\n", log.to_str().expect("UTF-8")),
        )
        .expect("write the config");
        let mut cmd = bin();
        cmd.env("PIDSCOPE_CONFIG", &config);
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.args(["--interval", "500ms"]);
        if ns.is_some() {
            cmd.arg("--same-namespace");
        }
        cmd.arg(dir);
        let words = match ns {
            Some(ns) => ns.shell_words(&cmd),
            None => shell_words(&cmd),
        };
        let stderr = sh_quote(scratch.path().join("stderr").as_os_str());
        let script = format!("{words} 2> {stderr}; echo EXIT=$?; exec sleep 1000");
        Inspector {
            pane: Pane::start("reuse", (200, 30), scratch, &script),
        }
    }

    /// Opens the signal dialog on `path`'s row, which must be `alive` and
    /// name `pid`, and waits for the confirmation (TERM, the first choice).
    fn confirm_term_on(&self, path: &Path, pid: i32) {
        let path = path.to_str().expect("UTF-8");
        let row = self
            .pane
            .wait_for(&format!("an alive row for {path}"), |s| {
                s.lines().any(|l| {
                    let cells: Vec<&str> = l.split_whitespace().collect();
                    cells.len() >= 3 && cells[0] == "alive" && cells[2] == path
                })
            });
        assert!(row.contains(&format!("{pid}")), "{row}");
        self.pane.key("k");
        self.pane
            .wait_for("the signal picker", |s| s.contains("Send a signal"));
        self.pane.key("Enter");
        let confirm = self
            .pane
            .wait_for("the confirmation", |s| s.contains("Confirm signal"));
        assert!(confirm.contains("Send TERM (15) to:"), "{confirm}");
        assert!(confirm.contains(&format!("python3 PID {pid}")), "{confirm}");
    }

    /// The audit trail's record of the action on `path`, once there is one.
    fn record(&self, path: &Path) -> Value {
        let log = self.pane.scratch().join("actions.log");
        let path = path.to_str().expect("UTF-8");
        let mut found = None;
        let recorded = wait_until(
            SCREEN_TIMEOUT + Duration::from_millis(PIDFD_PAUSE_MS),
            || {
                found = fs::read_to_string(&log)
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| {
                        let record: Value = serde_json::from_str(l).ok()?;
                        (record["path"] == path).then_some(record)
                    });
                found.is_some()
            },
        );
        assert!(
            recorded,
            "no action recorded on {path}; screen:\n{}",
            self.pane.screen()
        );
        found.expect("record")
    }

    /// Waits for pidscope's stderr to say it is pausing at `variable`.
    fn wait_pause(&self, variable: &str) {
        let stderr = self.pane.scratch().join("stderr");
        let line = format!("pidscope: pausing at {variable}");
        assert!(
            wait_until(SCREEN_TIMEOUT, || fs::read_to_string(&stderr)
                .unwrap_or_default()
                .contains(&line)),
            "pidscope never paused at {variable}; screen:\n{}",
            self.pane.screen()
        );
    }

    /// Waits for the footer to report that `path` changed since the scan, and returns it.
    fn wait_changed(&self, path: &Path) -> String {
        let text = format!("{}: changed since scan (", path.display());
        self.pane
            .wait_for("the footer to say the file changed", |s| s.contains(&text))
    }
}

/// The operator opens the signal dialog on an alive row; before the
/// keypress the process dies and another one gets its PID. Confirming sends
/// nothing to the newcomer, and the inspector reports the change.
#[test]
fn the_inspector_never_signals_a_process_that_took_the_pid_while_its_dialog_was_open() {
    let Some(ns) = PidNs::start() else { return };
    let scene = Scene::new();
    let seen = ns.witness(scene.root(), None, &[]);
    let pid = seen.pid;
    let path = scene.pidfile("svc.pid", pid);
    let tui = Inspector::start(Some(&ns), &scene.run_dir(), &[]);
    tui.confirm_term_on(&path, pid);

    let newcomer = reuse(&ns, &scene, seen, &[]);
    tui.pane.key("y");
    let record = tui.record(&path);
    assert_eq!(
        newcomer.barrier(),
        Vec::<String>::new(),
        "the newcomer was signalled"
    );
    assert_eq!(record["result"], "changed", "{record:#}");
    tui.wait_changed(&path);
}

// ---------------------------------------------------------------------------
// One test per re-check
// ---------------------------------------------------------------------------

/// Only the executor's re-verification sees this: the daemon rewrote its
/// pidfile with a new PID while the dialog was open, and the process the
/// operator saw is still alive (the same process, start time and all, so the
/// pidfd check would let the signal through). Nothing is signalled.
#[test]
fn reverify_refuses_a_signal_once_the_pidfile_names_another_process() {
    let scene = Scene::new();
    let seen = Witness::on_host(scene.root());
    let path = scene.pidfile("svc.pid", seen.pid);
    let tui = Inspector::start(None, &scene.run_dir(), &[]);
    tui.confirm_term_on(&path, seen.pid);

    let successor = Witness::on_host(scene.root());
    fs::write(&path, format!("{}\n", successor.pid)).expect("rewrite the pidfile");
    tui.pane.key("y");
    let record = tui.record(&path);
    assert_eq!(
        seen.barrier(),
        Vec::<String>::new(),
        "the old process was signalled"
    );
    assert_eq!(
        successor.barrier(),
        Vec::<String>::new(),
        "the new one was signalled"
    );
    assert_eq!(record["result"], "changed", "{record:#}");
    assert!(
        record["detail"]
            .as_str()
            .is_some_and(|d| d.contains("(the file was rewritten)")),
        "{record:#}"
    );
    tui.wait_changed(&path);
}

/// Only the pidfd start-time check sees this: the PID changes hands after
/// the re-verification (in the debug build's pause before the pidfd is
/// opened), so the re-verification saw the operator's process and the pidfd
/// opens the newcomer. Nothing is signalled.
#[test]
fn the_pidfd_start_time_check_stops_a_reuse_landed_after_reverify() {
    let Some(ns) = PidNs::start() else { return };
    let scene = Scene::new();
    let seen = ns.witness(scene.root(), None, &[]);
    let pid = seen.pid;
    let path = scene.pidfile("svc.pid", pid);
    let pause = "PIDSCOPE_TEST_PAUSE_BEFORE_PIDFD_MS";
    let tui = Inspector::start(
        Some(&ns),
        &scene.run_dir(),
        &[(pause, &PIDFD_PAUSE_MS.to_string())],
    );
    tui.confirm_term_on(&path, pid);

    tui.pane.key("y");
    tui.wait_pause(pause);
    let newcomer = reuse(&ns, &scene, seen, &[]);
    let record = tui.record(&path);
    assert_eq!(
        newcomer.barrier(),
        Vec::<String>::new(),
        "the newcomer was signalled"
    );
    assert_eq!(record["result"], "changed", "{record:#}");
    let detail = record["detail"].as_str().expect("detail");
    assert!(
        detail.contains("(the PID now belongs to another process)"),
        "the reuse did not land inside the {PIDFD_PAUSE_MS} ms pause (raise it?): {detail}"
    );
    tui.wait_changed(&path);
}

// ---------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------

/// A PID still in use cannot be had: the harness says so rather than hand
/// back another PID.
#[test]
fn the_harness_never_hands_back_another_pid_than_asked_for() {
    let Some(ns) = PidNs::start() else { return };
    let scene = Scene::new();
    let busy = ns.witness(scene.root(), None, &[]);
    let sleep = [OsStr::new("sleep"), OsStr::new("1000")];
    let err = ns
        .try_spawn_at(busy.pid, &sleep)
        .expect_err("a PID in use was handed out again");
    assert!(err.contains(&format!("took PID {}", busy.pid)), "{err}");
}

/// Other processes of the namespace forking all the time take the PID
/// first now and then: the harness retries until the PID is the one asked
/// for, every time.
#[test]
fn the_harness_reuses_a_pid_while_other_processes_fork() {
    let Some(ns) = PidNs::start() else { return };
    let scene = Scene::new();
    let forker = ["sh", "-c", "while :; do /bin/true; done"].map(OsStr::new);
    for _ in 0..2 {
        ns.spawn(&forker);
    }
    let sleep = [OsStr::new("sleep"), OsStr::new("1000")];
    let pid = ns.spawn(&sleep);
    for _ in 0..20 {
        ns.kill(pid);
        assert_eq!(ns.spawn_at(pid, &sleep), pid);
    }
    let witness = reuse(&ns, &scene, ns.witness(scene.root(), None, &[]), &[]);
    assert_eq!(witness.barrier(), Vec::<String>::new());
    eprintln!(
        "21 reuses of a PID took {} extra forks (other forks took it first)",
        ns.retries()
    );
}
