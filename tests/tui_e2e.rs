//! End-to-end tests of the interactive inspector (`pidscope [PATH...]`) in a
//! real terminal.
//!
//! Each test starts its own tmux server (private socket, `-f /dev/null`, a
//! 100x30 window) whose only pane runs
//!
//! ```text
//! sh -c 'env ... pidscope ARGS; echo EXIT=$?; stty -a > SCRATCH/stty.txt; echo STTY-SAVED; exec sleep 1000'
//! ```
//!
//! so that after pidscope ends its exit status is on screen and the terminal
//! modes it left behind are in a file. The screen is read with
//! `capture-pane -p` and always polled with a deadline; keys go in with
//! `send-keys`. Dropping the [`Tui`] kills the tmux server (and with it
//! everything in the pane).
//!
//! Needs `tmux` (and the tools `tests/common` needs).

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use common::tmux::{Pane, SCREEN_TIMEOUT, sh_quote};
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

/// The footer message of a refused action in read-only mode.
const READ_ONLY_MESSAGE: &str = "read-only mode: deleting and signalling are disabled";

/// Terminal modes raw mode turns off (`cfmakeraw`), which must be back on after pidscope.
const COOKED_FLAGS: [&str; 6] = ["icanon", "echo", "isig", "iexten", "icrnl", "opost"];

// ---------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------

/// Whether this pidscope knows the `action_log` config key (where every
/// delete and signal is recorded; by default `/var/log/pidscope/actions.log`
/// as root). Asked once, by loading a config that sets it: an unknown key is
/// a configuration error (exit status 2).
fn action_log_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("pidscope-e2e-")
            .tempdir()
            .expect("create a temp dir");
        let config = dir.path().join("config.toml");
        let log = dir.path().join("actions.log");
        fs::write(
            &config,
            format!("action_log = {:?}\n", log.to_str().expect("UTF-8")),
        )
        .expect("write a config");
        let out = run(bin()
            .env("PIDSCOPE_CONFIG", &config)
            .args(["audit", "--json"])
            .arg(dir.path()));
        out.status.code() != Some(2)
    })
}

