//! Pidfile locks done right: [`PidFile::try_lock`] takes a pidfile for this
//! process (or for a process it names, such as a child), and the returned
//! [`PidFileGuard`] removes it again, but only while it is still ours.
//!
//! Many published pidfile lockers are subtly wrong: they treat `EPERM` from
//! `kill(pid, 0)` as "dead", trust a PID that has since been reused, or let
//! two processes that both found a stale file delete each other's fresh one.
//! This one follows the careful-locker protocol of BSD `pidfile_open(3)`,
//! `flopen(3)` and util-linux `flock(1)`, and interoperates with them:
//!
//! 1. **Acquire**: open the path with `O_CREAT` (mode 0644 before the umask),
//!    `O_CLOEXEC`, `O_NOFOLLOW` and `O_NONBLOCK`; refuse anything but a regular
//!    file; take an exclusive, non-blocking `flock(2)` that is held for the
//!    guard's whole life; then check that the path still names the locked
//!    inode, and start again if not (its holder removed it in between, so the
//!    lock is on a file nobody can see).
//! 2. **Busy**: if the `flock` is refused, [`LockError::Busy`] carries the PID
//!    the file names. While the file names no live process (empty: its holder
//!    is between creating and writing it; a dead PID: a recoverer about to
//!    write its own, or `pidscope clean` about to remove it), the locker looks
//!    again for up to 100 ms, as BSD `pidfile_open` does, and starts over if
//!    the file was removed. If the `flock` is granted but the file names a
//!    live process (an `EPERM` from `kill` counts as alive) that is neither a
//!    reused PID nor us, a writer that does not use locks owns it: busy too,
//!    never stolen. So is an empty file younger than [`EMPTY_GRACE`] that this
//!    locker did not create, once it has stayed empty for 100 ms (looked at
//!    without holding the lock, which its creator may need to write its PID).
//! 3. **Stale**: otherwise (no such process, a zombie, a PID now used by a
//!    process that started more than [`REUSE_TOLERANCE`] after the file was
//!    written, a kernel thread or a thread of another process, or an empty
//!    file older than [`EMPTY_GRACE`]) the file is recovered *in place*: the PID and a newline are
//!    written at offset 0, the file is truncated to that length and fsynced.
//!    Writing before truncating means a concurrent reader never sees an empty
//!    file. Nothing is ever unlinked while recovering, so two recoverers cannot
//!    delete each other's fresh file: the `flock` decides between them.
//!    Content that is not a PID at all (`abc`, `0`, `-5`...) is not overwritten:
//!    [`LockError::Invalid`]. The path may not be the pidfile it was meant to be.
//! 4. **Release** ([`PidFileGuard::unlock`] or drop): only when the path
//!    still names our inode and its content still names our PID is the file
//!    removed; then the descriptor is closed, which releases the lock.
//!    Someone else's file at the path is left alone and [`Unlocked`] says so.
//!    Only the process that took the lock ever removes the file, never a
//!    forked copy of it. [`PidFileGuard::unlock_shared`] is for a descriptor
//!    that children inherited: ours is closed and the lock re-taken through
//!    a fresh one, and if other processes still hold it (background jobs that
//!    outlive us) the file is left to them, [`Unlocked::StillLocked`].
//!
//! A holder killed with SIGKILL leaves a file that nobody has locked and that
//! names a dead PID: the next [`PidFile::try_lock`] recovers it, and
//! `pidscope audit` reports it `stale` in the meantime.
//!
//! The lock belongs to the open file description, so it is shared with any
//! child that inherits the descriptor (see [`PidFileGuard`]'s [`AsFd`]); it is
//! never released with `LOCK_UN`, which would release it for those children
//! too, only by closing.
//!
//! ```
//! use pidscope::lock::{LockError, PidFile, Unlocked};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let pidfile = PidFile::new(dir.path().join("app.pid"));
//!
//! let guard = pidfile.try_lock()?;
//! let me = std::process::id() as i32;
//! assert_eq!(std::fs::read_to_string(guard.path())?, format!("{me}\n"));
//!
//! // A second locker (here even in the same process) is refused, and told who holds it.
//! match pidfile.try_lock() {
//!     Err(LockError::Busy { owner, locked, .. }) => {
//!         assert_eq!(owner, Some(me));
//!         assert!(locked);
//!     }
//!     other => panic!("expected busy, got {other:?}"),
//! }
//!
//! assert_eq!(guard.unlock()?, Unlocked::Removed);
//! assert!(!pidfile.path().exists());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::probe::identity::{Clock, read_identity};
use crate::probe::process::{Liveness, probe_liveness};
use crate::scan::parse::{InvalidPid, MAX_READ, parse_pid, read_pid_max};
use crate::verdict::REUSE_TOLERANCE;

