//! Low-level file operations of the lock: read the PID without blocking,
//! `flock` without waiting, write a PID in place.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::EMPTY_GRACE;
use crate::scan::parse::{InvalidPid, MAX_READ, parse_pid, read_pid_max};

/// What `file` holds: a PID, or why it is not one.
pub(super) fn read_pid(file: &File) -> io::Result<Result<i32, InvalidPid>> {
    let (content, truncated) = read_head(file)?;
    Ok(parse_pid(&content, truncated, read_pid_max()))
}

/// The PID `file` names, if it names one.
pub(super) fn read_named_pid(file: &File) -> Option<i32> {
    read_pid(file).ok()?.ok()
}

/// Whether `time` is within [`EMPTY_GRACE`] of now, either way (a clock set
/// back does not make a file look new for longer than that).
pub(super) fn is_recent(time: SystemTime) -> bool {
    let now = SystemTime::now();
    let distance = now.duration_since(time).unwrap_or_else(|e| e.duration());
    distance < EMPTY_GRACE
}

/// Does `path` (not followed) name the inode `(dev, ino)`?
pub(super) fn names_inode(path: &Path, dev: u64, ino: u64) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when someone else holds a lock.
pub(super) fn try_flock(file: &File) -> io::Result<bool> {
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
pub(super) fn read_head(file: &File) -> io::Result<(Vec<u8>, bool)> {
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
pub(super) fn write_pid_at_start(file: &File, pid: i32) -> io::Result<()> {
    let line = format!("{pid}\n");
    file.write_all_at(line.as_bytes(), 0)?;
    file.set_len(line.len() as u64)?;
    file.sync_all()
}

/// The PID a file we do not hold names, read without following a symlink or
/// blocking on a FIFO.
pub(super) fn peek_pid(path: &Path) -> Option<i32> {
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
pub(super) fn jittered(pause: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    pause / 2 + pause.mul_f64(f64::from(seed % 1000) / 2000.0)
}