/// The shell words that run pidscope with `args` in the environment
/// [`bin`] sets up (no `PIDSCOPE_*` from outside, `NO_COLOR`), with the
/// configuration file `config`, changed by `env` (`None` removes a variable).
fn pidscope_words(config: &Path, args: &[&OsStr], env: &[(&str, Option<&str>)]) -> String {
    let mut cmd = bin();
    cmd.env("PIDSCOPE_CONFIG", config);
    for (key, value) in env {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let mut unset = Vec::new();
    let mut set = Vec::new();
    for (key, value) in cmd.get_envs() {
        match value {
            None => unset.push(format!("-u {}", sh_quote(key))),
            Some(value) => {
                let mut pair = key.to_os_string();
                pair.push("=");
                pair.push(value);
                set.push(sh_quote(&pair));
            }
        }
    }
    let mut words = vec!["env".to_string()];
    words.extend(unset);
    words.extend(set);
    words.push(sh_quote(cmd.get_program()));
    words.extend(args.iter().map(|a| sh_quote(a)));
    words.join(" ")
}

/// pidscope in a 100x30 tmux pane of its own (see [`Pane`]), with its
/// config, action log and `stty -a` output in the pane's scratch directory.
struct Tui {
    pane: Pane,
}

impl std::ops::Deref for Tui {
    type Target = Pane;
    fn deref(&self) -> &Pane {
        &self.pane
    }
}

impl Tui {
    /// Starts `pidscope ARGS...`; `label` only makes the socket name readable.
    fn start(label: &str, args: &[&OsStr]) -> Tui {
        Tui::start_with_redirect(label, args, "")
    }

    /// Like [`Tui::start`], with `redirect` (shell redirections, e.g. `> FILE`)
    /// appended to pidscope's command line.
    fn start_with_redirect(label: &str, args: &[&OsStr], redirect: &str) -> Tui {
        Tui::launch(label, args, redirect, &[])
    }

    /// Like [`Tui::start`], with `env` changing pidscope's environment
    /// (`None` removes a variable).
    fn start_with_env(label: &str, args: &[&OsStr], env: &[(&str, Option<&str>)]) -> Tui {
        Tui::launch(label, args, "", env)
    }

    fn launch(label: &str, args: &[&OsStr], redirect: &str, env: &[(&str, Option<&str>)]) -> Tui {
        let scratch = tempfile::Builder::new()
            .prefix("pidscope-e2e-")
            .tempdir()
            .expect("create a scratch dir");
        let stty = sh_quote(scratch.path().join("stty.txt").as_os_str());
        // The config is empty but for the action log, kept out of /var/log.
        let config = scratch.path().join("config.toml");
        let mut text = String::new();
        if action_log_supported() {
            let log = scratch.path().join("actions.log");
            text = format!("action_log = {:?}\n", log.to_str().expect("UTF-8"));
        }
        fs::write(&config, text).expect("write the config");
        let script = format!(
            "{} {redirect}; echo EXIT=$?; stty -a > {stty}; echo STTY-SAVED; exec sleep 1000",
            pidscope_words(&config, args, env)
        );
        Tui {
            pane: Pane::start(label, (100, 30), scratch, &script),
        }
    }

    /// The action log's lines, when this pidscope keeps one (`None` otherwise).
    fn action_log(&self) -> Option<Vec<String>> {
        if !action_log_supported() {
            return None;
        }
        let text = fs::read_to_string(self.scratch().join("actions.log")).unwrap_or_default();
        Some(text.lines().map(str::to_string).collect())
    }

    /// Whether the action log (when there is one) records a successful
    /// `action` (`delete`, `signal`) on `path`; `None` without an action log.
    fn logged_ok(&self, action: &str, path: &str) -> Option<bool> {
        let lines = self.action_log()?;
        Some(lines.iter().any(|line| {
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad action log line ({e}): {line}"));
            record["action"] == action && record["path"] == path && record["result"] == "ok"
        }))
    }

    /// Waits for `text` anywhere on screen.
    fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?} on screen"), |s| s.contains(text))
    }

    /// Waits for the footer's message line to read exactly `message`.
    fn wait_footer(&self, message: &str) -> String {
        self.wait_for(&format!("footer message {message:?}"), |s| {
            footer(s).as_deref() == Some(message)
        })
    }

    /// The label of the focused dialog button (drawn reversed): `Cancel` in
    /// `[ Cancel ]`, read from the screen with its attributes.
    fn focused_button(&self) -> Option<String> {
        let out = self.tmux(&["capture-pane", "-p", "-e", "-t", "t"]);
        let screen = String::from_utf8_lossy(&out.stdout);
        screen.match_indices("m[ ").find_map(|(at, _)| {
            // The SGR sequence right before the button, e.g. `ESC[1;7m`.
            let start = screen[..at].rfind("\x1b[")? + 2;
            let params = &screen[start..at];
            let reversed = params.bytes().all(|b| b.is_ascii_digit() || b == b';')
                && params.split(';').any(|p| p == "7");
            let label = &screen[at + 3..];
            let label = &label[..label.find(" ]")?];
            (reversed && !label.contains('\x1b')).then(|| label.to_string())
        })
    }

    /// Waits until the focused dialog button is `label`.
    fn wait_focus(&self, label: &str) {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let focused = self.focused_button();
            if focused.as_deref() == Some(label) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out waiting for the focus on [ {label} ] (focus: {focused:?}); screen:\n{}",
                    self.screen()
                );
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until the worker has done every action the keys handled so far
    /// asked for (call it once the screen shows they were handled): a
    /// barrier pidfile made in `dir` shows up in the table and, once removed,
    /// leaves it. The worker takes jobs in order and has one scan queued at a
    /// time, so the scan that finds it gone was queued after those actions.
    fn settle(&self, dir: &Path) {
        const BARRIER: &str = "settle-barrier.pid";
        let barrier = write_pidfile(dir, BARRIER, &format!("{}\n", dead_pid()));
        self.wait_for("the barrier pidfile's row", |s| {
            table_row(s, BARRIER).is_some()
        });
        fs::remove_file(&barrier).expect("remove the barrier pidfile");
        self.wait_for("the barrier pidfile's row to go", |s| {
            table_row(s, BARRIER).is_none()
        });
    }

    /// The PID of pidscope: the child of the pane's `sh` whose name is `pidscope`.
    fn pidscope_pid(&self) -> i32 {
        let shell: i32 = self.format("#{pane_pid}").parse().expect("pane_pid");
        let mut found = None;
        let ok = wait_until(SCREEN_TIMEOUT, || {
            found = child_named(shell, "pidscope");
            found.is_some()
        });
        assert!(ok, "no pidscope process under the pane's shell {shell}");
        found.expect("pidscope PID")
    }

    /// Waits for pidscope to end and returns its exit status (from `EXIT=N`).
    fn exit_status(&self) -> i32 {
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
    fn stty_after_exit(&self) -> Vec<String> {
        self.wait_text("STTY-SAVED");
        let path = self.scratch().join("stty.txt");
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        text.split(|c: char| c.is_whitespace() || c == ';')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Checks, after pidscope has exited with `expected` status, that the
    /// terminal is back as it was: cooked mode, main screen, no mouse
    /// reporting, a visible cursor, and pidscope's screen gone.
    fn assert_exited_and_restored(&self, expected: i32) {
        let status = self.exit_status();
        assert_eq!(
            status,
            expected,
            "pidscope's exit status; screen:\n{}",
            self.screen()
        );
        let stty = self.stty_after_exit();
        for flag in COOKED_FLAGS {
            assert!(
                stty.iter().any(|w| w == flag),
                "`stty -a` after pidscope lacks {flag:?} (raw mode left on?): {stty:?}"
            );
            let negated = format!("-{flag}");
            assert!(
                !stty.contains(&negated),
                "`stty -a` after pidscope shows {negated:?} (raw mode left on?): {stty:?}"
            );
        }
        let modes = self.format(
            "alt=#{alternate_on} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag} cursor=#{cursor_flag}",
        );
        assert_eq!(
            modes, "alt=0 mouse=0000 cursor=1",
            "terminal modes after pidscope (alternate screen, mouse reporting, cursor)"
        );
        let screen = self.screen();
        assert!(
            !screen.lines().any(|l| l.starts_with("pidscope "))
                && !screen.contains("STATUS")
                && !screen.contains("Details"),
            "pidscope's screen is still shown after it exited:\n{screen}"
        );
    }
}

/// A child of `parent` whose `comm` is `name`.
fn child_named(parent: i32, name: &str) -> Option<i32> {
    fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((head, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let comm = head.split_once('(').map_or("", |(_, c)| c);
            let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            comm == name && ppid == Some(parent)
        })
}

/// Rows of the terminal the tests use.
const ROWS: usize = 30;

/// The footer's message: the first of the screen's last two lines (the
/// second has the key hints).
fn footer(screen: &str) -> Option<String> {
    let lines: Vec<&str> = screen.lines().collect();
    (lines.len() == ROWS).then(|| lines[ROWS - 2].trim_end().to_string())
}

/// The screen without its footer (header, table, details and any overlay).
fn body(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    lines[..lines.len().min(ROWS - 2)].join("\n")
}

/// The path shown in the detail pane, i.e. the selected row's.
fn selected_path(screen: &str) -> Option<String> {
    screen
        .lines()
        .find_map(|l| l.strip_prefix("Path     "))
        .map(|p| p.trim_end().to_string())
}

/// The table row whose path ends in `/name`: its line number on screen and
/// its status word. A row reads `[tag]STATUS PID PATH ...`; rows partly
/// covered by a dialog do not count.
fn table_row(screen: &str, name: &str) -> Option<(usize, String)> {
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
        let cells: Vec<&str> = line
            .trim_start()
            .trim_start_matches('*')
            .split_whitespace()
            .collect();
        let is_row = cells.len() >= 3
            && STATUSES.contains(&cells[0])
            && (cells[1] == "-" || cells[1].parse::<i32>().is_ok())
            && cells[2].ends_with(&suffix);
        is_row.then(|| (i, cells[0].to_string()))
    })
}

