//! The vocabulary of verdicts: [`Status`], [`Warning`], the [`Evidence`] the
//! rules look at and the [`Entry`] every output shows. The rules that decide
//! them live in the `policy` module, above this one; this module holds no rule.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::probe::locks::LockInfo;
use crate::probe::process::{ProcessInfo, ProcessProbe};
use crate::scan::parse::InvalidPid;
use crate::scan::read::FileInfo;
use crate::systemd::chase::Chase;
use crate::systemd::index::Declaration;

/// What a pidfile really means, exactly one per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A process with the PID exists and nothing shows it is a different one.
    Alive,
    /// No process has the PID: an orphaned pidfile.
    Stale,
    /// A process has the PID but cannot be the writer (started after the file
    /// was written, a kernel thread, or a thread of another process).
    Reused,
    /// The process has exited and its parent has not reaped it.
    Zombie,
    /// The content is not a valid PID.
    Invalid,
    /// The file cannot be read (permissions, not a regular file, I/O error).
    Unreadable,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 6] = [
        Status::Alive,
        Status::Stale,
        Status::Reused,
        Status::Zombie,
        Status::Invalid,
        Status::Unreadable,
    ];

    /// The lower-case word used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Alive => "alive",
            Status::Stale => "stale",
            Status::Reused => "reused",
            Status::Zombie => "zombie",
            Status::Invalid => "invalid",
            Status::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something worth knowing about a pidfile beyond its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Warning {
    /// The process exists but this user may not signal it (EPERM).
    NotSignalable,
    /// Neither the file's name nor its directory relates to the process's name.
    NameMismatch,
    /// The file is locked by processes other than the one it names.
    LockHolderMismatch,
    /// The file is writable by a non-root user other than the process's owner
    /// (or by everyone): its PID could point root at any process.
    UntrustedFile,
    /// The process started after the file was last written, but owns it (by
    /// its lock, an open descriptor or its name): the wall clock was stepped
    /// since the write, so the times cannot be compared.
    ClockSkew,
    /// pidscope runs in a nested PID namespace: a PID it cannot see (stale),
    /// or sees as another process (reused), may belong to a live process
    /// outside it. Never deleted without `--same-namespace`.
    Unverifiable,
    /// A unit declares the file, and the live process it names runs outside
    /// that unit's cgroup.
    OutsideUnit,
    /// systemd would refuse the PID as the declaring unit's main process
    /// (see `policy::systemd`): the unit fails to start or reload.
    SystemdRefuses,
    /// The file is dead (stale, reused or zombie) but its daemon is running
    /// under another PID: starting the service again would start a second one.
    DaemonElsewhere,
}

impl Warning {
    /// Every warning, in the order of its declaration (and of sorted lists).
    pub const ALL: [Warning; 9] = [
        Warning::NotSignalable,
        Warning::NameMismatch,
        Warning::LockHolderMismatch,
        Warning::UntrustedFile,
        Warning::ClockSkew,
        Warning::Unverifiable,
        Warning::OutsideUnit,
        Warning::SystemdRefuses,
        Warning::DaemonElsewhere,
    ];

    /// The kebab-case code used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Warning::NotSignalable => "not-signalable",
            Warning::NameMismatch => "name-mismatch",
            Warning::LockHolderMismatch => "lock-holder-mismatch",
            Warning::UntrustedFile => "untrusted-file",
            Warning::ClockSkew => "clock-skew",
            Warning::Unverifiable => "unverifiable",
            Warning::OutsideUnit => "outside-unit",
            Warning::SystemdRefuses => "systemd-refuses",
            Warning::DaemonElsewhere => "daemon-elsewhere",
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Warning`]s, one bit each: listed, compared and written (as
/// a JSON array of codes) in the order of [`Warning::ALL`], the sorted order
/// every verdict gives them in. Two bytes where a list took 24 and an
/// allocation: a scan keeps one per pidfile.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Warnings(u16);

impl fmt::Debug for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Warnings {
    /// No warning.
    pub const fn new() -> Self {
        Warnings(0)
    }

    const fn bit(warning: Warning) -> u16 {
        1 << warning as u16
    }

    /// Add `warning` (once: a set holds each warning at most once).
    pub fn insert(&mut self, warning: Warning) {
        self.0 |= Self::bit(warning);
    }

    /// Whether `warning` is in the set.
    pub fn contains(&self, warning: Warning) -> bool {
        self.0 & Self::bit(warning) != 0
    }

    /// Whether the set holds no warning.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// How many warnings the set holds.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// The warnings, in the order of [`Warning::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = Warning> + Clone + use<> {
        let bits = self.0;
        Warning::ALL
            .into_iter()
            .filter(move |w| bits & Self::bit(*w) != 0)
    }
}

