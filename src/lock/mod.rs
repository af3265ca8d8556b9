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
//! 2. **Busy**: if the `flock` is refused, or another process holds a POSIX
//!    (`lockf`, `fcntl`) or OFD lock on the file (asked with `F_OFD_GETLK`
//!    once the `flock` is ours), [`LockError::Busy`] carries the PID the file
//!    names (for a POSIX lock, its holder). While the file names no live process (empty: its holder
//!    is between creating and writing it; a dead PID: a recoverer about to
//!    write its own, or `pidscope clean` about to remove it), the locker looks
//!    again for up to 100 ms, as BSD `pidfile_open` does, and starts over if
//!    the file was removed. If the `flock` is granted but the file names a
//!    live process (an `EPERM` from `kill` counts as alive) that is neither a
//!    reused PID nor us (a process that started after the file was written
//!    still owns it if it locks it, keeps it open, or is named after it: the
//!    wall clock may have been stepped since), a writer that does not use locks owns it: busy too,
//!    never stolen. So is an empty file younger than [`EMPTY_GRACE`] that this
//!    locker did not create, once it has stayed empty for 100 ms (looked at
//!    without holding the lock, which its creator may need to write its PID).
//! 3. **Stale**: otherwise (no such process, a zombie, a kernel thread or a
//!    thread of another process, a PID now used by a process that started more
//!    than [`REUSE_TOLERANCE`](crate::policy::owner::REUSE_TOLERANCE) after the
//!    file was written and shows no sign of owning it, or an empty file older
//!    than [`EMPTY_GRACE`]) the file is recovered *in place*: the PID and a newline are
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
//! child that inherits the descriptor (see [`PidFileGuard`]'s [`AsFd`](std::os::fd::AsFd)); it is
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

mod acquire;
mod error;
mod file;
mod guard;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use file::jittered;

pub use error::LockError;
pub use guard::{PidFileGuard, Unlocked};

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
}

#[cfg(test)]
mod tests {
    use super::acquire::{judge_pid, owned_by_another};
    use super::*;
    use crate::policy::owner::{Owner, Sign};
    use std::cell::RefCell;
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::time::SystemTime;

    thread_local! {
        /// Runs once between a locker's `open` and its `flock`: the race window.
        static AFTER_OPEN: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }

    pub(super) fn run_after_open_hook() {
        if let Some(hook) = AFTER_OPEN.with(|h| h.borrow_mut().take()) {
            hook();
        }
    }

    /// A child in its own process group, killed with its group when dropped,
    /// however the test ends.
    struct Group(std::process::Child);

    impl Group {
        fn spawn(cmd: &mut std::process::Command) -> Group {
            use std::os::unix::process::CommandExt;
            Group(cmd.process_group(0).spawn().unwrap())
        }

        fn pid(&self) -> i32 {
            self.0.id() as i32
        }
    }

    impl Drop for Group {
        fn drop(&mut self) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(self.pid()),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = self.0.wait();
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
    fn an_empty_file_that_gets_its_pid_a_moment_later_is_busy_with_that_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        // Another locker has just created the file and is about to write its PID.
        fs::write(&path, "").unwrap();
        let writer = Group::spawn(std::process::Command::new("sleep").arg("1000"));
        let writer_pid = writer.pid();
        let written = path.clone();
        // Our first look finds the file empty; by the next one, its PID is in.
        AFTER_OPEN.with(|h| {
            *h.borrow_mut() = Some(Box::new(move || {
                AFTER_OPEN.with(|h| {
                    *h.borrow_mut() = Some(Box::new(move || {
                        fs::write(&written, format!("{writer_pid}\n")).unwrap();
                    }))
                });
            }))
        });
        let pidfile = PidFile::new(&path);
        assert_eq!(pidfile.path(), path);
        let result = pidfile.try_lock();
        drop(writer);
        match result {
            Err(LockError::Busy {
                owner: Some(owner),
                locked: false,
                ..
            }) => assert_eq!(owner, writer_pid),
            other => panic!("expected busy with PID {writer_pid}, got {other:?}"),
        }
    }