/// The mode a new pidfile is created with (before the umask applies).
pub const DEFAULT_MODE: u32 = 0o644;

/// How many times a locker starts again when the path stopped naming the file
/// it locked (its holder removed or replaced it). Each restart means another
/// locker made progress; past this, the file is reported busy.
const MAX_ATTEMPTS: u32 = 100;

/// How long a refused locker waits for a locked pidfile to name a live
/// process (or to be removed) before reporting it busy (BSD `pidfile_open`
/// re-reads an empty one about as long).
const OWNER_READ_PATIENCE: Duration = Duration::from_millis(100);

/// How long an empty pidfile that nobody has locked is left to the process
/// that created it, which may be about to write its PID, before it is taken
/// over as stale.
pub const EMPTY_GRACE: Duration = Duration::from_secs(10);

/// The longest pause between two attempts of [`PidFile::lock_timeout`].
const MAX_POLL_PAUSE: Duration = Duration::from_millis(50);

/// A pidfile path and how to create it. Cheap: nothing is touched until a lock is tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFile {
    path: PathBuf,
    mode: u32,
    pid: Option<i32>,
}

impl PidFile {
    /// A pidfile at `path`, created with mode [`DEFAULT_MODE`], naming this process.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PidFile {
            path: path.into(),
            mode: DEFAULT_MODE,
            pid: None,
        }
    }

    /// Create the file with `mode` instead of 0644 (the umask still applies, as for `open(2)`).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Write `pid` into the file instead of this process's PID, e.g. a child's
    /// that a supervisor already started. [`PidFileGuard::write_pid`] changes it later.
    pub fn pid(mut self, pid: i32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the pidfile now or fail at once (see the [module](self) for the protocol).
    ///
    /// Errors: [`LockError::Busy`] when a live process owns it (by lock, or by
    /// naming itself in a file nobody locked), [`LockError::Invalid`] when the
    /// file holds something other than a PID, [`LockError::Io`] when it cannot
    /// be opened, locked, read or written (a symlink or a FIFO at the path is
    /// refused with an `InvalidInput` error).
    pub fn try_lock(&self) -> Result<PidFileGuard, LockError> {
        let me = std::process::id() as i32;
        let pid = self.pid.unwrap_or(me);
        if pid <= 0 {
            return Err(self.io_error(
                "write",
                io::Error::new(io::ErrorKind::InvalidInput, format!("{pid} is not a PID")),
            ));
        }
        let mut fresh_empty_since = None;
        for _ in 0..MAX_ATTEMPTS {
            match self.attempt(pid, me) {
                // An empty file someone else has just created: let go of it
                // (its creator may need the lock to write its PID) and look again.
                Some(Err(LockError::Busy {
                    owner: None,
                    locked: false,
                    ..
                })) if fresh_empty_since.get_or_insert_with(Instant::now).elapsed()
                    < OWNER_READ_PATIENCE =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Some(result) => return result,
                None => {}
            }
        }
        Err(LockError::Busy {
            path: self.path.clone(),
            owner: None,
            locked: true,
        })
    }

    /// Like [`try_lock`](Self::try_lock), but while the file is busy keep trying
    /// until `timeout` has passed, then return the last [`LockError::Busy`].
    ///
    /// It polls: after each refusal it sleeps 1 ms, doubling up to 50 ms
    /// (with some jitter, so many waiters do not retry in step), never past the
    /// deadline. Polling rather than a blocking `flock` keeps a library free of
    /// timers and signals, and also waits out a live owner that holds no lock.
    /// Other errors are returned at once. `Duration::ZERO` tries once.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<PidFileGuard, LockError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut pause = Duration::from_millis(1);
        loop {
            let busy = match self.try_lock() {
                Err(busy @ LockError::Busy { .. }) => busy,
                other => return other,
            };
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return Err(busy);
            }
            std::thread::sleep(jittered(pause).min(left));
            pause = (pause * 2).min(MAX_POLL_PAUSE);
        }
    }

    /// One attempt; `None` when the path stopped naming the opened file and
    /// the caller should start again.
    fn attempt(&self, pid: i32, me: i32) -> Option<Result<PidFileGuard, LockError>> {
        let (file, created) = match self.open() {
            Ok(opened) => opened,
            Err(e) => return Some(Err(e)),
        };
        #[cfg(test)]
        tests::run_after_open_hook();
        let mut locked = match try_flock(&file) {
            Ok(locked) => locked,
            Err(e) => return Some(Err(self.io_error("lock", e))),
        };
        // Refused. A holder whose file names no live process yet may be passing
        // through: a locker between creating the file and writing its PID, a
        // recoverer about to write its own, or `pidscope clean` about to remove
        // the file. Give it a moment (as BSD `pidfile_open` does) to settle.
        let deadline = Instant::now() + OWNER_READ_PATIENCE;
        while !locked {
            // The holder removed the file we opened: the lock is about to be
            // free, and on a file nobody can see. Start again.
            if !self.names(&file)? {
                return None;
            }
            let owner = read_named_pid(&file);
            let settled = owner.is_some_and(|pid| probe_liveness(pid) != Liveness::Gone);
            if settled || Instant::now() >= deadline {
                return Some(Err(LockError::Busy {
                    path: self.path.clone(),
                    owner,
                    locked: true,
                }));
            }
            std::thread::sleep(Duration::from_millis(5));
            locked = match try_flock(&file) {
                Ok(locked) => locked,
                Err(e) => return Some(Err(self.io_error("lock", e))),
            };
        }
        if !self.names(&file)? {
            return None;
        }
        Some(self.recover(file, created, pid, me))
    }

    /// With the lock held on the file the path names: decide whether its
    /// content is stale, and if so write ours. `created`: this attempt created
    /// the file, so it being empty says nothing about anyone else.
    fn recover(
        &self,
        file: File,
        created: bool,
        pid: i32,
        me: i32,
    ) -> Result<PidFileGuard, LockError> {
        let meta = file.metadata().map_err(|e| self.io_error("inspect", e))?;
        let parsed = read_pid(&file).map_err(|e| self.io_error("read", e))?;
        match parsed {
            Ok(named) => {
                if judge_owner(named, meta.modified().ok(), &[me, pid]) == Owner::Live {
                    return Err(LockError::Busy {
                        path: self.path.clone(),
                        owner: Some(named),
                        locked: false,
                    });
                }
            }
            Err(InvalidPid::Empty | InvalidPid::BlankLine) => {
                if !created && meta.modified().is_ok_and(is_recent) {
                    return Err(LockError::Busy {
                        path: self.path.clone(),
                        owner: None,
                        locked: false,
                    });
                }
                // Ours, or left long ago by a locker that died before writing.
            }
            Err(reason) => {
                return Err(LockError::Invalid {
                    path: self.path.clone(),
                    reason,
                });
            }
        }
        if let Err(e) = write_pid_at_start(&file, pid) {
            if created {
                // Left empty, our file would look like a locker mid-start for
                // EMPTY_GRACE (a full disk): take it away while still locked.
                let _ = fs::remove_file(&self.path);
            }
            return Err(self.io_error("write", e));
        }
        Ok(PidFileGuard {
            path: self.path.clone(),
            dev: meta.dev(),
            ino: meta.ino(),
            pid,
            owner_process: std::process::id(),
            file: Some(file),
        })
    }

    /// Open the path, creating the file if there is none; `true` when this
    /// call created it (an empty file we created is no one else's).
    fn open(&self) -> Result<(File, bool), LockError> {
        let open = |create: bool| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(create)
                .mode(self.mode)
                // std adds O_CLOEXEC. O_NONBLOCK: a FIFO at the path must not hang us.
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(&self.path)
        };
        let mut opened = open(true).map(|file| (file, true));
        for _ in 0..MAX_ATTEMPTS {
            match &opened {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    opened = open(false).map(|file| (file, false));
                    // Removed between the two opens: create it after all. (Not
                    // found on creating means no directory: an error at once.)
                    if opened
                        .as_ref()
                        .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
                    {
                        opened = open(true).map(|file| (file, true));
                    }
                }
                _ => break,
            }
        }
        let (file, created) = opened
            .map_err(|e| {
                let symlink = fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_symlink());
                if e.raw_os_error() == Some(libc::ELOOP) && symlink {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "it is a symbolic link (pidfiles are never followed through links)",
                    )
                } else {
                    e
                }
            })
            .map_err(|e| self.io_error("open", e))?;
        let meta = file.metadata().map_err(|e| self.io_error("inspect", e))?;
        if !meta.is_file() {
            return Err(self.io_error(
                "lock",
                io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file"),
            ));
        }
        Ok((file, created))
    }

    /// Does the path still name `file`'s inode? `None` when our own
    /// descriptor cannot even be `fstat`ed; [`attempt`](Self::attempt) then starts again.
    fn names(&self, file: &File) -> Option<bool> {
        let ours = file.metadata().ok()?;
        Some(names_inode(&self.path, ours.dev(), ours.ino()))
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> LockError {
        LockError::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }
}