impl FromIterator<Warning> for Warnings {
    fn from_iter<I: IntoIterator<Item = Warning>>(iter: I) -> Self {
        let mut set = Warnings::new();
        set.extend(iter);
        set
    }
}

impl Extend<Warning> for Warnings {
    fn extend<I: IntoIterator<Item = Warning>>(&mut self, iter: I) {
        for warning in iter {
            self.insert(warning);
        }
    }
}

impl From<&[Warning]> for Warnings {
    fn from(warnings: &[Warning]) -> Self {
        warnings.iter().copied().collect()
    }
}

impl Serialize for Warnings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// What was found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A valid PID.
    Pid(i32),
    /// Content that is not a valid PID.
    Invalid(InvalidPid),
    /// The file could not be read.
    Unreadable(String),
}

impl Content {
    /// The PID, when the content is a valid one.
    pub fn pid(&self) -> Option<i32> {
        match self {
            Content::Pid(pid) => Some(*pid),
            _ => None,
        }
    }
}

/// One pidfile and the verdict on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The path as discovered.
    #[serde(serialize_with = "crate::serial::lossy_path")]
    pub path: PathBuf,
    /// Other paths that reach the same file (hard links, symlinks, overlapping roots).
    pub aliases: crate::text::Aliases,
    /// The verdict.
    pub status: Status,
    /// The PID the file names, when it names a valid one.
    pub pid: Option<i32>,
    /// Why, as a sentence.
    pub reason: Box<str>,
    /// Warning codes, in the order of [`Warning::ALL`].
    pub warnings: Warnings,
    /// The file's metadata.
    pub file: Option<FileInfo>,
    /// The first line of the content (trimmed, lossy, shortened), for display.
    pub first_line: Option<crate::text::Line>,
    /// The process the PID names, when one exists (shared by the entries that name it).
    pub process: Option<std::sync::Arc<ProcessInfo>>,
    /// Who holds a lock on the file; boxed, as most pidfiles are not
    /// locked and an entry is kept per pidfile.
    pub lock: Option<Box<LockInfo>>,
    /// What systemd's files say about it (see [`SystemdInfo`]); boxed, as
    /// most pidfiles have nothing to say and an entry is kept per pidfile.
    pub systemd: Option<Box<SystemdInfo>>,
    /// Where the file sits on disk, for actions to re-check.
    #[serde(skip)]
    pub location: Option<crate::scan::Location>,
}

/// Everything the rules look at for one pidfile.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The pidfile's path.
    pub path: &'a Path,
    /// Other paths of the same file.
    pub aliases: &'a [PathBuf],
    /// What its content says.
    pub content: &'a Content,
    /// The file's metadata.
    pub file: Option<&'a FileInfo>,
    /// The probe of the PID it names.
    pub probe: Option<&'a ProcessProbe>,
    /// The lock holders.
    pub lock: Option<&'a LockInfo>,
    /// What systemd's files say about the file; `None` when that view is off.
    pub systemd: Option<&'a SystemdFacts<'a>>,
    /// Whether the process the file names has the file open. Asked only when
    /// the clocks disagree, as it costs a walk of `/proc/PID/fd`; `None`
    /// when nobody can ask (the file as a fixture).
    pub open_check: Option<OpenCheck<'a>>,
    /// Only part of the system's processes can be seen: pidscope runs in a
    /// nested PID namespace, and the operator has not stated that the files
    /// belong to it. A PID that is not seen proves nothing then.
    pub partial_pid_view: bool,
}

/// A look at the system a rule takes only when it needs it.
#[derive(Clone, Copy)]
pub struct OpenCheck<'a>(pub &'a dyn Fn() -> bool);

impl fmt::Debug for OpenCheck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenCheck(..)")
    }
}

/// The decision: status, reason and warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The status.
    pub status: Status,
    /// A sentence saying why.
    pub reason: String,
    /// Warning codes, sorted.
    pub warnings: Vec<Warning>,
    /// What systemd's files say, when a unit declares the file or the
    /// process runs in one.
    pub systemd: Option<SystemdInfo>,
}

/// What systemd's files say about one pidfile, as every output shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemdInfo {
    /// The units whose `PIDFile=` names the file, sorted.
    pub declared_by: Vec<String>,
    /// The unit the named process runs in.
    pub process_unit: Option<String>,
    /// The live processes in the first declaring unit's cgroup, sorted.
    pub unit_pids: Vec<i32>,
    /// Whether systemd would take the named PID as the first declaring
    /// unit's main process; `None` when no unit declares the file or it
    /// names no live process.
    pub systemd_accepts: Option<bool>,
    /// Each declaring unit's setting and where it comes from.
    #[serde(skip)]
    pub declarations: Vec<Declaration>,
    /// systemd's answer and the rule behind it, in words.
    #[serde(skip)]
    pub answer: Option<String>,
}

