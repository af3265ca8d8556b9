//! A panic in the inspector gives the terminal back: raw mode off, the main
//! screen back, mouse reporting off, and the panic message readable on it.
//!
//! The panic is made on demand with the debug-only `PIDSCOPE_TEST_PANIC`
//! hook (the first key press panics with the variable's text), in a real
//! terminal (a tmux pane, see `tests/common/inspector.rs`).

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::inspector::{COOKED_FLAGS, Inspector, table_row};
use common::*;

/// The panic message the hook is given; the test looks for it on screen.
const MESSAGE: &str = "inspector-panic-on-demand";

#[test]
fn a_panic_restores_the_terminal_and_leaves_the_message_readable() {
    // The binary is built with the same profile as this test.
    if !cfg!(debug_assertions) {
        skip("a release build has no PIDSCOPE_TEST_PANIC hook");
        return;
    }
    let dir = tempdir();
    let sleeper = spawn_sleep();
    let pidfile = write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).expect("chmod");
    let tui = Inspector::start(
        "panic",
        &[
            OsStr::new("--interval"),
            OsStr::new("500ms"),
            dir.path().as_os_str(),
        ],
        &[
            ("PIDSCOPE_TEST_PANIC", Some(OsStr::new(MESSAGE))),
            ("RUST_BACKTRACE", Some(OsStr::new("0"))),
        ],
    );
    tui.wait_for("the sleep.pid row", |s| table_row(s, "sleep.pid").is_some());

    // Taken over, so that the checks after the panic mean something.
    assert_eq!(
        tui.format("alt=#{alternate_on} mouse=#{mouse_any_flag}"),
        "alt=1 mouse=1",
        "the inspector should run on the alternate screen with mouse reporting on"
    );
    let raw = tui.stty_now();
    for flag in ["icanon", "echo"] {
        assert!(
            raw.contains(&format!("-{flag}")),
            "raw mode should be on while the inspector runs: {raw:?}"
        );
    }

    // Any key: the hook panics on the UI thread.
    tui.key("x");
    let status = tui.exit_status();
    assert_eq!(
        status,
        101,
        "a panic's exit status; screen:\n{}",
        tui.screen()
    );

    let stty = tui.stty_after_exit();
    for flag in COOKED_FLAGS {
        assert!(
            stty.iter().any(|w| w == flag) && !stty.contains(&format!("-{flag}")),
            "`stty -a` after the panic lacks {flag:?} (raw mode left on): {stty:?}"
        );
    }
    assert_eq!(
        tui.format(
            "alt=#{alternate_on} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag} cursor=#{cursor_flag}"
        ),
        "alt=0 mouse=0000 cursor=1",
        "terminal modes after the panic (alternate screen, mouse reporting, cursor)"
    );

    // The shell's screen is back, and the message reads as lines starting at
    // the left edge (with raw mode's `-opost` left on, each line would start
    // where the previous one ended).
    let screen = tui.screen();
    assert!(
        !screen.contains("STATUS") && !screen.lines().any(|l| l.starts_with("pidscope ")),
        "the inspector's screen is still shown after the panic:\n{screen}"
    );
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("thread 'main'") && l.contains("panicked at"))
        .unwrap_or_else(|| panic!("no panic line at the left edge:\n{screen}"));
    assert!(
        lines[at..].iter().any(|l| l.starts_with(MESSAGE)),
        "the panic message is not on a line of its own:\n{screen}"
    );
    assert!(
        lines[at..].iter().any(|l| l.starts_with("EXIT=101")),
        "the shell's output does not follow the panic message:\n{screen}"
    );
}
