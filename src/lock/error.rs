//! Why a pidfile could not be locked.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::EMPTY_GRACE;
use crate::scan::parse::InvalidPid;

/// Why a pidfile could not be locked.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockError {
    /// Another process owns the pidfile.
    Busy {
        /// The pidfile.
        path: PathBuf,
        /// The owner's PID: the one the file names, or the holder of a POSIX
        /// lock on it; `None` when neither is known (an OFD lock's holder).
        owner: Option<i32>,
        /// `true`: the file is locked (its `flock` was refused, or another
        /// process holds a POSIX or OFD lock on it). `false`: nobody holds a lock, but
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

    /// For [`Busy`](LockError::Busy), the PID of the owner when it is known.
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
                crate::display::human_duration(EMPTY_GRACE)
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