    #[test]
    fn a_process_holding_the_files_lock_owns_it_whatever_the_clocks_say() {
        let me = std::process::id() as i32;
        let dir = tempfile::tempdir().unwrap();
        // A name unrelated to `flock`, written long before it started.
        let path = dir.path().join("unrelated.pid");
        fs::File::create(&path)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(3600 * 24 * 365 * 30))
            .unwrap();
        let holder = Group::spawn(
            std::process::Command::new("flock")
                .arg(&path)
                .args(["sleep", "1000"]),
        );
        let pid = holder.pid();
        // Wait until `flock` holds it: a lock of our own is refused (and, while
        // it is not, dropped again at once).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while file::try_flock(&fs::File::open(&path).unwrap()).unwrap() {
            assert!(
                std::time::Instant::now() < deadline,
                "flock never took the lock"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let meta = fs::metadata(&path).unwrap();
        let judged = judge_pid(pid, &path, Some(&meta), &[me]);
        drop(holder);
        assert!(
            matches!(judged, Owner::ClockStepped(_, Sign::HoldsLock)),
            "{judged:?}"
        );
    }

    #[test]
    fn the_guard_says_which_stale_pid_it_took_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        // A PID that was just reaped: no process has it.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = gone.id() as i32;
        gone.wait().unwrap();
        fs::write(&path, format!("{dead}\n")).unwrap();
        let guard = PidFile::new(&path).try_lock().unwrap();
        assert_eq!(guard.recovered(), Some(dead));
        assert_eq!(guard.unlock().unwrap(), Unlocked::Removed);
        // A new file, or one that names us already, was nobody else's.
        let guard = PidFile::new(&path).try_lock().unwrap();
        assert_eq!(guard.recovered(), None);
        drop(guard);
        fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        let guard = PidFile::new(&path).try_lock().unwrap();
        assert_eq!(guard.recovered(), None);
    }

    #[test]
    fn a_file_replaced_between_open_and_flock_is_not_the_one_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.pid");
        // Files naming a PID that was just reaped: stale, free to take.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = format!("{}\n", gone.id());
        gone.wait().unwrap();
        fs::write(&path, &dead).unwrap();
        // Right after the locker opened the file, another file is renamed over
        // it, on the same file system: the opened inode is no one's any more.
        let (renamed, target) = (dir.path().join("new.tmp"), path.clone());
        AFTER_OPEN.with(|h| {
            *h.borrow_mut() = Some(Box::new(move || {
                fs::write(&renamed, &dead).unwrap();
                fs::rename(&renamed, &target).unwrap();
            }))
        });
        let guard = PidFile::new(&path).try_lock().unwrap();
        let meta = fs::metadata(&path).unwrap();
        let locked = guard.file.as_ref().unwrap().metadata().unwrap();
        assert_eq!(locked.nlink(), 1, "locked the replaced file");
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        let meta = fs::File::create(&path).unwrap().metadata().unwrap();
        assert!(!owned_by_another(me, &path, &meta, &[me]), "ours");
        // pid_max is at most 2^22, so this PID never exists.
        assert_eq!(judge_pid(i32::MAX, &path, None, &[]), Owner::Gone);
        assert!(!owned_by_another(i32::MAX, &path, &meta, &[me]));
    }

    #[test]
    fn a_process_started_after_the_write_is_a_reused_pid() {
        let me = std::process::id() as i32;
        let dir = tempfile::tempdir().unwrap();
        // A name unrelated to this test process, a file it neither locks nor keeps open.
        let path = dir.path().join("unrelated.pid");
        let file = fs::File::create(&path).unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs(3600 * 24 * 365 * 30);
        file.set_modified(long_ago).unwrap();
        drop(file);
        let meta = fs::metadata(&path).unwrap();
        assert!(matches!(
            judge_pid(me, &path, Some(&meta), &[]),
            Owner::StartedAfter(_)
        ));
        assert!(!owned_by_another(me, &path, &meta, &[]));
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::now())
            .unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(judge_pid(me, &path, Some(&meta), &[]), Owner::Live);
        assert!(owned_by_another(me, &path, &meta, &[]));
    }

    #[test]
    fn jitter_stays_within_half_and_whole_pause() {
        // Many draws, as the factor comes from the clock: every one in range,
        // and not all the same.
        let mut seen = std::collections::BTreeSet::new();
        for ms in [1, 2, 40, 50] {
            let pause = Duration::from_millis(ms);
            for _ in 0..200 {
                let j = jittered(pause);
                assert!(j >= pause / 2 && j <= pause, "{pause:?}: {j:?}");
                seen.insert(j);
                std::hint::spin_loop();
            }
        }
        assert!(seen.len() > 4, "{seen:?}");
    }

    #[test]
    fn a_pidfile_of_exactly_the_read_bound_is_read_whole() {
        use crate::scan::parse::{InvalidPid, MAX_READ};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("padded.pid");
        // A PID padded with spaces (no newline) to exactly MAX_READ bytes: all of it is read.
        let padded = |len: usize| format!("{:<len$}", 4242);
        fs::write(&path, padded(MAX_READ)).unwrap();
        let file = fs::File::open(&path).unwrap();
        assert!(!file::read_head(&file).unwrap().1, "not truncated");
        assert_eq!(file::read_pid(&file).unwrap(), Ok(4242));
        // One byte more and the line does not end within the bound.
        fs::write(&path, padded(MAX_READ + 1)).unwrap();
        let (head, truncated) = file::read_head(&file).unwrap();
        assert_eq!((head.len(), truncated), (MAX_READ, true));
        assert_eq!(file::read_pid(&file).unwrap(), Err(InvalidPid::LineTooLong));
    }

    #[test]
    fn unlock_never_follows_or_blocks_on_what_replaced_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pid");
        let elsewhere = dir.path().join("elsewhere.pid");
        fs::write(&elsewhere, "4242\n").unwrap();
        let replace = |with: &dyn Fn()| {
            let guard = PidFile::new(&path).try_lock().unwrap();
            fs::remove_file(&path).unwrap();
            with();
            let outcome = guard.unlock().unwrap();
            let kind = fs::symlink_metadata(&path).unwrap().file_type();
            fs::remove_file(&path).unwrap();
            (outcome, kind)
        };
        // A symlink to a pidfile: what it points to is not what is at the path.
        let (outcome, kind) = replace(&|| std::os::unix::fs::symlink(&elsewhere, &path).unwrap());
        assert_eq!(outcome, Unlocked::Replaced { pid: None });
        assert!(kind.is_symlink());
        // A FIFO nobody writes to: looking at it must not wait for a writer.
        let (outcome, kind) = replace(&|| {
            nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap()
        });
        assert_eq!(outcome, Unlocked::Replaced { pid: None });
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "4242\n");
    }

    #[test]
    fn what_unlock_found_reads_as_one_line() {
        for (unlocked, removed, line) in [
            (Unlocked::Removed, true, "removed"),
            (Unlocked::Missing, false, "already removed by someone else"),
            (
                Unlocked::Replaced { pid: Some(7) },
                false,
                "replaced by another file, naming PID 7; left it alone",
            ),
            (
                Unlocked::Replaced { pid: None },
                false,
                "replaced by another file; left it alone",
            ),
            (
                Unlocked::Rewritten { pid: Some(8) },
                false,
                "rewritten by someone else, naming PID 8; left it alone",
            ),
            (
                Unlocked::Rewritten { pid: None },
                false,
                "rewritten by someone else; left it alone",
            ),
            (
                Unlocked::StillLocked,
                false,
                "its lock is still held by other processes (children that inherited it, or a new locker); left it to them",
            ),
            (
                Unlocked::NotTheLocker,
                false,
                "not removed: this process is a forked copy of the one that locked it",
            ),
        ] {
            assert_eq!(unlocked.removed(), removed, "{unlocked:?}");
            assert_eq!(unlocked.to_string(), line);
        }
    }

    #[test]
    fn lock_errors_read_as_one_line_and_keep_their_cause() {
        use std::error::Error;
        let path = PathBuf::from("/run/app.pid");
        let busy = |owner, locked| LockError::Busy {
            path: path.clone(),
            owner,
            locked,
        };
        for (owner, locked, line) in [
            (Some(7), true, "/run/app.pid is locked by PID 7"),
            (None, true, "/run/app.pid is locked by another process"),
            (
                Some(7),
                false,
                "/run/app.pid names PID 7, which is running (without holding a lock on the file)",
            ),
            (
                None,
                false,
                "/run/app.pid is empty and new: a process may be about to write its PID (taken over once 10s old)",
            ),
        ] {
            let error = busy(owner, locked);
            assert_eq!(error.to_string(), line);
            assert!(error.is_busy());
            assert_eq!(error.path(), path);
            assert_eq!(error.owner(), owner);
            assert!(error.source().is_none());
        }
        let invalid = LockError::Invalid {
            path: path.clone(),
            reason: crate::scan::parse::InvalidPid::Zero,
        };
        assert!(
            invalid
                .to_string()
                .starts_with("/run/app.pid does not hold a PID (")
        );
        assert!(invalid.to_string().ends_with("); not overwriting it"));
        assert!(!invalid.is_busy());
        assert_eq!(invalid.owner(), None);
        assert!(invalid.source().is_none());
        let io = PidFile::new(&path).io_error("open", io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(
            io.to_string(),
            "cannot open /run/app.pid: Permission denied (os error 13)"
        );
        assert_eq!(io.path(), path);
        assert!(!io.is_busy());
        assert_eq!(io.owner(), None);
        let cause = io.source().expect("the I/O error is the cause");
        assert_eq!(cause.to_string(), "Permission denied (os error 13)");
    }
}
