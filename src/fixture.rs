//! Builders of made-up [`Entry`], [`ProcessInfo`] and [`FileInfo`] values,
//! for tests and benchmarks only: not part of the API, hidden from the docs,
//! and free to change with them.
//!
//! Every builder starts from plausible defaults (a root-owned `0644` pidfile
//! written now, a root `nginx`-like daemon started now) and has one chained
//! setter per thing a test wants to vary:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use pidscope::fixture;
//! use pidscope::probe::locks::LockKind;
//! use pidscope::verdict::Status;
//!
//! let written = SystemTime::now() - Duration::from_secs(3600);
//! let entry = fixture::entry("/run/nginx.pid", Status::Alive)
//!     .pid(812)
//!     .reason("PID 812 is nginx, running for 1h0m")
//!     .file(fixture::file().mtime(written))
//!     .process(fixture::process("nginx").started(written).user(33, "www-data"))
//!     .lock(fixture::lock(LockKind::Flock, &[812]))
//!     .build();
//! assert_eq!(entry.first_line.as_deref(), Some("812"));
//! ```
//!
//! Build a [`ProcessInfo`] here rather than field by field: when one of its
//! fields changes type, only this module has to change.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::probe::identity::ProcessState;
use crate::probe::locks::{LockInfo, LockKind};
use crate::probe::process::{Liveness, ProcessInfo, ProcessProbe};
use crate::scan::Location;
use crate::scan::read::FileInfo;
use crate::verdict::{Entry, Status, SystemdInfo, Warning, Warnings};

// ---------------------------------------------------------------- tests

/// Whether the tests run under continuous integration (`CI` set, and not
/// to `""`, `0` or `false`), where no test may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Whether this process is root; when it is not, says on stderr that the
/// test needing it (`what`) is skipped, which CI does not allow.
pub fn root_or_skip(what: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(!in_ci(), "cannot be skipped under CI: {what} needs root");
    eprintln!("skipped: {what} needs root");
    false
}

// ---------------------------------------------------------------- files

/// A pidfile's metadata: owned by root (uid and gid 0, owner name `root`),
/// mode `0644`, 5 bytes (`"1234\n"`), written now, device 1, inode 2.
pub fn file() -> FileBuilder {
    FileBuilder(FileInfo {
        uid: 0,
        owner: Some("root".into()),
        gid: 0,
        mode: 0o644,
        size: 5,
        mtime: SystemTime::now(),
        dev: 1,
        ino: 2,
    })
}

/// Builds a [`FileInfo`]; see [`file`].
#[derive(Debug, Clone)]
#[must_use]
pub struct FileBuilder(FileInfo);

impl FileBuilder {
    /// Owned by `uid`, whose user name is `name`.
    pub fn owner(mut self, uid: u32, name: &str) -> Self {
        self.0.uid = uid;
        self.0.owner = Some(name.into());
        self
    }

    /// Owned by `uid`, which has no user name.
    pub fn uid(mut self, uid: u32) -> Self {
        self.0.uid = uid;
        self.0.owner = None;
        self
    }

    /// Group `gid`.
    pub fn gid(mut self, gid: u32) -> Self {
        self.0.gid = gid;
        self
    }

    /// Permission bits, e.g. `0o666`.
    pub fn mode(mut self, mode: u32) -> Self {
        self.0.mode = mode;
        self
    }

    /// Size in bytes.
    pub fn size(mut self, size: u64) -> Self {
        self.0.size = size;
        self
    }

    /// Last written at `mtime`.
    pub fn mtime(mut self, mtime: SystemTime) -> Self {
        self.0.mtime = mtime;
        self
    }

    /// Device and inode numbers.
    pub fn device(mut self, dev: u64, ino: u64) -> Self {
        self.0.dev = dev;
        self.0.ino = ino;
        self
    }

    /// The metadata.
    pub fn build(self) -> FileInfo {
        self.0
    }
}

impl From<FileBuilder> for FileInfo {
    fn from(builder: FileBuilder) -> FileInfo {
        builder.build()
    }
}

// ---------------------------------------------------------------- processes

/// A process named `name` (its `comm`): run by root (uid 0, user `root`),
/// started now, command line `/usr/sbin/NAME`, executable `/usr/sbin/NAME`,
/// sleeping, child of PID 1, 12 MiB resident, no CPU use, a plain process
/// (not a kernel thread nor the thread of another), 1 clock tick after boot,
/// in the root cgroup.
pub fn process(name: &str) -> ProcessBuilder {
    let path = format!("/usr/sbin/{name}");
    ProcessBuilder(ProcessInfo {
        name: name.into(),
        uid: Some(0),
        user: Some("root".into()),
        start_time: Some(SystemTime::now()),
        cmdline: vec![path.clone()],
        exe: Some(PathBuf::from(path)),
        state: ProcessState::from_letter('S'),
        parent_pid: Some(1),
        memory_bytes: 12 << 20,
        cpu_percent: 0.0,
        kernel_thread: false,
        start_ticks: 1,
        thread_of: None,
        cgroup: Some("/".into()),
    })
}

