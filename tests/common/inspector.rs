//! The inspector (`pidscope [PATH...]`) in a tmux [`Pane`] of its own, for
//! the end-to-end tests outside `tests/tui_e2e.rs`.
//!
//! The pane runs
//!
//! ```text
//! sh -c 'env ... pidscope ARGS; echo EXIT=$?; stty -a > SCRATCH/stty.txt; echo STTY-SAVED; exec sleep 1000'
//! ```
//!
//! so that after pidscope ends its exit status is on screen and the terminal
//! modes it left behind are in a file. pidscope's configuration sets only
//! `action_log`, to a file in the pane's scratch directory.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::tmux::{Pane, sh_quote};
use super::{bin, run};

/// Terminal modes raw mode turns off (`cfmakeraw`), which must be back on
/// once pidscope has ended.
pub const COOKED_FLAGS: [&str; 6] = ["icanon", "echo", "isig", "iexten", "icrnl", "opost"];

/// Rows of the pane.
pub const ROWS: usize = 30;

/// pidscope's inspector in a 100x[`ROWS`] pane.
pub struct Inspector {
    pane: Pane,
}

impl std::ops::Deref for Inspector {
    type Target = Pane;
    fn deref(&self) -> &Pane {
        &self.pane
    }
}

impl Inspector {
    /// Starts `pidscope ARGS...` with `env` changing its environment (`None`
    /// removes a variable); `label` only makes the tmux socket name readable.
    pub fn start(label: &str, args: &[&OsStr], env: &[(&str, Option<&OsStr>)]) -> Inspector {
        Inspector::start_wrapped(label, &[], args, env)
    }

    /// [`Inspector::start`], with pidscope started through `wrapper` (a
    /// command that execs its arguments, e.g. `unshare --user ...`).
    pub fn start_wrapped(
        label: &str,
        wrapper: &[&str],
        args: &[&OsStr],
        env: &[(&str, Option<&OsStr>)],
    ) -> Inspector {
        let scratch = tempfile::Builder::new()
            .prefix("pidscope-inspector-")
            .tempdir()
            .expect("create a scratch dir");
        let config = scratch.path().join("config.toml");
        let log = scratch.path().join("actions.log");
        fs::write(
            &config,
            format!("action_log = {:?}\n", log.to_str().expect("UTF-8 temp dir")),
        )
        .expect("write the config");
        let mut cmd = bin();
        cmd.env("PIDSCOPE_CONFIG", &config);
        for (key, value) in env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let stty = sh_quote(scratch.path().join("stty.txt").as_os_str());
        let script = format!(
            "{}; echo EXIT=$?; stty -a > {stty}; echo STTY-SAVED; exec sleep 1000",
            shell_words_wrapped(&cmd, wrapper, args)
        );
        Inspector {
            pane: Pane::start(label, (100, ROWS as u16), scratch, &script),
        }
    }

    /// The action log's records, one JSON object per line (none before the
    /// first action).
    pub fn action_log(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        text.lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("bad action log line ({e}): {line}"))
            })
            .collect()
    }

    /// Where pidscope appends its action records.
    pub fn log_path(&self) -> PathBuf {
        self.scratch().join("actions.log")
    }

    /// Waits for `text` anywhere on screen.
    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?} on screen"), |s| s.contains(text))
    }

    /// Waits for the footer's message line to read exactly `message`.
    pub fn wait_footer(&self, message: &str) -> String {
        self.wait_for(&format!("footer message {message:?}"), |s| {
            footer(s).as_deref() == Some(message)
        })
    }

    /// Waits for pidscope to end and returns its exit status (from `EXIT=N`).
    pub fn exit_status(&self) -> i32 {
        let screen = self.wait_for("pidscope to exit (EXIT=...)", |s| {
            s.lines().any(|l| l.starts_with("EXIT="))
        });
        let line = screen
            .lines()
            .find(|l| l.starts_with("EXIT="))
            .expect("EXIT line");
        line["EXIT=".len()..]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("bad exit line {line:?}: {e}"))
    }

    /// The words of `stty -a` as run in the pane right after pidscope ended.
    pub fn stty_after_exit(&self) -> Vec<String> {
        self.wait_text("STTY-SAVED");
        let path = self.scratch().join("stty.txt");
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        stty_words(&text)
    }

    /// The words of `stty -a` on the pane's terminal now, read from outside
    /// (`stty -F TTY`), while pidscope runs.
    pub fn stty_now(&self) -> Vec<String> {
        let tty = self.format("#{pane_tty}");
        let out = run(Command::new("stty").args(["-a", "-F", &tty]));
        assert!(
            out.status.success(),
            "stty -a -F {tty}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stty_words(&String::from_utf8_lossy(&out.stdout))
    }
}

/// `stty -a` output as words (`icanon`, `-echo`, `rows`...).
fn stty_words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `env -u ... KEY=VALUE... PROGRAM ARGS...` as `sh` words: `cmd`'s
/// environment changes, program, then `args`.
pub fn shell_words(cmd: &Command, args: &[&OsStr]) -> String {
    shell_words_wrapped(cmd, &[], args)
}

/// [`shell_words`] with `wrapper`'s words between the environment and the program.
fn shell_words_wrapped(cmd: &Command, wrapper: &[&str], args: &[&OsStr]) -> String {
    let mut words = vec!["env".to_string()];
    for (key, value) in cmd.get_envs() {
        words.push(match value {
            None => format!("-u {}", sh_quote(key)),
            Some(value) => {
                let mut pair = OsString::from(key);
                pair.push("=");
                pair.push(value);
                sh_quote(&pair)
            }
        });
    }
    words.extend(wrapper.iter().map(|w| sh_quote(OsStr::new(w))));
    words.push(sh_quote(cmd.get_program()));
    words.extend(args.iter().map(|a| sh_quote(a)));
    words.join(" ")
}

/// The footer's message: the first of the screen's last two lines (the
/// second has the key hints).
pub fn footer(screen: &str) -> Option<String> {
    let lines: Vec<&str> = screen.lines().collect();
    (lines.len() == ROWS).then(|| lines[ROWS - 2].trim_end().to_string())
}

/// The table row whose path ends in `/name`: its line number on screen, its
/// status word and whether it is tagged. A row reads `[*]STATUS PID PATH ...`.
pub fn table_row(screen: &str, name: &str) -> Option<(usize, String, bool)> {
    const STATUSES: [&str; 6] = [
        "alive",
        "stale",
        "reused",
        "zombie",
        "invalid",
        "unreadable",
    ];
    let suffix = format!("/{name}");
    screen.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        let tagged = trimmed.starts_with('*');
        let cells: Vec<&str> = trimmed.trim_start_matches('*').split_whitespace().collect();
        let is_row = cells.len() >= 3
            && STATUSES.contains(&cells[0])
            && (cells[1] == "-" || cells[1].parse::<i32>().is_ok())
            && cells[2].ends_with(&suffix);
        is_row.then(|| (i, cells[0].to_string(), tagged))
    })
}