/// A held pidfile: the file names [`pid`](Self::pid) and this guard holds an
/// exclusive `flock` on it. Dropping the guard unlocks it like
/// [`unlock`](Self::unlock), ignoring the outcome.
///
/// The lock lives as long as any descriptor of its open file description, so a
/// child that inherits the descriptor ([`AsFd`]; it is `O_CLOEXEC`, so clear
/// `FD_CLOEXEC` in the child only, e.g. in `pre_exec`) holds the lock too, and
/// keeps holding it if this process dies. After a `fork` without `exec`, the
/// child's copy of the guard never removes the file: only the process that
/// took the lock does.
#[derive(Debug)]
pub struct PidFileGuard {
    /// `None` once released.
    file: Option<File>,
    path: PathBuf,
    dev: u64,
    ino: u64,
    pid: i32,
    /// The process that took the lock (a forked child must not remove the file).
    owner_process: u32,
}

impl PidFileGuard {
    /// The pidfile's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PID the file names (and must still name for [`unlock`](Self::unlock) to remove it).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Make the file name `pid` instead, e.g. a child started after the lock
    /// was taken: written at offset 0, truncated, fsynced.
    pub fn write_pid(&mut self, pid: i32) -> Result<(), LockError> {
        let error = |source| LockError::Io {
            path: self.path.clone(),
            action: "write",
            source,
        };
        if pid <= 0 {
            return Err(error(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{pid} is not a PID"),
            )));
        }
        let file = self.file.as_ref().expect("a live guard holds its file");
        if let Err(e) = write_pid_at_start(file, pid) {
            // The PID may be written although truncating or syncing failed:
            // unlock must then recognise the file as ours still.
            if read_named_pid(file) == Some(pid) {
                self.pid = pid;
            }
            return Err(error(e));
        }
        self.pid = pid;
        Ok(())
    }

    /// Release: remove the file if the path still names our inode and the
    /// content still names [`pid`](Self::pid), then close the descriptor,
    /// which drops the lock (unless a child still shares it).
    ///
    /// `Ok` tells what was found; anything but [`Unlocked::Removed`] means the
    /// file at the path is not ours (any more) and was left alone. `Err` when
    /// the path could not be checked or the file not removed (a directory we
    /// may no longer write to, after dropping privileges): the lock is released
    /// anyway, and the file, naming a PID that will soon be dead, is stale for
    /// the next locker to recover.
    pub fn unlock(mut self) -> Result<Unlocked, LockError> {
        self.release(false)
    }

    /// Release a lock whose descriptor children inherited and may outlive
    /// us with (background processes of a job): like [`unlock`](Self::unlock),
    /// but the file is removed only if nobody else holds the lock once our
    /// descriptor is closed; else it is left to them, [`Unlocked::StillLocked`].
    ///
    /// To ask, the lock is let go and taken again through a fresh descriptor:
    /// a locker may take it in between (and the file then stays, rightly, if
    /// it makes the file its own). Use [`unlock`](Self::unlock) when the
    /// descriptor was never shared: it keeps the lock until the file is gone.
    pub fn unlock_shared(mut self) -> Result<Unlocked, LockError> {
        self.release(true)
    }

    fn release(&mut self, shared: bool) -> Result<Unlocked, LockError> {
        let Some(file) = self.file.take() else {
            return Ok(Unlocked::Missing);
        };
        if std::process::id() != self.owner_process {
            // A forked child: only its copy of the descriptor goes.
            return Ok(Unlocked::NotTheLocker);
        }
        self.remove_if_ours(file, shared)
    }

    /// Remove the file if it is still ours (and, when `shared`, nobody else
    /// holds its lock), then drop our descriptor and with it the lock.
    fn remove_if_ours(&self, file: File, shared: bool) -> Result<Unlocked, LockError> {
        let error = |action, source| LockError::Io {
            path: self.path.clone(),
            action,
            source,
        };
        match fs::symlink_metadata(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Unlocked::Missing),
            Err(e) => return Err(error("inspect", e)),
            Ok(m) if (m.dev(), m.ino()) != (self.dev, self.ino) => {
                return Ok(Unlocked::Replaced {
                    pid: peek_pid(&self.path),
                });
            }
            Ok(_) => {}
        }
        // Still naming our PID? Else someone rewrote it (a writer that does not lock).
        let rewritten = |file: &File| match read_pid(file).map_err(|e| error("read", e))? {
            Ok(pid) if pid == self.pid => Ok(None),
            other => Ok(Some(Unlocked::Rewritten { pid: other.ok() })),
        };
        if let Some(found) = rewritten(&file)? {
            return Ok(found);
        }
        // Processes that inherited our descriptor (a child's background jobs)
        // share the lock and may outlive us: the file must stay while they
        // hold it. Let go of ours and ask through a descriptor of our own.
        // Read-write where we may: flock emulated over byte-range locks (NFS,
        // SMB) wants a writable descriptor for an exclusive lock.
        let open_probe = |write: bool| {
            OpenOptions::new()
                .read(true)
                .write(write)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(&self.path)
        };
        let probe = shared
            .then(|| open_probe(true).or_else(|_| open_probe(false)).ok())
            .flatten()
            .filter(|p| {
                p.metadata()
                    .is_ok_and(|m| (m.dev(), m.ino()) == (self.dev, self.ino))
            });
        // Not shared, or no probe (unreadable now): remove first, then drop the
        // lock, so a waiting locker finds no file, never ours unlocked.
        let _held = match probe {
            Some(probe) => {
                drop(file);
                // Another thread's fork may hold a copy for the moment
                // before its exec closes it: give that a moment.
                let deadline = Instant::now() + OWNER_READ_PATIENCE;
                loop {
                    match try_flock(&probe) {
                        Ok(true) => break,
                        Ok(false) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Ok(false) => return Ok(Unlocked::StillLocked),
                        // Cannot ask (a file system without flock): go ahead, as
                        // without a probe, having checked what we could.
                        Err(_) => break,
                    }
                }
                if !names_inode(&self.path, self.dev, self.ino) {
                    return Ok(Unlocked::Missing);
                }
                // While no lock was held a writer that locks only to write
                // (or none) may have put its PID in: then it is not ours.
                if let Some(found) = rewritten(&probe)? {
                    return Ok(found);
                }
                probe
            }
            None => file,
        };
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(Unlocked::Removed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Unlocked::Missing),
            Err(e) => Err(error("remove", e)),
        }
    }
}

