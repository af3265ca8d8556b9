//! A held pidfile ([`PidFileGuard`]) and its release: the file is removed only
//! while the path still names our inode and the content our PID.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::file::{names_inode, peek_pid, read_named_pid, read_pid, try_flock, write_pid_at_start};
use super::{LockError, OWNER_READ_PATIENCE};

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
    pub(super) file: Option<File>,
    pub(super) path: PathBuf,
    pub(super) dev: u64,
    pub(super) ino: u64,
    pub(super) pid: i32,
    /// The process that took the lock (a forked child must not remove the file).
    pub(super) owner_process: u32,
    /// The PID a stale file named when this lock took it over.
    pub(super) recovered: Option<i32>,
}

impl PidFileGuard {
    /// The pidfile's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PID the file named when this lock took it over as stale (dead, a
    /// zombie, or a reused PID); `None` when the file was new, empty, or ours.
    pub fn recovered(&self) -> Option<i32> {
        self.recovered
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
        if let Some(found) = self.rewritten(&file)? {
            return Ok(found);
        }
        // Processes that inherited our descriptor (a child's background jobs)
        // share the lock and may outlive us: the file must stay while they
        // hold it. Let go of ours and ask through a descriptor of our own.
        let probe = if shared { self.open_probe() } else { None };
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
                if let Some(found) = self.rewritten(&probe)? {
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

impl PidFileGuard {
    /// Does `file` still name our PID? If not, someone rewrote it (a writer
    /// that does not lock): what it names now.
    fn rewritten(&self, file: &File) -> Result<Option<Unlocked>, LockError> {
        match read_pid(file) {
            Ok(Ok(pid)) if pid == self.pid => Ok(None),
            Ok(other) => Ok(Some(Unlocked::Rewritten { pid: other.ok() })),
            Err(source) => Err(LockError::Io {
                path: self.path.clone(),
                action: "read",
                source,
            }),
        }
    }

    /// A descriptor of our own on our file, to ask whether anyone else holds
    /// its lock; `None` when the path no longer names our inode or cannot be
    /// opened. Read-write where we may: flock emulated over byte-range locks
    /// (NFS, SMB) wants a writable descriptor for an exclusive lock.
    fn open_probe(&self) -> Option<File> {
        let open = |write: bool| {
            OpenOptions::new()
                .read(true)
                .write(write)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(&self.path)
        };
        open(true).or_else(|_| open(false)).ok().filter(|p| {
            p.metadata()
                .is_ok_and(|m| (m.dev(), m.ino()) == (self.dev, self.ino))
        })
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
