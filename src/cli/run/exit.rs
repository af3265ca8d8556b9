//! How the wrapper ends: the pidfile released, and COMMAND's end turned into
//! the wrapper's own exit status (or death by SIGINT).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::{SigHandler, SigSet, Signal};
use pidscope::lock::{LockError, PidFileGuard, Unlocked};

use super::status;
use crate::cli::warn;

/// COMMAND died of SIGINT: die of it too, after cleaning up, so that a shell
/// script that ran the wrapper stops as it would on ^C (bash only does when
/// its child died of SIGINT). Shells still report 130. Returns if it cannot.
pub(super) fn die_of_sigint() {
    // Started with SIGINT ignored (a background job of a shell): ^C was not
    // meant for us, so there is no interrupt to pass on.
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `current`.
    let read = unsafe { libc::sigaction(libc::SIGINT, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: zero-initialised, and filled in by sigaction on success.
    if read != 0 || unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN {
        return;
    }
    // SAFETY: SIG_DFL installs no handler; this thread is the only one.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGINT, SigHandler::SigDfl) };
    let _ = nix::sys::signal::raise(Signal::SIGINT);
    let mut int = SigSet::empty();
    int.add(Signal::SIGINT);
    let _ = int.thread_unblock();
}

/// The wrapper's status for COMMAND's: its exit code, or 128+N for signal N.
pub(super) fn exit_code(exit: ExitStatus) -> u8 {
    match (exit.code(), exit.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.saturating_add(signal as u8),
        (None, None) => status::FAILED,
    }
}

/// Remove the pidfile if it is still ours; say so when it is not.
pub(super) fn release(guard: PidFileGuard) {
    let path = guard.path().to_owned();
    match guard.unlock_shared() {
        Ok(Unlocked::Removed) => {}
        Ok(other) => warn(&format!("{}: {other}", path.display())),
        Err(e @ LockError::Io { .. }) => warn(&format!(
            "{e} (the lock is released; the next run recovers the file)"
        )),
        Err(e) => warn(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_deaths_map_to_128_plus_n() {
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGTERM)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
    }
}
