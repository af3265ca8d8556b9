//! Deleting a pidfile without ever losing a file that became valid again.
//!
//! 1. Re-inspect the file and refuse if anything its verdict rested on changed,
//!    or if a live process holds a lock on it (a lock in use, whatever the content).
//! 2. Rename it aside inside its own directory (`renameat2` with
//!    `RENAME_NOREPLACE`, relative to the directory's descriptor, never
//!    following a symlink: a symlinked pidfile loses the link, never its target).
//! 3. Check that what was moved is the very inode, size and mtime just verified;
//!    if not (the daemon rewrote or replaced it in between), put it back.
//! 4. Only then unlink the moved name.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, Flock, FlockArg, OFlag, RenameFlags, open, openat, renameat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::{ActionError, pause_for_race_tests};
use crate::policy::delete::{Deletion, may_delete};
use crate::probe::locks::byte_range_lock_holder;
use crate::scan::Location;
use crate::verdict::Entry;

/// Delete the pidfile `fresh`, just re-verified against what the operator
/// saw, after asking the rules ([`may_delete`]) about it: a lock in use, an
/// unverifiable verdict or an invalid pidfile younger than `grace` keeps it.
pub(super) fn delete_pidfile(fresh: &Entry, grace: std::time::Duration) -> Result<(), ActionError> {
    if let Deletion::Refused(keep) = may_delete(fresh, grace, std::time::SystemTime::now()) {
        return Err(ActionError::refused(
            &fresh.path,
            format!("{}: {keep}", fresh.status),
        ));
    }
    let target = Target::open(fresh)?;
    // Hold the file's flock from here to the removal, as careful lockers do:
    // a locker that has just taken it (and may be writing its PID) makes us
    // refuse, and one that comes after finds the lock taken, then the file gone.
    pause_for_race_tests("PIDSCOPE_TEST_PAUSE_BEFORE_LOCK_MS");
    let _held = if target.kind == SFlag::S_IFREG {
        Some(lock_for_removal(
            &target.dirfd,
            target.name,
            target.location.entry,
            &fresh.path,
        )?)
    } else {
        None
    };
    pause_for_race_tests("PIDSCOPE_TEST_PAUSE_BEFORE_REMOVE_MS");
    target.remove()
}

/// The pidfile about to be deleted, reached through its directory's
/// descriptor, and checked to be the directory and entry that were verified.
struct Target<'a> {
    fresh: &'a Entry,
    dir: &'a Path,
    name: &'a OsStr,
    dirfd: OwnedFd,
    kind: SFlag,
    location: Location,
}

impl<'a> Target<'a> {
    /// Open the directory of the freshly verified `fresh` and check that it,
    /// and the entry in it, are still the ones verified.
    fn open(fresh: &'a Entry) -> Result<Self, ActionError> {
        let path = &fresh.path;
        let refused = |why: &str| ActionError::refused(path, why);
        let failed = |what: String| ActionError::failed(path, what);
        let changed = |what: &str| ActionError::changed(path, what);
        let (dir, name) = split(path).ok_or_else(|| refused("not a file in a directory"))?;
        let dirfd = open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| failed(format!("cannot open its directory: {}", e.desc())))?;
        // From here on everything goes through the directory descriptor: check it is
        // the directory scanned, not one swapped in (a symlink to elsewhere) since.
        let location = fresh
            .location
            .clone()
            .ok_or_else(|| refused("its location on disk is unknown"))?;
        let dir_now = fstat(&dirfd)
            .map_err(|e| failed(format!("cannot stat its directory: {}", e.desc())))?;
        if (dir_now.st_dev, dir_now.st_ino) != *location.dir {
            return Err(changed("its directory was replaced"));
        }
        let before = lstat_at(&dirfd, name).map_err(|_| changed("the file is gone"))?;
        if (before.st_dev, before.st_ino) != location.entry {
            return Err(changed("another file took its name"));
        }
        let kind = SFlag::from_bits_truncate(before.st_mode) & SFlag::S_IFMT;
        if kind != SFlag::S_IFREG && kind != SFlag::S_IFLNK {
            return Err(refused("not a regular file or symlink"));
        }
        if kind == SFlag::S_IFREG && !same_file(&before, fresh) {
            return Err(changed("the file was rewritten"));
        }
        Ok(Target {
            fresh,
            dir,
            name,
            dirfd,
            kind,
            location,
        })
    }

    /// Rename the entry aside, check the moved inode is the one verified (put
    /// it back if not), then unlink it.
    fn remove(&self) -> Result<(), ActionError> {
        let path = &self.fresh.path;
        let failed = |what: String| ActionError::failed(path, what);
        let (dirfd, name) = (&self.dirfd, self.name);
        let aside = aside_name(name);
        renameat2(
            dirfd,
            name,
            dirfd,
            aside.as_os_str(),
            RenameFlags::RENAME_NOREPLACE,
        )
        .map_err(|e| failed(format!("cannot move it aside: {}", e.desc())))?;
        let moved = lstat_at(dirfd, aside.as_os_str());
        let intact = moved.as_ref().is_ok_and(|m| {
            (m.st_dev, m.st_ino) == self.location.entry
                && (self.kind == SFlag::S_IFLNK || same_file(m, self.fresh))
        });
        if !intact {
            return match renameat2(
                dirfd,
                aside.as_os_str(),
                dirfd,
                name,
                RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => Err(ActionError::changed(
                    path,
                    "the file was replaced while being deleted; put back",
                )),
                Err(e) => Err(failed(format!(
                    "the file changed while being deleted and could not be put back ({}); it is at {}",
                    e.desc(),
                    self.dir.join(&aside).display()
                ))),
            };
        }
        unlinkat(dirfd, aside.as_os_str(), UnlinkatFlags::NoRemoveDir).map_err(|e| {
            failed(format!(
                "cannot remove {}: {}",
                aside.to_string_lossy(),
                e.desc()
            ))
        })
    }
}