impl SystemdInfo {
    /// The unit to show for the file: the first that declares it, else the
    /// one its process runs in.
    pub fn unit(&self) -> Option<&str> {
        self.declared_by
            .first()
            .map(String::as_str)
            .or(self.process_unit.as_deref())
    }
}

/// The unit to show for an entry (see [`SystemdInfo::unit`]).
pub fn entry_unit(entry: &Entry) -> Option<&str> {
    entry.systemd.as_deref().and_then(SystemdInfo::unit)
}

/// The facts the systemd rules look at for one pidfile.
#[derive(Debug, Clone, Copy)]
pub struct SystemdFacts<'a> {
    /// The units that declare the file, sorted by name.
    pub declarations: &'a [Declaration],
    /// The live processes of the first declaring unit.
    pub unit_pids: &'a [i32],
    /// The first declaring unit's path as systemd's safe chase walks it;
    /// `None` when it could not be walked (or no unit declares the file).
    pub chase: Option<&'a Chase>,
    /// The live processes whose executable is named like the file (with
    /// the file's stem), asked only when no unit declares a dead file.
    pub namesakes: Option<NamesakeLook<'a>>,
}

/// A live process whose executable's base name is a file's stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namesake {
    /// Its PID.
    pub pid: i32,
    /// Whether its parent's executable has the same name (a worker).
    pub parent_same_name: bool,
}

/// The look for namesakes, taken only when a rule needs it: the name
/// looked for, and the processes found.
#[derive(Clone, Copy)]
pub struct NamesakeLook<'a>(pub &'a dyn Fn() -> (String, Vec<Namesake>));

impl fmt::Debug for NamesakeLook<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NamesakeLook(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_warning_is_in_all_once_in_order() {
        // A new warning does not compile here until it has a place in ALL.
        fn place(warning: Warning) -> usize {
            match warning {
                Warning::NotSignalable => 0,
                Warning::NameMismatch => 1,
                Warning::LockHolderMismatch => 2,
                Warning::UntrustedFile => 3,
                Warning::ClockSkew => 4,
                Warning::Unverifiable => 5,
                Warning::OutsideUnit => 6,
                Warning::SystemdRefuses => 7,
                Warning::DaemonElsewhere => 8,
            }
        }
        for (i, warning) in Warning::ALL.into_iter().enumerate() {
            assert_eq!(place(warning), i, "{warning}");
        }
        assert!(Warning::ALL.is_sorted());
    }

    #[test]
    fn the_unit_shown_is_the_declaring_one_else_the_process_one() {
        let info = |declared: &[&str], process: Option<&str>| SystemdInfo {
            declared_by: declared.iter().map(|u| u.to_string()).collect(),
            process_unit: process.map(str::to_owned),
            unit_pids: Vec::new(),
            systemd_accepts: None,
            declarations: Vec::new(),
            answer: None,
        };
        assert_eq!(
            info(&["a.service", "b.service"], Some("c.scope")).unit(),
            Some("a.service")
        );
        assert_eq!(info(&[], Some("c.scope")).unit(), Some("c.scope"));
        assert_eq!(info(&[], None).unit(), None);
        let mut entry = crate::fixture::entry("/run/x.pid", Status::Alive).build();
        assert_eq!(entry_unit(&entry), None);
        entry.systemd = Some(Box::new(info(&["x.service"], None)));
        assert_eq!(entry_unit(&entry), Some("x.service"));
    }

    /// The word every table, dialog and message shows is the one JSON and
    /// Prometheus carry: one spelling per status and per warning.
    #[test]
    fn words_are_the_serialised_names_and_all_differ() {
        let mut seen = std::collections::BTreeSet::new();
        for status in Status::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str(), "{status:?}");
            assert_eq!(status.to_string(), status.as_str());
            assert!(seen.insert(status.as_str()), "{status:?}");
        }
        for warning in Warning::ALL {
            let json = serde_json::to_value(warning).unwrap();
            assert_eq!(json, warning.as_str(), "{warning:?}");
            assert_eq!(warning.to_string(), warning.as_str());
            assert!(seen.insert(warning.as_str()), "{warning:?}");
        }
        assert_eq!(Warning::UntrustedFile.as_str(), "untrusted-file");
    }

    #[test]
    fn only_valid_content_names_a_pid() {
        assert_eq!(Content::Pid(4242).pid(), Some(4242));
        assert_eq!(Content::Invalid(InvalidPid::Empty).pid(), None);
        assert_eq!(Content::Unreadable("denied".into()).pid(), None);
    }
}