/// The second header line (the counts).
fn counts_line(screen: &str) -> String {
    screen.lines().nth(1).unwrap_or_default().to_string()
}

fn dialog_open(screen: &str) -> bool {
    [
        "Delete pidfiles",
        "Really delete pidfiles in use?",
        "Send a signal",
        "Confirm signal",
    ]
    .iter()
    .any(|title| screen.contains(title))
}

/// A temp dir with `stale.pid` (naming a dead PID) and `sleep.pid` (naming a
/// fresh `sleep`, written after it started so it is `alive`, not `reused`).
struct Fixture {
    dir: TempDir,
    sleeper: Proc,
}

impl Fixture {
    fn new(with_stale: bool) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("pidscope-e2e-")
            .tempdir()
            .expect("create a temp dir");
        let sleeper = spawn_sleep();
        let mut files = Vec::new();
        if with_stale {
            files.push(write_pidfile(
                dir.path(),
                "stale.pid",
                &format!("{}\n", dead_pid()),
            ));
        }
        files.push(write_pidfile(
            dir.path(),
            "sleep.pid",
            &format!("{}\n", sleeper.pid()),
        ));
        // Whatever the umask: a pidfile others can write is `untrusted-file`,
        // which adds a confirmation to signalling.
        for file in files {
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        Fixture { dir, sleeper }
    }

    fn path(&self, name: &str) -> String {
        self.dir
            .path()
            .join(name)
            .to_str()
            .expect("UTF-8")
            .to_string()
    }

    fn root(&self) -> &OsStr {
        self.dir.path().as_os_str()
    }
}

/// Starts pidscope on `fixture` with a fast rescan and `extra` flags, and
/// waits until every pidfile in `rows` is in the table.
fn start_on(label: &str, fixture: &Fixture, extra: &[&str], rows: &[&str]) -> (Tui, String) {
    let mut args: Vec<&OsStr> = extra.iter().map(OsStr::new).collect();
    args.extend([
        OsStr::new("--interval"),
        OsStr::new("500ms"),
        fixture.root(),
    ]);
    let tui = Tui::start(label, &args);
    let screen = tui.wait_for(&format!("rows {rows:?}"), |s| {
        rows.iter().all(|name| table_row(s, name).is_some())
    });
    (tui, screen)
}