impl AsFd for PidFileGuard {
    /// The locked descriptor (`O_CLOEXEC`).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file
            .as_ref()
            .expect("a live guard holds its file")
            .as_fd()
    }
}

impl Drop for PidFileGuard {
    fn drop(&mut self) {
        if std::process::id() == self.owner_process {
            let _ = self.release(false);
        }
        // A forked child only closes its copy of the descriptor.
    }
}

/// What [`PidFileGuard::unlock`] found at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlocked {
    /// The file was ours and is removed.
    Removed,
    /// There was no file any more (someone removed it).
    Missing,
    /// The path names another file now (removed and recreated, or renamed
    /// over ours); it was left alone. `pid`: the PID it names, if any.
    Replaced {
        /// The PID the other file names.
        pid: Option<i32>,
    },
    /// Our file, but rewritten to name something else (a writer that does not
    /// use locks); it was left alone. `pid`: the PID it names now, if any.
    Rewritten {
        /// The PID the file names now.
        pid: Option<i32>,
    },
    /// Other processes still hold the lock once our descriptor is closed
    /// (children that inherited it and outlive us, or a locker that took it
    /// over in between): the file was left to them.
    StillLocked,
    /// This process is a forked copy of the one that took the lock: it only
    /// closed its descriptor; the file is the locker's to remove.
    NotTheLocker,
}

