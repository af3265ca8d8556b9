//! Who holds a lock on a pidfile, from `/proc/locks` and `/proc/PID/fdinfo`.
//!
//! `/proc/locks` is read once per scan, twice over (or more while it changes,
//! see [`LockTable::read`]). Its PID column is exact for POSIX
//! locks only: for `flock` it is whoever took the lock (it stays after that
//! process exits while a forked child keeps the descriptor) and for OFD locks
//! it is -1. The real holders of those are the processes with a descriptor on
//! the file whose `fdinfo` shows the lock; they are looked up only when the
//! PID column does not already settle the question, and a [`HolderCache`]
//! keeps what a look at every process found for the next scans. Inspection
//! never takes a lock.

mod bpf;
mod btf;
mod btf_cache;
mod holders;
mod table;
mod walk;

use std::os::fd::{AsRawFd, BorrowedFd};

use serde::Serialize;

pub use bpf::allowed as bpf_allowed;
pub use bpf::peek::Peek;
pub use holders::{HolderCache, resolve_all};
pub use table::{LockTable, parse_lock_line};

/// Whether a POSIX or OFD lock held through another open file description
/// covers any part of the file `fd` is open on, asked of the kernel with
/// `F_OFD_GETLK` (`/proc/locks` is not consulted): `Some(Some(pid))` for a
/// POSIX lock, whose holder the kernel names, `Some(None)` for an OFD lock,
/// `None` when nothing conflicts or the file system cannot say. A `flock`
/// never shows here.
pub fn byte_range_lock_holder(fd: BorrowedFd<'_>) -> Option<Option<i32>> {
    let mut probe = whole_file_write_lock();
    // SAFETY: fcntl(F_OFD_GETLK) on a borrowed, open descriptor; it writes only into `probe`.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, &mut probe) };
    (rc == 0 && probe.l_type != libc::F_UNLCK as libc::c_short)
        .then_some((probe.l_pid > 0).then_some(probe.l_pid))
}

/// A write lock over the whole file, as `fcntl` takes or tests one.
fn whole_file_write_lock() -> libc::flock {
    libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