// ---------------------------------------------------------------------------
// Deleting
// ---------------------------------------------------------------------------

#[test]
fn delete_removes_a_stale_pidfile_and_a_live_one_needs_a_second_confirmation() {
    let mut fx = Fixture::new(true);
    let stale = fx.path("stale.pid");
    let live = fx.path("sleep.pid");
    let (tui, screen) = start_on("delete", &fx, &[], &["stale.pid", "sleep.pid"]);

    // Header, counts, problems first, first row selected.
    let header = screen.lines().next().unwrap_or_default();
    assert!(
        header.starts_with(&format!("pidscope {}  scanned ", fx.dir.path().display())),
        "header line: {header:?}"
    );
    assert!(
        counts_line(&screen)
            .starts_with("alive 1  stale 1  reused 0  zombie 0  invalid 0  unreadable 0"),
        "counts line:\n{screen}"
    );
    for column in [
        "STATUS", "PID", "PATH", "PROCESS", "USER", "CPU%", "MEM", "UP", "AGE",
    ] {
        assert!(
            screen
                .lines()
                .any(|l| l.split_whitespace().any(|w| w == column)),
            "no {column} column:\n{screen}"
        );
    }
    let (stale_line, stale_status) = table_row(&screen, "stale.pid").expect("stale row");
    let (live_line, live_status) = table_row(&screen, "sleep.pid").expect("live row");
    assert_eq!(
        (stale_status.as_str(), live_status.as_str()),
        ("stale", "alive")
    );
    assert!(
        stale_line < live_line,
        "problems must come first:\n{screen}"
    );
    assert_eq!(selected_path(&screen).as_deref(), Some(stale.as_str()));

    // d, y on the stale row: gone.
    tui.key("d");
    let dialog = tui.wait_text("Delete pidfiles");
    assert!(dialog.contains("Delete 1 pidfile?"), "{dialog}");
    assert!(
        !dialog.contains("second confirmation follows"),
        "a stale pidfile needs no second confirmation:\n{dialog}"
    );
    tui.key("y");
    assert!(
        wait_until(SCREEN_TIMEOUT, || !Path::new(&stale).exists()),
        "{stale} still exists after d, y; screen:\n{}",
        tui.screen()
    );
    let screen = tui.wait_footer(&format!("deleted {stale}"));
    assert!(!dialog_open(&screen), "a dialog is still open:\n{screen}");
    assert!(Path::new(&live).exists(), "the live pidfile went too");
    assert_eq!(
        tui.logged_ok("delete", &stale),
        Some(true),
        "the deletion is not in the action log: {:?}",
        tui.action_log()
    );

    // After the rescan only the live row is left, and it is selected.
    let screen = tui.wait_for("the stale row to go and the live one to be selected", |s| {
        table_row(s, "stale.pid").is_none() && selected_path(s).as_deref() == Some(live.as_str())
    });
    assert!(
        counts_line(&screen).starts_with("alive 1  stale 0"),
        "counts line:\n{screen}"
    );

    // d, y on the live row: a second, sterner dialog; n and Esc keep the file.
    for keep in ["n", "Escape"] {
        tui.key("d");
        let dialog = tui.wait_text("Delete pidfiles");
        assert!(
            dialog.contains("a second confirmation follows"),
            "the first dialog should announce the second one:\n{dialog}"
        );
        tui.key("y");
        let dialog = tui.wait_text("Really delete pidfiles in use?");
        assert!(
            dialog.contains(&format!("(sleep PID {})", fx.sleeper.pid())),
            "the second dialog should name the live process:\n{dialog}"
        );
        assert!(
            Path::new(&live).exists(),
            "deleted before the 2nd confirmation"
        );
        tui.key(keep);
        // (The second round's message is the first's: wait for the dialog to go too.)
        let kept = "delete cancelled: nothing deleted";
        let screen = tui.wait_for(
            &format!("{keep:?} to close the dialog with {kept:?}"),
            |s| footer(s).as_deref() == Some(kept) && !dialog_open(s),
        );
        assert!(
            table_row(&screen, "sleep.pid").is_some(),
            "{keep} in the second dialog should only close it:\n{screen}"
        );
    }
    // Let a wrongly sent deletion happen first.
    tui.settle(fx.dir.path());
    assert!(Path::new(&live).exists(), "the live pidfile was deleted");
    assert!(fx.sleeper.try_wait().is_none(), "the sleep process died");
    assert_eq!(
        tui.logged_ok("delete", &live),
        Some(false),
        "the action log records deleting the kept pidfile: {:?}",
        tui.action_log()
    );
    let screen = tui.screen();
    assert!(
        table_row(&screen, "sleep.pid").is_some() && !dialog_open(&screen),
        "{screen}"
    );
}