impl Unlocked {
    /// Whether the file was removed.
    pub fn removed(self) -> bool {
        self == Unlocked::Removed
    }
}

impl fmt::Display for Unlocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |pid: &Option<i32>| match pid {
            Some(pid) => format!(", naming PID {pid}"),
            None => String::new(),
        };
        match self {
            Unlocked::Removed => write!(f, "removed"),
            Unlocked::Missing => write!(f, "already removed by someone else"),
            Unlocked::Replaced { pid } => {
                write!(f, "replaced by another file{}; left it alone", names(pid))
            }
            Unlocked::Rewritten { pid } => {
                write!(f, "rewritten by someone else{}; left it alone", names(pid))
            }
            Unlocked::StillLocked => write!(
                f,
                "its lock is still held by other processes (children that inherited it, or a new locker); left it to them"
            ),
            Unlocked::NotTheLocker => write!(
                f,
                "not removed: this process is a forked copy of the one that locked it"
            ),
        }
    }
}

/// Why a pidfile could not be locked.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockError {
    /// Another process owns the pidfile.
    Busy {
        /// The pidfile.
        path: PathBuf,
        /// The PID the file names, when it names one.
        owner: Option<i32>,
        /// `true`: the `flock` was refused. `false`: nobody holds a lock, but
        /// the file names a live process (a writer that does not use locks),
        /// or (`owner` `None`) it is empty and younger than [`EMPTY_GRACE`].
        locked: bool,
    },
    /// The file holds something that is not a PID; it was not overwritten.
    Invalid {
        /// The pidfile.
        path: PathBuf,
        /// What is wrong with the content.
        reason: InvalidPid,
    },
    /// A system call failed.
    Io {
        /// The pidfile.
        path: PathBuf,
        /// What was being done: open, inspect, lock, read, write, remove.
        action: &'static str,
        /// The error.
        source: io::Error,
    },
}