/// Open the pidfile through its directory, check it is the inode verified,
/// take its `flock` (exclusive, non-blocking) and check that no POSIX or OFD
/// lock is held on it. `/proc/locks` was consulted already; this asks the
/// kernel about this one file, right before the removal. The returned lock is
/// held until dropped.
fn lock_for_removal(
    dirfd: &OwnedFd,
    name: &OsStr,
    entry: (u64, u64),
    path: &Path,
) -> Result<Option<Flock<OwnedFd>>, ActionError> {
    let in_use = |how: &str| ActionError::refused(path, format!("{how}: the file is in use"));
    // First a handle that opens nothing (O_PATH): a device node swapped in
    // since the lstat must not be opened, for opening one can act.
    let handle = openat(
        dirfd,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        ActionError::changed(path, format!("it cannot be opened any more ({})", e.desc()))
    })?;
    let stat = fstat(&handle)
        .map_err(|e| ActionError::failed(path, format!("cannot stat it: {}", e.desc())))?;
    if (stat.st_dev, stat.st_ino) != entry {
        return Err(ActionError::changed(path, "another file took its name"));
    }
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(ActionError::changed(path, "it is no longer a regular file"));
    }
    // Then the very inode the handle names, through its /proc magic link.
    let fd = match open(
        Path::new(&format!("/proc/self/fd/{}", handle.as_raw_fd())),
        // O_NONBLOCK: a lease holder makes the open fail rather than wait.
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::EWOULDBLOCK) => return Err(in_use("another process holds a lease on it")),
        // Unreadable to us: removal needs only the directory; /proc/locks spoke for it.
        Err(Errno::EACCES | Errno::EPERM) => return Ok(None),
        Err(e) => {
            return Err(ActionError::changed(
                path,
                format!("it cannot be opened any more ({})", e.desc()),
            ));
        }
    };
    match byte_range_lock_holder(fd.as_fd()) {
        Some(Some(pid)) => return Err(in_use(&format!("PID {pid} holds a POSIX lock on it"))),
        Some(None) => return Err(in_use("a process holds a lock on it")),
        None => {}
    }
    match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, Errno::EWOULDBLOCK)) => Err(in_use("another process holds its flock")),
        // No flock through a read-only descriptor here (NFS, SMB emulate it
        // with byte-range locks, which OFD_GETLK has just asked about).
        Err((_, Errno::EBADF | Errno::ENOLCK | Errno::EOPNOTSUPP)) => Ok(None),
        Err((_, e)) => Err(ActionError::failed(
            path,
            format!("cannot lock it: {}", e.desc()),
        )),
    }
}

fn split(path: &Path) -> Option<(&Path, &OsStr)> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some((dir, name))
}

fn lstat_at(dirfd: &OwnedFd, name: &OsStr) -> nix::Result<FileStat> {
    fstatat(dirfd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

/// Same inode, size and mtime as the freshly verified file.
fn same_file(stat: &FileStat, fresh: &Entry) -> bool {
    fresh.file.as_ref().is_some_and(|f| {
        let mtime = f
            .mtime
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (stat.st_dev, stat.st_ino, stat.st_size as u64) == (f.dev, f.ino, f.size)
            && (stat.st_mtime, stat.st_mtime_nsec)
                == (mtime.as_secs() as i64, i64::from(mtime.subsec_nanos()))
    })
}

/// A hidden name in the same directory, unique to this process.
fn aside_name(name: &OsStr) -> OsString {
    let mut aside = OsString::from(".");
    // Keep it short enough for NAME_MAX (255) whatever the original length.
    let bytes = name.as_bytes();
    aside.push(OsStr::from_bytes(&bytes[..bytes.len().min(200)]));
    aside.push(format!(".pidscope-delete.{}", std::process::id()));
    aside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfile_is_reached_through_its_directory() {
        let split = |p: &str| split(Path::new(p)).map(|(d, n)| (d.to_path_buf(), n.to_owned()));
        assert_eq!(
            split("/run/nginx.pid"),
            Some(("/run".into(), "nginx.pid".into()))
        );
        // A bare name is in the current directory, not in "".
        assert_eq!(split("nginx.pid"), Some((".".into(), "nginx.pid".into())));
        assert_eq!(split("/"), None);
        let long = "x".repeat(255);
        let aside = aside_name(OsStr::new(&long));
        assert!(aside.len() <= 255, "{}", aside.len());
        assert!(aside.as_bytes().starts_with(b".xxx"));
        assert_ne!(
            aside_name(OsStr::new("a.pid")),
            aside_name(OsStr::new("b.pid"))
        );
    }
}
