//! `pidscope clean DIR` without `--yes` asks `Remove N pidfiles? [y/N]` on
//! the terminal: `y` removes only what it listed (the stale pidfiles), and
//! anything else (`n`, an empty answer, end of input) removes nothing. Both
//! exit 0: everything it was told to remove was removed. Answered in a real
//! terminal (a tmux pane).

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::inspector::shell_words;
use common::tmux::Pane;
use common::*;
use tempfile::TempDir;

/// Two stale pidfiles, a live one and an invalid one (old enough that only
/// `--include-invalid` stands between it and removal).
struct Dir {
    dir: TempDir,
    stale: [PathBuf; 2],
    kept: [PathBuf; 2],
    _sleeper: Proc,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempdir();
        let sleeper = spawn_sleep();
        let stale = [
            write_pidfile(dir.path(), "old-a.pid", &format!("{}\n", dead_pid())),
            write_pidfile(dir.path(), "old-b.pid", &format!("{}\n", dead_pid())),
        ];
        let invalid = write_pidfile(dir.path(), "bad.pid", "not a pid\n");
        set_mtime_ago(&invalid, 3600);
        let kept = [
            write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid())),
            invalid,
        ];
        Dir {
            dir,
            stale,
            kept,
            _sleeper: sleeper,
        }
    }

    fn all_there(&self) -> bool {
        self.stale.iter().chain(&self.kept).all(|p| p.exists())
    }
}

/// `pidscope clean DIR` in a pane, stopped at its question.
fn ask(label: &str, dir: &Path) -> Pane {
    let scratch = tempfile::Builder::new()
        .prefix("pidscope-prompt-")
        .tempdir()
        .expect("scratch dir");
    let script = format!(
        "{}; echo EXIT=$?; exec sleep 1000",
        shell_words(&bin(), &[OsStr::new("clean"), dir.as_os_str()])
    );
    let pane = Pane::start(label, (120, 20), scratch, &script);
    pane.wait_for("the question", |s| s.contains("Remove 2 pidfiles? [y/N]"));
    pane
}

/// Waits for `EXIT=N` and returns N with the screen.
fn exit_status(pane: &Pane) -> (i32, String) {
    let screen = pane.wait_for("clean to exit (EXIT=...)", |s| {
        s.lines().any(|l| l.starts_with("EXIT="))
    });
    let line = screen
        .lines()
        .find(|l| l.starts_with("EXIT="))
        .expect("EXIT line");
    let code = line["EXIT=".len()..]
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("bad exit line {line:?}: {e}"));
    (code, screen)
}

#[test]
fn no_empty_answer_and_end_of_input_remove_nothing() {
    let fx = Dir::new();
    // (label, the keys of the answer)
    for (label, keys) in [
        ("n", &["n", "Enter"][..]),
        ("no", &["n", "o", "Enter"][..]),
        ("empty", &["Enter"][..]),
        ("eof", &["C-d"][..]),
    ] {
        let pane = ask(&format!("decline-{label}"), fx.dir.path());
        assert!(fx.all_there(), "removed before the answer");
        for key in keys {
            pane.key(key);
        }
        let (code, screen) = exit_status(&pane);
        assert_eq!(code, 0, "answer {label}: exit status; screen:\n{screen}");
        assert!(
            screen.contains("pidscope: nothing removed"),
            "answer {label}: clean should say it removed nothing:\n{screen}"
        );
        assert!(
            fx.all_there(),
            "answer {label} removed a pidfile; screen:\n{screen}"
        );
    }
}

#[test]
fn yes_removes_only_the_stale_pidfiles() {
    for (label, answer) in [("y", "y"), ("upper", "Y")] {
        let fx = Dir::new();
        let pane = ask(&format!("accept-{label}"), fx.dir.path());
        assert!(fx.all_there(), "removed before the answer");
        pane.key(answer);
        pane.key("Enter");
        let (code, screen) = exit_status(&pane);
        assert_eq!(code, 0, "answer {answer}: exit status; screen:\n{screen}");
        for stale in &fx.stale {
            assert!(
                !stale.exists(),
                "answer {answer}: {} survived",
                stale.display()
            );
            assert!(
                screen.lines().any(|l| l.starts_with("removed")
                    && l.contains(&*stale.file_name().unwrap().to_string_lossy())),
                "answer {answer}: no `removed` line for {}:\n{screen}",
                stale.display()
            );
        }
        for kept in &fx.kept {
            assert!(
                kept.exists(),
                "answer {answer}: {} was removed",
                kept.display()
            );
        }
        assert!(
            screen.contains("2 removed, 2 kept"),
            "answer {answer}: summary:\n{screen}"
        );
    }
}