impl LockError {
    /// The pidfile concerned.
    pub fn path(&self) -> &Path {
        match self {
            LockError::Busy { path, .. }
            | LockError::Invalid { path, .. }
            | LockError::Io { path, .. } => path,
        }
    }

    /// For [`Busy`](LockError::Busy), the PID of the owner when the file names one.
    pub fn owner(&self) -> Option<i32> {
        match self {
            LockError::Busy { owner, .. } => *owner,
            _ => None,
        }
    }

    /// Whether another process owns the pidfile.
    pub fn is_busy(&self) -> bool {
        matches!(self, LockError::Busy { .. })
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Busy {
                path,
                owner: Some(pid),
                locked: true,
            } => write!(f, "{} is locked by PID {pid}", path.display()),
            LockError::Busy {
                path,
                owner: None,
                locked: true,
            } => write!(f, "{} is locked by another process", path.display()),
            LockError::Busy {
                path,
                owner: None,
                locked: false,
            } => write!(
                f,
                "{} is empty and new: a process may be about to write its PID (taken over once {} old)",
                path.display(),
                humantime::format_duration(EMPTY_GRACE)
            ),
            LockError::Busy {
                path,
                owner: Some(pid),
                locked: false,
            } => write!(
                f,
                "{} names PID {pid}, which is running (without holding a lock on the file)",
                path.display()
            ),
            LockError::Invalid { path, reason } => write!(
                f,
                "{} does not hold a PID ({reason}); not overwriting it",
                path.display()
            ),
            LockError::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What the PID in an unlocked pidfile amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// This process, or the PID the locker is about to write.
    Ours,
    /// No process, or one that has exited (a zombie).
    Gone,
    /// A process that cannot have written the file.
    Reused,
    /// A live process that may have written it.
    Live,
}

/// Judge the PID `named` found in an unlocked file last written at `mtime`,
/// with the inspector's rules (see [`crate::verdict`]).
fn judge_owner(named: i32, mtime: Option<SystemTime>, ours: &[i32]) -> Owner {
    if ours.contains(&named) {
        return Owner::Ours;
    }
    if probe_liveness(named) == Liveness::Gone {
        return Owner::Gone;
    }
    // Exists, or EPERM (another user's process): alive unless /proc proves otherwise.
    let identity = match read_identity(named) {
        Ok(identity) => identity,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Exited in between, or hidden from us (hidepid): ask kill again.
            return if probe_liveness(named) == Liveness::Gone {
                Owner::Gone
            } else {
                Owner::Live
            };
        }
        Err(_) => return Owner::Live,
    };
    if matches!(identity.state, 'Z' | 'X' | 'x') {
        return Owner::Gone;
    }
    if identity.kernel_thread || identity.tgid.is_some_and(|t| t != named) {
        return Owner::Reused;
    }
    if let Some(mtime) = mtime {
        let started = Clock::now().wall_time(identity.start_ticks);
        if started
            .duration_since(mtime)
            .is_ok_and(|later| later > REUSE_TOLERANCE)
        {
            return Owner::Reused;
        }
    }
    Owner::Live
}

