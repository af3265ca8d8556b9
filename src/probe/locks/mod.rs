//! Who holds a lock on a pidfile, from `/proc/locks` and `/proc/PID/fdinfo`.
//!
//! `/proc/locks` is read once per scan, twice over (or more while it changes,
//! see [`LockTable::read`]). Its PID column is exact for POSIX
//! locks only: for `flock` it is whoever took the lock (it stays after that
//! process exits while a forked child keeps the descriptor) and for OFD locks
//! it is -1. The real holders of those are the processes with a descriptor on
//! the file whose `fdinfo` shows the lock; they are looked up only when the
//! PID column does not already settle the question. Inspection never takes a lock.

mod holders;
mod table;

use serde::Serialize;

pub use holders::resolve_all;
pub use table::{LockTable, parse_lock_line};

/// The kind of advisory lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    /// BSD `flock(2)`, owned by an open file description.
    Flock,
    /// POSIX `fcntl(F_SETLK)`/`lockf`, owned by a process.
    Posix,
    /// Open-file-description `fcntl(F_OFD_SETLK)`.
    Ofd,
}

/// A file's identity as `/proc/locks` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Inode number.
    pub ino: u64,
}

impl FileKey {
    /// The key of a file from its `st_dev` and `st_ino`.
    pub fn from_dev_ino(dev: u64, ino: u64) -> Self {
        FileKey {
            major: libc::major(dev),
            minor: libc::minor(dev),
            ino,
        }
    }
}

/// One granted lock (waiters, the `->` lines, are left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRecord {
    /// flock, POSIX or OFD.
    pub kind: LockKind,
    /// The PID column: exact for POSIX, the taker for flock, -1 for OFD.
    pub pid: i32,
    /// Which file.
    pub key: FileKey,
}

/// Who holds the locks on one pidfile, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockInfo {
    /// The holder that matters: the PID the file names when it holds the lock, else the first holder found.
    /// `None` when the holder could not be determined (an OFD lock whose holder's fdinfo is not readable).
    pub holder_pid: Option<i32>,
    /// The kind of the lock.
    pub kind: LockKind,
    /// Every process found holding a lock on the file.
    pub holders: Vec<i32>,
}
