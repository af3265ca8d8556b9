//! The one gate for destructive actions: delete a pidfile, signal its owner.
//!
//! An [`Action`] on an [`Entry`] the operator was shown becomes a [`Confirmed`]
//! value only through a confirmation: the inspector's dialogs
//! ([`Confirmed::by_dialog`]) or `clean`'s `--yes` or prompt
//! ([`Confirmed::by_clean`]). The one [`Executor`] takes nothing else: it
//! checks the confirmation against the rules ([`crate::policy`]), re-inspects
//! the system right before acting, refuses when anything that decided the
//! verdict has changed since, acts, and records every attempt in the audit
//! trail. The functions that delete and signal are private to this module.
//!
//! A confirmed action cannot be made up:
//!
//! ```compile_fail,E0451
//! use pidscope::act::{Action, Confirmed, Consent};
//! # let entry: pidscope::verdict::Entry = todo!();
//! // The fields are private: no confirmation, no action.
//! let forged = Confirmed { action: Action::Delete, target: entry, consent: Consent::Twice };
//! ```
//!
//! and nothing deletes or signals around the executor:
//!
//! ```compile_fail,E0603
//! # let entry: pidscope::verdict::Entry = todo!();
//! pidscope::act::delete::delete_pidfile(&entry, std::time::Duration::ZERO);
//! ```
//!
//! ```compile_fail,E0603
//! # let entry: pidscope::verdict::Entry = todo!();
//! pidscope::act::signal::signal_owner(&entry, nix::sys::signal::Signal::SIGKILL);
//! ```

mod delete;
pub mod log;
mod signal;

pub use signal::{MENU, Sent, parse_signal, signal_label};

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;

use crate::policy::delete::{Deletion, may_delete};
use crate::policy::signal::{Signalling, UNTRUSTED, may_signal};
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

/// What the operator asks for on one pidfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Delete the pidfile.
    Delete,
    /// Send this signal to the process it names.
    Signal(Signal),
}

impl Action {
    /// The word the audit trail records.
    fn word(self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Signal(_) => "signal",
        }
    }
}

/// How far the operator went to confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// One confirmation: enough for a stale, reused or old invalid pidfile,
    /// and for signalling the owner of a trusted one.
    Once,
    /// A second, explicit confirmation that says what breaks: deleting the
    /// pidfile of a live process (or a zombie's, or an unreadable one), or
    /// signalling the process an untrusted pidfile names.
    Twice,
}

/// An action on one pidfile that the operator confirmed: the only thing the
/// [`Executor`] accepts. Its fields are private; only a confirmation makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmed {
    action: Action,
    target: Entry,
    consent: Consent,
}

impl Confirmed {
    /// The inspector's confirmation dialog for `action` on `target` was
    /// answered yes; [`Consent::Twice`] when its second dialog was too.
    pub fn by_dialog(action: Action, target: Entry, consent: Consent) -> Self {
        Confirmed {
            action,
            target,
            consent,
        }
    }

    /// `pidscope clean` was told `--yes`, or its prompt was answered yes:
    /// deleting `target`, on one confirmation (clean never removes a pidfile
    /// that needs a second one, and never signals).
    pub fn by_clean(target: Entry) -> Self {
        Confirmed {
            action: Action::Delete,
            target,
            consent: Consent::Once,
        }
    }

    /// What was confirmed.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The pidfile as the operator saw it.
    pub fn target(&self) -> &Entry {
        &self.target
    }

    /// How far the operator went.
    pub fn consent(&self) -> Consent {
        self.consent
    }
}

/// Carries out confirmed actions and records each one in the audit trail:
/// the single way to act, shared by the inspector and `pidscope clean`.
#[derive(Debug, Clone)]
pub struct Executor {
    log: log::ActionLog,
    grace: Duration,
    same_namespace: bool,
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

impl Executor {
    /// Record actions in `log`; `grace` protects young invalid pidfiles (a
    /// daemon that has created its pidfile but not yet written its PID).
    pub fn new(log: log::ActionLog, grace: Duration) -> Self {
        Executor {
            log,
            grace,
            same_namespace: false,
        }
    }