/// Builds a [`ProcessInfo`]; see [`process`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ProcessBuilder(ProcessInfo);

impl ProcessBuilder {
    /// Renamed (its `comm`); the command line and executable stay as they are.
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.into();
        self
    }

    /// Run by `uid`, whose user name is `name`.
    pub fn user(mut self, uid: u32, name: &str) -> Self {
        self.0.uid = Some(uid);
        self.0.user = Some(name.into());
        self
    }

    /// Run by `uid`, which has no user name.
    pub fn uid(mut self, uid: u32) -> Self {
        self.0.uid = Some(uid);
        self.0.user = None;
        self
    }

    /// Neither the uid nor the user is known.
    pub fn unknown_user(mut self) -> Self {
        self.0.uid = None;
        self.0.user = None;
        self
    }

    /// Started at `start`.
    pub fn started(mut self, start: SystemTime) -> Self {
        self.0.start_time = Some(start);
        self
    }

    /// The start time is not known.
    pub fn start_unknown(mut self) -> Self {
        self.0.start_time = None;
        self
    }

    /// In the cgroup `path` (`/system.slice/nginx.service`).
    pub fn cgroup(mut self, path: &str) -> Self {
        self.0.cgroup = Some(path.into());
        self
    }

    /// Start time in clock ticks after boot.
    pub fn start_ticks(mut self, ticks: u64) -> Self {
        self.0.start_ticks = ticks;
        self
    }

    /// The command line, one element per argument (empty for a zombie or a kernel thread).
    pub fn cmdline(mut self, args: &[&str]) -> Self {
        self.0.cmdline = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// The executable.
    pub fn exe(mut self, path: &str) -> Self {
        self.0.exe = Some(path.into());
        self
    }

    /// The executable is not known.
    pub fn no_exe(mut self) -> Self {
        self.0.exe = None;
        self
    }

    /// The state, as the one-letter code of `/proc/PID/stat` (`R`, `S`, `Z`, `X`...).
    pub fn state(mut self, letter: char) -> Self {
        self.0.state = ProcessState::from_letter(letter);
        self
    }

    /// Exited, not reaped yet (state `Z`).
    pub fn zombie(self) -> Self {
        self.state('Z')
    }

    /// The parent's PID.
    pub fn parent(mut self, pid: i32) -> Self {
        self.0.parent_pid = Some(pid);
        self
    }

    /// No parent PID known.
    pub fn no_parent(mut self) -> Self {
        self.0.parent_pid = None;
        self
    }

    /// Resident memory in bytes.
    pub fn memory(mut self, bytes: u64) -> Self {
        self.0.memory_bytes = bytes;
        self
    }

    /// CPU use in percent of one core.
    pub fn cpu(mut self, percent: f32) -> Self {
        self.0.cpu_percent = percent;
        self
    }

    /// A kernel thread.
    pub fn kernel_thread(mut self) -> Self {
        self.0.kernel_thread = true;
        self
    }

    /// A thread of process `tgid`, not a process.
    pub fn thread_of(mut self, tgid: i32) -> Self {
        self.0.thread_of = Some(tgid);
        self
    }

    /// The process details.
    pub fn build(self) -> ProcessInfo {
        self.0
    }
}

impl From<ProcessBuilder> for ProcessInfo {
    fn from(builder: ProcessBuilder) -> ProcessInfo {
        builder.build()
    }
}

impl From<ProcessBuilder> for Arc<ProcessInfo> {
    fn from(builder: ProcessBuilder) -> Arc<ProcessInfo> {
        Arc::new(builder.build())
    }
}

/// What probing a PID found: `liveness`, and the process's details when known.
pub fn probe(liveness: Liveness, info: Option<ProcessInfo>) -> ProcessProbe {
    ProcessProbe {
        liveness,
        info: info.map(Arc::new),
    }
}

// ---------------------------------------------------------------- locks

/// A lock of `kind` held by `holders`, the first of which is the holder that
/// matters (none when `holders` is empty: an OFD lock whose holder is unknown).
pub fn lock(kind: LockKind, holders: &[i32]) -> LockInfo {
    LockInfo {
        holder_pid: holders.first().copied(),
        kind,
        holders: holders.to_vec(),
    }
}

// ---------------------------------------------------------------- entries

/// The verdict `status` on the pidfile `path`: no PID, an empty reason, no
/// warnings or aliases, the metadata of [`file`], no process, no lock. The
/// first line is the PID when one is set, else none.
pub fn entry(path: impl Into<PathBuf>, status: Status) -> EntryBuilder {
    EntryBuilder {
        entry: Entry {
            path: path.into(),
            aliases: Default::default(),
            status,
            pid: None,
            reason: Box::default(),
            warnings: Warnings::new(),
            file: Some(file().build()),
            first_line: None,
            process: None,
            lock: None,
            systemd: None,
            location: None,
        },
        first_line: None,
    }
}

/// Builds an [`Entry`]; see [`entry`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EntryBuilder {
    entry: Entry,
    /// Set explicitly; else derived from the PID.
    first_line: Option<Option<crate::text::Line>>,
}

