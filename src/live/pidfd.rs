//! pidfds: how many this process may hold, whether the kernel gives them,
//! and opening one for exactly the process (or thread) that was probed.

use std::os::fd::OwnedFd;

use rustix::io::Errno;

/// How many pidfds are held at most; PIDs past it are polled.
pub const MAX_PIDFDS: usize = 4096;

/// What a pidfd waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Wait {
    /// The process exits (it becomes a zombie, or is reaped at once).
    Exit,
    /// The zombie is reaped (the pidfd hangs up; Linux 6.9 and later).
    Reap,
}

/// Descriptors always left free for reading pidfiles, `/proc` and the terminal.
const RESERVED_FDS: u64 = 64;

/// How many pidfds this process may hold: [`MAX_PIDFDS`], within the
/// descriptor limit less [`RESERVED_FDS`]. The soft limit is raised as far
/// as that needs, when the hard limit allows.
pub(super) fn pidfd_cap() -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = MAX_PIDFDS as u64 + RESERVED_FDS;
    let mut soft = limit.current.unwrap_or(u64::MAX);
    if soft < wanted {
        let raised = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
        let new = Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        };
        if raised > soft && setrlimit(Resource::Nofile, new).is_ok() {
            soft = raised;
        }
    }
    let room = soft.saturating_sub(RESERVED_FDS);
    usize::try_from(room).map_or(MAX_PIDFDS, |room| room.min(MAX_PIDFDS))
}

/// `PIDFD_THREAD` (Linux 6.9): a pidfd for a thread, readable when that
/// thread exits. It is `O_EXCL` (include/uapi/linux/pidfd.h).
const PIDFD_THREAD: u32 = libc::O_EXCL as u32;

/// A pidfd for `pid` (a process, or a thread a pidfile names) if it is
/// still the one that started at `ticks` (and, waiting for its exit, has
/// not exited); `Ok(None)` when it is gone or the PID now names another.
pub(super) fn open_pidfd(pid: i32, ticks: u64, wait: Wait) -> Result<Option<OwnedFd>, Errno> {
    use rustix::process::{PidfdFlags, pidfd_open};
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return Ok(None);
    };
    let fd = match pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => fd,
        // Not a thread-group leader (EINVAL before Linux 6.9, ENOENT since):
        // a thread's own pidfd; failing that, it is gone.
        Err(Errno::INVAL | Errno::NOENT) => {
            match pidfd_open(raw, PidfdFlags::from_bits_retain(PIDFD_THREAD)) {
                Ok(fd) => fd,
                Err(Errno::SRCH | Errno::NOENT | Errno::INVAL) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Err(Errno::SRCH) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The PID may have changed hands between the probe and the open: the
    // fd is good only if the process it names is the one that was probed.
    match crate::probe::identity::read_identity(pid) {
        Ok(id) if id.start_ticks == ticks && (wait == Wait::Reap || !id.state.has_exited()) => {
            Ok(Some(fd))
        }
        _ => Ok(None),
    }
}

/// Why this kernel gives no pidfds at all, if it does not: tried on ourselves.
pub(super) fn pidfd_support() -> Option<String> {
    let me = rustix::process::getpid();
    match rustix::process::pidfd_open(me, rustix::process::PidfdFlags::empty()) {
        Ok(_) => None,
        Err(e) => Some(format!("no pidfd support: {}", errno_text(e))),
    }
}

/// Why a zombie's reaping cannot be waited on, if it cannot: a pidfd hangs
/// up when its process is reaped only since Linux 6.9, the release that
/// also brought `PIDFD_THREAD`, which is tried on pidscope itself.
pub(super) fn reap_support() -> Option<String> {
    let me = rustix::process::getpid();
    let flags = rustix::process::PidfdFlags::from_bits_retain(PIDFD_THREAD);
    match rustix::process::pidfd_open(me, flags) {
        Ok(_) => None,
        Err(_) => Some("zombies' reaping not reported before Linux 6.9".to_string()),
    }
}

/// An errno as a short lower-case phrase.
pub(super) fn errno_text(e: Errno) -> String {
    crate::scan::read::describe(&std::io::Error::from(e))
}