#[test]
fn enter_activates_the_focused_button_which_starts_on_cancel() {
    let mut fx = Fixture::new(true);
    let stale = fx.path("stale.pid");
    let live = fx.path("sleep.pid");
    let (tui, screen) = start_on("enter", &fx, &[], &["stale.pid", "sleep.pid"]);
    assert_eq!(selected_path(&screen).as_deref(), Some(stale.as_str()));

    // First dialog: Enter on the initial focus cancels.
    tui.key("d");
    tui.wait_text("Delete pidfiles");
    tui.wait_focus("Cancel");
    tui.key("Enter");
    let screen = tui.wait_footer("delete cancelled");
    assert!(!dialog_open(&screen), "{screen}");
    tui.settle(fx.dir.path());
    assert!(
        Path::new(&stale).exists(),
        "Enter on Cancel deleted {stale}"
    );

    // Right moves the focus to Delete; Enter then deletes.
    tui.key("d");
    tui.wait_focus("Cancel");
    tui.key("Right");
    tui.wait_focus("Delete");
    tui.key("Enter");
    tui.wait_footer(&format!("deleted {stale}"));
    assert!(!Path::new(&stale).exists(), "{stale} still exists");
    tui.wait_for("the live row to be selected", |s| {
        table_row(s, "stale.pid").is_none() && selected_path(s).as_deref() == Some(live.as_str())
    });

    // Second dialog (live pidfile): its buttons show, Cancel first; Enter keeps the file.
    tui.key("d");
    tui.wait_text("Delete pidfiles");
    tui.key("y");
    tui.wait_text("Really delete pidfiles in use?");
    tui.wait_focus("Cancel");
    tui.wait_text("[ Delete anyway ]");
    tui.key("Enter");
    let screen = tui.wait_footer("delete cancelled: nothing deleted");
    assert!(!dialog_open(&screen), "{screen}");
    tui.settle(fx.dir.path());
    assert!(Path::new(&live).exists(), "Enter on Cancel deleted {live}");

    // Tab moves the focus to "Delete anyway"; Enter deletes the file, the process lives on.
    tui.key("d");
    tui.wait_text("Delete pidfiles");
    tui.key("y");
    tui.wait_text("Really delete pidfiles in use?");
    tui.wait_focus("Cancel");
    tui.key("Tab");
    tui.wait_focus("Delete anyway");
    tui.key("Enter");
    tui.wait_footer(&format!("deleted {live}"));
    assert!(!Path::new(&live).exists(), "{live} still exists");
    assert!(
        fx.sleeper.try_wait().is_none(),
        "deleting the pidfile touched its process"
    );
}

#[test]
fn batch_delete_o_in_the_second_dialog_deletes_only_the_stale_pidfile() {
    let fx = Fixture::new(true);
    let stale = fx.path("stale.pid");
    let live = fx.path("sleep.pid");
    let (tui, _) = start_on("batch", &fx, &[], &["stale.pid", "sleep.pid"]);

    // Space tags the row and moves down: tag both.
    tui.key("Space");
    tui.wait_text("tagged 1");
    tui.key("Space");
    tui.wait_text("tagged 2");
    tui.key("d");
    let dialog = tui.wait_text("Delete 2 pidfiles?");
    assert!(dialog.contains("a second confirmation follows"), "{dialog}");
    tui.key("y");
    let dialog = tui.wait_text("Really delete pidfiles in use?");
    assert!(dialog.contains("o only the 1 other"), "{dialog}");
    assert!(Path::new(&stale).exists() && Path::new(&live).exists());
    tui.key("o");
    let screen = tui.wait_footer(&format!("deleted {stale}"));
    assert!(!dialog_open(&screen), "{screen}");
    assert!(!Path::new(&stale).exists(), "the stale pidfile survived");
    tui.settle(fx.dir.path());
    assert!(Path::new(&live).exists(), "the live pidfile was deleted");
}

