//! Actions on what the operator saw: delete a pidfile, signal its owner.
//!
//! Every action takes the [`Entry`] the operator was
//! shown, re-inspects the system right before acting, and refuses when
//! anything that decided the verdict has changed since. The TUI and the CLI
//! share these functions: there is no second copy.

pub mod delete;
pub mod log;
pub mod signal;

use std::fmt;
use std::path::PathBuf;

use crate::verdict::{Entry, Status};

/// Why an action was not carried out. Displays as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionError {
    /// The system no longer matches what the operator saw.
    ChangedSinceScan {
        /// The pidfile.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// The action is never allowed on this target, or needs a confirmation it did not get.
    Refused {
        /// The pidfile.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The system call failed.
    Failed {
        /// The pidfile.
        path: PathBuf,
        /// What was tried and the error.
        what: String,
    },
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::ChangedSinceScan { path, what } => {
                write!(
                    f,
                    "{}: changed since scan ({what}); nothing done",
                    path.display()
                )
            }
            ActionError::Refused { path, why } => write!(f, "{}: refused: {why}", path.display()),
            ActionError::Failed { path, what } => write!(f, "{}: {what}", path.display()),
        }
    }
}

impl std::error::Error for ActionError {}

impl ActionError {
    /// The action is not allowed on `path`, or needs a confirmation it did not get.
    pub fn refused(path: &std::path::Path, why: impl Into<String>) -> Self {
        ActionError::Refused {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }

    /// The system call on `path` failed.
    pub fn failed(path: &std::path::Path, what: impl Into<String>) -> Self {
        ActionError::Failed {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// `path` no longer matches what the operator saw.
    pub fn changed(path: &std::path::Path, what: impl Into<String>) -> Self {
        ActionError::ChangedSinceScan {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}

/// Carries out actions and records each one in the audit trail: the single
/// entry point the TUI and `pidscope clean` share.
#[derive(Debug, Clone)]
pub struct Actor {
    log: log::ActionLog,
    grace: std::time::Duration,
}

/// The result of one action and of recording it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// What happened, or why nothing was done.
    pub result: Result<String, ActionError>,
    /// Set when the audit trail could not be written.
    pub log_error: Option<String>,
}

impl Done {
    /// One line for the operator: the result, then the log problem if any.
    pub fn summary(&self) -> String {
        let mut text = match &self.result {
            Ok(text) => text.clone(),
            Err(e) => e.to_string(),
        };
        if let Some(e) = &self.log_error {
            text.push_str(&format!(" [{e}]"));
        }
        text
    }

    /// True when the action was carried out and recorded.
    pub fn ok(&self) -> bool {
        self.result.is_ok() && self.log_error.is_none()
    }
}

impl Actor {
    /// Record actions in `log`; `grace` protects young invalid pidfiles (a
    /// daemon that has created its pidfile but not yet written its PID).
    pub fn new(log: log::ActionLog, grace: std::time::Duration) -> Self {
        Actor { log, grace }
    }

    /// Delete a pidfile as [`delete::delete_pidfile`] does, and record it.
    pub fn delete(&self, seen: &Entry, confirmation: delete::Confirmation) -> Done {
        let result = delete::delete_pidfile(seen, confirmation, self.grace)
            .map(|()| format!("deleted {}", seen.path.display()));
        self.record(seen, "delete", None, result)
    }

    /// Signal a pidfile's owner as [`signal::signal_owner`] does, and record it.
    pub fn signal(
        &self,
        seen: &Entry,
        sig: nix::sys::signal::Signal,
        confirmation: delete::Confirmation,
    ) -> Done {
        let result = signal::signal_owner(seen, sig, confirmation).map(|sent| sent.to_string());
        self.record(seen, "signal", Some(sig.as_str()), result)
    }

    fn record(
        &self,
        seen: &Entry,
        action: &str,
        signal: Option<&str>,
        result: Result<String, ActionError>,
    ) -> Done {
        let (word, detail) = match &result {
            Ok(text) => ("ok", text.clone()),
            Err(e @ ActionError::ChangedSinceScan { .. }) => ("changed", e.to_string()),
            Err(e @ ActionError::Refused { .. }) => ("refused", e.to_string()),
            Err(e @ ActionError::Failed { .. }) => ("failed", e.to_string()),
        };
        let record = log::Record {
            time: std::time::SystemTime::now(),
            uid: nix::unistd::getuid().as_raw(),
            sudo_user: std::env::var("SUDO_USER").ok(),
            action,
            path: &seen.path,
            pid: seen.pid,
            start_time: seen.process.as_ref().and_then(|p| p.start_time),
            signal,
            result: word,
            detail: &detail,
        };
        Done {
            log_error: self.log.append(&record).err(),
            result,
        }
    }
}

/// What must still hold for an action to go ahead: everything the verdict rested on.
#[derive(Debug, Clone, PartialEq)]
struct Basis {
    status: Status,
    pid: Option<i32>,
    file: Option<(u64, u64, u64, std::time::SystemTime)>,
    start_ticks: Option<u64>,
    uid: Option<u32>,
    holders: Vec<i32>,
    location: Option<crate::scan::Location>,
}

impl Basis {
    fn of(entry: &Entry) -> Self {
        Basis {
            status: entry.status,
            pid: entry.pid,
            file: entry.file.as_ref().map(|f| (f.dev, f.ino, f.size, f.mtime)),
            start_ticks: entry.process.as_ref().map(|p| p.start_ticks),
            uid: entry.process.as_ref().and_then(|p| p.uid),
            holders: entry
                .lock
                .as_ref()
                .map(|l| l.holders.clone())
                .unwrap_or_default(),
            location: entry.location,
        }
    }

    /// The first difference, in words, or `None` when nothing changed.
    fn difference(&self, now: &Basis) -> Option<String> {
        if self.file != now.file {
            return Some(match (self.file, now.file) {
                (Some((d1, i1, ..)), Some((d2, i2, ..))) if (d1, i1) != (d2, i2) => {
                    "another file took its name".into()
                }
                _ => "the file was rewritten".into(),
            });
        }
        if self.location != now.location {
            return Some("its directory or directory entry was replaced".into());
        }
        if self.pid != now.pid {
            return Some("the PID in the file changed".into());
        }
        if self.status != now.status {
            return Some(format!("it is now {}, was {}", now.status, self.status));
        }
        if self.start_ticks != now.start_ticks || self.uid != now.uid {
            return Some("the PID now belongs to another process".into());
        }
        if self.holders != now.holders {
            return Some("its lock holders changed".into());
        }
        None
    }
}

/// Re-inspect `seen.path` now; error when anything its verdict rested on changed.
fn reverify(seen: &Entry) -> Result<Entry, ActionError> {
    let changed = |what: String| ActionError::changed(&seen.path, what);
    let fresh = crate::inspect::Scanner::inspect_file(&seen.path)
        .ok_or_else(|| changed("the file is gone".into()))?;
    match Basis::of(seen).difference(&Basis::of(&fresh)) {
        Some(what) => Err(changed(what)),
        None => Ok(fresh),
    }
}
