//! Taking a pidfile: open or create it, take its `flock`, check the path
//! still names the locked inode, and recover stale content in place.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use super::file::{
    is_recent, names_inode, read_named_pid, read_pid, try_flock, write_pid_at_start,
};
use super::{LockError, MAX_ATTEMPTS, OWNER_READ_PATIENCE, PidFile, PidFileGuard};
use crate::policy::names::{ProcessNames, names_relate};
use crate::policy::owner::{LockSign, Owner, ProcessFacts, Signs, judge};
use crate::probe::fds::has_open;
use crate::probe::identity::{Clock, read_exe_and_arg0};
use crate::probe::locks::{FileKey, LockTable, byte_range_lock_holder, resolve_all};
use crate::probe::process::{Liveness, probe_liveness, sight};
use crate::scan::parse::InvalidPid;

impl PidFile {
    /// One attempt; `None` when the path stopped naming the opened file and
    /// the caller should start again.
    pub(super) fn attempt(&self, pid: i32, me: i32) -> Option<Result<PidFileGuard, LockError>> {
        let (file, created) = match self.open() {
            Ok(opened) => opened,
            Err(e) => return Some(Err(e)),
        };
        #[cfg(test)]
        super::tests::run_after_open_hook();
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
        // Our flock says nothing about POSIX (lockf, fcntl) or OFD locks: a
        // daemon holding one of those has the file in use, whatever it names.
        if let Some(holder) = byte_range_lock_holder(file.as_fd()) {
            return Err(LockError::Busy {
                path: self.path.clone(),
                owner: holder,
                locked: true,
            });
        }
        let recovered = parsed
            .as_ref()
            .ok()
            .copied()
            .filter(|named| ![me, pid].contains(named));
        match parsed {
            Ok(named) => {
                if owned_by_another(named, &self.path, &meta, &[me, pid]) {
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
            recovered,
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

    pub(super) fn io_error(&self, action: &'static str, source: io::Error) -> LockError {
        LockError::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }
}

/// Does the PID `named`, found in the unlocked file `path` (`meta`), belong
/// to a live process other than us (`ours`: this process, and the PID the
/// locker is about to write)? The inspector's owner rule decides
/// ([`crate::policy::owner`]): a zombie, a thread or a kernel thread owns
/// nothing, `EPERM` from `kill` counts as alive, and a process that started
/// after the file's last write still owns it if it holds a lock on it, has it
/// open, or is named after it (the wall clock may have been stepped since).
pub(super) fn owned_by_another(named: i32, path: &Path, meta: &Metadata, ours: &[i32]) -> bool {
    !ours.contains(&named) && judge_pid(named, path, Some(meta), ours).is_live()
}

/// Judge the process `pid` names now, for the file `path` (`meta`, when known).
pub(super) fn judge_pid(pid: i32, path: &Path, meta: Option<&Metadata>, ours: &[i32]) -> Owner {
    let seen = sight(pid);
    let facts = seen
        .identity
        .as_ref()
        .map(|identity| ProcessFacts::of_identity(pid, identity, &Clock::now()));
    let written = meta.and_then(|m| m.modified().ok());
    judge(seen.liveness, facts.as_ref(), written, || {
        Signs::gather(
            meta.map_or(LockSign::Unlocked, |m| lock_sign(pid, m, ours)),
            || {
                seen.identity.as_ref().is_some_and(|id| {
                    let (exe, arg0) = read_exe_and_arg0(pid);
                    let names = ProcessNames {
                        name: &id.comm,
                        exe: exe.as_deref(),
                        arg0: arg0.as_deref(),
                    };
                    names_relate(path, &names)
                })
            },
            || meta.is_some_and(|m| has_open(pid, m.dev(), m.ino())),
        )
    })
}

/// Who besides us holds a lock on the file: the named process, others only, or nobody.
fn lock_sign(pid: i32, meta: &Metadata, ours: &[i32]) -> LockSign {
    let key = FileKey::from_dev_ino(meta.dev(), meta.ino());
    let mut holders = resolve_all(&LockTable::read(), &[(key, Some(pid))])
        .remove(&key)
        .map(|lock| lock.holders)
        .unwrap_or_default();
    holders.retain(|h| !ours.contains(h));
    LockSign::of(&holders, pid)
}