/// In the second dialog of a batch mixing stale and live pidfiles, `n`
/// means "delete only the others" (the dialog says so), but Esc and Enter on
/// the focused `[ Cancel ]` button do the same: "Cancel" deletes the stale
/// pidfiles. The README promises "n or Esc cancels" in every dialog, and
/// `Button::Cancel` is documented as "Enter alone never destroys anything".
#[test]
fn cancel_in_the_mixed_batch_second_dialog_deletes_nothing() {
    let fx = Fixture::new(true);
    let stale = fx.path("stale.pid");
    let live = fx.path("sleep.pid");
    let (tui, _) = start_on("batch-cancel", &fx, &[], &["stale.pid", "sleep.pid"]);
    tui.key("Space");
    tui.wait_text("tagged 1");
    tui.key("Space");
    tui.wait_text("tagged 2");
    tui.key("d");
    tui.wait_text("Delete 2 pidfiles?");
    tui.key("y");
    tui.wait_text("Really delete pidfiles in use?");
    tui.wait_focus("Cancel");
    tui.key("Enter");
    tui.wait_for("the dialog to close", |s| !dialog_open(s));
    tui.settle(fx.dir.path());
    assert!(
        Path::new(&stale).exists() && Path::new(&live).exists(),
        "Enter on [ Cancel ] deleted something; footer: {:?}",
        footer(&tui.screen())
    );
}

/// Dialogs are as tall as their line count, but a target line longer than
/// the dialog is wide wraps, and the last lines (the key hints and the
/// buttons, including the focused Cancel that Enter would activate) fall out
/// of the box. A pidfile path of about 60 characters is enough.
#[test]
fn delete_dialogs_show_their_buttons_for_long_paths() {
    let fx = Fixture::new(false);
    let deep = fx
        .dir
        .path()
        .join("a-rather-long-directory-name/another-long-subdirectory-name");
    fs::create_dir_all(&deep).expect("mkdir");
    // Only the deep pidfile: it is the one row, selected.
    fs::rename(fx.dir.path().join("sleep.pid"), deep.join("sleep.pid")).expect("move");
    let (tui, _) = start_on("long", &fx, &[], &["sleep.pid"]);
    tui.key("d");
    tui.wait_text("Delete pidfiles");
    tui.wait_for("the first dialog's buttons", |s| {
        s.contains("[ Cancel ]") && s.contains("[ Delete ]")
    });
    tui.key("y");
    tui.wait_text("Really delete pidfiles in use?");
    tui.wait_for("the second dialog's buttons", |s| {
        s.contains("[ Cancel ]") && s.contains("[ Delete anyway ]")
    });
}

// ---------------------------------------------------------------------------
// Signalling
// ---------------------------------------------------------------------------

#[test]
fn k_enter_y_sends_sigterm_to_the_live_owner() {
    let mut fx = Fixture::new(false);
    let pid = fx.sleeper.pid();
    let (tui, screen) = start_on("signal", &fx, &[], &["sleep.pid"]);
    assert_eq!(
        table_row(&screen, "sleep.pid").map(|(_, s)| s).as_deref(),
        Some("alive")
    );
    assert_eq!(
        selected_path(&screen).as_deref(),
        Some(fx.path("sleep.pid").as_str())
    );

    tui.key("k");
    let picker = tui.wait_text("Send a signal");
    assert!(
        picker.lines().any(|l| l.contains("> TERM (15)")),
        "TERM should be highlighted first:\n{picker}"
    );
    tui.key("Enter");
    let confirm = tui.wait_text("Confirm signal");
    assert!(confirm.contains("Send TERM (15) to:"), "{confirm}");
    assert!(confirm.contains(&format!("sleep PID {pid}")), "{confirm}");
    assert!(
        fx.sleeper.try_wait().is_none(),
        "signalled before the confirmation"
    );

    tui.key("y");
    let mut status = None;
    let exited = wait_until(SCREEN_TIMEOUT, || {
        status = fx.sleeper.try_wait();
        status.is_some()
    });
    assert!(
        exited,
        "sleep {pid} still runs after k, Enter, y; screen:\n{}",
        tui.screen()
    );
    let status = status.expect("exit status");
    assert_eq!(status.signal(), Some(15), "sleep ended with {status}");
    let screen = tui.wait_footer(&format!("sent SIGTERM to PID {pid}"));
    assert!(!dialog_open(&screen), "{screen}");
    assert_eq!(
        tui.logged_ok("signal", &fx.path("sleep.pid")),
        Some(true),
        "the signal is not in the action log: {:?}",
        tui.action_log()
    );
}

// ---------------------------------------------------------------------------
// Read-only mode
// ---------------------------------------------------------------------------

