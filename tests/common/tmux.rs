//! A private tmux server with one pane, to drive the real binary in a real
//! terminal: start a shell command in it, read the screen, send keys. The
//! server (and everything in the pane, by SIGHUP) goes when the [`Pane`] is
//! dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::run;

/// How long a screen may take to show what a test waits for.
pub const SCREEN_TIMEOUT: Duration = Duration::from_secs(10);

/// `s` quoted as one `sh` word, for the scripts a [`Pane`] runs.
pub fn sh_quote(s: &std::ffi::OsStr) -> String {
    let s = s
        .to_str()
        .unwrap_or_else(|| panic!("not UTF-8, cannot quote: {s:?}"));
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// One tmux server of its own, with one pane (window `t`).
pub struct Pane {
    socket: String,
    /// The socket file (tmux leaves it behind when the server is killed).
    socket_path: Option<PathBuf>,
    /// The caller's scratch files, and tmux's own output.
    scratch: TempDir,
}

impl Pane {
    /// Starts `sh -c script` in a `width` x `height` pane. `scratch` holds
    /// files the script uses and gets tmux's output; `label` only makes the
    /// socket name readable.
    pub fn start(label: &str, (width, height): (u16, u16), scratch: TempDir, script: &str) -> Pane {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut pane = Pane {
            socket: format!("pidscope-test-{}-{n}-{label}", std::process::id()),
            socket_path: None,
            scratch,
        };
        // The server outlives this client: give it files, not pipes, so that
        // nothing waits for it to close them.
        let log = |name: &str| fs::File::create(pane.scratch.path().join(name)).expect("log file");
        let status = Command::new("tmux")
            .env_remove("TMUX")
            .args(["-L", &pane.socket, "-f", "/dev/null"])
            .args(["new-session", "-d", "-s", "t"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["--", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(log("tmux.out"))
            .stderr(log("tmux.err"))
            .status()
            .expect("run tmux (is it installed?)");
        assert!(
            status.success(),
            "tmux new-session failed ({status}): {}",
            fs::read_to_string(pane.scratch.path().join("tmux.err")).unwrap_or_default()
        );
        pane.socket_path = Some(PathBuf::from(pane.format("#{socket_path}")));
        pane
    }

    /// The scratch directory given to [`Pane::start`].
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Runs a tmux command against this server.
    pub fn tmux(&self, args: &[&str]) -> Output {
        run(Command::new("tmux")
            .env_remove("TMUX")
            .args(["-L", &self.socket])
            .args(args))
    }

    /// The screen as text, one line per terminal row.
    pub fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "t"]);
        if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            format!(
                "<capture-pane failed: {}>",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        }
    }

    /// Polls the screen until `ready` accepts it and returns it; panics with
    /// the last screen after [`SCREEN_TIMEOUT`].
    pub fn wait_for(&self, what: &str, mut ready: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {SCREEN_TIMEOUT:?} waiting for {what}; screen:\n{screen}");
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends one key (a tmux key name such as `Down`, `Enter`, `Escape`, or a character).
    pub fn key(&self, key: &str) {
        let out = self.tmux(&["send-keys", "-t", "t", key]);
        assert!(
            out.status.success(),
            "send-keys {key:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A tmux format (`#{...}`) evaluated for the pane.
    pub fn format(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "t", format]);
        assert!(
            out.status.success(),
            "display-message failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        // SIGHUPs everything in the pane (pidscope exits on it; so does the shell).
        let _ = Command::new("tmux")
            .env_remove("TMUX")
            .args(["-L", &self.socket, "kill-server"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(path) = &self.socket_path {
            let _ = fs::remove_file(path);
        }
    }
}
