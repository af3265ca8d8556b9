//! Signalling tagged rows from the inspector: every tagged owner really
//! receives the signal picked in the menu (not TERM), an untagged one
//! receives nothing, and the action log records each signal.
//!
//! The owners are shells that trap the signal and append its name to a
//! marker file of their own, so delivery is seen, not assumed. The inspector
//! runs in a real terminal (a tmux pane, see `tests/common/inspector.rs`).

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::inspector::{Inspector, table_row};
use common::*;
use nix::sys::signal::Signal;

/// A shell that appends `USR1` or `HUP` to `marker` each time it gets that
/// signal (so a wrong signal shows too), and a pidfile naming it, written
/// after it started (so `alive`).
struct Owner {
    proc: Proc,
    marker: PathBuf,
    pidfile: PathBuf,
}

impl Owner {
    fn spawn(dir: &Path, name: &str) -> Owner {
        let marker = dir.join(format!("{name}.marker"));
        let proc = Proc::spawn(Command::new("sh").arg("-c").arg(format!(
            "trap 'echo USR1 >> {m}' USR1; trap 'echo HUP >> {m}' HUP; \
             while :; do sleep 1 & wait $!; done",
            m = marker.display()
        )));
        wait_for_handler(proc.pid(), Signal::SIGUSR1);
        wait_for_handler(proc.pid(), Signal::SIGHUP);
        // (The markers sit beside the pidfiles: `*.marker` is no pidfile name.)
        let pidfile = write_pidfile(dir, &format!("{name}.pid"), &format!("{}\n", proc.pid()));
        // Whatever the umask: a pidfile others can write needs a second confirmation.
        fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).expect("chmod");
        Owner {
            proc,
            marker,
            pidfile,
        }
    }

    /// The signals the shell has recorded, in order.
    fn received(&self) -> Vec<String> {
        fs::read_to_string(&self.marker)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

#[test]
fn tagged_rows_all_receive_the_picked_signal_and_each_is_logged() {
    let dir = tempdir();
    let mut owners: Vec<Owner> = ["a", "b", "c", "d"]
        .iter()
        .map(|name| Owner::spawn(dir.path(), name))
        .collect();
    let tui = Inspector::start(
        "batch-signal",
        &[
            OsStr::new("--interval"),
            OsStr::new("500ms"),
            dir.path().as_os_str(),
        ],
        &[],
    );
    let screen = tui.wait_for("the four rows", |s| {
        ["a.pid", "b.pid", "c.pid", "d.pid"]
            .iter()
            .all(|name| table_row(s, name).is_some())
    });
    let lines: Vec<usize> = ["a.pid", "b.pid", "c.pid", "d.pid"]
        .iter()
        .map(|name| table_row(&screen, name).expect("row").0)
        .collect();
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "rows should be in path order:\n{screen}"
    );

    // Space tags the selected row and moves down: tag a, b and c, not d.
    for n in 1..=3 {
        tui.key("Space");
        tui.wait_text(&format!("tagged {n}"));
    }
    let screen = tui.screen();
    for (name, tagged) in [
        ("a.pid", true),
        ("b.pid", true),
        ("c.pid", true),
        ("d.pid", false),
    ] {
        assert_eq!(
            table_row(&screen, name).map(|r| r.2),
            Some(tagged),
            "{name} tagged: {tagged}\n{screen}"
        );
    }

    // k opens the picker on TERM; four Downs reach USR1.
    tui.key("k");
    tui.wait_for("TERM highlighted", |s| s.contains("> TERM (15)"));
    for _ in 0..4 {
        tui.key("Down");
    }
    tui.wait_for("USR1 highlighted", |s| s.contains("> USR1 (10)"));
    tui.key("Enter");
    let confirm = tui.wait_text("Send USR1 (10) to:");
    for owner in &owners[..3] {
        assert!(
            confirm.contains(&format!("PID {}", owner.proc.pid())),
            "the dialog should list PID {}:\n{confirm}",
            owner.proc.pid()
        );
        assert!(
            owner.received().is_empty(),
            "signalled before the confirmation"
        );
    }
    tui.key("y");
    let screen = tui.wait_footer("3 done, 0 refused or failed");

    // Each tagged shell got USR1 exactly once and still runs (it traps it);
    // the untagged one got nothing. The footer comes after all three sends.
    for owner in &owners[..3] {
        assert!(
            wait_until(TIMEOUT, || !owner.received().is_empty()),
            "PID {} never recorded the signal; screen:\n{screen}",
            owner.proc.pid()
        );
        assert_eq!(owner.received(), ["USR1"], "PID {}", owner.proc.pid());
    }
    for owner in &mut owners {
        assert_eq!(
            owner.proc.try_wait(),
            None,
            "PID {} ended",
            owner.proc.pid()
        );
    }
    assert!(
        owners[3].received().is_empty(),
        "the untagged owner was signalled"
    );

    // One `ok` record per signal sent, naming the signal, the pidfile and the PID.
    let log = tui.action_log();
    assert_eq!(log.len(), 3, "action log: {log:#?}");
    for owner in &owners[..3] {
        let path = owner.pidfile.to_str().expect("UTF-8");
        assert!(
            log.iter().any(|r| r["action"] == "signal"
                && r["signal"] == "SIGUSR1"
                && r["result"] == "ok"
                && r["path"] == path
                && r["pid"] == owner.proc.pid()),
            "no ok SIGUSR1 record for {path}: {log:#?}"
        );
    }
}