#[test]
fn read_only_mode_refuses_delete_and_signal() {
    let mut fx = Fixture::new(true);
    let stale = fx.path("stale.pid");
    let live = fx.path("sleep.pid");
    // (key, the keys that would confirm its dialog, the row to act on)
    let cases = [
        ("d", &["y", "y"][..], stale.as_str()),
        ("k", &["Enter", "y"][..], live.as_str()),
    ];
    for (key, confirm, target) in cases {
        // A fresh inspector per key, so that each message is that key's.
        let (tui, screen) = start_on(
            &format!("ro-{key}"),
            &fx,
            &["--read-only"],
            &["stale.pid", "sleep.pid"],
        );
        let header = screen.lines().next().unwrap_or_default();
        assert!(header.contains("READ-ONLY"), "header: {header:?}");
        assert_eq!(footer(&screen).as_deref(), Some(""), "{screen}");
        if target == live {
            tui.key("Down");
        }
        tui.wait_for(&format!("{target} selected"), |s| {
            selected_path(s).as_deref() == Some(target)
        });

        tui.key(key);
        let screen = tui.wait_footer(READ_ONLY_MESSAGE);
        assert!(!dialog_open(&screen), "{key} opened a dialog:\n{screen}");
        // Were a dialog open after all, these would confirm it.
        for k in confirm {
            tui.key(k);
        }
        // Let a wrongly started action happen first.
        tui.settle(fx.dir.path());
        let screen = tui.screen();
        assert!(
            !dialog_open(&screen),
            "a dialog opened in read-only mode:\n{screen}"
        );
        assert_eq!(
            footer(&screen).as_deref(),
            Some(READ_ONLY_MESSAGE),
            "{screen}"
        );
        assert!(
            Path::new(&stale).exists() && Path::new(&live).exists(),
            "a pidfile was deleted in read-only mode (key {key})"
        );
        assert!(
            fx.sleeper.try_wait().is_none() && alive(fx.sleeper.pid()),
            "the sleep process was signalled in read-only mode (key {key})"
        );
        let log = tui.action_log().unwrap_or_default();
        assert!(log.is_empty(), "actions logged in read-only mode: {log:?}");
    }
}

// ---------------------------------------------------------------------------
// Quitting and terminal restoration
// ---------------------------------------------------------------------------

/// Starts pidscope on a dir with one live pidfile and checks the terminal is
/// taken over (alternate screen, mouse reporting), so the restore checks mean something.
fn start_and_check_takeover(label: &str, fx: &Fixture) -> Tui {
    let (tui, _) = start_on(label, fx, &[], &["sleep.pid"]);
    assert_eq!(
        tui.format("alt=#{alternate_on} mouse=#{mouse_any_flag}"),
        "alt=1 mouse=1",
        "pidscope should run on the alternate screen with mouse reporting on"
    );
    tui
}

#[test]
fn q_esc_and_ctrl_c_quit_with_status_0_and_restore_the_terminal() {
    let fx = Fixture::new(false);
    for key in ["q", "Escape", "C-c"] {
        let tui = start_and_check_takeover(&format!("quit-{key}"), &fx);
        tui.key(key);
        tui.assert_exited_and_restored(0);
    }
}

#[test]
fn no_mouse_leaves_the_mouse_to_the_terminal() {
    let fx = Fixture::new(false);
    let (tui, _) = start_on("nomouse", &fx, &["--no-mouse"], &["sleep.pid"]);
    assert_eq!(
        tui.format(
            "alt=#{alternate_on} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag}"
        ),
        "alt=1 mouse=0000",
        "--no-mouse should not turn mouse reporting on"
    );
    tui.key("q");
    tui.assert_exited_and_restored(0);
}

/// Whether the screen, read with its attributes, sets any foreground or
/// background colour (SGR 30-38, 40-48, 90-107; bold, reverse video and the
/// default colours 39 and 49 do not count).
fn screen_has_colour(tui: &Tui) -> bool {
    let out = tui.tmux(&["capture-pane", "-p", "-e", "-t", "t"]);
    let screen = String::from_utf8_lossy(&out.stdout);
    screen.split("\x1b[").skip(1).any(|sgr| {
        let Some(end) = sgr.find('m') else {
            return false;
        };
        sgr[..end]
            .split(';')
            .filter_map(|p| p.parse::<u16>().ok())
            .any(|p| matches!(p, 30..=38 | 40..=48 | 90..=107))
    })
}

/// Colour is decided once, by the CLI: NO_COLOR set, even to an empty value,
/// means no colour in the inspector as in `audit`.
#[test]
fn no_color_set_even_to_an_empty_value_turns_colour_off() {
    let fx = Fixture::new(false);
    let args = [OsStr::new("--interval"), OsStr::new("500ms"), fx.root()];
    for (label, no_color, coloured) in [("colour", None, true), ("empty", Some(""), false)] {
        let tui = Tui::start_with_env(
            &format!("nocolor-{label}"),
            &args,
            &[("NO_COLOR", no_color)],
        );
        tui.wait_for("the sleep.pid row", |s| table_row(s, "sleep.pid").is_some());
        assert_eq!(
            screen_has_colour(&tui),
            coloured,
            "NO_COLOR {no_color:?}: colour expected: {coloured}"
        );
        tui.key("q");
        tui.assert_exited_and_restored(0);
    }
}

