//! The inspector sees changes as they happen: a killed owner, a new, a
//! rewritten and a removed pidfile show within a second, with the rescan set
//! to 60 s so that only inotify and pidfd events can explain it. The
//! selection follows its file, an open dialog's rows stay as they were, and
//! the header says `live`, or `polling:` and why.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::time::{Duration, Instant};

use common::inspector::{Inspector, table_row};
use common::watch::ONE_INOTIFY_WATCH;
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const SOON: Duration = Duration::from_secs(1);

/// The detail pane's `Path` line: the selected row's file.
fn selected_path(screen: &str) -> Option<String> {
    screen
        .lines()
        .find_map(|l| l.strip_prefix("Path "))
        .map(|p| p.trim().to_string())
}

/// Waits for `name`'s row to read `status`; returns how long it took.
fn row_becomes(tui: &Inspector, name: &str, status: &str) -> Duration {
    let start = Instant::now();
    tui.wait_for(&format!("{name} {status}"), |s| {
        table_row(s, name).is_some_and(|(_, st, _)| st == status)
    });
    start.elapsed()
}

#[test]
fn changes_show_within_a_second_and_the_selection_stays() {
    let dir = tempdir();
    let mut owner = spawn_sleep();
    write_pidfile(dir.path(), "m-owner.pid", &format!("{}\n", owner.pid()));
    let tui = Inspector::start(
        "live",
        &[
            OsStr::new("--interval"),
            OsStr::new("60s"),
            dir.path().as_os_str(),
        ],
        &[],
    );
    // The header says how the rows are kept current.
    let screen = tui.wait_for("the header saying live", |s| {
        s.lines().next().is_some_and(|l| l.contains("  live")) && s.contains("m-owner.pid")
    });
    assert_eq!(
        selected_path(&screen).as_deref(),
        dir.path().join("m-owner.pid").to_str()
    );

    // New pidfiles that sort before the selected row: it stays selected.
    write_pidfile(dir.path(), "a-new.pid", "junk");
    write_pidfile(dir.path(), "b-new.pid", "1\n");
    let took = row_becomes(&tui, "a-new.pid", "invalid");
    assert!(took < SOON, "a new pidfile took {took:?}");
    let screen = tui.wait_for("b-new.pid", |s| table_row(s, "b-new.pid").is_some());
    assert_eq!(
        selected_path(&screen).as_deref(),
        dir.path().join("m-owner.pid").to_str()
    );

    // The owner killed (and reaped): stale.
    kill(Pid::from_raw(owner.pid()), Signal::SIGKILL).unwrap();
    owner.wait();
    let took = row_becomes(&tui, "m-owner.pid", "stale");
    assert!(took < SOON, "the owner's exit took {took:?}");

    // Rewritten: re-read.
    fs::write(dir.path().join("a-new.pid"), "1\n").unwrap();
    let took = row_becomes(&tui, "a-new.pid", "alive");
    assert!(took < SOON, "a rewrite took {took:?}");

    // Removed: the row goes.
    fs::remove_file(dir.path().join("b-new.pid")).unwrap();
    let start = Instant::now();
    tui.wait_for("b-new.pid gone", |s| table_row(s, "b-new.pid").is_none());
    assert!(
        start.elapsed() < SOON,
        "a removal took {:?}",
        start.elapsed()
    );
    tui.key("q");
    assert_eq!(tui.exit_status(), 0);
}

#[test]
fn an_open_dialog_keeps_its_rows_until_it_closes() {
    let dir = tempdir();
    write_pidfile(dir.path(), "dead.pid", &format!("{}\n", dead_pid()));
    let tui = Inspector::start(
        "live-dialog",
        &[
            OsStr::new("--interval"),
            OsStr::new("60s"),
            dir.path().as_os_str(),
        ],
        &[],
    );
    tui.wait_for("dead.pid stale", |s| {
        table_row(s, "dead.pid").is_some_and(|(_, st, _)| st == "stale")
    });
    tui.key("d");
    tui.wait_text("Delete");
    write_pidfile(dir.path(), "arrived.pid", "junk");
    // The change is seen (the header's count is part of the pinned rows, so
    // wait on time instead): the rows do not move while the dialog is open.
    std::thread::sleep(Duration::from_millis(300));
    let screen = tui.screen();
    assert!(table_row(&screen, "arrived.pid").is_none(), "{screen}");
    tui.key("Escape");
    tui.wait_for("arrived.pid after the dialog", |s| {
        table_row(s, "arrived.pid").is_some()
    });
    tui.key("q");
    assert_eq!(tui.exit_status(), 0);
}

#[test]
fn the_header_says_polling_and_why_past_max_user_watches() {
    let dir = tempdir();
    fs::create_dir_all(dir.path().join("a/b")).unwrap();
    let tui = Inspector::start_wrapped(
        "live-polling",
        &ONE_INOTIFY_WATCH,
        &[dir.path().as_os_str()],
        &[],
    );
    let screen =
        tui.wait_text("polling: 2 directories unwatched (fs.inotify.max_user_watches reached)");
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.contains("  polling")),
        "{screen}"
    );
    // Polled every 2 s: a pidfile in an unwatched directory still shows.
    write_pidfile(&dir.path().join("a/b"), "late.pid", "junk");
    tui.wait_for("late.pid", |s| table_row(s, "late.pid").is_some());
    tui.key("q");
    assert_eq!(tui.exit_status(), 0);
}