impl EntryBuilder {
    /// The PID the file names.
    pub fn pid(mut self, pid: i32) -> Self {
        self.entry.pid = Some(pid);
        self
    }

    /// The sentence saying why.
    pub fn reason(mut self, reason: &str) -> Self {
        self.entry.reason = reason.into();
        self
    }

    /// The warnings (listed in the order of [`Warning::ALL`], whatever the
    /// order given).
    pub fn warnings(mut self, warnings: &[Warning]) -> Self {
        self.entry.warnings = warnings.into();
        self
    }

    /// Other paths of the same file.
    pub fn aliases<P: Into<PathBuf>>(mut self, aliases: impl IntoIterator<Item = P>) -> Self {
        self.entry.aliases = aliases.into_iter().map(Into::into).collect();
        self
    }

    /// The file's metadata.
    pub fn file(mut self, file: impl Into<FileInfo>) -> Self {
        self.entry.file = Some(file.into());
        self
    }

    /// No metadata (the file could not even be stat'ed).
    pub fn no_file(mut self) -> Self {
        self.entry.file = None;
        self
    }

    /// The first line of the content as shown (`None`: nothing could be read).
    pub fn first_line(mut self, line: Option<&str>) -> Self {
        self.first_line = Some(line.map(crate::text::Line::from));
        self
    }

    /// The process the PID names.
    pub fn process(mut self, process: impl Into<Arc<ProcessInfo>>) -> Self {
        self.entry.process = Some(process.into());
        self
    }

    /// The lock on the file.
    pub fn lock(mut self, lock: LockInfo) -> Self {
        self.entry.lock = Some(Box::new(lock));
        self
    }

    /// Declared by `units` (sorted as given), its process in `process_unit`,
    /// the first unit running `unit_pids`, systemd's answer `accepts`.
    pub fn systemd(
        mut self,
        units: &[&str],
        process_unit: Option<&str>,
        unit_pids: &[i32],
        accepts: Option<bool>,
    ) -> Self {
        self.entry.systemd = Some(Box::new(SystemdInfo {
            declared_by: units.iter().map(|u| u.to_string()).collect(),
            process_unit: process_unit.map(str::to_owned),
            unit_pids: unit_pids.to_vec(),
            systemd_accepts: accepts,
            declarations: Vec::new(),
            answer: None,
        }));
        self
    }

    /// Where the file sits on disk.
    pub fn location(mut self, location: Location) -> Self {
        self.entry.location = Some(location);
        self
    }

    /// The entry.
    pub fn build(self) -> Entry {
        let mut entry = self.entry;
        entry.first_line = self
            .first_line
            .unwrap_or_else(|| entry.pid.map(|p| p.to_string().into()));
        entry
    }
}

impl From<EntryBuilder> for Entry {
    fn from(builder: EntryBuilder) -> Entry {
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_live_root_daemon_and_its_fresh_pidfile() {
        let before = SystemTime::now();
        let entry = entry("/run/nginx.pid", Status::Alive)
            .pid(812)
            .process(process("nginx"))
            .build();
        let file = entry.file.as_ref().expect("metadata by default");
        assert_eq!((file.uid, file.gid, file.mode, file.size), (0, 0, 0o644, 5));
        assert_eq!(file.owner.as_deref(), Some("root"));
        assert!(file.mtime >= before);
        assert_eq!(entry.first_line.as_deref(), Some("812"));
        let info = entry.process.as_deref().expect("a process");
        assert_eq!(info.name, "nginx");
        assert_eq!((info.uid, info.user.as_deref()), (Some(0), Some("root")));
        assert_eq!(info.state.as_str(), "sleeping");
        assert_eq!(info.cmdline, ["/usr/sbin/nginx"]);
        assert!(!info.kernel_thread && info.thread_of.is_none());
        assert!(entry.warnings.is_empty() && entry.aliases.is_empty());
        assert!(entry.lock.is_none() && entry.reason.is_empty());
    }

    #[test]
    fn setters_change_only_what_they_name() {
        let info = process("worker")
            .uid(1000)
            .zombie()
            .no_parent()
            .cmdline(&[])
            .build();
        assert_eq!((info.uid, info.user.as_deref()), (Some(1000), None));
        assert_eq!(info.state.as_str(), "zombie");
        assert_eq!(info.parent_pid, None);
        assert!(info.cmdline.is_empty());
        assert_eq!(info.exe.as_deref(), Some("/usr/sbin/worker".as_ref()));
        let file = file().owner(33, "www-data").mode(0o666).build();
        assert_eq!((file.uid, file.owner.as_deref()), (33, Some("www-data")));
        assert_eq!((file.gid, file.mode), (0, 0o666));
        let entry = entry("/run/x.pid", Status::Invalid)
            .pid(5)
            .first_line(Some(""))
            .no_file()
            .build();
        assert_eq!(entry.first_line.as_deref(), Some(""));
        assert!(entry.file.is_none());
        let lock = lock(LockKind::Ofd, &[]);
        assert_eq!((lock.holder_pid, lock.holders.len()), (None, 0));
    }
}