#[test]
fn a_too_small_terminal_is_reported_and_a_resize_brings_the_table_back() {
    let fx = Fixture::new(false);
    let (tui, _) = start_on("resize", &fx, &[], &["sleep.pid"]);
    let resize = |x: &str, y: &str| {
        let out = tui.tmux(&["resize-window", "-t", "t", "-x", x, "-y", y]);
        assert!(
            out.status.success(),
            "resize-window: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    resize("60", "20");
    tui.wait_text("Terminal too small: 60x20");
    resize("100", "30");
    tui.wait_for("the table again", |s| {
        table_row(s, "sleep.pid").is_some() && !s.contains("Terminal too small")
    });
}

fn signal_ends_cleanly(label: &str, signal: Signal) {
    let fx = Fixture::new(false);
    let tui = start_and_check_takeover(label, &fx);
    let pid = tui.pidscope_pid();
    kill(Pid::from_raw(pid), signal).unwrap_or_else(|e| panic!("kill({pid}, {signal}): {e}"));
    tui.assert_exited_and_restored(0);
}

#[test]
fn sigterm_ends_it_with_status_0_and_restores_the_terminal() {
    signal_ends_cleanly("term", Signal::SIGTERM);
}

#[test]
fn sigint_ends_it_with_status_0_and_restores_the_terminal() {
    signal_ends_cleanly("int", Signal::SIGINT);
}

#[test]
fn sighup_with_a_dialog_open_ends_it_cleanly_and_deletes_nothing() {
    let fx = Fixture::new(true);
    let stale = fx.path("stale.pid");
    let (tui, _) = start_on("hup", &fx, &[], &["stale.pid", "sleep.pid"]);
    tui.key("d");
    tui.wait_text("Delete pidfiles");
    let pid = tui.pidscope_pid();
    kill(Pid::from_raw(pid), Signal::SIGHUP).unwrap_or_else(|e| panic!("kill({pid}): {e}"));
    tui.assert_exited_and_restored(0);
    assert!(Path::new(&stale).exists(), "SIGHUP confirmed the dialog");
}

// ---------------------------------------------------------------------------
// Not a terminal
// ---------------------------------------------------------------------------

#[test]
fn without_a_terminal_it_exits_2_and_points_to_audit() {
    let fx = Fixture::new(false);
    let out = run(bin().arg(fx.root()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "status {}; stderr: {stderr}",
        out.status
    );
    assert!(
        stderr.contains("pidscope audit"),
        "stderr should point to `pidscope audit`: {stderr:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing (no escape sequences) should reach stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn with_stdout_redirected_in_a_terminal_it_exits_2_and_leaves_the_terminal_alone() {
    let fx = Fixture::new(false);
    let out = fx.dir.path().join("stdout.txt");
    let err = fx.dir.path().join("stderr.txt");
    let redirect = format!(
        "> {} 2> {}",
        sh_quote(out.as_os_str()),
        sh_quote(err.as_os_str())
    );
    // stdin is the terminal, stdout is a file.
    let tui = Tui::start_with_redirect("redirect", &[fx.root()], &redirect);
    tui.assert_exited_and_restored(2);
    let stderr = fs::read_to_string(&err).expect("stderr file");
    assert!(stderr.contains("pidscope audit"), "stderr: {stderr:?}");
    let stdout = fs::read(&out).expect("stdout file");
    assert!(
        stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&stdout)
    );
}

// ---------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------

#[test]
fn question_mark_shows_the_keys_and_any_key_closes_them() {
    let fx = Fixture::new(false);
    let (tui, _) = start_on("help", &fx, &[], &["sleep.pid"]);
    // The footer's hints also say "q quit"; the overlay is above them.
    let help_open = |s: &str| {
        let body = body(s);
        body.contains("quit") && body.contains("delete")
    };
    // A help line naming `key` and saying what `does`.
    let lists = |screen: &str, key: &str, does: &str| {
        body(screen)
            .lines()
            .any(|l| l.contains(does) && l.split_whitespace().any(|w| w == key))
    };

    // `x` is bound to nothing; `q` would quit on the main screen but only
    // closes the help here.
    for close in ["x", "q"] {
        tui.key("?");
        let screen = tui.wait_for("the help overlay", help_open);
        for (key, does) in [
            ("q", "quit"),
            ("d", "delete"),
            ("k", "signal"),
            ("?", "help"),
        ] {
            assert!(
                lists(&screen, key, does),
                "the help does not list {key:?} ({does}):\n{screen}"
            );
        }
        tui.key(close);
        let screen = tui.wait_for(&format!("{close:?} to close the help"), |s| !help_open(s));
        assert!(
            table_row(&screen, "sleep.pid").is_some()
                && screen.lines().any(|l| l.starts_with("pidscope ")),
            "{close:?} should close the help and leave the inspector running:\n{screen}"
        );
    }
    // Still running: q now quits.
    tui.key("q");
    assert_eq!(tui.exit_status(), 0);
}
