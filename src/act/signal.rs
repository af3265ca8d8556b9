//! Signalling the owner of a pidfile without ever hitting a reused PID.
//!
//! A pidfd is opened first; the process's start time and uid are then checked
//! against what the operator saw, and the signal goes through the pidfd. If the
//! PID was reused after the check, the pidfd still refers to the old (dead)
//! process and the kernel refuses: nothing reaches the newcomer.

use std::fmt;
use std::os::fd::OwnedFd;

use nix::sys::signal::Signal;

use super::{ActionError, pause_for_race_tests};
use crate::probe::identity::read_identity;
use crate::verdict::Entry;

/// The signals offered to operators, in menu order (TERM first).
pub const MENU: [Signal; 9] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGSTOP,
    Signal::SIGCONT,
    Signal::SIGKILL,
];

/// Parse `term`, `TERM`, `SIGTERM` or `15`.
pub fn parse_signal(text: &str) -> Option<Signal> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse().ok()
}

/// `TERM (15)`.
pub fn signal_label(signal: Signal) -> String {
    format!(
        "{} ({})",
        signal.as_str().trim_start_matches("SIG"),
        signal as i32
    )
}

/// How a signal was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The signal.
    pub signal: Signal,
    /// The PID.
    pub pid: i32,
    /// True when sent through a pidfd after the identity check (no reuse race);
    /// false on kernels without pidfd, where the check came right before `kill`.
    pub atomic: bool,
}

impl fmt::Display for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sent {} to PID {}", self.signal.as_str(), self.pid)?;
        if !self.atomic {
            write!(
                f,
                " (no pidfd: identity checked just before kill, not atomically)"
            )?;
        }
        Ok(())
    }
}

/// Send `signal` to the process the operator saw as the owner of `seen`; the
/// executor has already checked [`crate::policy::signal::may_signal`] and
/// that the pidfile still says what the operator saw.
pub(super) fn signal_owner(seen: &Entry, signal: Signal) -> Result<Sent, ActionError> {
    let path = &seen.path;
    let refused = |why: String| ActionError::refused(path, why);
    let failed = |what: String| ActionError::failed(path, what);
    let changed = |what: &str| ActionError::changed(path, what);
    let (Some(pid), Some(process)) = (seen.pid, seen.process.as_ref()) else {
        return Err(refused("no process".into()));
    };
    pause_for_race_tests("PIDSCOPE_TEST_PAUSE_BEFORE_PIDFD_MS");
    let pidfd = match rustix::process::Pid::from_raw(pid)
        .map(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()))
    {
        Some(Ok(fd)) => Some(fd),
        Some(Err(rustix::io::Errno::SRCH)) => return Err(changed("the process has exited")),
        Some(Err(rustix::io::Errno::NOSYS)) => None,
        Some(Err(e)) => return Err(failed(format!("cannot open a pidfd for PID {pid}: {}", e))),
        None => return Err(refused("invalid PID".into())),
    };

    // With the pidfd held, the PID cannot be recycled: check it is still the process seen.
    let now = read_identity(pid).map_err(|_| changed("the process has exited"))?;
    if now.start_ticks != process.start_ticks || (process.uid.is_some() && now.uid != process.uid) {
        return Err(changed("the PID now belongs to another process"));
    }
    if now.state.has_exited() {
        return Err(changed("the process has exited"));
    }

    let raw = rustix::process::Signal::from_named_raw(signal as i32)
        .ok_or_else(|| refused(format!("unsupported signal {}", signal.as_str())))?;
    let result = match &pidfd {
        Some(fd) => send_via_pidfd(fd, raw),
        None => nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
            .map_err(|e| rustix::io::Errno::from_raw_os_error(e as i32)),
    };
    match result {
        Ok(()) => Ok(Sent {
            signal,
            pid,
            atomic: pidfd.is_some(),
        }),
        Err(rustix::io::Errno::PERM) => Err(failed(format!(
            "EPERM: not permitted to signal PID {pid} (owned by {})",
            process
                .user
                .clone()
                .or_else(|| process.uid.map(|u| u.to_string()))
                .unwrap_or_else(|| "another user".into())
        ))),
        Err(rustix::io::Errno::SRCH) => Err(changed("the process has exited")),
        Err(e) => Err(failed(format!("cannot signal PID {pid}: {e}"))),
    }
}

fn send_via_pidfd(fd: &OwnedFd, signal: rustix::process::Signal) -> rustix::io::Result<()> {
    rustix::process::pidfd_send_signal(fd, signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_are_normalised() {
        for text in ["term", "TERM", "SIGTERM", "15", " sigterm "] {
            assert_eq!(parse_signal(text), Some(Signal::SIGTERM), "{text}");
        }
        assert_eq!(parse_signal("kill"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("nope"), None);
        assert_eq!(parse_signal("0"), None);
        assert_eq!(signal_label(Signal::SIGTERM), "TERM (15)");
    }

    #[test]
    fn a_send_without_a_pidfd_says_it_was_not_atomic() {
        let sent = |atomic| Sent {
            signal: Signal::SIGHUP,
            pid: 812,
            atomic,
        };
        assert_eq!(sent(true).to_string(), "sent SIGHUP to PID 812");
        assert_eq!(
            sent(false).to_string(),
            "sent SIGHUP to PID 812 (no pidfd: identity checked just before kill, not atomically)"
        );
    }
}