    /// Re-verify as the operator stated: the pidfiles' PIDs belong to the
    /// PID namespace pidscope runs in, even a nested one.
    pub fn same_namespace(mut self, same: bool) -> Self {
        self.same_namespace = same;
        self
    }

    /// Check the confirmation against the rules, re-verify, act, and record
    /// the attempt, whatever its result.
    pub fn execute(&self, confirmed: &Confirmed) -> Done {
        let seen = &confirmed.target;
        let result = match confirmed.action {
            Action::Delete => self.delete(seen, confirmed.consent),
            Action::Signal(sig) => self.signal(seen, sig, confirmed.consent),
        };
        self.record(confirmed, result)
    }

    fn delete(&self, seen: &Entry, consent: Consent) -> Result<String, ActionError> {
        let decision = may_delete(seen, self.grace, SystemTime::now());
        if decision == Deletion::NeedsSecondConfirmation && consent != Consent::Twice {
            return Err(ActionError::refused(
                &seen.path,
                format!(
                    "the pidfile is {}; deleting it needs the second confirmation",
                    seen.status
                ),
            ));
        }
        let fresh = reverify(seen, self.same_namespace)?;
        delete::delete_pidfile(&fresh, self.grace)
            .map(|()| format!("deleted {}", seen.path.display()))
    }

    fn signal(&self, seen: &Entry, sig: Signal, consent: Consent) -> Result<String, ActionError> {
        may_signal_with(seen, consent)?;
        // The pidfile must still say what the operator saw (a restarted daemon
        // writes a new PID), and the rules must still allow it as it is now (a
        // chmod since makes the file untrusted without changing its mtime).
        let fresh = reverify(seen, self.same_namespace)?;
        may_signal_with(&fresh, consent)?;
        signal::signal_owner(seen, sig).map(|sent| sent.to_string())
    }

