//! The audit trail: one JSON line per delete or signal, successful or not.
//!
//! Appended with `O_APPEND` in a single `write`, so concurrent pidscope
//! processes never interleave records. A log that cannot be written is
//! reported to the caller, never silently skipped.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// One action, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Record<'a> {
    /// When, in epoch seconds.
    #[serde(serialize_with = "crate::serial::epoch_seconds")]
    pub time: SystemTime,
    /// The acting (real) uid.
    pub uid: u32,
    /// `SUDO_USER`, when pidscope runs under sudo.
    pub sudo_user: Option<String>,
    /// `delete` or `signal`.
    pub action: &'a str,
    /// The pidfile.
    #[serde(serialize_with = "crate::serial::lossy_path")]
    pub path: &'a Path,
    /// The PID it named.
    pub pid: Option<i32>,
    /// The start time of the process the operator saw, in epoch seconds.
    #[serde(serialize_with = "crate::serial::epoch_seconds_opt")]
    pub start_time: Option<SystemTime>,
    /// The signal, for `signal`.
    pub signal: Option<&'a str>,
    /// `ok`, `refused`, `changed` or `failed`.
    pub result: &'a str,
    /// What happened, in words.
    pub detail: &'a str,
}

/// Root's audit trail.
pub const ROOT_LOG: &str = "/var/log/pidscope/actions.log";

/// Other users' audit trail, below `$XDG_STATE_HOME` (else `~/.local/state`).
pub const USER_LOG: &str = "pidscope/actions.log";

/// Where action records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLog {
    path: PathBuf,
}

impl ActionLog {
    /// A log at `path`.
    pub fn new(path: PathBuf) -> Self {
        ActionLog { path }
    }

    /// The default location: `/var/log/pidscope/actions.log` for root,
    /// `$XDG_STATE_HOME/pidscope/actions.log` (`~/.local/state/...`) for others.
    pub fn default_path() -> PathBuf {
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from(ROOT_LOG);
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        state.join(USER_LOG)
    }

    /// The file records go to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record. The error names the log file and what failed.
    pub fn append(&self, record: &Record<'_>) -> Result<(), String> {
        let mut line = serde_json::to_string(record).map_err(|e| e.to_string())?;
        line.push('\n');
        let fail = |what: &str, e: std::io::Error| {
            format!(
                "audit log {}: {what}: {}",
                self.path.display(),
                crate::scan::read::describe(&e)
            )
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)
                .map_err(|e| fail("cannot create its directory", e))?;
        }
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)
            .map_err(|e| fail("cannot open", e))?;
        file.write_all(line.as_bytes())
            .map_err(|e| fail("cannot write", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the environment of this test binary re-executed as another user.
    const HELPER: &str = "PIDSCOPE_TEST_DEFAULT_LOG_HELPER";
    /// Marks the helper's answer among the test harness's lines.
    const MARK: &str = "default log: ";

    /// Not a test: what [`users_record_under_their_state_directory`] runs as
    /// another user. Run normally, it does nothing.
    #[test]
    fn default_path_helper() {
        if std::env::var_os(HELPER).is_some() {
            println!("{MARK}{}", ActionLog::default_path().display());
        }
    }

    #[test]
    fn root_records_to_the_system_log() {
        if nix::unistd::geteuid().is_root() {
            assert_eq!(
                ActionLog::default_path(),
                Path::new("/var/log/pidscope/actions.log")
            );
        }
    }

    #[test]
    fn users_record_under_their_state_directory() {
        if !nix::unistd::geteuid().is_root() {
            // Only root can become another user; CI runs as root.
            assert!(
                std::env::var_os("CI").is_none(),
                "needs root to run as another user"
            );
            eprintln!("skipped: needs root to run as another user");
            return;
        }
        let home = "/nonexistent/home";
        for (state, expected) in [
            (
                Some("/var/tmp/state"),
                "/var/tmp/state/pidscope/actions.log",
            ),
            // Unset or empty: the XDG default under the home directory.
            (None, "/nonexistent/home/.local/state/pidscope/actions.log"),
            (
                Some(""),
                "/nonexistent/home/.local/state/pidscope/actions.log",
            ),
        ] {
            let mut cmd = std::process::Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "act::log::tests::default_path_helper",
                    "--nocapture",
                ])
                .env(HELPER, "1")
                .env("HOME", home);
            match state {
                Some(dir) => cmd.env("XDG_STATE_HOME", dir),
                None => cmd.env_remove("XDG_STATE_HOME"),
            };
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let answer = stdout.lines().find_map(|l| l.strip_prefix(MARK));
            assert_eq!(
                answer,
                Some(expected),
                "XDG_STATE_HOME {state:?}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn records_are_appended_one_json_line_each_in_a_directory_made_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/dir/actions.log");
        let log = ActionLog::new(path.clone());
        assert_eq!(log.path(), path);
        for (pid, result) in [(10, "ok"), (11, "refused")] {
            let record = Record {
                time: SystemTime::UNIX_EPOCH,
                uid: 0,
                sudo_user: None,
                action: "delete",
                path: Path::new("/run/x.pid"),
                pid: Some(pid),
                start_time: None,
                signal: None,
                result,
                detail: "deleted /run/x.pid",
            };
            log.append(&record).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 2, "{text}");
        assert_eq!(records[0]["pid"], 10);
        assert_eq!(records[1]["result"], "refused");
        assert!(text.ends_with('\n'));
    }
}