/// What `file` holds: a PID, or why it is not one.
fn read_pid(file: &File) -> io::Result<Result<i32, InvalidPid>> {
    let (content, truncated) = read_head(file)?;
    Ok(parse_pid(&content, truncated, read_pid_max()))
}

/// The PID `file` names, if it names one.
fn read_named_pid(file: &File) -> Option<i32> {
    read_pid(file).ok()?.ok()
}

/// Whether `time` is within [`EMPTY_GRACE`] of now, either way (a clock set
/// back does not make a file look new for longer than that).
fn is_recent(time: SystemTime) -> bool {
    let now = SystemTime::now();
    let distance = now.duration_since(time).unwrap_or_else(|e| e.duration());
    distance < EMPTY_GRACE
}

/// Does `path` (not followed) name the inode `(dev, ino)`?
fn names_inode(path: &Path, dev: u64, ino: u64) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when someone else holds a lock.
fn try_flock(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: flock(2) on a descriptor `file` owns; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// The first [`MAX_READ`] bytes of `file`, and whether there is more.
fn read_head(file: &File) -> io::Result<(Vec<u8>, bool)> {
    let mut buf = vec![0; MAX_READ + 1];
    let mut len = 0;
    while len < buf.len() {
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let truncated = len > MAX_READ;
    buf.truncate(len.min(MAX_READ));
    Ok((buf, truncated))
}

/// Write `PID\n` at offset 0, cut the file there, and fsync it.
fn write_pid_at_start(file: &File, pid: i32) -> io::Result<()> {
    let line = format!("{pid}\n");
    file.write_all_at(line.as_bytes(), 0)?;
    file.set_len(line.len() as u64)?;
    file.sync_all()
}

/// The PID a file we do not hold names, read without following a symlink or
/// blocking on a FIFO.
fn peek_pid(path: &Path) -> Option<i32> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    read_named_pid(&file)
}

/// `pause` scaled by a pseudo-random factor in [0.5, 1.0].
fn jittered(pause: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    pause / 2 + pause.mul_f64(f64::from(seed % 1000) / 2000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        /// Runs once between a locker's `open` and its `flock`: the race window.
        static AFTER_OPEN: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }

    pub(super) fn run_after_open_hook() {
        if let Some(hook) = AFTER_OPEN.with(|h| h.borrow_mut().take()) {
            hook();
        }
    }

    #[test]
    fn a_file_released_between_open_and_flock_is_not_the_one_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.pid");
        let holder = PidFile::new(&path).try_lock().unwrap();
        // The holder releases (removes the file, closes) right after the next
        // locker opened the old file: its flock is then granted on an inode no
        // path names any more, and it must start again on a fresh file.
        AFTER_OPEN.with(|h| {
            *h.borrow_mut() = Some(Box::new(move || {
                assert_eq!(holder.unlock().unwrap(), Unlocked::Removed);
            }))
        });
        let guard = PidFile::new(&path).try_lock().unwrap();
        let meta = fs::metadata(&path).expect("the locked file is visible");
        let locked = guard.file.as_ref().unwrap().metadata().unwrap();
        assert_eq!(locked.nlink(), 1, "locked the removed file");
        // (tmpfs hands the freed inode number straight to the new file.)
        assert_eq!((locked.dev(), locked.ino()), (meta.dev(), meta.ino()));
        assert_eq!((guard.dev, guard.ino), (meta.dev(), meta.ino()));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        assert_eq!(guard.unlock().unwrap(), Unlocked::Removed);
    }

    #[test]
    fn own_pid_and_dead_pid_are_not_live_owners() {
        let me = std::process::id() as i32;
        assert_eq!(judge_owner(me, None, &[me]), Owner::Ours);
        // pid_max is at most 2^22, so this PID never exists.
        assert_eq!(judge_owner(i32::MAX, None, &[me]), Owner::Gone);
    }

    #[test]
    fn a_process_started_after_the_write_is_a_reused_pid() {
        let me = std::process::id() as i32;
        let long_ago = SystemTime::now() - Duration::from_secs(3600 * 24 * 365 * 30);
        assert_eq!(judge_owner(me, Some(long_ago), &[]), Owner::Reused);
        assert_eq!(judge_owner(me, Some(SystemTime::now()), &[]), Owner::Live);
    }

    #[test]
    fn jitter_stays_within_half_and_whole_pause() {
        let pause = Duration::from_millis(40);
        let j = jittered(pause);
        assert!(j >= pause / 2 && j <= pause, "{j:?}");
    }
}