    fn record(&self, confirmed: &Confirmed, result: Result<String, ActionError>) -> Done {
        let seen = &confirmed.target;
        let (word, detail) = match &result {
            Ok(text) => ("ok", text.clone()),
            Err(e @ ActionError::ChangedSinceScan { .. }) => ("changed", e.to_string()),
            Err(e @ ActionError::Refused { .. }) => ("refused", e.to_string()),
            Err(e @ ActionError::Failed { .. }) => ("failed", e.to_string()),
        };
        let signal = match confirmed.action {
            Action::Signal(sig) => Some(sig.as_str()),
            Action::Delete => None,
        };
        let record = log::Record {
            time: SystemTime::now(),
            uid: nix::unistd::getuid().as_raw(),
            sudo_user: std::env::var("SUDO_USER").ok(),
            action: confirmed.action.word(),
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

/// May the owner of `entry` be signalled with this consent? The rules'
/// refusal, or the second confirmation it lacks, as an error.
fn may_signal_with(entry: &Entry, consent: Consent) -> Result<(), ActionError> {
    match may_signal(entry, std::process::id() as i32) {
        Signalling::Refused(why) => Err(ActionError::refused(&entry.path, why)),
        Signalling::NeedsSecondConfirmation if consent != Consent::Twice => {
            Err(ActionError::refused(
                &entry.path,
                format!("{UNTRUSTED}; signalling needs the second confirmation"),
            ))
        }
        Signalling::Allowed | Signalling::NeedsSecondConfirmation => Ok(()),
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
            location: entry.location.clone(),
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
fn reverify(seen: &Entry, same_namespace: bool) -> Result<Entry, ActionError> {
    let changed = |what: String| ActionError::changed(&seen.path, what);
    let fresh = crate::inspect::Scanner::inspect_one(&seen.path, same_namespace)
        .ok_or_else(|| changed("the file is gone".into()))?;
    match Basis::of(seen).difference(&Basis::of(&fresh)) {
        Some(what) => Err(changed(what)),
        None => Ok(fresh),
    }
}

/// Debug builds only: widen one window between a check and the act it
/// guards, so the race tests can land a change in it every time instead of
/// once in thousands of rounds. `variable` names the window and holds the
/// pause in milliseconds:
///
/// - `PIDSCOPE_TEST_PAUSE_BEFORE_LOCK_MS`: a delete, between the
///   re-verification and taking the file's locks;
/// - `PIDSCOPE_TEST_PAUSE_BEFORE_REMOVE_MS`: a delete, between the last check
///   and the removal;
/// - `PIDSCOPE_TEST_PAUSE_BEFORE_PIDFD_MS`: a signal, between the
///   re-verification and opening the pidfd (whose start-time check is then
///   the only one left to catch a reused PID).
///
/// A line on stderr says when a pause starts. Release builds have no such pauses.
///
/// The inspector has one more debug-only hook: `PIDSCOPE_TEST_PANIC` makes
/// its first key press panic with the variable's text, for the test that a
/// panic restores the terminal (`tui::panic_for_tests`).
fn pause_for_race_tests(variable: &str) {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(variable).ok().and_then(|v| v.parse().ok()) {
        // Tests wait for this line to act inside the window, however slow the machine.
        eprintln!("pidscope: pausing at {variable}");
        std::thread::sleep(Duration::from_millis(ms));
    }
    #[cfg(not(debug_assertions))]
    let _ = variable;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::probe::locks::LockKind;
    use crate::scan::Location;

    fn seen() -> Entry {
        fixture::entry("/run/x.pid", Status::Alive)
            .pid(10)
            .file(fixture::file().device(1, 2).size(3))
            .process(fixture::process("x").start_ticks(100).uid(0))
            .lock(fixture::lock(LockKind::Flock, &[10]))
            .location(Location {
                dir: (1, 5).into(),
                entry: (1, 2),
            })
            .build()
    }

    #[test]
    fn every_change_to_what_the_verdict_rested_on_is_named() {
        let before = seen();
        let difference = |change: &dyn Fn(&mut Entry)| {
            let mut now = before.clone();
            change(&mut now);
            Basis::of(&before).difference(&Basis::of(&now))
        };
        let file = |e: &mut Entry| e.file.as_mut().unwrap().clone();
        let set_file = |e: &mut Entry, f| e.file = Some(f);
        type Change<'a> = &'a dyn Fn(&mut Entry);
        let cases: [(Change, Option<&str>); 13] = [
            (&|_| {}, None),
            // What the reason says and the warnings are not grounds: they are
            // derived, and "running for" changes every second.
            (
                &|e| {
                    e.reason = "PID 10 is x, running for 5s".into();
                    e.warnings = [crate::verdict::Warning::NameMismatch]
                        .into_iter()
                        .collect();
                },
                None,
            ),
            (
                &|e| set_file(e, fixture::file().device(1, 3).size(3).build()),
                Some("another file took its name"),
            ),
            (
                &|e| set_file(e, fixture::file().device(9, 2).size(3).build()),
                Some("another file took its name"),
            ),
            (
                &|e| {
                    let mut f = file(e);
                    f.size = 4;
                    set_file(e, f);
                },
                Some("the file was rewritten"),
            ),
            (
                &|e| {
                    let mut f = file(e);
                    f.mtime += Duration::from_nanos(1);
                    set_file(e, f);
                },
                Some("the file was rewritten"),
            ),
            (&|e| e.file = None, Some("the file was rewritten")),
            (
                &|e| e.location.as_mut().unwrap().dir = (1, 6).into(),
                Some("its directory or directory entry was replaced"),
            ),
            (&|e| e.pid = Some(11), Some("the PID in the file changed")),
            (
                &|e| e.status = Status::Zombie,
                Some("it is now zombie, was alive"),
            ),
            (
                &|e| e.process = Some(fixture::process("x").start_ticks(101).uid(0).into()),
                Some("the PID now belongs to another process"),
            ),
            (
                &|e| e.process = Some(fixture::process("x").start_ticks(100).uid(1000).into()),
                Some("the PID now belongs to another process"),
            ),
            (
                &|e| e.lock = Some(Box::new(fixture::lock(LockKind::Flock, &[10, 12]))),
                Some("its lock holders changed"),
            ),
        ];
        for (i, (change, expected)) in cases.into_iter().enumerate() {
            assert_eq!(difference(change).as_deref(), expected, "case {i}");
        }
    }

    #[test]
    fn the_summary_is_the_result_then_the_log_problem() {
        let path = std::path::Path::new("/run/x.pid");
        let done = |result, log_error: Option<&str>| Done {
            result,
            log_error: log_error.map(str::to_string),
        };
        let ok = done(Ok("deleted /run/x.pid".into()), None);
        assert_eq!(ok.summary(), "deleted /run/x.pid");
        assert!(ok.ok());
        let unlogged = done(Ok("deleted /run/x.pid".into()), Some("audit log: full"));
        assert_eq!(unlogged.summary(), "deleted /run/x.pid [audit log: full]");
        assert!(!unlogged.ok(), "an action not recorded is not ok");
        for (error, line) in [
            (
                ActionError::refused(path, "in use"),
                "/run/x.pid: refused: in use",
            ),
            (
                ActionError::changed(path, "the PID in the file changed"),
                "/run/x.pid: changed since scan (the PID in the file changed); nothing done",
            ),
            (
                ActionError::failed(path, "cannot move it aside: EROFS"),
                "/run/x.pid: cannot move it aside: EROFS",
            ),
        ] {
            let failed = done(Err(error), None);
            assert_eq!(failed.summary(), line);
            assert!(!failed.ok());
        }
    }

    /// Execute `confirmed` with the audit trail in a fresh directory below
    /// `dir`; the result and the one record written.
    fn execute_logged(dir: &std::path::Path, confirmed: &Confirmed) -> (Done, serde_json::Value) {
        let log = dir.join("log/actions.log");
        let done =
            Executor::new(log::ActionLog::new(log.clone()), Duration::ZERO).execute(confirmed);
        let text = std::fs::read_to_string(&log).expect("the attempt is recorded");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        (done, serde_json::from_str(lines[0]).unwrap())
    }

    #[test]
    fn refused_and_outdated_attempts_are_recorded_with_what_was_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.pid");
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let entry = |status| {
            fixture::entry(&path, status)
                .pid(1)
                .process(fixture::process("init").started(started))
                .build()
        };
        // Deleting the file of a live process on one confirmation: refused by the rules.
        let (done, record) = execute_logged(
            &dir.path().join("1"),
            &Confirmed::by_dialog(Action::Delete, entry(Status::Alive), Consent::Once),
        );
        assert!(
            matches!(&done.result, Err(ActionError::Refused { why, .. })
                if why == "the pidfile is alive; deleting it needs the second confirmation"),
            "{done:?}"
        );
        assert_eq!(done.log_error, None);
        assert_eq!(record["action"], "delete");
        assert_eq!(record["result"], "refused");
        assert_eq!(record["signal"], serde_json::Value::Null);
        assert_eq!(record["pid"], 1);
        assert_eq!(record["start_time"].as_f64(), Some(1_700_000_000.0));
        assert_eq!(record["path"], path.display().to_string());
        assert_eq!(record["detail"], done.summary());
        assert_eq!(record["uid"], nix::unistd::getuid().as_raw());
        // Signalling PID 1: refused whatever the consent.
        let (done, record) = execute_logged(
            &dir.path().join("2"),
            &Confirmed::by_dialog(
                Action::Signal(Signal::SIGTERM),
                entry(Status::Alive),
                Consent::Twice,
            ),
        );
        assert!(!done.ok());
        assert_eq!(record["action"], "signal");
        assert_eq!(record["signal"], "SIGTERM");
        assert_eq!(record["result"], "refused");
        assert_eq!(record["detail"], done.summary());
        // A stale file that is gone by the time of acting: nothing to do, and said so.
        let (done, record) = execute_logged(
            &dir.path().join("3"),
            &Confirmed::by_clean(entry(Status::Stale)),
        );
        assert!(
            matches!(&done.result, Err(ActionError::ChangedSinceScan { what, .. })
                if what == "the file is gone"),
            "{done:?}"
        );
        assert_eq!(record["action"], "delete");
        assert_eq!(record["result"], "changed");
    }
}
